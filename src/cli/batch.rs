//! `codeswarm batch`: solve SWE-bench instances into a predictions file (see
//! [`crate::batch::runner`]) with `--workers N` instances in flight. The solvers come from
//! [`repository_solvers`]: one [`FixSolver`] (the repository fixer) per worker.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use super::opts::{DepsOpts, ModelOpts};
use crate::batch::fix_solver::{FixSolver, FixSolverParts};
use crate::batch::runner::{
    check_paths, default_run_dir, run_batch_workers, BatchConfig, Interrupt, RetryPolicy, Solver,
};
use crate::batch::workers::worker_managers;
use crate::batch::{Filter, Shard};
use crate::repo::checkout::DEFAULT_URL_TEMPLATE;

#[derive(Args, Debug)]
pub struct BatchArgs {
    /// SWE-bench instances: a .json array or a .jsonl file (dataset field names).
    #[arg(long)]
    pub instances: PathBuf,
    /// The predictions file to append to (JSONL, as the official harness's --predictions_path).
    #[arg(long)]
    pub predictions: PathBuf,
    /// Run directory for manifest.json and per-instance artifacts (default: PREDICTIONS.run
    /// beside the predictions file, e.g. preds.jsonl → preds.run/).
    #[arg(long)]
    pub run_dir: Option<PathBuf>,
    /// Only these instances (comma-separated ids).
    #[arg(long, value_delimiter = ',')]
    pub instance_ids: Option<Vec<String>>,
    /// Only the first N instances (after --instance-ids, before --shard).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
    /// Only shard I of N, 0-based (e.g. 0/4 … 3/4); assignment hashes the instance id.
    #[arg(long)]
    pub shard: Option<Shard>,
    /// Per-instance time limit in seconds (0: none; at most 86400, one day). The default is
    /// measured: the fixer's stages end on their own in 2 to 3 minutes on a SWE-bench Lite
    /// flask instance with the 0.5B model on 2 CPU cores, and 600 s leaves room for slower
    /// test suites and larger models.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub time_limit: u64,
    /// Turns an instance's `owner/name` into a clone URL or path ({owner}, {name}, {repo}).
    #[arg(long, default_value = DEFAULT_URL_TEMPLATE)]
    pub repo_url_template: String,
    #[command(flatten)]
    pub deps: DepsOpts,
    /// Solve the selected instances again even if they have predictions, and accept changed
    /// settings for the run directory.
    #[arg(long)]
    pub redo: bool,
    /// `model_name_or_path` written into the predictions (default: codeswarm-<model>).
    #[arg(long)]
    pub model_name: Option<String>,
    /// Instances in flight at once, each in its own worktree with its own sandbox runs. With
    /// --server, start the server with as many slots (llama-server -np N); in-process, N
    /// copies of the model must fit the memory plan (refused otherwise).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub workers: u64,
    #[command(flatten)]
    pub model: ModelOpts,
}

/// What [`repository_solvers`] gets to build the solvers.
#[derive(Debug)]
pub struct SolverSettings<'a> {
    pub model: &'a ModelOpts,
    pub repo_url_template: &'a str,
    pub deps: &'a crate::cli::opts::DepsOpts,
    pub time_limit: Option<Duration>,
    /// One solver per worker.
    pub workers: usize,
}

/// The solver factory: one [`FixSolver`] per worker, each with its own model manager (see
/// [`worker_managers`]), sharing one sandbox and one config. With `--server`, the server is
/// asked first, so a wrong URL is a set-up error before any instance starts.
pub fn repository_solvers(
    settings: &SolverSettings<'_>,
) -> anyhow::Result<(Vec<FixSolver>, RetryPolicy)> {
    let mut config = settings.model.load_config()?;
    // The command line wins: `--time-limit` is each instance's whole budget, so the config's
    // per-run `limits.time_limit_seconds` (meant for `run` and `fix`) does not cut it short.
    config.limits.time_limit_seconds = settings.time_limit.map(|d| d.as_secs()).unwrap_or(0);
    if let Some(url) = &settings.model.server {
        if crate::models::server::is_server_arg(url) {
            crate::models::server::ServerModel::connect(
                url,
                crate::models::server::ServerSettings::default(),
            )?;
        }
    }
    let managers = worker_managers(settings.model.manager(&config, true)?, settings.workers)?;
    let bar = crate::progress::bytes_bar();
    let tests = settings.deps.repo_tests(&config, None, &bar);
    bar.finish_and_clear();
    let tests = tests?;
    let specs = settings.deps.spec_set()?;
    let retry = RetryPolicy::from_limits(&config.limits);
    let solvers = managers
        .into_iter()
        .map(|manager| {
            Ok(FixSolver::new(FixSolverParts {
                manager,
                config: config.clone(),
                prompts: settings.model.load_prompts()?,
                tests: tests.clone(),
                specs: specs.clone(),
                env_chosen: settings.deps.env.is_some(),
                url_template: settings.repo_url_template.to_string(),
            }))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((solvers, retry))
}

/// `model_name_or_path` for the predictions: `codeswarm-<registry name or file stem>`
/// (`codeswarm-mock` with `--mock`).
pub fn model_name(opts: &ModelOpts) -> String {
    if opts.mock {
        return "codeswarm-mock".into();
    }
    let model = match &opts.model {
        Some(m) if m.ends_with(".gguf") || m.contains('/') => Path::new(m)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| m.clone()),
        Some(m) => m.clone(),
        None => crate::models::Registry::builtin().default.clone(),
    };
    format!("codeswarm-{model}")
}

/// Exit status when instances were deferred because the inference server stayed unreachable
/// (EX_TEMPFAIL: rerun the same command once it is back).
pub const EXIT_DEFERRED: i32 = 75;

/// Exit 0 when the run completed (whatever each instance's outcome), 130 when Ctrl-C stopped
/// it early, 75 when the inference server stayed unreachable (rerun to resume either);
/// set-up errors are returned (exit 2).
pub fn run(a: BatchArgs) -> anyhow::Result<i32> {
    // Before the solver opens the model and the sandbox.
    check_paths(&a.predictions, a.run_dir.as_deref())?;
    let time_limit = (a.time_limit > 0).then(|| Duration::from_secs(a.time_limit));
    let config = BatchConfig {
        instances: a.instances.clone(),
        predictions: a.predictions.clone(),
        run_dir: Some(
            a.run_dir
                .clone()
                .unwrap_or_else(|| default_run_dir(&a.predictions)),
        ),
        model_name: a.model_name.clone().unwrap_or_else(|| model_name(&a.model)),
        filter: Filter {
            instance_ids: a.instance_ids.clone(),
            limit: a.limit.map(|l| l as usize),
            shard: a.shard,
        },
        time_limit,
        repo_url_template: a.repo_url_template.clone(),
        site: a.deps.site.clone(),
        redo: a.redo,
        show_progress: true,
    };
    let (mut solvers, retry) = repository_solvers(&SolverSettings {
        model: &a.model,
        repo_url_template: &a.repo_url_template,
        deps: &a.deps,
        time_limit,
        workers: a.workers as usize,
    })?;
    let interrupt = Interrupt::new();
    interrupt.install_ctrl_c_handler()?;
    let solvers: Vec<&mut dyn Solver> = solvers.iter_mut().map(|s| s as &mut dyn Solver).collect();
    let summary = run_batch_workers(&config, solvers, &retry, &interrupt)?;
    println!("{summary}");
    if a.model.mock {
        println!(
            "note: --mock: the model is scripted ({}): every reply is canned, written for the fixtures of `codeswarm fixtures`; the checkouts, sandbox runs and patches are real",
            a.model
                .script
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "the built-in scripts, models/scripted/".into())
        );
    }
    Ok(if summary.interrupted {
        130
    } else if summary.deferred > 0 {
        EXIT_DEFERRED
    } else {
        0
    })
}

//! `codeswarm batch`: solve SWE-bench instances into a predictions file (see
//! [`crate::batch::runner`]). The solver comes from [`repository_solver`], the seam where the
//! repository-fixing pipeline plugs in.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;

use super::opts::{DepsOpts, ModelOpts};
use crate::agents::AgentError;
use crate::batch::runner::{
    check_paths, default_run_dir, run_batch, BatchConfig, Interrupt, SolveContext, SolveError,
    SolveOutcome, Solver,
};
use crate::batch::{Filter, Shard, SolverView};
use crate::coordination::fixer::{FixError, FixStatus};
use crate::fix::FixTarget;
use crate::models::ModelError;
use crate::repo::checkout::DEFAULT_URL_TEMPLATE;
use crate::testing::RepoTests;

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
    /// Per-instance time limit in seconds (0: none; at most 86400, one day).
    #[arg(long, default_value_t = 1800, value_parser = clap::value_parser!(u64).range(0..=86_400))]
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
    #[command(flatten)]
    pub model: ModelOpts,
}

/// What [`repository_solver`] gets to build a solver.
#[derive(Debug)]
pub struct SolverSettings<'a> {
    pub model: &'a ModelOpts,
    pub repo_url_template: &'a str,
    pub deps: &'a crate::cli::opts::DepsOpts,
    pub time_limit: Option<Duration>,
}

/// The solver factory: the repository fixer of `codeswarm fix`, with one model manager, one
/// sandbox and one config for the whole batch.
pub fn repository_solver(settings: &SolverSettings<'_>) -> anyhow::Result<Box<dyn Solver>> {
    let mut config = settings.model.load_config()?;
    // The command line wins: `--time-limit` is each instance's whole budget, so the config's
    // per-run `limits.time_limit_seconds` (meant for `run` and `fix`) does not cut it short.
    config.limits.time_limit_seconds = settings.time_limit.map(|d| d.as_secs()).unwrap_or(0);
    let prompts = settings.model.load_prompts()?;
    let manager = settings.model.manager(&config, true)?;
    let bar = crate::progress::bytes_bar();
    let tests = settings.deps.repo_tests(&config, None, &bar);
    bar.finish_and_clear();
    let tests = tests?;
    let specs = settings.deps.spec_set()?;
    Ok(Box::new(FixSolver {
        manager,
        config,
        prompts,
        tests,
        specs,
        env_chosen: settings.deps.env.is_some(),
        url_template: settings.repo_url_template.to_string(),
    }))
}

/// Solves an instance with [`crate::fix::fix_issue`].
pub struct FixSolver {
    manager: crate::models::ModelManager,
    config: crate::config::Config,
    prompts: crate::agents::prompts::Prompts,
    tests: RepoTests,
    /// Each instance's tests run under its repository's spec, unless `--env` chose one.
    specs: crate::testing::SpecSet,
    env_chosen: bool,
    url_template: String,
}

impl Solver for FixSolver {
    fn solve(
        &mut self,
        instance: &SolverView,
        ctx: &SolveContext<'_>,
    ) -> Result<SolveOutcome, SolveError> {
        let mut issue = instance.problem_statement.clone();
        if let Some(h) = instance
            .hints_text
            .as_deref()
            .filter(|h| !h.trim().is_empty())
        {
            issue.push_str("\n\nHints:\n");
            issue.push_str(h);
        }
        // The worktree goes under the run directory, not the system temp dir: a run killed
        // with -9 leaves it where the next batch on the run directory removes it.
        let work_dir = ctx.dir.scratch().map_err(|e| {
            SolveError::failed(format!("cannot create the instance's work space: {e}"))
        })?;
        let target = FixTarget {
            repo: instance.repo.clone(),
            commit: Some(instance.base_commit.clone()),
            issue,
            url_template: self.url_template.clone(),
            work_dir: Some(work_dir),
            deadline: ctx.deadline,
        };
        let stop = || {
            ctx.cancel.is_cancelled() || ctx.deadline.map(|d| Instant::now() >= d).unwrap_or(false)
        };
        let mut tests = if self.env_chosen {
            self.tests.clone()
        } else {
            let spec = self.specs.find(&instance.repo, instance.version.as_deref());
            match self
                .tests
                .with_spec(&spec, instance.version.as_deref(), &())
            {
                Ok(t) => t,
                Err(e) => {
                    return Err(SolveError::Failed {
                        message: format!("the test environment {}: {e}", spec.label()),
                        tokens: 0,
                        trajectory: serde_json::Value::Null,
                        log: format!("error: the test environment {}: {e}\n", spec.label()),
                    })
                }
            }
        };
        tests.deadline = ctx.deadline;
        // Each step's state goes to the instance's journal (trajectory.json at once): whatever
        // ends the work, the runner keeps the trajectory, tokens and best patch so far.
        let journal = |r: &crate::coordination::fixer::FixReport| {
            if let Err(e) = ctx.dir.journal().record(r.into()) {
                tracing::warn!(error = %e, "cannot write the trajectory so far");
            }
        };
        match crate::fix::fix_issue_journaled(
            &target,
            &mut self.manager,
            &self.config,
            &self.prompts,
            &tests,
            &stop,
            Some(&journal),
        ) {
            Ok(report) => {
                let tokens = report.totals.prompt_tokens + report.totals.generated_tokens;
                let log = crate::fix::summary(&report);
                let patch = (report.status == FixStatus::Patched).then(|| report.patch.clone());
                let reason = report.reason.clone();
                let trajectory = serde_json::to_value(&report).unwrap_or_default();
                Ok(SolveOutcome {
                    patch,
                    reason,
                    tokens,
                    trajectory,
                    log,
                })
            }
            // A model that cannot be loaded fails every instance alike: a set-up error.
            Err(FixError::Agent(AgentError::Model(
                e @ (ModelError::BadGguf { .. }
                | ModelError::DoesNotFit(_)
                | ModelError::Load { .. }
                | ModelError::Registry(_)),
            ))) => Err(SolveError::Unavailable(e.to_string())),
            Err(e) => Err(SolveError::Failed {
                message: e.to_string(),
                tokens: 0,
                trajectory: serde_json::Value::Null,
                log: format!("error: {e}\n"),
            }),
        }
    }
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

/// Exit 0 when the run completed (whatever each instance's outcome), 130 when Ctrl-C stopped
/// it early (rerun to resume); set-up errors are returned (exit 2).
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
    let mut solver = repository_solver(&SolverSettings {
        model: &a.model,
        repo_url_template: &a.repo_url_template,
        deps: &a.deps,
        time_limit,
    })?;
    let interrupt = Interrupt::new();
    interrupt.install_ctrl_c_handler()?;
    let summary = run_batch(&config, solver.as_mut(), &interrupt)?;
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
    Ok(if summary.interrupted { 130 } else { 0 })
}

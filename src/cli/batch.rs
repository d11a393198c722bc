//! `codeswarm batch`: solve SWE-bench instances into a predictions file (see
//! [`crate::batch::runner`]). The solver comes from [`repository_solver`], the seam where the
//! repository-fixing pipeline plugs in.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use super::opts::ModelOpts;
use crate::batch::runner::{
    default_run_dir, run_batch, BatchConfig, Interrupt, SolveContext, SolveError, SolveOutcome,
    Solver,
};
use crate::batch::{Filter, Shard, SolverView};
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
    /// Per-instance time limit in seconds (0: none).
    #[arg(long, default_value_t = 1800)]
    pub time_limit: u64,
    /// Turns an instance's `owner/name` into a clone URL or path ({owner}, {name}, {repo}).
    #[arg(long, default_value = DEFAULT_URL_TEMPLATE)]
    pub repo_url_template: String,
    /// Extra site-packages directory for the sandbox (the repositories' Python dependencies).
    #[arg(long)]
    pub site: Option<PathBuf>,
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
    pub site: Option<&'a Path>,
    pub time_limit: Option<Duration>,
}

/// The solver factory: the repository-fixing pipeline (`codeswarm fix`) goes here.
pub fn repository_solver(_settings: &SolverSettings<'_>) -> anyhow::Result<Box<dyn Solver>> {
    Ok(Box::new(PipelineNotWired))
}

/// Placeholder until the repository pipeline is wired in: refuses every instance as
/// [`SolveError::Unavailable`], which stops the batch without recording anything.
#[derive(Debug)]
pub struct PipelineNotWired;

impl Solver for PipelineNotWired {
    fn solve(
        &mut self,
        _instance: &SolverView,
        _ctx: &SolveContext<'_>,
    ) -> Result<SolveOutcome, SolveError> {
        Err(SolveError::Unavailable(
            "the repository pipeline is not wired yet".into(),
        ))
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
        site: a.site.clone(),
        redo: a.redo,
        show_progress: true,
    };
    let mut solver = repository_solver(&SolverSettings {
        model: &a.model,
        repo_url_template: &a.repo_url_template,
        site: a.site.as_deref(),
        time_limit,
    })?;
    let interrupt = Interrupt::new();
    interrupt.install_ctrl_c_handler()?;
    let summary = run_batch(&config, solver.as_mut(), &interrupt)?;
    println!("{summary}");
    Ok(if summary.interrupted { 130 } else { 0 })
}

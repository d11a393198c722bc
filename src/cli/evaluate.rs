//! `codeswarm evaluate`: evaluate predictions locally, without Docker (see
//! [`crate::batch::evaluate`]). Tests run through [`sandbox_executor`]: pytest under
//! CPython-WASI in the sandbox ([`crate::repo::executor`]); generated code never runs on the
//! host.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use super::opts::DepsOpts;

use crate::batch::evaluate::{evaluate, EvalOptions, ExecError, TestExecutor, TestResults};
use crate::batch::instances::load_instances;
use crate::batch::predictions::read_predictions;
use crate::batch::Filter;
use crate::repo::checkout::DEFAULT_URL_TEMPLATE;
use crate::repo::executor::SandboxExecutor;
use crate::repo::testrun::RepoTests;

#[derive(Args, Debug)]
pub struct EvaluateArgs {
    /// SWE-bench instances with their evaluation fields (FAIL_TO_PASS, PASS_TO_PASS, test_patch).
    #[arg(long)]
    pub instances: PathBuf,
    /// The predictions file (JSONL) to evaluate.
    #[arg(long)]
    pub predictions: PathBuf,
    /// Only these instances (comma-separated ids).
    #[arg(long, value_delimiter = ',')]
    pub instance_ids: Option<Vec<String>>,
    /// Turns an instance's `owner/name` into a clone URL or path ({owner}, {name}, {repo}).
    #[arg(long, default_value = DEFAULT_URL_TEMPLATE)]
    pub repo_url_template: String,
    #[command(flatten)]
    pub deps: DepsOpts,
    /// Write the full report (per-test outcomes) as JSON here.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

/// The test executor: pytest under CPython-WASI in the sandbox, `site` mounted read-only for
/// the repositories' dependencies; limits from the configuration's `[sandbox]`.
pub fn sandbox_executor(site: Option<&Path>) -> anyhow::Result<Box<dyn TestExecutor>> {
    let config = crate::config::Config::load(None)?;
    let bar = crate::progress::spinner("opening the sandbox");
    let sandbox = crate::sandbox::Sandbox::open(&bar);
    bar.finish_and_clear();
    let sandbox = sandbox.context("opening the sandbox")?;
    let tests = RepoTests::new(sandbox, site.map(Path::to_path_buf), &config.sandbox);
    Ok(Box::new(SandboxExecutor::new(tests)))
}

/// Stands in for the sandbox when no prediction has a patch: never asked to run anything.
struct NoTestsToRun;

impl TestExecutor for NoTestsToRun {
    fn run_tests(&self, _: &Path, _: &[String]) -> Result<TestResults, ExecError> {
        Err(ExecError::Failed(
            "no sandbox was opened: no prediction has a patch".into(),
        ))
    }
}

/// Exit 0 when every instance was evaluated (whatever the resolved count); set-up errors
/// are returned (exit 2).
pub fn run(a: EvaluateArgs) -> anyhow::Result<i32> {
    let set = load_instances(&a.instances)?;
    set.warn_problems();
    let filter = Filter {
        instance_ids: a.instance_ids.clone(),
        ..Filter::default()
    };
    let selected = filter.apply(&set)?;
    let read = read_predictions(&a.predictions)?;
    if !a.predictions.is_file() {
        anyhow::bail!(
            "predictions file {} does not exist",
            a.predictions.display()
        );
    }
    if read.torn.as_ref().is_some_and(|t| !t.complete_json) {
        tracing::warn!(file = %a.predictions.display(), "the last line is torn and is left out");
    }
    let predictions: Vec<_> = read.by_id().into_values().collect();
    let bar = crate::progress::spinner("preparing the site dir");
    let site = a.deps.resolve(&bar);
    bar.finish_and_clear();
    let site = site?;
    // Only predictions with a patch reach the executor: without any, no sandbox is needed
    // (nor its runtime installed).
    let any_patch = predictions.iter().any(|p| {
        !p.model_patch.trim().is_empty() && selected.iter().any(|i| i.id() == p.instance_id)
    });
    let executor = if any_patch {
        sandbox_executor(site.as_deref())?
    } else {
        Box::new(NoTestsToRun)
    };
    let mut options = EvalOptions::new(a.repo_url_template.clone());
    options.show_progress = true;
    let report = evaluate(&selected, &predictions, executor.as_ref(), &options);
    if let Some(out) = &a.report {
        let text = serde_json::to_string_pretty(&report)?;
        crate::fsutil::write_atomic(out, text.as_bytes())
            .with_context(|| format!("cannot write the report {}", out.display()))?;
    }
    println!("{}", report.summary());
    Ok(0)
}

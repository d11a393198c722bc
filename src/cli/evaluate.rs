//! `codeswarm evaluate`: evaluate predictions locally, without Docker (see
//! [`crate::batch::evaluate`]). Tests run through [`sandbox_executor`], the seam where the
//! WASI sandbox plugs in; generated code never runs on the host.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use crate::batch::evaluate::{evaluate, EvalOptions, TestExecutor};
use crate::batch::instances::load_instances;
use crate::batch::predictions::read_predictions;
use crate::batch::Filter;
use crate::repo::checkout::DEFAULT_URL_TEMPLATE;

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
    /// Extra site-packages directory for the sandbox (the repositories' Python dependencies).
    #[arg(long)]
    pub site: Option<PathBuf>,
    /// Write the full report (per-test outcomes) as JSON here.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

/// The test executor: pytest under CPython-WASI in the sandbox.
pub fn sandbox_executor(_site: Option<&Path>) -> anyhow::Result<Box<dyn TestExecutor>> {
    anyhow::bail!("sandbox executor not wired yet")
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
    let executor = sandbox_executor(a.site.as_deref())?;
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

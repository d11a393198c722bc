//! `codeswarm evaluate`: evaluate predictions locally, without Docker (see
//! [`crate::batch::evaluate`]). Tests run through the sandbox executor
//! ([`crate::testing::SandboxExecutor`]), each instance under its repository's spec; generated
//! code never runs on the host. `--gold` and `--empty` validate the environments: the dataset's
//! own fixes must resolve and the unpatched base must not, per repository.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::opts::DepsOpts;

use crate::batch::evaluate::{
    evaluate, validation_table, EvalOptions, EvalReport, ExecError, TestExecutor, TestRequest,
    TestResults,
};
use crate::batch::instances::{load_instances, Instance};
use crate::batch::predictions::{read_predictions, Prediction};
use crate::batch::Filter;
use crate::repo::checkout::DEFAULT_URL_TEMPLATE;
use crate::testing::{RepoTests, SandboxExecutor};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  codeswarm evaluate --instances lite.jsonl --predictions preds.jsonl --report eval.json
  codeswarm evaluate --instances lite.jsonl --gold --empty --repos pytest-dev/pytest
  codeswarm evaluate --instances lite.jsonl --gold --instance-ids pallets__flask-4045")]
pub struct EvaluateArgs {
    /// SWE-bench instances with their evaluation fields (FAIL_TO_PASS, PASS_TO_PASS, test_patch).
    #[arg(long)]
    pub instances: PathBuf,
    /// The predictions file (JSONL or a JSON array) to evaluate.
    #[arg(long, required_unless_present_any = ["gold", "empty"], conflicts_with_all = ["gold", "empty"])]
    pub predictions: Option<PathBuf>,
    /// Evaluate the instances' own gold patches (validates the test environments).
    #[arg(long)]
    pub gold: bool,
    /// Evaluate empty patches: the FAIL_TO_PASS tests must fail on the unpatched base.
    #[arg(long)]
    pub empty: bool,
    /// Only these instances (comma-separated ids).
    #[arg(long, value_delimiter = ',')]
    pub instance_ids: Option<Vec<String>>,
    /// Only instances of these repositories (comma-separated owner/name).
    #[arg(long, value_delimiter = ',')]
    pub repos: Option<Vec<String>>,
    /// Turns an instance's `owner/name` into a clone URL or path ({owner}, {name}, {repo}).
    #[arg(long, default_value = DEFAULT_URL_TEMPLATE)]
    pub repo_url_template: String,
    #[command(flatten)]
    pub deps: DepsOpts,
    /// Configuration file (`[repo_tests]` limits).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Write the full report (per-test outcomes) as JSON here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Judge model patches exactly as the official harness does. By default the gate's guards
    /// apply: a model patch that changes test configuration (conftest.py, pytest.ini, a test
    /// package's __init__.py, …) or a listed test's file that the test patch does not touch has
    /// those files put back to the base, and one that shadows a standard-library or test-runner
    /// module, or links out of the repository, is refused; the report says what they changed.
    #[arg(long)]
    pub harness_compat: bool,
}

/// The test executor: the sandbox, the user's site, `[repo_tests]` limits; the spec per
/// instance.
pub fn sandbox_executor(
    deps: &DepsOpts,
    config: &crate::config::Config,
) -> anyhow::Result<Box<dyn TestExecutor>> {
    let specs = deps.spec_set()?;
    let bar = crate::progress::spinner("opening the sandbox");
    let site = deps.resolve(&bar);
    let sandbox = crate::testing::open_sandbox(&bar);
    bar.finish_and_clear();
    let sandbox = sandbox.context("opening the sandbox")?;
    let tests = RepoTests::new(sandbox, site?, &config.repo_tests);
    Ok(Box::new(SandboxExecutor::new(tests, specs)))
}

/// Stands in for the sandbox when no prediction has a patch: never asked to run anything.
struct NoTestsToRun;

impl TestExecutor for NoTestsToRun {
    fn run_tests(
        &self,
        _: &std::path::Path,
        _: &TestRequest<'_>,
    ) -> Result<TestResults, ExecError> {
        Err(ExecError::Failed(
            "no sandbox was opened: no prediction has a patch".into(),
        ))
    }
}

fn predictions_from(selected: &[&Instance], gold: bool) -> Vec<Prediction> {
    selected
        .iter()
        .map(|i| Prediction {
            instance_id: i.id().to_string(),
            model_name_or_path: if gold { "gold" } else { "empty" }.into(),
            model_patch: if gold {
                i.eval.gold_patch.clone().unwrap_or_default()
            } else {
                String::new()
            },
            codeswarm_status: None,
        })
        .collect()
}

/// Exit 0 when instances were evaluated (whatever the resolved count); 2 when nothing was
/// evaluated or on set-up errors.
pub fn run(a: EvaluateArgs) -> anyhow::Result<i32> {
    // Fail before the tests run, not after.
    if let Some(out) = &a.report {
        crate::fsutil::check_output_file(out, "--report").map_err(anyhow::Error::msg)?;
    }
    let config = crate::config::Config::load(a.config.as_deref())?;
    let set = load_instances(&a.instances)?;
    set.warn_problems();
    if set.instances.is_empty() {
        anyhow::bail!(
            "{} holds no valid instance ({} malformed entries skipped, see the warnings above); check the file's format",
            a.instances.display(),
            set.problems.len()
        );
    }
    let filter = Filter {
        instance_ids: a.instance_ids.clone(),
        ..Filter::default()
    };
    let mut selected = filter.apply(&set)?;
    if let Some(repos) = &a.repos {
        selected.retain(|i| repos.iter().any(|r| r.eq_ignore_ascii_case(&i.view.repo)));
    }
    if selected.is_empty() {
        anyhow::bail!(
            "no instance selected from {}; check --instance-ids and --repos",
            a.instances.display()
        );
    }
    let mut options = EvalOptions::new(a.repo_url_template.clone());
    options.show_progress = true;
    options.harness_compat = a.harness_compat;

    if a.gold || a.empty {
        let executor = sandbox_executor(&a.deps, &config)?;
        let mut runs: Vec<(&str, EvalReport)> = Vec::new();
        for (label, gold) in [("gold", true), ("empty", false)] {
            if (gold && !a.gold) || (!gold && !a.empty) {
                continue;
            }
            let preds = predictions_from(&selected, gold);
            let mut opts = options.clone();
            opts.run_empty_patches = !gold;
            eprintln!(
                "evaluating the {label} patches of {} instances",
                selected.len()
            );
            let report = evaluate(&selected, &preds, executor.as_ref(), &opts);
            println!("== {label} patches\n{}\n", report.summary());
            runs.push((label, report));
        }
        let gold = runs.iter().find(|(l, _)| *l == "gold").map(|(_, r)| r);
        let empty = runs.iter().find(|(l, _)| *l == "empty").map(|(_, r)| r);
        println!("{}", validation_table(&selected, gold, empty));
        if let Some(out) = &a.report {
            let json = serde_json::json!({
                "gold": gold,
                "empty": empty,
            });
            crate::fsutil::write_atomic(out, serde_json::to_string_pretty(&json)?.as_bytes())
                .with_context(|| format!("cannot write the report {}", out.display()))?;
        }
        return Ok(0);
    }

    let path = a.predictions.clone().expect("clap requires --predictions");
    if !path.exists() {
        anyhow::bail!("predictions file {} does not exist", path.display());
    }
    let read = read_predictions(&path)?;
    if read.torn.as_ref().is_some_and(|t| !t.complete_json) {
        tracing::warn!(file = %path.display(), "the last line is torn and is left out");
    }
    let conflicting = read.conflicting();
    if !conflicting.is_empty() {
        let list: Vec<String> = conflicting
            .iter()
            .map(|(id, lines)| {
                let lines: Vec<String> = lines.iter().map(usize::to_string).collect();
                format!(
                    "  {} (lines {})",
                    crate::terminal_text::terminal_safe(id),
                    lines.join(", ")
                )
            })
            .collect();
        anyhow::bail!(
            "predictions file {} has different predictions for the same instance:\n{}\nkeep one line per instance (which patch should be scored?), then evaluate again",
            path.display(),
            list.join("\n")
        );
    }
    let predictions: Vec<_> = read.by_id().into_values().collect();
    // Only predictions with a patch reach the executor: without any, no sandbox is needed
    // (nor its runtime installed).
    let any_patch = predictions.iter().any(|p| {
        !p.model_patch.trim().is_empty() && selected.iter().any(|i| i.id() == p.instance_id)
    });
    let executor = if any_patch {
        sandbox_executor(&a.deps, &config)?
    } else {
        Box::new(NoTestsToRun)
    };
    let report = evaluate(&selected, &predictions, executor.as_ref(), &options);
    if let Some(out) = &a.report {
        let text = serde_json::to_string_pretty(&report)?;
        crate::fsutil::write_atomic(out, text.as_bytes())
            .with_context(|| format!("cannot write the report {}", out.display()))?;
    }
    println!("{}", report.summary());
    if report.evaluated == 0 {
        eprintln!("codeswarm: nothing was evaluated: no prediction names a selected instance");
        return Ok(2);
    }
    Ok(0)
}

//! Local evaluation of predictions, without Docker: for each instance, check out its base
//! commit, apply the model patch, restore the files the test patch touches and apply the test
//! patch (as the official harness does), run `FAIL_TO_PASS` and `PASS_TO_PASS` through a
//! [`TestExecutor`], and call the instance resolved when every one of those tests passes.
//!
//! Running tests is the executor's job. The CLI uses the WASI sandbox (pytest under
//! CPython-WASI): generated code never runs on the host. Some repositories cannot be tested
//! there (C extensions, network access, tests that cannot be collected); the executor says so
//! with [`ExecError::NotRunnable`] and the instance is reported as `not_runnable`, with the
//! advice to use the official Docker harness for those, rather than counted as a failure.
//!
//! `resolved N/M`: N resolved among the M instances that have a prediction (empty patches
//! included, not runnable ones included); instances of the file without a prediction are listed
//! apart.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::instances::Instance;
use super::predictions::Prediction;
use crate::repo::checkout::{resolve, CheckoutOptions, MirrorCache, Worktree};
use crate::repo::patch::{apply_patch, parse_patch};

/// The outcome of one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestOutcome {
    Passed,
    Failed,
    /// An error outside the test body (fixture, import, collection of that test).
    Error,
    Skipped,
    /// The executor did not report this test (not collected, unknown id).
    NotFound,
}

/// What an executor reports for one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestResults {
    /// Outcome per requested test id; ids left out count as [`TestOutcome::NotFound`].
    pub outcomes: BTreeMap<String, TestOutcome>,
    /// The runner's output, kept (shortened) in the report.
    pub log: String,
}

/// Why an executor could not report outcomes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// The tests cannot run in this executor at all (C extensions, network, collection
    /// impossible): the instance needs the official Docker harness.
    #[error("not runnable here: {0}")]
    NotRunnable(String),
    /// The executor itself failed.
    #[error("{0}")]
    Failed(String),
}

/// Runs test ids (pytest node ids, as SWE-bench lists them) in a worktree.
pub trait TestExecutor {
    fn run_tests(&self, worktree: &Path, node_ids: &[String]) -> Result<TestResults, ExecError>;
}

/// Where evaluation gets repositories from.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Turns an instance's `owner/name` into a clone URL (or a local path).
    pub repo_url_template: String,
    /// The mirror cache.
    pub cache: MirrorCache,
    /// Where worktrees are created (default: the system temp directory).
    pub work_dir: Option<PathBuf>,
    pub show_progress: bool,
}

impl EvalOptions {
    /// Options with the default mirror cache.
    pub fn new(repo_url_template: impl Into<String>) -> EvalOptions {
        EvalOptions {
            repo_url_template: repo_url_template.into(),
            cache: MirrorCache::at_default_location(),
            work_dir: None,
            show_progress: false,
        }
    }
}

/// How one instance's evaluation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvalStatus {
    Resolved,
    /// Tests ran and at least one FAIL_TO_PASS or PASS_TO_PASS test did not pass.
    Unresolved,
    /// The prediction's patch is empty.
    NoPatch,
    /// The model patch does not apply to the base commit.
    PatchFailed,
    /// The instance's test patch does not apply after the model patch.
    TestPatchFailed,
    /// The executor cannot run this instance's tests: use the official harness.
    NotRunnable,
    /// The instance lists no FAIL_TO_PASS tests, so it cannot be judged.
    NoTests,
    /// Checkout or executor failure.
    Error,
}

impl EvalStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            EvalStatus::Resolved => "resolved",
            EvalStatus::Unresolved => "unresolved",
            EvalStatus::NoPatch => "no_patch",
            EvalStatus::PatchFailed => "patch_failed",
            EvalStatus::TestPatchFailed => "test_patch_failed",
            EvalStatus::NotRunnable => "not_runnable",
            EvalStatus::NoTests => "no_tests",
            EvalStatus::Error => "error",
        }
    }
}

/// One instance's evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceEval {
    pub instance_id: String,
    pub status: EvalStatus,
    pub reason: Option<String>,
    pub fail_to_pass: BTreeMap<String, TestOutcome>,
    pub pass_to_pass: BTreeMap<String, TestOutcome>,
    pub seconds: f64,
    /// The executor's log (its last 20,000 characters).
    pub log: String,
}

/// The evaluation of a predictions file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub instances: Vec<InstanceEval>,
    /// Instances with a prediction (the M of `resolved N/M`).
    pub evaluated: usize,
    pub resolved: usize,
    pub unresolved: usize,
    /// Tests could not run here: result unknown.
    pub not_runnable: usize,
    /// Checkout or executor errors, instances without tests.
    pub errors: usize,
    /// Selected instances without a prediction.
    pub missing_predictions: Vec<String>,
    /// Predictions whose id is not among the instances.
    pub unknown_predictions: Vec<String>,
}

impl EvalReport {
    /// `resolved N/M`.
    pub fn final_line(&self) -> String {
        format!("resolved {}/{}", self.resolved, self.evaluated)
    }

    /// Human-readable summary, ending with [`EvalReport::final_line`].
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for e in &self.instances {
            out.push_str(&format!(
                "{:<40} {}{}\n",
                e.instance_id,
                e.status.as_str(),
                e.reason
                    .as_deref()
                    .map(|r| format!(": {}", r.lines().next().unwrap_or("")))
                    .unwrap_or_default()
            ));
        }
        out.push_str(&format!(
            "{} evaluated: {} resolved, {} unresolved, {} not runnable here, {} errors\n",
            self.evaluated, self.resolved, self.unresolved, self.not_runnable, self.errors
        ));
        if self.not_runnable > 0 {
            out.push_str("instances marked not_runnable could not be tested in the sandbox: evaluate them with the official SWE-bench Docker harness\n");
        }
        if !self.missing_predictions.is_empty() {
            out.push_str(&format!(
                "{} instances have no prediction: {}\n",
                self.missing_predictions.len(),
                self.missing_predictions.join(", ")
            ));
        }
        if !self.unknown_predictions.is_empty() {
            out.push_str(&format!(
                "{} predictions name instances not in the instances file (ignored): {}\n",
                self.unknown_predictions.len(),
                self.unknown_predictions.join(", ")
            ));
        }
        out.push_str(&self.final_line());
        out
    }
}

const LOG_KEEP: usize = 20_000;

fn tail(text: &str, keep: usize) -> String {
    if text.len() <= keep {
        return text.to_string();
    }
    let mut start = text.len() - keep;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("[… {start} bytes cut …]\n{}", &text[start..])
}

/// Evaluate `predictions` against `instances` with `executor`.
pub fn evaluate(
    instances: &[&Instance],
    predictions: &[Prediction],
    executor: &dyn TestExecutor,
    options: &EvalOptions,
) -> EvalReport {
    let by_id: HashMap<&str, &Prediction> = predictions
        .iter()
        .map(|p| (p.instance_id.as_str(), p))
        .collect();
    let mut report = EvalReport::default();
    let known: std::collections::HashSet<&str> = instances.iter().map(|i| i.id()).collect();
    report.unknown_predictions = predictions
        .iter()
        .filter(|p| !known.contains(p.instance_id.as_str()))
        .map(|p| p.instance_id.clone())
        .collect();
    let todo: Vec<(&Instance, &Prediction)> = instances
        .iter()
        .filter_map(|i| match by_id.get(i.id()) {
            Some(p) => Some((*i, *p)),
            None => {
                report.missing_predictions.push(i.id().to_string());
                None
            }
        })
        .collect();
    let bar = if options.show_progress {
        crate::progress::items_bar(todo.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    for (inst, pred) in todo {
        bar.set_message(inst.id().to_string());
        let started = Instant::now();
        let mut e = evaluate_one(inst, pred, executor, options);
        e.seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            instance = inst.id(),
            status = e.status.as_str(),
            "evaluated"
        );
        report.evaluated += 1;
        match e.status {
            EvalStatus::Resolved => report.resolved += 1,
            EvalStatus::Unresolved
            | EvalStatus::NoPatch
            | EvalStatus::PatchFailed
            | EvalStatus::TestPatchFailed => report.unresolved += 1,
            EvalStatus::NotRunnable => report.not_runnable += 1,
            EvalStatus::NoTests | EvalStatus::Error => report.errors += 1,
        }
        report.instances.push(e);
        bar.inc(1);
    }
    bar.finish_and_clear();
    report
}

fn evaluate_one(
    inst: &Instance,
    pred: &Prediction,
    executor: &dyn TestExecutor,
    options: &EvalOptions,
) -> InstanceEval {
    let mut e = InstanceEval {
        instance_id: inst.id().to_string(),
        status: EvalStatus::Error,
        reason: None,
        fail_to_pass: BTreeMap::new(),
        pass_to_pass: BTreeMap::new(),
        seconds: 0.0,
        log: String::new(),
    };
    let end = |mut e: InstanceEval, status: EvalStatus, reason: String| {
        e.status = status;
        e.reason = Some(reason);
        e
    };
    let Some(f2p) = inst.eval.fail_to_pass.clone() else {
        return end(e, EvalStatus::NoTests, "the instance has no FAIL_TO_PASS list; add the dataset's evaluation fields to the instances file".into());
    };
    let p2p = inst.eval.pass_to_pass.clone().unwrap_or_default();
    if f2p.is_empty() && p2p.is_empty() {
        return end(
            e,
            EvalStatus::NoTests,
            "FAIL_TO_PASS and PASS_TO_PASS are both empty".into(),
        );
    }
    if pred.model_patch.trim().is_empty() {
        return end(e, EvalStatus::NoPatch, "empty model_patch".into());
    }
    let worktree = match checkout(inst, options) {
        Ok(w) => w,
        Err(msg) => return end(e, EvalStatus::Error, msg),
    };
    if let Err(err) = apply_patch(worktree.path(), &pred.model_patch) {
        return end(
            e,
            EvalStatus::PatchFailed,
            format!("the model patch does not apply: {err}"),
        );
    }
    if let Some(test_patch) = &inst.eval.test_patch {
        if let Err(msg) = restore_test_files(&worktree, test_patch) {
            return end(e, EvalStatus::Error, msg);
        }
        if let Err(err) = apply_patch(worktree.path(), test_patch) {
            return end(
                e,
                EvalStatus::TestPatchFailed,
                format!("the test patch does not apply after the model patch: {err}"),
            );
        }
    }
    let mut ids = f2p.clone();
    ids.extend(p2p.iter().filter(|t| !f2p.contains(t)).cloned());
    let results = match executor.run_tests(worktree.path(), &ids) {
        Ok(r) => r,
        Err(ExecError::NotRunnable(why)) => {
            return end(
                e,
                EvalStatus::NotRunnable,
                format!("{why}; use the official SWE-bench Docker harness for this instance"),
            )
        }
        Err(ExecError::Failed(why)) => {
            return end(
                e,
                EvalStatus::Error,
                format!("the test executor failed: {why}"),
            )
        }
    };
    let outcome = |id: &String| {
        results
            .outcomes
            .get(id)
            .copied()
            .unwrap_or(TestOutcome::NotFound)
    };
    e.fail_to_pass = f2p.iter().map(|t| (t.clone(), outcome(t))).collect();
    e.pass_to_pass = p2p.iter().map(|t| (t.clone(), outcome(t))).collect();
    e.log = tail(&results.log, LOG_KEEP);
    let failing: Vec<String> = e
        .fail_to_pass
        .iter()
        .map(|(t, o)| (format!("FAIL_TO_PASS {t}"), o))
        .chain(
            e.pass_to_pass
                .iter()
                .map(|(t, o)| (format!("PASS_TO_PASS {t}"), o)),
        )
        .filter(|(_, o)| **o != TestOutcome::Passed)
        .map(|(t, o)| format!("{t}: {o:?}").to_lowercase())
        .collect();
    if failing.is_empty() {
        e.status = EvalStatus::Resolved;
    } else {
        let shown: Vec<&String> = failing.iter().take(5).collect();
        e.status = EvalStatus::Unresolved;
        e.reason = Some(format!(
            "{} of {} tests did not pass: {}{}",
            failing.len(),
            ids.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            if failing.len() > shown.len() {
                "; …"
            } else {
                ""
            }
        ));
    }
    e
}

fn checkout(inst: &Instance, options: &EvalOptions) -> Result<Worktree, String> {
    let source = resolve(&inst.view.repo, &options.repo_url_template)
        .map_err(|e| format!("repository {}: {e}", inst.view.repo))?;
    let checkout_options = CheckoutOptions {
        refresh: false,
        parent_dir: options.work_dir.clone(),
    };
    options
        .cache
        .checkout(&source, Some(&inst.view.base_commit), &checkout_options)
        .map_err(|e| {
            format!(
                "checking out {} at {}: {e}",
                inst.view.repo, inst.view.base_commit
            )
        })
}

/// Put the files a test patch touches back to their base-commit state (removing files the
/// base does not have), so a model patch that edited tests cannot block or game the test patch.
fn restore_test_files(worktree: &Worktree, test_patch: &str) -> Result<(), String> {
    let (_, report) = parse_patch(test_patch)
        .map_err(|e| format!("the instance's test patch is unusable: {e}"))?;
    let repo = worktree
        .open()
        .map_err(|e| format!("opening the worktree: {}", e.message()))?;
    let tree = repo
        .find_commit(worktree.base_commit())
        .and_then(|c| c.tree())
        .map_err(|e| format!("reading the base tree: {}", e.message()))?;
    let mut paths: Vec<&str> = Vec::new();
    for f in &report.files {
        paths.push(&f.path);
        if let Some(old) = &f.old_path {
            paths.push(old);
        }
    }
    for rel in paths {
        let full = worktree.path().join(rel);
        match tree.get_path(Path::new(rel)) {
            Ok(entry) => {
                let blob = entry
                    .to_object(&repo)
                    .and_then(|o| o.peel_to_blob())
                    .map_err(|e| format!("reading {rel} at the base commit: {}", e.message()))?;
                if let Some(dir) = full.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                }
                std::fs::write(&full, blob.content())
                    .map_err(|e| format!("restoring {rel}: {e}"))?;
            }
            Err(_) => {
                if full.is_file() {
                    std::fs::remove_file(&full).map_err(|e| format!("removing {rel}: {e}"))?;
                }
            }
        }
    }
    Ok(())
}

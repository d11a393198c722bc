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
//! apart. When the predictions carry the fixer's `codeswarm_status`, each instance records it
//! and the report counts instances and resolved ones per status (`resolved_by_status`, and a
//! small table in the summary).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::fix_status::{self, FixStatus, Resolved};
use super::instances::Instance;
use super::predictions::Prediction;
use crate::gate::guard::{self, GuardedApplyError};
use crate::repo::checkout::{resolve_owner_name, CheckoutOptions, MirrorCache, Worktree};
use crate::repo::patch::{apply_patch, parse_patch};
pub use crate::testing::{ExecError, TestExecutor, TestOutcome, TestRequest, TestResults};

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
    /// Run the tests for empty predictions too (`evaluate --empty`: the FAIL_TO_PASS tests
    /// must fail on the unpatched base) instead of reporting `no_patch`.
    pub run_empty_patches: bool,
    /// Judge model patches exactly as the official harness does (`--harness-compat`): without
    /// the gate's guards against patches that steer their own judge.
    pub harness_compat: bool,
}

impl EvalOptions {
    /// Options with the default mirror cache.
    pub fn new(repo_url_template: impl Into<String>) -> EvalOptions {
        EvalOptions {
            repo_url_template: repo_url_template.into(),
            cache: MirrorCache::at_default_location(),
            work_dir: None,
            show_progress: false,
            run_empty_patches: false,
            harness_compat: false,
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
    /// The executor cannot run this instance's tests (or one of its FAIL_TO_PASS tests): use
    /// the official harness.
    NotRunnable,
    /// The test run hit its time limit.
    Timeout,
    /// Every test that ran passed, but some listed tests were not reported at all (not
    /// collected, renamed ids): counted apart, neither resolved nor unresolved.
    TestsNotFound,
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
            EvalStatus::Timeout => "timeout",
            EvalStatus::TestsNotFound => "tests_not_found",
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
    /// The prediction's `codeswarm_status` (the fixer's status of the patch), when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix_status: Option<FixStatus>,
    pub reason: Option<String>,
    pub fail_to_pass: BTreeMap<String, TestOutcome>,
    pub pass_to_pass: BTreeMap<String, TestOutcome>,
    /// Why each `not_runnable` test could not run here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub not_runnable_tests: BTreeMap<String, String>,
    /// Test files that could not be collected, with the runner's message.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub collection_errors: BTreeMap<String, String>,
    /// How the model patch and the test patch applied (`exact`, `offset`, `fuzz`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applied: Vec<String>,
    /// What the gate's guards changed in the model patch before the tests ran (test
    /// configuration and listed tests put back to the base), or why they refused it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guards: Vec<String>,
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
    /// The test run timed out.
    #[serde(default)]
    pub timeouts: usize,
    /// Listed tests were not reported: counted apart.
    #[serde(default)]
    pub tests_not_found: usize,
    /// Checkout or executor errors, instances without tests.
    pub errors: usize,
    /// Selected instances without a prediction.
    pub missing_predictions: Vec<String>,
    /// Predictions whose id is not among the instances.
    pub unknown_predictions: Vec<String>,
    /// Instances and resolved ones per `codeswarm_status` of their prediction (every status
    /// when any prediction has one; empty, and left out, when none has).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resolved_by_status: BTreeMap<FixStatus, Resolved>,
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
                crate::terminal_text::terminal_safe(&e.instance_id),
                e.status.as_str(),
                e.reason
                    .as_deref()
                    .map(|r| format!(
                        ": {}",
                        crate::terminal_text::terminal_safe_max(
                            r.lines().next().unwrap_or(""),
                            crate::terminal_text::MAX_MESSAGE_CHARS
                        )
                    ))
                    .unwrap_or_default()
            ));
        }
        out.push_str(&format!(
            "{} evaluated: {} resolved, {} unresolved, {} not runnable here, {} timed out, {} with tests not found, {} errors\n",
            self.evaluated,
            self.resolved,
            self.unresolved,
            self.not_runnable,
            self.timeouts,
            self.tests_not_found,
            self.errors
        ));
        let guarded = self
            .instances
            .iter()
            .filter(|e| !e.guards.is_empty())
            .count();
        if guarded > 0 {
            out.push_str(&format!(
                "the gate's guards changed or refused the model patch of {guarded} instance(s) (see `guards` in --report; --harness-compat judges as the official harness does)\n"
            ));
        }
        if self.not_runnable > 0 {
            out.push_str("instances marked not_runnable could not be tested in the sandbox: evaluate them with the official SWE-bench Docker harness\n");
        }
        if !self.resolved_by_status.is_empty() {
            let without = self.instances.iter().filter(|e| e.fix_status.is_none());
            let without = Resolved {
                instances: without.clone().count(),
                resolved: without.filter(|e| e.status == EvalStatus::Resolved).count(),
            };
            out.push_str("resolved per fix status (codeswarm_status of the predictions):\n");
            out.push_str(&fix_status::resolved_table(
                &self.resolved_by_status,
                without,
            ));
        }
        if !self.missing_predictions.is_empty() {
            // The full list is in the JSON report; a line names the first few.
            let shown: Vec<&str> = self
                .missing_predictions
                .iter()
                .take(5)
                .map(String::as_str)
                .collect();
            out.push_str(&format!(
                "{} instances have no prediction (not evaluated): {}{}\n",
                self.missing_predictions.len(),
                shown.join(", "),
                if self.missing_predictions.len() > shown.len() {
                    ", … (all in --report)"
                } else {
                    ""
                }
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
        bar.set_message(crate::terminal_text::terminal_safe(inst.id()).into_owned());
        let started = Instant::now();
        let mut e = evaluate_one(inst, pred, executor, options);
        e.seconds = started.elapsed().as_secs_f64();
        e.fix_status = pred.codeswarm_status;
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
            EvalStatus::Timeout => report.timeouts += 1,
            EvalStatus::TestsNotFound => report.tests_not_found += 1,
            EvalStatus::NoTests | EvalStatus::Error => report.errors += 1,
        }
        // Without a terminal (logs, CI, nohup) the bar is invisible: one line per instance,
        // as it finishes, so a long run shows its progress and a killed one what it found.
        if options.show_progress && !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            eprintln!(
                "[{}/{}] {} {} ({:.0} s)",
                report.evaluated,
                bar.length().unwrap_or(0),
                crate::terminal_text::terminal_safe(&e.instance_id),
                e.status.as_str(),
                e.seconds
            );
        }
        report.instances.push(e);
        bar.inc(1);
    }
    bar.finish_and_clear();
    report.resolved_by_status = fix_status::resolved_by_status(
        report
            .instances
            .iter()
            .map(|e| (e.fix_status, e.status == EvalStatus::Resolved)),
    );
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
        fix_status: None,
        reason: None,
        fail_to_pass: BTreeMap::new(),
        pass_to_pass: BTreeMap::new(),
        not_runnable_tests: BTreeMap::new(),
        collection_errors: BTreeMap::new(),
        applied: Vec::new(),
        guards: Vec::new(),
        seconds: 0.0,
        log: String::new(),
    };
    let end = |mut e: InstanceEval, status: EvalStatus, reason: String| {
        e.status = status;
        e.reason = Some(reason);
        e
    };
    let Some(mut f2p) = inst.eval.fail_to_pass.clone() else {
        return end(e, EvalStatus::NoTests, "the instance has no FAIL_TO_PASS list; add the dataset's evaluation fields to the instances file".into());
    };
    let mut p2p = inst.eval.pass_to_pass.clone().unwrap_or_default();
    // The dataset holds a few entries that are no test id at all (`[100%]`, `[`: pieces of
    // ids cut at spaces); they are left out and named.
    let noise: Vec<String> = f2p
        .iter()
        .chain(p2p.iter())
        .filter(|t| !is_test_id(t))
        .cloned()
        .collect();
    f2p.retain(|t| is_test_id(t));
    p2p.retain(|t| is_test_id(t));
    if !noise.is_empty() {
        e.applied.push(format!(
            "left out {} listed entries that are not test ids: {}",
            noise.len(),
            noise.join(" | ")
        ));
    }
    if f2p.is_empty() && p2p.is_empty() {
        return end(
            e,
            EvalStatus::NoTests,
            "FAIL_TO_PASS and PASS_TO_PASS are both empty".into(),
        );
    }
    if pred.model_patch.trim().is_empty() && !options.run_empty_patches {
        return end(e, EvalStatus::NoPatch, "empty model_patch".into());
    }
    let worktree = match checkout(inst, options) {
        Ok(w) => w,
        Err(msg) => return end(e, EvalStatus::Error, msg),
    };
    if !pred.model_patch.trim().is_empty() {
        // The gate's link checks, unless judging as the official harness does.
        let applied = if options.harness_compat {
            apply_patch(worktree.path(), &pred.model_patch).map_err(GuardedApplyError::from)
        } else {
            guard::apply_guarded(worktree.path(), &pred.model_patch)
        };
        match applied {
            Ok(r) => {
                e.applied
                    .push(format!("model patch: {}", applied_label(&r)));
                if !options.harness_compat {
                    let listed: Vec<String> = f2p.iter().chain(&p2p).cloned().collect();
                    if let Err(why) =
                        guard_model_patch(inst, &worktree, &r, &listed, executor, &mut e)
                    {
                        e.guards.push(why.clone());
                        return end(e, EvalStatus::PatchFailed, why);
                    }
                }
            }
            Err(GuardedApplyError::Refused(links)) => {
                let why = format!("the model patch is refused: {links}");
                e.guards.push(why.clone());
                return end(e, EvalStatus::PatchFailed, why);
            }
            Err(GuardedApplyError::NotApplied(err)) => {
                return end(
                    e,
                    EvalStatus::PatchFailed,
                    format!("the model patch does not apply: {err}"),
                )
            }
        }
    }
    let mut test_files: Vec<String> = Vec::new();
    if let Some(test_patch) = &inst.eval.test_patch {
        if let Err(msg) = restore_test_files(&worktree, test_patch) {
            return end(e, EvalStatus::Error, msg);
        }
        match apply_patch(worktree.path(), test_patch) {
            Ok(r) => {
                e.applied.push(format!("test patch: {}", applied_label(&r)));
                test_files = r
                    .files
                    .iter()
                    .filter(|f| f.status != crate::repo::patch::FileStatus::Deleted)
                    .map(|f| f.path.clone())
                    .filter(|p| p.ends_with(".py"))
                    .collect();
            }
            Err(err) => {
                return end(
                    e,
                    EvalStatus::TestPatchFailed,
                    format!("the test patch does not apply after the model patch: {err}"),
                )
            }
        }
    }
    let mut ids = f2p.clone();
    ids.extend(p2p.iter().filter(|t| !f2p.contains(t)).cloned());
    let request = TestRequest {
        repo: &inst.view.repo,
        version: inst.view.version.as_deref(),
        ids: &ids,
        files: &test_files,
    };
    let results = match executor.run_tests(worktree.path(), &request) {
        Ok(r) => r,
        Err(ExecError::Timeout { seconds, log }) => {
            e.log = tail(&log, LOG_KEEP);
            return end(
                e,
                EvalStatus::Timeout,
                format!("the tests did not finish within {seconds} s (raise [repo_tests] timeout_seconds or the spec's)"),
            );
        }
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
    e.not_runnable_tests = results.not_runnable.clone();
    e.collection_errors = results.collection_errors.clone();
    e.log = tail(&results.log, LOG_KEEP);
    let failing_p2p: Vec<String> = e
        .pass_to_pass
        .iter()
        .filter(|(_, o)| !matches!(o, TestOutcome::Passed | TestOutcome::NotRunnable))
        .map(|(t, _)| t.clone())
        .collect();
    if !failing_p2p.is_empty() {
        // PASS_TO_PASS tests pass at the base in the harness's environment. One that does not
        // pass without the model patch here either says nothing about the patch: find those
        // with a baseline run (the base plus the test patch), unless this run is the baseline.
        let baseline = if pred.model_patch.trim().is_empty() {
            Some(results.clone())
        } else {
            baseline_results(inst, &worktree, executor, &ids, &test_files)
        };
        if let Some(base) = baseline {
            for t in failing_p2p {
                let at_base = base
                    .outcomes
                    .get(&t)
                    .copied()
                    .unwrap_or(TestOutcome::NotFound);
                if at_base != TestOutcome::Passed {
                    e.pass_to_pass.insert(t.clone(), TestOutcome::NotRunnable);
                    e.not_runnable_tests.insert(
                        t,
                        format!(
                            "does not pass at the base revision in the sandbox either ({})",
                            at_base.as_str()
                        ),
                    );
                }
            }
        }
    }
    judge(e, ids.len())
}

/// The tests' outcomes at the base commit with only the test patch applied (the worktree is
/// reset to the base first). `None` when that run is not possible.
fn baseline_results(
    inst: &Instance,
    worktree: &Worktree,
    executor: &dyn TestExecutor,
    ids: &[String],
    test_files: &[String],
) -> Option<TestResults> {
    worktree.reset().ok()?;
    if let Some(test_patch) = &inst.eval.test_patch {
        apply_patch(worktree.path(), test_patch).ok()?;
    }
    let request = TestRequest {
        repo: &inst.view.repo,
        version: inst.view.version.as_deref(),
        ids,
        files: test_files,
    };
    executor.run_tests(worktree.path(), &request).ok()
}

/// Whether a listed entry names a test: a path, a module or a test name, not a fragment like
/// `[100%]`.
fn is_test_id(t: &str) -> bool {
    t.chars()
        .next()
        .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '/')
}

/// The verdict from the per-test outcomes: a test that ran and failed makes the instance
/// unresolved; otherwise a test file that could not be collected makes it an error (with the
/// runner's message), a FAIL_TO_PASS test that could not run here makes it not runnable, a
/// listed test that was not reported puts it apart, and resolved needs every other listed test
/// passed. PASS_TO_PASS tests that could not run here are left out of the verdict and named in
/// the reason.
fn judge(mut e: InstanceEval, total: usize) -> InstanceEval {
    let all = || {
        e.fail_to_pass
            .iter()
            .map(|(t, o)| ("FAIL_TO_PASS", t, *o))
            .chain(e.pass_to_pass.iter().map(|(t, o)| ("PASS_TO_PASS", t, *o)))
    };
    let listed = |pred: &dyn Fn(TestOutcome) -> bool| -> Vec<String> {
        all()
            .filter(|(_, _, o)| pred(*o))
            .map(|(k, t, o)| format!("{k} {t}: {}", o.as_str()))
            .collect()
    };
    let shown = |v: &[String]| {
        let mut s = v.iter().take(5).cloned().collect::<Vec<_>>().join("; ");
        if v.len() > 5 {
            s += "; …";
        }
        s
    };
    let in_broken_file = |t: &str| {
        t.split_once("::")
            .is_some_and(|(f, _)| e.collection_errors.contains_key(f))
    };
    let failing: Vec<String> = all()
        .filter(|(_, t, o)| {
            matches!(o, TestOutcome::Failed | TestOutcome::Skipped)
                || (*o == TestOutcome::Error && !in_broken_file(t))
        })
        .map(|(k, t, o)| format!("{k} {t}: {}", o.as_str()))
        .collect();
    let f2p_limited: Vec<String> = e
        .fail_to_pass
        .iter()
        .filter(|(_, o)| **o == TestOutcome::NotRunnable)
        .map(|(t, _)| {
            format!(
                "{t}: {}",
                e.not_runnable_tests
                    .get(t)
                    .map(String::as_str)
                    .unwrap_or("")
            )
        })
        .collect();
    let not_found = listed(&|o| o == TestOutcome::NotFound);
    let p2p_limited = e
        .pass_to_pass
        .values()
        .filter(|o| **o == TestOutcome::NotRunnable)
        .count();
    let (status, reason) = if !failing.is_empty() {
        (
            EvalStatus::Unresolved,
            Some(format!(
                "{} of {total} tests did not pass: {}",
                failing.len(),
                shown(&failing)
            )),
        )
    } else if !e.collection_errors.is_empty() {
        let files: Vec<String> = e
            .collection_errors
            .iter()
            .map(|(f, m)| format!("{f}: {m}"))
            .collect();
        (
            EvalStatus::Error,
            Some(format!(
                "test files could not be collected: {}",
                shown(&files)
            )),
        )
    } else if !f2p_limited.is_empty() {
        (
            EvalStatus::NotRunnable,
            Some(format!(
                "FAIL_TO_PASS tests cannot run in the sandbox: {}; use the official SWE-bench Docker harness for this instance",
                shown(&f2p_limited)
            )),
        )
    } else if !not_found.is_empty() {
        (
            EvalStatus::TestsNotFound,
            Some(format!(
                "{} listed tests were not reported by the runner: {}",
                not_found.len(),
                shown(&not_found)
            )),
        )
    } else {
        (
            EvalStatus::Resolved,
            (p2p_limited > 0).then(|| {
                format!("{p2p_limited} PASS_TO_PASS tests could not run in the sandbox and were left out")
            }),
        )
    };
    e.status = status;
    e.reason = reason;
    e
}

/// How a patch applied, for the report: `exact`, or `offset`/`fuzz` with the hunks moved.
fn applied_label(r: &crate::repo::patch::ApplyReport) -> String {
    if r.adjusted_hunks.is_empty() {
        return r.method.as_str().to_string();
    }
    let hunks: Vec<String> = r
        .adjusted_hunks
        .iter()
        .map(|h| {
            format!(
                "{} hunk {} {:+} lines, fuzz {}",
                h.file, h.hunk, h.offset, h.fuzz
            )
        })
        .collect();
    format!("{} ({})", r.method.as_str(), hunks.join("; "))
}

fn checkout(inst: &Instance, options: &EvalOptions) -> Result<Worktree, String> {
    let source = resolve_owner_name(&inst.view.repo, &options.repo_url_template)
        .map_err(|e| format!("repository {}: {e}", inst.view.repo))?;
    let checkout_options = CheckoutOptions {
        refresh: false,
        parent_dir: options.work_dir.clone(),
        max_tree_bytes: None,
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

/// The gate's guards on a model patch applied with [`guard::apply_guarded`] (which refused
/// links out of the repository), unless `--harness-compat`: modules shadowing the runtime's
/// refuse the patch (`Err`); test configuration it changed goes back to the base, and so does
/// a file of listed tests (`listed`: FAIL_TO_PASS and PASS_TO_PASS) that the test patch does
/// not touch (the official harness only resets the files its test patch touches). What they
/// changed is noted in `e.guards`.
fn guard_model_patch(
    inst: &Instance,
    worktree: &Worktree,
    applied: &crate::repo::patch::ApplyReport,
    listed: &[String],
    executor: &dyn TestExecutor,
    e: &mut InstanceEval,
) -> Result<(), String> {
    let changed = crate::gate::changed_paths(&applied.files);
    let test_patch_files: Vec<String> = match &inst.eval.test_patch {
        Some(tp) => parse_patch(tp)
            .map(|(_, r)| crate::gate::changed_paths(&r.files))
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let named: Vec<String> = listed
        .iter()
        .filter(|id| {
            id.split_once("::")
                .is_some_and(|(file, _)| !test_patch_files.iter().any(|f| f == file))
        })
        .cloned()
        .collect();
    let modules = executor.runtime_modules();
    if modules.is_none() {
        tracing::warn!(
            instance = inst.id(),
            "the test executor cannot name its runtime's modules: the check for patches shadowing them did not run"
        );
    }
    let roots = executor.import_roots(&inst.view.repo, inst.view.version.as_deref());
    let g = guard::protect_worktree(
        worktree,
        &changed,
        &guard::JudgeGuard {
            named: Some(&named),
            modules: modules.as_ref(),
            roots: &roots,
            ..Default::default()
        },
    )?;
    e.guards.extend(g.notes);
    if !g.refusals.is_empty() {
        return Err(format!(
            "the model patch is refused: {} (--harness-compat judges it as the official harness does)",
            g.refusals.join("; ")
        ));
    }
    Ok(())
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

/// Whether the instance's tests ran in the sandbox (whatever they said).
fn ran(status: EvalStatus) -> bool {
    matches!(
        status,
        EvalStatus::Resolved | EvalStatus::Unresolved | EvalStatus::TestsNotFound
    )
}

/// `evaluate --gold --empty`: a table per repository — instances, runnable (the gold run's tests
/// ran), gold resolved, empty resolved — then why the others did not run, grouped.
pub fn validation_table(
    instances: &[&Instance],
    gold: Option<&EvalReport>,
    empty: Option<&EvalReport>,
) -> String {
    use std::fmt::Write;
    let find = |r: Option<&EvalReport>, id: &str| -> Option<InstanceEval> {
        r?.instances.iter().find(|e| e.instance_id == id).cloned()
    };
    let mut repos: Vec<&str> = instances.iter().map(|i| i.view.repo.as_str()).collect();
    repos.sort();
    repos.dedup();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<32} {:>9} {:>9} {:>14} {:>15} {:>9} {:>9}",
        "repository",
        "instances",
        "runnable",
        "gold resolved",
        "empty resolved",
        "not found",
        "timeouts"
    );
    let mut why: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut totals = [0usize; 6];
    for repo in repos {
        let ids: Vec<&str> = instances
            .iter()
            .filter(|i| i.view.repo == repo)
            .map(|i| i.id())
            .collect();
        let mut row = [ids.len(), 0, 0, 0, 0, 0];
        for id in &ids {
            let g = find(gold, id);
            let e = find(empty, id);
            let reference = g.as_ref().or(e.as_ref());
            if let Some(r) = reference {
                if ran(r.status) {
                    row[1] += 1;
                } else {
                    let reason = r.reason.clone().unwrap_or_default();
                    let key = format!(
                        "{}: {}",
                        r.status.as_str(),
                        reason.lines().next().unwrap_or("")
                    );
                    let key: String = key.chars().take(160).collect();
                    why.entry(key).or_default().push(id.to_string());
                }
                if r.status == EvalStatus::TestsNotFound {
                    row[4] += 1;
                }
                if r.status == EvalStatus::Timeout {
                    row[5] += 1;
                }
            }
            if g.is_some_and(|g| g.status == EvalStatus::Resolved) {
                row[2] += 1;
            }
            if e.is_some_and(|e| e.status == EvalStatus::Resolved) {
                row[3] += 1;
            }
        }
        for (t, v) in totals.iter_mut().zip(row) {
            *t += v;
        }
        let dash = |present: bool, n: usize| if present { n.to_string() } else { "-".into() };
        let _ = writeln!(
            out,
            "{:<32} {:>9} {:>9} {:>14} {:>15} {:>9} {:>9}",
            repo,
            row[0],
            row[1],
            dash(gold.is_some(), row[2]),
            dash(empty.is_some(), row[3]),
            row[4],
            row[5]
        );
    }
    let _ = writeln!(
        out,
        "{:<32} {:>9} {:>9} {:>14} {:>15} {:>9} {:>9}",
        "total",
        totals[0],
        totals[1],
        if gold.is_some() {
            totals[2].to_string()
        } else {
            "-".into()
        },
        if empty.is_some() {
            totals[3].to_string()
        } else {
            "-".into()
        },
        totals[4],
        totals[5]
    );
    if !why.is_empty() {
        let _ = writeln!(out, "\nnot run here, and why:");
        for (reason, ids) in why {
            let _ = writeln!(out, "  {} × {reason}\n      {}", ids.len(), ids.join(", "));
        }
    }
    out
}

//! `codeswarm check`, the CI gate for a produced diff: does it apply, is the Python it touches
//! valid, do the tests pass — judged in a throw-away worktree and the WASI sandbox, never in the
//! user's checkout and never on the host.
//!
//! Steps, each timed:
//! 1. **checkout**: a temporary worktree of `--repo` at `--base` (default `HEAD`), borrowing
//!    the repository's objects ([`worktree`]); the user's checkout is only read.
//! 2. **apply**: the diff, with libgit2 ([`crate::repo::patch`]); an empty, binary or malformed
//!    patch, or a rejected hunk (named by file and line), fails the gate.
//! 3. **syntax**: tree-sitter over every added or changed `.py` file; errors are reported as
//!    `file:line:col: message` and fail the gate.
//! 4. **tests**: pytest in the sandbox on the named tests (`--tests`, `--tests-from`), or else
//!    on the test files the patch adds or changes (`test_*.py`, `*_test.py`, pytest's default
//!    patterns). A patch that touches no test file runs no tests, and fails: a CI job names
//!    the tests that must pass. The run is [`crate::testing::named_run`]'s, shared with
//!    `evaluate` and the fixer: a named node id pytest does not find is reported missing while
//!    the others run; when the run crashes, the named node ids run alone and the named files
//!    fail.
//!
//! Verdict: the gate fails closed. It fails when the patch is refused (too large, not UTF-8,
//! links leaving the repository: [`guard`]) or does not apply, a syntax error is found, a test
//! fails or errors, a named test is not found or skipped, no test ran at all, the tests cannot
//! run in the sandbox (C extensions, missing dependencies; `allow_not_runnable` accepts that),
//! or the run ends abnormally (timeout, memory). Test configuration the patch changes is put
//! back to the base revision before the tests run, and named test files run as they are at the
//! base ([`guard`]). Steps after a failed one are skipped.

pub mod github;
pub mod guard;
pub mod junit;
pub mod report;
pub mod shadow;
pub mod worktree;

use std::path::PathBuf;
use std::time::Instant;

use crate::config::SandboxSettings;
use crate::fetch::Progress;
use crate::repo::patch::{FileStatus, PatchError};
use crate::sandbox::SandboxError;
use crate::testing::named_run::{reported, run_named};
use crate::testing::CaseOutcome;
use crate::testing::{RepoTestRun, RepoTests};
use guard::GuardedApplyError;

pub use report::{
    ApplyFailure, ApplyStep, CheckReport, Selection, SyntaxProblem, SyntaxStep, TestsStep, Timings,
    Verdict,
};
pub use worktree::{local_worktree, WorktreeError};

/// The default patch size limit: 5 MiB.
pub const DEFAULT_MAX_PATCH_BYTES: usize = 5 << 20;

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckRequest {
    /// The local git repository.
    pub repo: PathBuf,
    /// The revision the patch applies to (default `HEAD`).
    pub base: Option<String>,
    /// The diff text.
    pub patch: String,
    /// How the patch is named in messages (its file name).
    pub patch_name: String,
    /// Test node ids or paths to run; `None`: the test files the patch touches.
    pub tests: Option<Vec<String>>,
    /// Tests the sandbox cannot run do not fail the gate (by default they do: no test run is
    /// no evidence).
    pub allow_not_runnable: bool,
    /// Use the patch's changes to test configuration (conftest, pytest/tox/setup config, test
    /// packages' `__init__.py`) instead of the base revision's.
    pub allow_test_config: bool,
    /// Without named tests, run the patch's versions of existing test files it changes (by
    /// default they run as at the base: a patch may only add tests).
    pub allow_test_edits: bool,
    /// Largest patch judged (bytes); a larger one fails.
    pub max_patch_bytes: usize,
    /// Why the patch text itself is unusable (not UTF-8, too large), found while reading it.
    pub patch_problem: Option<String>,
    /// Site dir mounted read-only for the repository's dependencies.
    pub site: Option<PathBuf>,
    /// Where the temporary worktree goes (default: the system temp directory).
    pub work_dir: Option<PathBuf>,
}

impl Default for CheckRequest {
    fn default() -> Self {
        CheckRequest {
            repo: PathBuf::new(),
            base: None,
            patch: String::new(),
            patch_name: String::new(),
            tests: None,
            allow_not_runnable: false,
            allow_test_config: false,
            allow_test_edits: false,
            max_patch_bytes: DEFAULT_MAX_PATCH_BYTES,
            patch_problem: None,
            site: None,
            work_dir: None,
        }
    }
}

/// A set-up problem: the gate could not judge the patch (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Worktree(#[from] WorktreeError),
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("--tests: no test named; give node ids or paths (comma-separated), or leave --tests out to run the test files the patch touches")]
    NoTestsNamed,
    #[error("preparing the test environment: {0}")]
    Environment(String),
}

/// Check `req`, opening the sandbox (limits from `settings`) only if tests are to run.
pub fn run_check(
    req: &CheckRequest,
    settings: &SandboxSettings,
    progress: &dyn Progress,
) -> Result<CheckReport, CheckError> {
    let site = req.site.clone();
    check_with(req, progress, &mut || {
        progress.set_message("opening the sandbox".into());
        let sandbox = crate::testing::open_sandbox(progress)?;
        Ok(RepoTests::new(sandbox, site.clone(), settings))
    })
}

/// Check `req` with `tests` to run the tests (called at most once, only when needed).
pub fn check_with(
    req: &CheckRequest,
    progress: &dyn Progress,
    tests: &mut dyn FnMut() -> Result<RepoTests, CheckError>,
) -> Result<CheckReport, CheckError> {
    if req.tests.as_ref().is_some_and(|t| t.is_empty()) {
        return Err(CheckError::NoTestsNamed);
    }
    let started = Instant::now();
    let base = req.base.clone().unwrap_or_else(|| "HEAD".to_string());
    let mut report = CheckReport {
        verdict: Verdict::Pass,
        reasons: Vec::new(),
        notes: Vec::new(),
        repo: req.repo.display().to_string(),
        base: base.clone(),
        base_commit: String::new(),
        patch: req.patch_name.clone(),
        allow_not_runnable: req.allow_not_runnable,
        apply: ApplyStep::default(),
        syntax: SyntaxStep::default(),
        tests: TestsStep {
            selection: if req.tests.is_some() {
                Selection::Named
            } else {
                Selection::PatchTestFiles
            },
            targets: req.tests.clone().unwrap_or_default(),
            ..TestsStep::default()
        },
        timings: Timings::default(),
    };

    progress.set_message(format!("checking out {} at {base}", req.repo.display()));
    let t = Instant::now();
    let wt = local_worktree(&req.repo, &base, req.work_dir.as_deref())?;
    report.base_commit = wt.base_sha();
    report.timings.checkout = t.elapsed().as_secs_f64();

    progress.set_message(format!("applying {}", req.patch_name));
    let t = Instant::now();
    let refusal = req.patch_problem.clone().or_else(|| {
        (req.patch.len() > req.max_patch_bytes).then(|| {
            format!(
                "the patch is {} bytes, more than the {} allowed (--max-patch-size)",
                req.patch.len(),
                req.max_patch_bytes
            )
        })
    });
    match refusal {
        Some(why) => refuse_patch(&mut report, why),
        None => apply_step(&mut report, wt.path(), &req.patch),
    }
    report.timings.apply = t.elapsed().as_secs_f64();

    if report.apply.ok {
        progress.set_message("checking Python syntax".into());
        let t = Instant::now();
        syntax_step(&mut report, wt.path());
        report.timings.syntax = t.elapsed().as_secs_f64();
    }

    let t = Instant::now();
    tests_step(&mut report, &wt, req, progress, tests)?;
    report.timings.tests = t.elapsed().as_secs_f64();
    report.timings.total = started.elapsed().as_secs_f64();
    if !report.reasons.is_empty() {
        report.verdict = Verdict::Fail;
    }
    tracing::info!(verdict = ?report.verdict, timings = ?report.timings, "check finished");
    Ok(report)
}

/// The patch is refused before (or instead of) applying it.
fn refuse_patch(report: &mut CheckReport, why: String) {
    report.apply = ApplyStep::default();
    report.reasons.push(format!("the patch is refused: {why}"));
    report.apply.error = Some(ApplyFailure {
        kind: "refused".into(),
        message: why,
        file: None,
        line: None,
    });
}

/// Apply the patch with the guards' link checks ([`guard::apply_guarded`]).
fn apply_step(report: &mut CheckReport, worktree: &std::path::Path, patch: &str) {
    match guard::apply_guarded(worktree, patch) {
        Err(GuardedApplyError::Refused(why)) => refuse_patch(report, why),
        Ok(applied) => {
            report.apply = ApplyStep {
                ok: true,
                method: Some(applied.method),
                adjusted_hunks: applied.adjusted_hunks,
                files: applied.files,
                hunks: applied.hunks,
                additions: applied.additions,
                deletions: applied.deletions,
                error: None,
            };
        }
        Err(GuardedApplyError::NotApplied(e)) => {
            let (kind, file, line) = match &e {
                PatchError::Empty => ("empty", None, None),
                PatchError::Binary { files } => ("binary", files.first().cloned(), None),
                PatchError::Malformed { .. } => ("malformed", None, None),
                PatchError::UnsafePath { path, .. } => ("unsafe_path", Some(path.clone()), None),
                PatchError::HunkRejected { file, line, .. } => {
                    ("hunk_rejected", Some(file.clone()), Some(*line))
                }
                PatchError::FileRejected { file, .. } => {
                    ("file_rejected", Some(file.clone()), None)
                }
                _ => ("error", None, None),
            };
            let failure = ApplyFailure {
                kind: kind.to_string(),
                message: e.to_string(),
                file,
                line,
            };
            report.reasons.push(format!(
                "the patch {}: {}",
                failure
                    .location()
                    .unwrap_or_else(|| "does not apply".into()),
                failure.message
            ));
            report.apply.error = Some(failure);
        }
    }
}

fn syntax_step(report: &mut CheckReport, worktree: &std::path::Path) {
    report.syntax.ran = true;
    let files: Vec<String> = report
        .apply
        .files
        .iter()
        .filter(|f| f.status != FileStatus::Deleted && f.path.ends_with(".py"))
        .map(|f| f.path.clone())
        .collect();
    for file in &files {
        // In-repository links are left alone; nothing host-side follows a link the patch made.
        if std::fs::symlink_metadata(worktree.join(file)).is_ok_and(|m| m.file_type().is_symlink())
        {
            continue;
        }
        let bytes = match guard::read_no_follow(worktree, file) {
            Ok(b) => b,
            Err(e) => {
                report.syntax.problems.push(SyntaxProblem {
                    file: file.clone(),
                    line: 1,
                    column: 1,
                    message: format!("cannot read the patched file: {e}"),
                    line_text: String::new(),
                });
                continue;
            }
        };
        let Ok(source) = String::from_utf8(bytes) else {
            report.syntax.problems.push(SyntaxProblem {
                file: file.clone(),
                line: 1,
                column: 1,
                message: "not valid UTF-8 (Python source must be UTF-8)".into(),
                line_text: String::new(),
            });
            continue;
        };
        for issue in crate::syntax::check_python(&source) {
            report.syntax.problems.push(SyntaxProblem {
                file: file.clone(),
                line: issue.line,
                column: issue.column,
                message: issue.message,
                line_text: issue.line_text,
            });
        }
    }
    for p in &report.syntax.problems {
        report
            .reasons
            .push(format!("syntax error: {}", p.location()));
    }
    report.syntax.files = files;
}

/// Every path a patch touched: new paths and the old paths of renames.
pub fn changed_paths(files: &[crate::repo::patch::PatchFile]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in files {
        for p in std::iter::once(&f.path).chain(f.old_path.as_ref()) {
            if !out.contains(p) {
                out.push(p.clone());
            }
        }
    }
    out
}

/// Whether pytest collects `path` by default (`test_*.py` or `*_test.py`).
pub fn is_test_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.ends_with(".py") && (name.starts_with("test_") || name.ends_with("_test.py"))
}

fn tests_step(
    report: &mut CheckReport,
    wt: &crate::repo::checkout::Worktree,
    req: &CheckRequest,
    progress: &dyn Progress,
    open: &mut dyn FnMut() -> Result<RepoTests, CheckError>,
) -> Result<(), CheckError> {
    if !report.apply.ok {
        report.tests.not_run = Some("the patch does not apply".into());
        return Ok(());
    }
    if !report.syntax.problems.is_empty() {
        report.tests.not_run = Some("the syntax check failed".into());
        return Ok(());
    }
    if report.tests.selection == Selection::PatchTestFiles {
        report.tests.targets = report
            .apply
            .files
            .iter()
            .filter(|f| f.status != FileStatus::Deleted && is_test_file(&f.path))
            .map(|f| f.path.clone())
            .collect();
        if report.tests.targets.is_empty() {
            report.tests.not_run =
                Some("the patch touches no test file (test_*.py, *_test.py)".into());
            report.reasons.push(
                "no tests ran: the patch adds or changes no test file; name the tests that must \
                 pass with --tests or --tests-from"
                    .into(),
            );
            return Ok(());
        }
    }
    let worktree = wt.path();
    let tests = open()?;
    {
        let changed = changed_paths(&report.apply.files);
        let named =
            (report.tests.selection == Selection::Named).then_some(&report.tests.targets[..]);
        let modules = shadow::RuntimeModules::of_sandbox(&tests.sandbox).map_err(|e| {
            CheckError::Environment(format!("reading the runtime's module names: {e}"))
        })?;
        let guarded = guard::protect_worktree(
            wt,
            &changed,
            &guard::JudgeGuard {
                named,
                existing_tests_at_base: named.is_none(),
                allow_test_edits: req.allow_test_edits,
                allow_test_config: req.allow_test_config,
                modules: Some(&modules),
                roots: &tests.spec.path,
            },
        )
        .map_err(CheckError::Environment)?;
        report.notes.extend(guarded.notes);
        if !guarded.refusals.is_empty() {
            let why = guarded.refusals.join("; ");
            report.tests.not_run = Some("the patch is refused".into());
            refuse_patch(report, why);
            return Ok(());
        }
    }
    progress.set_message(format!(
        "running {} in the sandbox",
        report.tests.targets.join(" ")
    ));
    let run = run_named(&tests, worktree, &[], &report.tests.targets, "check")?;
    judge_tests(report, run);
    Ok(())
}

fn judge_tests(report: &mut CheckReport, run: RepoTestRun) {
    let t = &mut report.tests;
    t.ran = true;
    t.status = Some(run.status.clone());
    t.exit_code = run.exit_code;
    t.output_tail = run.output_tail.clone();
    if let Some(why) = &run.not_runnable {
        t.not_runnable = Some(why.clone());
        t.cases = run.cases;
        if report.allow_not_runnable {
            report.notes.push(format!(
                "tests are not runnable in the sandbox and were not judged (--allow-not-runnable): {why}"
            ));
        } else {
            report.reasons.push(format!(
                "no tests ran: they are not runnable in the sandbox ({why}); --allow-not-runnable accepts that"
            ));
        }
        return;
    }
    if t.selection == Selection::Named {
        t.missing = t
            .targets
            .iter()
            .filter(|target| !reported(&run, target))
            .cloned()
            .collect();
    }
    for c in &run.cases {
        let Some(reason) = report::failed_test_reason(c) else {
            continue;
        };
        report.reasons.push(reason);
    }
    for m in &t.missing {
        report
            .reasons
            .push(format!("test {m} was not found or did not run"));
    }
    // The run of the named files crashed and only the named node ids ran again: the files
    // themselves were not judged whole.
    if let Some(status) = &run.crashed_first {
        for target in t.targets.iter().filter(|t| !t.contains("::")) {
            report.reasons.push(format!(
                "the test run of {target} ended abnormally ({status}); only the named node ids ran again, alone"
            ));
        }
    }
    if t.selection == Selection::Named {
        for target in &t.targets {
            let skipped = match run.outcome(target) {
                Some(o) => o == CaseOutcome::Skipped,
                None => {
                    let mut inside = run.in_file(target.trim_start_matches("./")).peekable();
                    inside.peek().is_some() && inside.all(|c| c.outcome == CaseOutcome::Skipped)
                }
            };
            if skipped {
                report
                    .reasons
                    .push(format!("test {target} was skipped: a named test must run"));
            }
        }
    }
    let executed = run
        .cases
        .iter()
        .filter(|c| c.outcome != CaseOutcome::Skipped)
        .count();
    if executed == 0 && t.missing.is_empty() {
        report.reasons.push(format!(
            "no test ran ({}): zero tests executed is no evidence",
            run.status
        ));
    }
    let failed_cases = run
        .cases
        .iter()
        .any(|c| matches!(c.outcome, CaseOutcome::Failed | CaseOutcome::Error));
    let explained = failed_cases || !t.missing.is_empty();
    match run.exit_code {
        Some(0) => {}
        Some(5) if t.selection == Selection::PatchTestFiles => report.notes.push(format!(
            "pytest collected no tests from {}",
            t.targets.join(" ")
        )),
        Some(_) if explained => {}
        // Timeout, memory, trap: always a failure; or pytest's own error without a test to
        // blame (internal error, bad arguments).
        _ => report.reasons.push(format!(
            "the test run ended abnormally ({}): {}",
            run.status,
            last_lines(&run.output_tail, 3)
        )),
    }
    t.cases = run.cases;
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_files_follow_pytest_defaults() {
        assert!(is_test_file("tests/test_a.py"));
        assert!(is_test_file("pkg/a_test.py"));
        assert!(is_test_file("test_x.py"));
        assert!(!is_test_file("tests/conftest.py"));
        assert!(!is_test_file("pkg/testing.py"));
        assert!(!is_test_file("tests/test_data.json"));
    }
}

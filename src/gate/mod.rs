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
//!    patterns). A patch that touches no test file runs no tests: the gate then says so and
//!    passes on the syntax check alone (a CI job that wants tests run names them).
//!
//! Verdict: fail when the patch does not apply, a syntax error is found, a test fails or
//! errors, a named test is not found, or the run ends abnormally (timeout, memory). Tests the
//! sandbox cannot run at all (C extensions, missing dependencies, sockets) are reported as not
//! runnable and do not fail the gate, unless `strict`. Steps after a failed one are skipped.

pub mod junit;
pub mod report;
pub mod worktree;

use std::path::PathBuf;
use std::time::Instant;

use crate::config::SandboxSettings;
use crate::fetch::Progress;
use crate::repo::patch::{apply_patch, FileStatus, PatchError};
use crate::sandbox::SandboxError;
use crate::testing::CaseOutcome;
use crate::testing::{RepoTestRun, RepoTests};

pub use report::{
    ApplyFailure, ApplyStep, CheckReport, Selection, SyntaxProblem, SyntaxStep, TestsStep, Timings,
    Verdict,
};
pub use worktree::{local_worktree, WorktreeError};

/// What to check.
#[derive(Debug, Clone, Default)]
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
    /// Tests that are not runnable in the sandbox fail the gate.
    pub strict: bool,
    /// Site dir mounted read-only for the repository's dependencies.
    pub site: Option<PathBuf>,
    /// Where the temporary worktree goes (default: the system temp directory).
    pub work_dir: Option<PathBuf>,
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
        strict: req.strict,
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
    apply_step(&mut report, wt.path(), &req.patch);
    report.timings.apply = t.elapsed().as_secs_f64();

    if report.apply.ok {
        progress.set_message("checking Python syntax".into());
        let t = Instant::now();
        syntax_step(&mut report, wt.path());
        report.timings.syntax = t.elapsed().as_secs_f64();
    }

    let t = Instant::now();
    tests_step(&mut report, wt.path(), progress, tests)?;
    report.timings.tests = t.elapsed().as_secs_f64();
    report.timings.total = started.elapsed().as_secs_f64();
    if !report.reasons.is_empty() {
        report.verdict = Verdict::Fail;
    }
    tracing::info!(verdict = ?report.verdict, timings = ?report.timings, "check finished");
    Ok(report)
}

fn apply_step(report: &mut CheckReport, worktree: &std::path::Path, patch: &str) {
    match apply_patch(worktree, patch) {
        Ok(applied) => {
            report.apply = ApplyStep {
                ok: true,
                files: applied.files,
                hunks: applied.hunks,
                additions: applied.additions,
                deletions: applied.deletions,
                error: None,
            };
        }
        Err(e) => {
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
            let message = e.to_string();
            report.reasons.push(match (&file, line) {
                (Some(f), Some(l)) => format!("the patch does not apply at {f}:{l}: {message}"),
                _ => format!("the patch does not apply: {message}"),
            });
            report.apply.error = Some(ApplyFailure {
                kind: kind.to_string(),
                message,
                file,
                line,
            });
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
        let bytes = match std::fs::read(worktree.join(file)) {
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

/// Whether pytest collects `path` by default (`test_*.py` or `*_test.py`).
pub fn is_test_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.ends_with(".py") && (name.starts_with("test_") || name.ends_with("_test.py"))
}

fn tests_step(
    report: &mut CheckReport,
    worktree: &std::path::Path,
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
            report.notes.push(
                "the patch touches no test file, so no tests were run and the gate rests on the \
                 syntax check; name tests with --tests or --tests-from"
                    .into(),
            );
            return Ok(());
        }
    }
    let tests = open()?;
    progress.set_message(format!(
        "running {} in the sandbox",
        report.tests.targets.join(" ")
    ));
    let targets = run_targets(&report.tests.targets);
    let mut run = tests.run(worktree, &[], &targets, "check")?;
    // pytest refuses the whole command line when one node id does not exist (exit code 4,
    // nothing run): run the others again; the unknown ones are reported missing.
    if run.exit_code == Some(4) && run.cases.is_empty() {
        let unknown = not_found_targets(&run.output_tail, &targets);
        let rest: Vec<String> = targets
            .iter()
            .filter(|t| !unknown.contains(t))
            .cloned()
            .collect();
        if !unknown.is_empty() && !rest.is_empty() {
            tracing::info!(
                ?unknown,
                "pytest did not find some tests; running the others"
            );
            run = tests.run(worktree, &[], &run_targets(&rest), "check")?;
        }
    }
    judge_tests(report, run);
    Ok(())
}

/// The targets to hand pytest: node ids inside a file or directory also named are left out
/// (pytest 8 would then run only those ids of the file, not all of it); they are still judged.
fn run_targets(targets: &[String]) -> Vec<String> {
    let paths: Vec<String> = targets
        .iter()
        .filter(|t| !t.contains("::"))
        .map(|t| t.trim_start_matches("./").trim_end_matches('/').to_string())
        .collect();
    targets
        .iter()
        .filter(|t| {
            let Some((file, _)) = t.trim_start_matches("./").split_once("::") else {
                return true;
            };
            !paths
                .iter()
                .any(|p| file == p || file.starts_with(&format!("{p}/")))
        })
        .cloned()
        .collect()
}

/// The targets pytest names in `ERROR: not found: /PATH::ID` lines (paths are guest paths
/// from the work dir at `/`).
fn not_found_targets(output: &str, targets: &[String]) -> Vec<String> {
    let norm = |s: &str| {
        s.trim()
            .trim_start_matches("./")
            .trim_start_matches('/')
            .to_string()
    };
    let found: Vec<String> = output
        .lines()
        .filter_map(|l| l.trim().strip_prefix("ERROR: not found:"))
        .map(norm)
        .collect();
    targets
        .iter()
        .filter(|t| found.contains(&norm(t)))
        .cloned()
        .collect()
}

/// Whether the run reported anything for `target` (a node id, a file or a directory).
fn reported(run: &RepoTestRun, target: &str) -> bool {
    let target = target.trim_start_matches("./");
    if target.contains("::") {
        return run.outcome(target).is_some();
    }
    let dir = format!("{}/", target.trim_end_matches('/'));
    let file = format!("{target}::");
    run.cases
        .iter()
        .any(|c| c.id == target || c.id.starts_with(&file) || c.id.starts_with(&dir))
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
        if report.strict {
            report.reasons.push(format!(
                "tests are not runnable in the sandbox (--strict): {why}"
            ));
        } else {
            report.notes.push(format!(
                "tests are not runnable in the sandbox and were not judged: {why} (--strict makes this fail)"
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
        let verb = match c.outcome {
            CaseOutcome::Failed => "failed",
            CaseOutcome::Error => "errored",
            _ => continue,
        };
        let first = c.message.lines().next().unwrap_or("").trim();
        report.reasons.push(if first.is_empty() {
            format!("test {} {verb}", c.id)
        } else {
            format!("test {} {verb}: {first}", c.id)
        });
    }
    for m in &t.missing {
        report
            .reasons
            .push(format!("test {m} was not found or did not run"));
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
    use crate::testing::TestCase;

    #[test]
    fn test_files_follow_pytest_defaults() {
        assert!(is_test_file("tests/test_a.py"));
        assert!(is_test_file("pkg/a_test.py"));
        assert!(is_test_file("test_x.py"));
        assert!(!is_test_file("tests/conftest.py"));
        assert!(!is_test_file("pkg/testing.py"));
        assert!(!is_test_file("tests/test_data.json"));
    }

    #[test]
    fn unknown_node_ids_are_read_from_pytest_output() {
        let out = "no tests ran in 0.04s\nERROR: not found: /tests/test_a.py::test_gone\n(no match in any of [<Module test_a.py>])\n";
        let targets = vec![
            "tests/test_a.py::test_x".to_string(),
            "./tests/test_a.py::test_gone".to_string(),
        ];
        assert_eq!(not_found_targets(out, &targets), [targets[1].clone()]);
        assert!(not_found_targets("ERROR: file or directory not found: x", &targets).is_empty());
    }

    #[test]
    fn node_ids_inside_named_files_are_not_passed_twice() {
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            run_targets(&t(&[
                "tests/test_a.py",
                "tests/test_a.py::x",
                "tests/test_b.py::y",
                "./lib/",
                "lib/sub/test_c.py::z"
            ])),
            t(&["tests/test_a.py", "tests/test_b.py::y", "./lib/"])
        );
    }

    #[test]
    fn named_targets_match_ids_files_and_dirs() {
        let run = RepoTestRun {
            cases: vec![TestCase {
                id: "tests/test_a.py::TestA::test_x".into(),
                outcome: CaseOutcome::Passed,
                message: String::new(),
                details: String::new(),
            }],
            ..Default::default()
        };
        assert!(reported(&run, "tests/test_a.py::TestA::test_x"));
        assert!(reported(&run, "tests/test_a.py::test_x"));
        assert!(reported(&run, "tests/test_a.py"));
        assert!(reported(&run, "tests"));
        assert!(reported(&run, "tests/"));
        assert!(!reported(&run, "tests/test_a.py::test_y"));
        assert!(!reported(&run, "tests/test_b.py"));
        assert!(!reported(&run, "test"));
    }
}

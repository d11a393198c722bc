//! Named tests of a worktree, run once for everyone who judges a patch by them: the CI gate
//! (`check`), `evaluate`'s sandbox executor and the repository fixer's verification.
//!
//! [`run_named`] hands the runner the named targets (test files, dirs, node ids) and works
//! around the two ways one bad target hides the outcomes of all the others:
//!
//! - pytest refuses the whole command line when one node id does not exist (exit code 4,
//!   nothing run): the others run again without it, and the unknown ones are recorded in
//!   [`RepoTestRun::not_found`];
//! - a guest crash (deep recursion overflowing the WASI runtime's C stack) loses every result of
//!   the run: the listed node ids run again alone, and the first run's status is kept in
//!   [`RepoTestRun::crashed_first`] (files and dirs named beside them were then not judged
//!   whole).
//!
//! Per-id answers come from the returned run ([`RepoTestRun::outcome`], [`reported`]) or, in
//! `evaluate`'s vocabulary, from [`outcomes_of`].

use std::collections::BTreeMap;
use std::path::Path;

use super::results::{CaseOutcome, TestOutcome, TestResults};
use super::runner::{RepoTestRun, RepoTests};
use crate::sandbox::SandboxError;

/// Run `targets` (test files, dirs or node ids) of `worktree` (+ `extra` files written over the
/// copy) under `tests`' spec, as check and evaluate do: node ids inside a file also named are
/// not passed twice; when pytest refuses the command line because some node ids do not exist
/// (exit 4, nothing run) the others run again; when the guest crashed with no results, the
/// listed node ids run alone. The returned run's cases answer `RepoTestRun::outcome(id)`.
pub fn run_named(
    tests: &RepoTests,
    worktree: &Path,
    extra: &[(String, String)],
    targets: &[String],
    label: &str,
) -> Result<RepoTestRun, SandboxError> {
    let first = run_targets(targets);
    let mut run = run_known(tests, worktree, extra, &first, label)?;
    if crashed(&run) {
        let ids: Vec<String> = targets.iter().filter(|t| is_node_id(t)).cloned().collect();
        // The same command line again would crash the same way.
        if !ids.is_empty() && ids != first {
            tracing::info!(status = %run.status, "the test run crashed; running the listed tests alone");
            let (status, seconds) = (run.status.clone(), run.seconds);
            let alone = format!("{label} (listed tests alone)");
            run = run_known(tests, worktree, extra, &ids, &alone)?;
            run.crashed_first = Some(status);
            run.seconds += seconds;
        }
    }
    Ok(run)
}

/// One run of `targets`; when pytest refused it for node ids that do not exist, one more of the
/// others.
fn run_known(
    tests: &RepoTests,
    worktree: &Path,
    extra: &[(String, String)],
    targets: &[String],
    label: &str,
) -> Result<RepoTestRun, SandboxError> {
    let run = tests.run(worktree, extra, targets, label)?;
    if run.exit_code != Some(4) || !run.cases.is_empty() {
        return Ok(run);
    }
    let unknown = not_found_targets(&run.output_tail, targets);
    let rest: Vec<String> = targets
        .iter()
        .filter(|t| !unknown.contains(t))
        .cloned()
        .collect();
    if unknown.is_empty() || rest.is_empty() {
        return Ok(RepoTestRun {
            not_found: unknown,
            ..run
        });
    }
    tracing::info!(
        ?unknown,
        "pytest did not find some tests; running the others"
    );
    let mut again = tests.run(worktree, extra, &rest, label)?;
    again.not_found = unknown;
    again.seconds += run.seconds;
    Ok(again)
}

/// Whether a run lost every result to a crash of the guest (a trap, not a test failure, a
/// timeout or an environment the sandbox cannot provide).
pub fn crashed(run: &RepoTestRun) -> bool {
    run.cases.is_empty()
        && run.not_runnable.is_none()
        && !run.timed_out
        && !matches!(run.exit_code, Some(0..=5))
}

/// Whether `target` is a node id inside a named file (`file::test`), not a file, a dir or a
/// bare test name.
fn is_node_id(target: &str) -> bool {
    target
        .split_once("::")
        .is_some_and(|(file, _)| !file.is_empty())
}

/// The targets to hand the runner: node ids inside a file or directory also named are left out
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
pub fn reported(run: &RepoTestRun, target: &str) -> bool {
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

/// The distinct test files of `node_ids`, in first-seen order (ids without a file — sympy's
/// and Django's — name none).
pub fn test_files(node_ids: &[String]) -> Vec<String> {
    let mut files: Vec<String> = Vec::new();
    for id in node_ids {
        let Some((file, _)) = id.split_once("::") else {
            continue;
        };
        if !file.is_empty() && !files.iter().any(|f| f == file) {
            files.push(file.to_string());
        }
    }
    files
}

/// The outcome of each requested id in a run, in `evaluate`'s vocabulary: ids the run does not
/// mention are [`TestOutcome::NotFound`] (or [`TestOutcome::Error`] when their file could not
/// be collected, with the runner's message in `collection_errors`); a test that died on a
/// sandbox limit is [`TestOutcome::NotRunnable`], with why in `not_runnable`.
pub fn outcomes_of(run: &RepoTestRun, node_ids: &[String]) -> TestResults {
    let mut outcomes = BTreeMap::new();
    let mut not_runnable = BTreeMap::new();
    let mut collection_errors = BTreeMap::new();
    let limit = |id: &str| {
        run.limited
            .iter()
            .find(|(l, _)| l == id)
            .map(|(_, why)| why.clone())
    };
    for id in node_ids {
        let o = match run.outcome(id) {
            Some(CaseOutcome::Passed) => TestOutcome::Passed,
            Some(CaseOutcome::Skipped) => TestOutcome::Skipped,
            Some(o) => match run.limit_of(id) {
                Some(why) => {
                    not_runnable.insert(id.clone(), why.to_string());
                    TestOutcome::NotRunnable
                }
                None if o == CaseOutcome::Failed => TestOutcome::Failed,
                None => TestOutcome::Error,
            },
            None => match run.file_error(id) {
                Some(case) => match limit(&case.id) {
                    Some(why) => {
                        not_runnable.insert(id.clone(), why);
                        TestOutcome::NotRunnable
                    }
                    None => {
                        // The error line of the traceback (`E   ImportError: …`), else the
                        // report's message.
                        let line = case
                            .details
                            .lines()
                            .rev()
                            .find(|l| l.starts_with("E "))
                            .or_else(|| case.details.lines().rev().find(|l| !l.trim().is_empty()))
                            .map(|l| l.trim_start_matches('E').trim())
                            .filter(|l| !l.is_empty())
                            .unwrap_or(case.message.as_str());
                        collection_errors.insert(case.id.clone(), line.trim().to_string());
                        TestOutcome::Error
                    }
                },
                None => TestOutcome::NotFound,
            },
        };
        outcomes.insert(id.clone(), o);
    }
    TestResults {
        outcomes,
        not_runnable,
        collection_errors,
        log: format!("{}\n{}", run.summary(), run.output_tail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestCase;

    fn case(id: &str, outcome: CaseOutcome, message: &str) -> TestCase {
        TestCase::new(id, outcome, message)
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn unknown_node_ids_are_read_from_pytest_output() {
        let out = "no tests ran in 0.04s\nERROR: not found: /tests/test_a.py::test_gone\n(no match in any of [<Module test_a.py>])\n";
        let targets = strings(&["tests/test_a.py::test_x", "./tests/test_a.py::test_gone"]);
        assert_eq!(not_found_targets(out, &targets), [targets[1].clone()]);
        assert!(not_found_targets("ERROR: file or directory not found: x", &targets).is_empty());
    }

    #[test]
    fn node_ids_inside_named_files_are_not_passed_twice() {
        assert_eq!(
            run_targets(&strings(&[
                "tests/test_a.py",
                "tests/test_a.py::x",
                "tests/test_b.py::y",
                "./lib/",
                "lib/sub/test_c.py::z"
            ])),
            strings(&["tests/test_a.py", "tests/test_b.py::y", "./lib/"])
        );
    }

    #[test]
    fn only_ids_inside_a_file_are_listed_node_ids() {
        assert!(is_node_id("tests/test_a.py::T::test_x"));
        assert!(!is_node_id("tests/test_a.py"));
        assert!(!is_node_id("test_bare_name"));
        assert!(!is_node_id("test_q (queries.tests.T)"));
        assert!(!is_node_id("::test_x"));
    }

    #[test]
    fn a_crash_is_no_results_without_a_test_exit_code_timeout_or_limit() {
        let trap = RepoTestRun {
            status: "trap: out of bounds memory access".into(),
            ..Default::default()
        };
        assert!(crashed(&trap));
        for run in [
            RepoTestRun {
                exit_code: Some(4),
                ..Default::default()
            },
            RepoTestRun {
                timed_out: true,
                ..Default::default()
            },
            RepoTestRun {
                not_runnable: Some("numpy".into()),
                ..Default::default()
            },
            RepoTestRun {
                cases: vec![case("t.py::a", CaseOutcome::Passed, "")],
                ..Default::default()
            },
        ] {
            assert!(!crashed(&run), "{run:?}");
        }
    }

    #[test]
    fn named_targets_match_ids_files_and_dirs() {
        let run = RepoTestRun {
            cases: vec![case(
                "tests/test_a.py::TestA::test_x",
                CaseOutcome::Passed,
                "",
            )],
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

    #[test]
    fn files_of_ids_and_outcomes_with_missing_limited_and_uncollected_ids() {
        let ids = strings(&[
            "tests/test_a.py::test_x",
            "tests/test_a.py::T::test_y[1-2]",
            "tests/test_b.py::test_z",
            "tests/test_b.py::test_gone",
            "tests/test_b.py::test_sub",
            "tests/test_c.py::test_in_broken_file",
            "test_bare_name",
        ]);
        assert_eq!(
            test_files(&ids),
            ["tests/test_a.py", "tests/test_b.py", "tests/test_c.py"]
        );
        let run = RepoTestRun {
            cases: vec![
                case("tests/test_a.py::test_x", CaseOutcome::Passed, ""),
                case(
                    "tests/test_a.py::T::test_y[1-2]",
                    CaseOutcome::Failed,
                    "assert 1 == 2",
                ),
                case("tests/test_b.py::test_z", CaseOutcome::Error, "fixture"),
                case(
                    "tests/test_b.py::test_sub",
                    CaseOutcome::Failed,
                    "OSError: [Errno 58] Not supported",
                ),
                case(
                    "tests/test_c.py",
                    CaseOutcome::Error,
                    "ImportError: cannot import name 'new'",
                ),
                case(
                    "sympy/x/tests/test_s.py::test_bare_name",
                    CaseOutcome::Passed,
                    "",
                ),
            ],
            limited: vec![(
                "tests/test_b.py::test_sub".into(),
                "an operating-system feature is not available under WASI".into(),
            )],
            ..Default::default()
        };
        let r = outcomes_of(&run, &ids);
        assert_eq!(r.outcomes[&ids[0]], TestOutcome::Passed);
        assert_eq!(r.outcomes[&ids[1]], TestOutcome::Failed);
        assert_eq!(r.outcomes[&ids[2]], TestOutcome::Error);
        assert_eq!(r.outcomes[&ids[3]], TestOutcome::NotFound);
        assert_eq!(r.outcomes[&ids[4]], TestOutcome::NotRunnable);
        assert!(r.not_runnable[&ids[4]].contains("WASI"));
        assert_eq!(r.outcomes[&ids[5]], TestOutcome::Error);
        assert!(r.collection_errors["tests/test_c.py"].contains("cannot import name"));
        assert_eq!(r.outcomes[&ids[6]], TestOutcome::Passed);
    }
}

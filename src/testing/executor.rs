//! The sandbox [`TestExecutor`] of `codeswarm evaluate`: each instance's tests run under its
//! repository's spec ([`super::specs`]) in the WASI sandbox ([`RepoTests`]), never on the host.
//!
//! Like the official harness, it runs the instance's test files (those its test patch touches,
//! else the files of the requested ids) and reads the outcome of each requested id from the
//! runner's results: pytest refuses a whole command line when one node id does not exist, which
//! would hide the outcomes of all the others. Ids the results do not mention are
//! [`TestOutcome::NotFound`] (or [`TestOutcome::Error`] when their file could not be
//! collected); a test that died on a sandbox limit is [`TestOutcome::NotRunnable`]; a run the
//! sandbox cannot do at all (Python version, C extensions, missing dependencies) is
//! [`ExecError::NotRunnable`], and a timeout [`ExecError::Timeout`].

use std::collections::BTreeMap;
use std::path::Path;

use super::results::{CaseOutcome, ExecError, TestExecutor, TestOutcome, TestRequest, TestResults};
use super::runner::{RepoTestRun, RepoTests};
use super::specs::SpecSet;

/// Runs evaluation tests in the WASI sandbox.
pub struct SandboxExecutor {
    /// The sandbox, the user's site and the limits; the spec is chosen per request.
    pub tests: RepoTests,
    pub specs: SpecSet,
}

impl SandboxExecutor {
    pub fn new(tests: RepoTests, specs: SpecSet) -> SandboxExecutor {
        SandboxExecutor { tests, specs }
    }
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

/// The outcome of each requested id in a run.
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

impl TestExecutor for SandboxExecutor {
    fn runtime_modules(&self) -> Option<crate::gate::shadow::RuntimeModules> {
        match crate::gate::shadow::RuntimeModules::of_sandbox(&self.tests.sandbox) {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the runtime's module names");
                None
            }
        }
    }

    fn import_roots(&self, repo: &str, version: Option<&str>) -> Vec<String> {
        self.specs.find(repo, version).path
    }

    fn run_tests(&self, worktree: &Path, req: &TestRequest<'_>) -> Result<TestResults, ExecError> {
        let spec = self.specs.find(req.repo, req.version);
        let tests = self.tests.with_spec(&spec, req.version, &()).map_err(|e| {
            ExecError::NotRunnable(format!("the environment {}: {e}", spec.label()))
        })?;
        // The test patch's files (SWE-bench's directives) and the files the ids name.
        let mut files = req.files.to_vec();
        for f in test_files(req.ids) {
            if !files.contains(&f) {
                files.push(f);
            }
        }
        let mut run = tests
            .run(worktree, &[], &files, "evaluate")
            .map_err(|e| ExecError::Failed(e.to_string()))?;
        // A guest crash (deep recursion overflowing the runtime's C stack) loses every result
        // of the run: run just the listed node ids again, so one crashing test elsewhere in a
        // file does not take the listed ones down with it.
        let crashed = |r: &RepoTestRun| {
            r.cases.is_empty()
                && r.not_runnable.is_none()
                && !r.timed_out
                && !matches!(r.exit_code, Some(0..=5))
        };
        if crashed(&run) {
            let ids: Vec<String> = req
                .ids
                .iter()
                .filter(|i| i.contains("::"))
                .cloned()
                .collect();
            if !ids.is_empty() {
                tracing::info!(status = %run.status, "the test run crashed; running the listed tests alone");
                run = tests
                    .run(worktree, &[], &ids, "evaluate (listed tests alone)")
                    .map_err(|e| ExecError::Failed(e.to_string()))?;
            }
            if crashed(&run) {
                return Err(ExecError::NotRunnable(format!(
                    "the test process crashed ({}), a limit of the WASI runtime (its C stack): {}",
                    run.status,
                    run.output_tail
                        .lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or("")
                )));
            }
        }
        tracing::debug!(summary = %run.summary(), seconds = run.seconds, "evaluation tests ran");
        if let Some(why) = &run.not_runnable {
            return Err(ExecError::NotRunnable(why.clone()));
        }
        if run.timed_out {
            return Err(ExecError::Timeout {
                seconds: tests.timeout.as_secs(),
                log: format!("{}\n{}", run.summary(), run.output_tail),
            });
        }
        Ok(outcomes_of(&run, req.ids))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestCase;

    fn case(id: &str, outcome: CaseOutcome, message: &str) -> TestCase {
        TestCase {
            id: id.into(),
            outcome,
            message: message.into(),
            details: String::new(),
        }
    }

    #[test]
    fn files_of_ids_and_outcomes_with_missing_limited_and_uncollected_ids() {
        let ids: Vec<String> = [
            "tests/test_a.py::test_x",
            "tests/test_a.py::T::test_y[1-2]",
            "tests/test_b.py::test_z",
            "tests/test_b.py::test_gone",
            "tests/test_b.py::test_sub",
            "tests/test_c.py::test_in_broken_file",
            "test_bare_name",
        ]
        .map(String::from)
        .to_vec();
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

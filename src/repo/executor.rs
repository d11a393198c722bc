//! The sandbox [`TestExecutor`] of `codeswarm evaluate`: pytest under CPython-WASI over a copy
//! of the worktree ([`RepoTests`]), never on the host.
//!
//! Like the official harness, it runs the test *files* of the requested node ids and reads the
//! outcome of each id from the report: pytest refuses a whole command line when one node id
//! does not exist, which would hide the outcomes of all the others. Ids the report does not
//! mention are [`TestOutcome::NotFound`]; a run the sandbox cannot do at all (C extensions,
//! missing dependencies) is [`ExecError::NotRunnable`].

use std::path::Path;

use crate::batch::evaluate::{ExecError, TestExecutor, TestOutcome, TestResults};
use crate::coordination::judge::CaseOutcome;

use super::testrun::{RepoTestRun, RepoTests};

/// Runs evaluation tests in the WASI sandbox.
pub struct SandboxExecutor {
    pub tests: RepoTests,
}

impl SandboxExecutor {
    pub fn new(tests: RepoTests) -> SandboxExecutor {
        SandboxExecutor { tests }
    }
}

/// The distinct test files of `node_ids`, in first-seen order.
pub fn test_files(node_ids: &[String]) -> Vec<String> {
    let mut files: Vec<String> = Vec::new();
    for id in node_ids {
        let file = id.split("::").next().unwrap_or(id).to_string();
        if !file.is_empty() && !files.contains(&file) {
            files.push(file);
        }
    }
    files
}

/// The outcome of each requested id in a run (missing ones: `NotFound`).
pub fn outcomes_of(run: &RepoTestRun, node_ids: &[String]) -> TestResults {
    let outcomes = node_ids
        .iter()
        .map(|id| {
            let o = match run.outcome(id) {
                Some(CaseOutcome::Passed) => TestOutcome::Passed,
                Some(CaseOutcome::Failed) => TestOutcome::Failed,
                Some(CaseOutcome::Error) => TestOutcome::Error,
                Some(CaseOutcome::Skipped) => TestOutcome::Skipped,
                None => TestOutcome::NotFound,
            };
            (id.clone(), o)
        })
        .collect();
    TestResults {
        outcomes,
        log: format!("{}\n{}", run.summary(), run.output_tail),
    }
}

impl TestExecutor for SandboxExecutor {
    fn run_tests(&self, worktree: &Path, node_ids: &[String]) -> Result<TestResults, ExecError> {
        let files = test_files(node_ids);
        let run = self
            .tests
            .run(worktree, &[], &files, "evaluate")
            .map_err(|e| ExecError::Failed(e.to_string()))?;
        tracing::debug!(summary = %run.summary(), "evaluation tests ran");
        if let Some(why) = &run.not_runnable {
            return Err(ExecError::NotRunnable(why.clone()));
        }
        Ok(outcomes_of(&run, node_ids))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordination::judge::TestCase;

    #[test]
    fn files_of_ids_and_outcomes_with_missing_ids() {
        let ids: Vec<String> = [
            "tests/test_a.py::test_x",
            "tests/test_a.py::T::test_y[1-2]",
            "tests/test_b.py::test_z",
            "tests/test_b.py::test_gone",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(test_files(&ids), ["tests/test_a.py", "tests/test_b.py"]);
        let case = |id: &str, outcome| TestCase {
            id: id.into(),
            outcome,
            message: String::new(),
            details: String::new(),
        };
        let run = RepoTestRun {
            cases: vec![
                case("tests/test_a.py::test_x", CaseOutcome::Passed),
                case("tests/test_a.py::T::test_y[1-2]", CaseOutcome::Failed),
                case("tests/test_b.py::test_z", CaseOutcome::Error),
            ],
            ..Default::default()
        };
        let r = outcomes_of(&run, &ids);
        assert_eq!(r.outcomes[&ids[0]], TestOutcome::Passed);
        assert_eq!(r.outcomes[&ids[1]], TestOutcome::Failed);
        assert_eq!(r.outcomes[&ids[2]], TestOutcome::Error);
        assert_eq!(r.outcomes[&ids[3]], TestOutcome::NotFound);
    }
}

//! The sandbox [`TestExecutor`] of `codeswarm evaluate`: each instance's tests run under its
//! repository's spec ([`super::specs`]) in the WASI sandbox ([`RepoTests`]), never on the host.
//!
//! Like the official harness, it runs the instance's test files (those its test patch touches,
//! and the files of the requested ids) and reads the outcome of each requested id from the
//! runner's results: pytest refuses a whole command line when one node id does not exist, which
//! would hide the outcomes of all the others. The run is [`super::named_run::run_named`]'s (the
//! listed ids run alone when the files' run crashes); the outcomes are
//! [`super::named_run::outcomes_of`]'s. A run the sandbox cannot do at all (Python version, C
//! extensions, missing dependencies, a crash of the runtime) is [`ExecError::NotRunnable`], and
//! a timeout [`ExecError::Timeout`].

use std::path::Path;

use super::named_run::{crashed, outcomes_of, run_named, test_files};
use super::results::{ExecError, TestExecutor, TestRequest, TestResults};
use super::runner::RepoTests;
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
        // The test patch's files (SWE-bench's directives) and the files the ids name; the ids
        // inside them run alone only when the files' run crashes.
        let mut targets = req.files.to_vec();
        for f in test_files(req.ids) {
            if !targets.contains(&f) {
                targets.push(f);
            }
        }
        targets.extend(
            req.ids
                .iter()
                .filter(|i| i.split_once("::").is_some_and(|(f, _)| !f.is_empty()))
                .cloned(),
        );
        let run = run_named(&tests, worktree, &[], &targets, "evaluate")
            .map_err(|e| ExecError::Failed(e.to_string()))?;
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

//! Running a repository's tests in the WASI sandbox: a copy of the worktree (without `.git`),
//! its pure-Python dependencies from a read-only site dir, pytest on chosen node ids or files.
//! Tests that cannot run in the sandbox (C extensions, missing dependencies, sockets) are told
//! apart from tests that fail, so they are never counted against a patch.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::config::SandboxSettings;
use crate::coordination::judge::{CaseOutcome, TestCase};
use crate::sandbox::{Job, Sandbox, SandboxError, Status};

/// Where a `--site` dir appears inside the guest (prepended to PYTHONPATH).
pub const GUEST_DEPS: &str = "/deps";

/// Runs tests of repository worktrees in the sandbox.
#[derive(Clone)]
pub struct RepoTests {
    pub sandbox: Sandbox,
    pub site: Option<PathBuf>,
    pub timeout: Duration,
    pub memory_bytes: u64,
}

/// One run over a worktree.
#[derive(Debug, Clone, Serialize, Default)]
pub struct RepoTestRun {
    pub label: String,
    pub targets: Vec<String>,
    pub status: String,
    pub exit_code: Option<i32>,
    pub cases: Vec<TestCase>,
    /// Why the tests could not run in the sandbox, when that is what happened.
    pub not_runnable: Option<String>,
    pub output_tail: String,
    pub seconds: f64,
}

impl RepoTestRun {
    /// The outcome of `node_id` (exact, or the same test reported with a different class path).
    pub fn outcome(&self, node_id: &str) -> Option<CaseOutcome> {
        if let Some(c) = self.cases.iter().find(|c| c.id == node_id) {
            return Some(c.outcome);
        }
        let (file, name) = node_id.split_once("::")?;
        let leaf = name.rsplit("::").next().unwrap_or(name);
        self.cases
            .iter()
            .find(|c| c.id.starts_with(file) && c.id.rsplit("::").next() == Some(leaf))
            .map(|c| c.outcome)
    }

    pub fn passed(&self, node_id: &str) -> bool {
        self.outcome(node_id) == Some(CaseOutcome::Passed)
    }

    pub fn summary(&self) -> String {
        if let Some(why) = &self.not_runnable {
            return format!("not runnable in sandbox: {why}");
        }
        let count = |o| self.cases.iter().filter(|c| c.outcome == o).count();
        format!(
            "{} passed, {} failed, {} errors, {} skipped ({})",
            count(CaseOutcome::Passed),
            count(CaseOutcome::Failed),
            count(CaseOutcome::Error),
            count(CaseOutcome::Skipped),
            self.status
        )
    }
}

impl RepoTests {
    pub fn new(sandbox: Sandbox, site: Option<PathBuf>, settings: &SandboxSettings) -> Self {
        Self {
            sandbox,
            site,
            timeout: Duration::from_secs(settings.timeout_seconds),
            memory_bytes: settings.memory_mb << 20,
        }
    }

    /// Run pytest on `targets` (node ids or paths) in a copy of `worktree` plus `extra` files.
    pub fn run(
        &self,
        worktree: &Path,
        extra: &[(String, String)],
        targets: &[String],
        label: &str,
    ) -> Result<RepoTestRun, SandboxError> {
        let mut args = vec![
            "-q".to_string(),
            "-rN".to_string(),
            "--continue-on-collection-errors".to_string(),
            "-p".to_string(),
            "no:randomly".to_string(),
            // Node ids relative to the repository root (the guest's `/`) even when the
            // repository has no pytest configuration file, which would make pytest pick the
            // common directory of the targets (`tests/test_a.py::t` would become `test_a.py::t`).
            "--rootdir=/".to_string(),
        ];
        args.extend(targets.iter().cloned());
        let mut job = Job::pytest(
            extra
                .iter()
                .map(|(p, c)| (p.clone(), c.as_bytes().to_vec())),
            args,
        )
        .source_dir(worktree)
        .timeout(self.timeout)
        .memory(self.memory_bytes);
        if let Some(site) = &self.site {
            job = job.mount(site, GUEST_DEPS).env("PYTHONPATH", GUEST_DEPS);
        }
        let out = self.sandbox.run(&job)?;
        let cases: Vec<TestCase> = out.tests.iter().map(TestCase::from).collect();
        let output_tail = out.output_tail(6000);
        let not_runnable = not_runnable_reason(&out.status, &cases, &output_tail);
        Ok(RepoTestRun {
            label: label.to_string(),
            targets: targets.to_vec(),
            status: out.status.to_string(),
            exit_code: match out.status {
                Status::Exited(c) => Some(c),
                _ => None,
            },
            cases,
            not_runnable,
            output_tail,
            seconds: out.duration.as_secs_f64(),
        })
    }
}

/// Signs in pytest's output that the environment, not the code under test, stopped the tests:
/// native extensions, modules the site dir lacks, sockets or subprocesses.
const ENVIRONMENT_SIGNS: &[(&str, &str)] = &[
    (
        "ModuleNotFoundError: No module named",
        "a module is missing (pass its wheels with --site)",
    ),
    (
        "dynamic module does not define",
        "a C extension cannot load under WASI",
    ),
    (
        ".so: cannot open shared object",
        "a C extension cannot load under WASI",
    ),
    (
        "cannot import name '_",
        "a native extension module is missing",
    ),
    (
        "No module named '_ctypes'",
        "ctypes is not available under WASI",
    ),
    (
        "OSError: [Errno 58]",
        "sockets are not available in the sandbox",
    ),
    (
        "Errno 52] Function not implemented",
        "an operating-system feature is not available under WASI",
    ),
    (
        "Errno 138] Not supported",
        "an operating-system feature is not available under WASI",
    ),
    (
        "can't start new thread",
        "threads are not available under WASI",
    ),
];

/// Why the run says nothing about the code: every requested test errored (or none ran) and the
/// output shows an environment limitation.
pub fn not_runnable_reason(status: &Status, cases: &[TestCase], output: &str) -> Option<String> {
    if matches!(status, Status::Timeout | Status::MemoryExceeded) {
        return None;
    }
    let nothing_ran = cases
        .iter()
        .all(|c| matches!(c.outcome, CaseOutcome::Error | CaseOutcome::Skipped));
    if !nothing_ran {
        return None;
    }
    let text = cases
        .iter()
        .map(|c| format!("{}\n{}\n", c.message, c.details))
        .collect::<String>()
        + output;
    for (sign, why) in ENVIRONMENT_SIGNS {
        if let Some(at) = text.find(sign) {
            let line = text[at..].lines().next().unwrap_or(sign).trim();
            return Some(format!("{why}: {line}"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: &str, outcome: CaseOutcome, message: &str) -> TestCase {
        TestCase {
            id: id.into(),
            outcome,
            message: message.into(),
            details: String::new(),
        }
    }

    #[test]
    fn missing_native_modules_make_a_run_not_runnable_but_failures_do_not() {
        let err = [case(
            "tests/test_a.py",
            CaseOutcome::Error,
            "collection failure",
        )];
        let out = "E   ModuleNotFoundError: No module named 'numpy'\n";
        let why = not_runnable_reason(&Status::Exited(2), &err, out).unwrap();
        assert!(why.contains("numpy") && why.contains("--site"), "{why}");
        let failed = [case(
            "tests/test_a.py::test_x",
            CaseOutcome::Failed,
            "assert 1 == 2",
        )];
        assert_eq!(not_runnable_reason(&Status::Exited(1), &failed, out), None);
        assert_eq!(not_runnable_reason(&Status::Timeout, &err, out), None);
        assert_eq!(
            not_runnable_reason(
                &Status::Exited(2),
                &err,
                "E   NameError: name 'x' is not defined"
            ),
            None
        );
    }

    #[test]
    fn outcomes_match_exact_and_class_qualified_ids() {
        let run = RepoTestRun {
            cases: vec![
                case("tests/test_a.py::TestA::test_x", CaseOutcome::Passed, ""),
                case("tests/test_a.py::test_y[1]", CaseOutcome::Failed, ""),
            ],
            ..Default::default()
        };
        assert!(run.passed("tests/test_a.py::TestA::test_x"));
        assert!(run.passed("tests/test_a.py::test_x"));
        assert_eq!(
            run.outcome("tests/test_a.py::test_y[1]"),
            Some(CaseOutcome::Failed)
        );
        assert_eq!(run.outcome("tests/test_a.py::test_z"), None);
    }
}

impl RepoTestRun {
    /// The same results in the Coordinator's form (for its failure report).
    pub fn as_test_run(&self) -> crate::coordination::judge::TestRun {
        crate::coordination::judge::TestRun {
            label: self.label.clone(),
            status: self.status.clone(),
            exit_code: self.exit_code,
            cases: self.cases.clone(),
            output_tail: self.output_tail.clone(),
            seconds: self.seconds,
        }
    }

    /// Cases whose node id lies in `file`.
    pub fn in_file<'a>(&'a self, file: &'a str) -> impl Iterator<Item = &'a TestCase> + 'a {
        self.cases
            .iter()
            .filter(move |c| c.id == file || c.id.starts_with(&format!("{file}::")))
    }
}

//! The one vocabulary of test results that `coordination`, `repo`, `gate` and `batch` share:
//! how one test ended ([`CaseOutcome`], [`TestCase`]), one run of a runner ([`TestRun`]), the
//! outcome of a requested test id in an evaluation ([`TestOutcome`], [`TestResults`]), and the
//! seams the runners implement ([`TestRunner`] for generated code, [`TestExecutor`] for a
//! repository's listed tests).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The file holding the task's stated examples (written by the Coordinator, never edited by an
/// agent); [`TestRun::examples`] counts its tests.
pub const EXAMPLES_FILE: &str = "test_task_examples.py";

/// Runs pytest on a set of files in isolation.
pub trait TestRunner {
    /// Run pytest on `test_files` in a fresh directory that contains exactly `files`
    /// (relative path, content). Err only when the runner itself failed (not the tests).
    fn run_tests(
        &self,
        files: &[(String, String)],
        test_files: &[String],
    ) -> Result<TestRun, String>;

    /// Run `python script` in a fresh directory that contains exactly `files` and return its
    /// output. Err when the runner cannot run scripts or failed itself.
    fn run_script(&self, files: &[(String, String)], script: &str) -> Result<ScriptRun, String> {
        let _ = (files, script);
        Err("this test runner cannot run scripts".into())
    }
}

/// One script run: its standard output and how it ended.
#[derive(Debug, Clone, Default)]
pub struct ScriptRun {
    pub stdout: String,
    /// `exited(N)`, `timeout`, `memory exceeded`, ...
    pub status: String,
    /// The script ran to its end (whatever its exit code).
    pub completed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseOutcome {
    Passed,
    Failed,
    Error,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestCase {
    /// pytest node id, e.g. `test_solution.py::test_add`.
    pub id: String,
    pub outcome: CaseOutcome,
    pub message: String,
    /// Trimmed traceback.
    pub details: String,
}

impl TestCase {
    /// A case with no traceback (what tests and recorded inputs build).
    pub fn new(id: &str, outcome: CaseOutcome, message: &str) -> TestCase {
        TestCase {
            id: id.into(),
            outcome,
            message: message.into(),
            details: String::new(),
        }
    }
}

/// One test run.
#[derive(Debug, Clone, Serialize, Default)]
pub struct TestRun {
    /// Why it ran (`candidate 2`, `debug round 1`, `final`, ...).
    pub label: String,
    /// How the sandboxed process ended: `exited(N)`, `timeout`, `memory exceeded`, `trap: ...`.
    pub status: String,
    pub exit_code: Option<i32>,
    pub cases: Vec<TestCase>,
    /// The end of pytest's output (collection errors live here).
    pub output_tail: String,
    pub seconds: f64,
}

impl TestRun {
    fn count(&self, o: CaseOutcome) -> usize {
        self.cases.iter().filter(|c| c.outcome == o).count()
    }
    pub fn passed(&self) -> usize {
        self.count(CaseOutcome::Passed)
    }
    pub fn failed(&self) -> usize {
        self.count(CaseOutcome::Failed) + self.count(CaseOutcome::Error)
    }
    /// Every collected test passed, at least one ran, and pytest exited 0.
    pub fn all_passed(&self) -> bool {
        self.exit_code == Some(0) && self.passed() > 0 && self.failed() == 0
    }
    /// Cases whose id lies in `file` (`file::…`, or the file itself for a collection error).
    pub fn in_file<'a>(&'a self, file: &'a str) -> impl Iterator<Item = &'a TestCase> + 'a {
        self.cases.iter().filter(move |c| {
            c.id == file || c.id.strip_prefix(file).is_some_and(|r| r.starts_with("::"))
        })
    }
    /// (passed, total) of the task's examples.
    pub fn examples(&self) -> (usize, usize) {
        let all: Vec<_> = self.in_file(EXAMPLES_FILE).collect();
        (
            all.iter()
                .filter(|c| c.outcome == CaseOutcome::Passed)
                .count(),
            all.len(),
        )
    }
    /// Ranking key: examples passed, then tests passed, then fewer failures.
    pub fn score(&self) -> (usize, usize, i64) {
        (self.examples().0, self.passed(), -(self.failed() as i64))
    }
    /// Which tests passed, in id order (for agreement between candidates).
    pub fn signature(&self) -> Vec<(String, bool)> {
        let mut v: Vec<_> = self
            .cases
            .iter()
            .map(|c| (c.id.clone(), c.outcome == CaseOutcome::Passed))
            .collect();
        v.sort();
        v
    }
    /// Failing (or erroring) test ids with the first line of their messages: two candidates with
    /// the same signature fail the tests in the same way.
    pub fn failure_signature(&self) -> Vec<(String, String)> {
        let mut v: Vec<_> = self
            .cases
            .iter()
            .filter(|c| matches!(c.outcome, CaseOutcome::Failed | CaseOutcome::Error))
            .map(|c| {
                (
                    c.id.clone(),
                    c.message.lines().next().unwrap_or("").to_string(),
                )
            })
            .collect();
        v.sort();
        v
    }

    pub fn summary(&self) -> String {
        if self.cases.is_empty() {
            return format!("no test results ({})", self.status);
        }
        let skipped = self.count(CaseOutcome::Skipped);
        let mut s = format!("{} passed, {} failed", self.passed(), self.failed());
        if skipped > 0 {
            s += &format!(", {skipped} skipped");
        }
        let (ep, et) = self.examples();
        if et > 0 {
            s += &format!(" (task examples: {ep}/{et} pass)");
        }
        s
    }

    /// [`TestRun::failure_report_with`] the built-in line limits.
    pub fn failure_report(&self, max_chars: usize) -> String {
        self.failure_report_with(max_chars, crate::config::Limits::builtin())
    }

    /// What the Debugger reads: failing test ids, assertion messages, tracebacks trimmed to
    /// `limits.failure_detail_lines`, and the output's last `limits.failure_output_lines` when
    /// nothing ran (collection errors, timeouts), within `max_chars`.
    pub fn failure_report_with(&self, max_chars: usize, limits: &crate::config::Limits) -> String {
        let mut s = format!("Test results: {}.\n", self.summary());
        if self.cases.is_empty() || self.exit_code.map(|c| c >= 2).unwrap_or(true) {
            s += &format!(
                "pytest ended with {}. Output:\n{}\n",
                self.status,
                tail_lines(&self.output_tail, limits.failure_output_lines)
            );
        }
        for c in self
            .cases
            .iter()
            .filter(|c| matches!(c.outcome, CaseOutcome::Failed | CaseOutcome::Error))
        {
            let kind = if c.outcome == CaseOutcome::Error {
                "ERROR"
            } else {
                "FAILED"
            };
            s += &format!(
                "\n{kind} {} - {}\n",
                c.id,
                c.message.lines().next().unwrap_or("")
            );
            let d = tail_lines(&c.details, limits.failure_detail_lines);
            if !d.trim().is_empty() {
                s += &format!("{d}\n");
            }
            if s.len() > max_chars {
                break;
            }
        }
        if s.len() > max_chars {
            let mut cut = max_chars;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
            s += "\n[... report truncated]";
        }
        s
    }
}

fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The outcome of one requested test id (a SWE-bench `FAIL_TO_PASS` or `PASS_TO_PASS` entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestOutcome {
    Passed,
    Failed,
    /// An error outside the test body (fixture, import, collection of that test).
    Error,
    Skipped,
    /// The runner did not report this test (not collected, unknown id).
    NotFound,
    /// The test ran into a limit of the sandbox (no subprocesses, threads or sockets under
    /// WASI, a missing native module): its result says nothing about the code.
    NotRunnable,
}

impl TestOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            TestOutcome::Passed => "passed",
            TestOutcome::Failed => "failed",
            TestOutcome::Error => "error",
            TestOutcome::Skipped => "skipped",
            TestOutcome::NotFound => "not_found",
            TestOutcome::NotRunnable => "not_runnable",
        }
    }
}

/// What an executor reports for one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestResults {
    /// Outcome per requested test id; ids left out count as [`TestOutcome::NotFound`].
    pub outcomes: BTreeMap<String, TestOutcome>,
    /// Why each [`TestOutcome::NotRunnable`] test could not run.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub not_runnable: BTreeMap<String, String>,
    /// Test files that could not be collected (import or syntax error), with the runner's
    /// message: their listed tests are [`TestOutcome::Error`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub collection_errors: BTreeMap<String, String>,
    /// The runner's output, kept (shortened) in the report.
    pub log: String,
}

/// Why an executor could not report outcomes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// The tests cannot run in this executor at all (Python version, C extensions, network,
    /// collection impossible): the instance needs the official Docker harness.
    #[error("not runnable here: {0}")]
    NotRunnable(String),
    /// The run hit its time limit; nothing can be said about the tests.
    #[error("the test run timed out after {seconds} s")]
    Timeout { seconds: u64, log: String },
    /// The executor itself failed.
    #[error("{0}")]
    Failed(String),
}

/// What a repository's test run is asked for: the test ids whose outcomes count, and the test
/// files to run (SWE-bench's "test directives": the files its test patch touches).
#[derive(Debug, Clone, Default)]
pub struct TestRequest<'a> {
    /// `owner/name`, to choose the test environment.
    pub repo: &'a str,
    /// The dataset's `version` field (the environment spec is chosen by it).
    pub version: Option<&'a str>,
    pub ids: &'a [String],
    /// Test files to run besides those the ids name (the files of the test patch).
    pub files: &'a [String],
}

/// Runs test ids (pytest node ids, Django's or sympy's test names, as SWE-bench lists them) in a
/// worktree.
pub trait TestExecutor {
    fn run_tests(
        &self,
        worktree: &Path,
        request: &TestRequest<'_>,
    ) -> Result<TestResults, ExecError>;

    /// The top-level modules the executor's runtime resolves by path (standard library, test
    /// runner), which a patch may not shadow; `None` when the executor cannot tell (the
    /// shadowing guard is then skipped and the evaluation says so).
    fn runtime_modules(&self) -> Option<crate::gate::shadow::RuntimeModules> {
        None
    }

    /// Repository dirs the executor puts on `sys.path` besides the root for `repo` at
    /// `version` (the spec's `path`).
    fn import_roots(&self, _repo: &str, _version: Option<&str>) -> Vec<String> {
        Vec::new()
    }
}

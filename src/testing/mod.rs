//! Test execution, for everything that judges code by its tests: the Coordinator's runs of
//! generated code, the repository fixer's verification, the CI gate and `evaluate`. One
//! vocabulary of results ([`results`]) and one place that opens the sandbox ([`open_sandbox`]).
//!
//! - [`results`]: [`CaseOutcome`], [`TestCase`], [`TestRun`], [`TestOutcome`] and the
//!   [`TestRunner`] / [`TestExecutor`] seams.
//! - [`specs`]: test environments per repository and version (`specs/repos.toml`, data):
//!   pinned pure-Python dependencies, the runner (pytest, Django's `runtests.py`, sympy's
//!   `bin/test`), what goes first on `sys.path`, generated files, time limits.
//! - [`runner`]: a repository's tests in the WASI sandbox under its spec ([`RepoTests`]).
//! - [`logs`]: per-test results read from runner output (Django, sympy, pytest `-rA`), as the
//!   SWE-bench harness's log parsers do.
//! - [`environment`]: telling an environment limit (Python version, native module, sockets,
//!   subprocesses) from a failure of the code.
//! - [`named_run`]: named tests of a worktree, run once for the gate, `evaluate` and the fixer
//!   (node ids pytest does not find and guest crashes do not hide the others' outcomes).
//! - [`executor`]: the sandbox [`TestExecutor`] of `evaluate`.
//! - [`snippets`]: the Coordinator's [`TestRunner`]: pytest on the agents' files.

pub mod environment;
pub mod executor;
pub mod logs;
pub mod named_run;
pub mod results;
pub mod runner;
pub mod snippets;
pub mod specs;

use std::sync::Mutex;

pub use executor::SandboxExecutor;
pub use named_run::{outcomes_of, run_named};
pub use results::{
    CaseOutcome, ExecError, ScriptRun, TestCase, TestExecutor, TestOutcome, TestRequest,
    TestResults, TestRun, TestRunner, EXAMPLES_FILE,
};
pub use runner::{RepoTestRun, RepoTests};
pub use snippets::SandboxRunner;
pub use specs::{RunnerKind, Spec, SpecSet};

use crate::fetch::Progress;
use crate::sandbox::{Sandbox, SandboxError};

static OPENED: Mutex<Option<Sandbox>> = Mutex::new(None);

/// The sandbox every test run in this process uses: opened (fetching and preparing the runtime
/// on first use) once, then shared — a [`Sandbox`] is cheap to clone and safe to use from
/// several threads. A failed open is not remembered, so a later call tries again.
pub fn open_sandbox(progress: &dyn Progress) -> Result<Sandbox, SandboxError> {
    let mut slot = OPENED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = slot.as_ref() {
        return Ok(s.clone());
    }
    let sandbox = Sandbox::open(progress)?;
    *slot = Some(sandbox.clone());
    Ok(sandbox)
}

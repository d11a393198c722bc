//! The WASI sandbox: generated Python (and pytest) runs inside CPython 3.12 compiled to
//! WebAssembly (WASI preview 1), executed in-process by wasmtime, with no access to the host
//! beyond the directories a run is given.
//!
//! ```no_run
//! use codeswarm::sandbox::{Job, Sandbox, Status};
//! let sandbox = Sandbox::open(&())?; // fetches and prepares the runtime on first use
//! let job = Job::pytest(
//!     [("solution.py", b"def add(a, b):\n    return a + b\n".to_vec()),
//!      ("test_solution.py", b"from solution import add\ndef test_add():\n    assert add(1, 2) == 3\n".to_vec())],
//!     Vec::<String>::new(),
//! );
//! let outcome = sandbox.run(&job)?;
//! assert_eq!(outcome.status, Status::Exited(0));
//! assert_eq!(outcome.tests[0].node_id, "test_solution.py::test_add");
//! # Ok::<(), codeswarm::sandbox::SandboxError>(())
//! ```
//!
//! Containment: the guest sees only the preopened dirs of [`layout`] (its work dir is a fresh
//! copy, the rest read-only or fresh and empty), an empty environment except what the job sets
//! plus the runtime's own variables, and no sockets. Memory is capped by a resource limiter, time
//! by epoch interruption (one ticker thread per sandbox) and a deadline-aware `poll_oneoff`,
//! file writes by a quota and open descriptors by a cap, both enforced in shadowed WASI imports
//! ([`quota`]), and captured output by
//! caps that truncate instead of failing the guest. Whatever the guest does ends as an
//! [`Outcome`]; [`SandboxError`] is only for host-side setup failures.
//!
//! A [`Sandbox`] is cheap to clone and safe to share: runs may go on concurrently from several
//! threads, each in its own store over the shared engine and pre-linked module.

mod deadline;
mod engine;
mod error;
mod hostcall;
pub mod job;
pub mod junit;
pub mod layout;
pub mod manifest;
pub mod module_cache;
mod outcome;
mod output;
mod quota;
pub mod requirements;
mod run;
pub mod runtime;
mod state;
mod workdir;

use std::sync::Arc;

pub use error::SandboxError;
pub use job::{
    Job, Limits, Mount, DEFAULT_OPEN_FILES, JUNIT_REPORT, MAX_TIMEOUT, MEMORY_MB_RANGE,
    PYTEST_FLAGS,
};
pub use junit::{TestCase, TestOutcome};
pub use module_cache::ModuleSource;
pub use outcome::{LimitsHit, Outcome, Status, Truncated};
pub use requirements::Requirements;
pub use runtime::RuntimePaths;

use crate::fetch::Progress;

/// How to open a [`Sandbox`].
#[derive(Debug, Clone, Default)]
pub struct SandboxOptions {
    /// Compile the runtime with fuel metering so that [`Limits::fuel`] can be used (costs some
    /// speed; a separate compiled-module cache entry).
    pub fuel_metering: bool,
    /// Where the runtime lives; default `paths::runtime_dir()`.
    pub runtime_dir: Option<std::path::PathBuf>,
    /// Where compiled modules are cached; default `cache/` under the runtime dir. (An empty
    /// directory here measures a cold start.)
    pub module_cache_dir: Option<std::path::PathBuf>,
    /// Check every file of the installed environment against its manifest's sha256 (not only
    /// the file list and sizes, as every open does); `codeswarm sandbox --setup` does.
    pub verify_hashes: bool,
}

struct Inner {
    rt: engine::Runtime,
    env: run::GuestEnv,
    paths: RuntimePaths,
}

/// A ready-to-run sandbox: the verified runtime, its compiled module and installed site dir
/// (checked against its manifest, rebuilt if damaged).
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("runtime", &self.inner.paths.dir)
            .field("fuel", &self.inner.rt.fuel)
            .finish()
    }
}

impl Sandbox {
    /// Open the sandbox with default options, fetching and preparing the runtime if needed.
    /// Offline without an installed runtime, the error names `codeswarm sandbox --setup`.
    pub fn open(progress: &dyn Progress) -> Result<Sandbox, SandboxError> {
        Self::open_with(&SandboxOptions::default(), progress)
    }

    pub fn open_with(
        options: &SandboxOptions,
        progress: &dyn Progress,
    ) -> Result<Sandbox, SandboxError> {
        let req = Requirements::builtin()?;
        let dir = options
            .runtime_dir
            .clone()
            .unwrap_or_else(crate::paths::runtime_dir);
        let paths = RuntimePaths::new(&dir, &req);
        runtime::ensure_wasm(&req, &paths, progress)?;
        progress.set_message("loading the Python runtime (compiling it the first time)".into());
        let cache = options
            .module_cache_dir
            .clone()
            .unwrap_or_else(|| paths.cache.clone());
        let rt = engine::Runtime::new(
            &paths.wasm,
            &req.runtime.sha256,
            &cache,
            options.fuel_metering,
        )?;
        let level = if options.verify_hashes {
            manifest::Check::Full
        } else {
            manifest::Check::Quick
        };
        let env = runtime::ensure_env(&req, &paths, level, progress, &|env, job| {
            run::run(&rt, env, &job)
        })?;
        Ok(Sandbox {
            inner: Arc::new(Inner { rt, env, paths }),
        })
    }

    /// Run one job. `Err` only for host-side failures (bad job, unwritable temp dir).
    pub fn run(&self, job: &Job) -> Result<Outcome, SandboxError> {
        run::run(&self.inner.rt, &self.inner.env, job)
    }

    /// Compile the `.py` files under the host directory `dir` to `.pyc` with the guest's own
    /// interpreter (the host's Python may be another version), for a site dir the sandbox will
    /// mount read-only at `guest_path` (recorded in the bytecode for tracebacks). `dir` is
    /// mounted writable for this one run only; nothing of it is imported or executed, and the
    /// guest sees no other writable host directory but fresh temporary ones.
    ///
    /// Returns the run's outcome: exit code 0 when every file compiled, 1 when some did not
    /// (they are printed; Python compiles them again at import).
    pub fn precompile_dir(
        &self,
        dir: &std::path::Path,
        guest_path: &str,
    ) -> Result<Outcome, SandboxError> {
        layout::check_mount_point(guest_path).map_err(SandboxError::Job)?;
        if !dir.is_dir() {
            return Err(SandboxError::Job(format!(
                "{} is not a directory to precompile",
                dir.display()
            )));
        }
        let base = crate::paths::tmp_dir();
        std::fs::create_dir_all(&base).map_err(error::io_err(&base))?;
        let empty_stdlib = tempfile::Builder::new()
            .prefix("precompile-stdlib-")
            .tempdir_in(&base)
            .map_err(error::io_err(&base))?;
        let env = run::GuestEnv {
            site: dir.to_path_buf(),
            stdlib: empty_stdlib.path().to_path_buf(),
            writable: true,
        };
        run::run(
            &self.inner.rt,
            &env,
            &runtime::precompile_job(false, Some(guest_path)),
        )
    }

    /// Whether the compiled module came from the on-disk cache.
    pub fn module_source(&self) -> ModuleSource {
        self.inner.rt.module_source
    }

    pub fn paths(&self) -> &RuntimePaths {
        &self.inner.paths
    }
}

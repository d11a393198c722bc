//! `bench sandbox`: what the WASI sandbox costs, measured in one run.
//!
//! - cold start: opening the sandbox with an empty compiled-module cache (compiles CPython);
//! - warm start: opening it with the cache (verify + load + link), and `python -c pass` in an
//!   open sandbox;
//! - pytest on one small two-test file, in the sandbox (warm) and natively;
//! - optionally a real repository's test module (`--repo DIR --test ID`, see [`sandbox_repo`]);
//! - what the install-time optimizations buy: the same pytest run importing pytest from source
//!   (no `.pyc`), and importing the standard library from the runtime's zip (not unpacked).
//!
//! Every workload is also run natively in the same run, and reported as a ratio to it: the
//! host's `python3` (the interpreter itself, not a launcher) with `PYTHONDONTWRITEBYTECODE=1`
//! and a fresh copy of the files under test for every run (so the code under test is compiled
//! every time, as in a fresh checkout), the same test ids and the same pytest flags as the
//! sandbox. pytest is the host's own when it has one; otherwise the sandbox's pinned pytest
//! files, copied and compiled once for the host interpreter (pytest itself is installed code,
//! precompiled on both sides); the report says which.
//!
//! The native reference runs our own fixed test file or the user's chosen repository on the
//! host, never generated code.
//!
//! [`sandbox_repo`]: super::sandbox_repo

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

/// A pure-Python CPU-bound program (interpreter speed, no imports beyond builtins).
pub const LOOP_PROGRAM: &str = "s = 0\nfor i in range(1_500_000):\n    s += i * i % 7\nd = {str(i): i for i in range(100_000)}\nprint(s, len(d))";

#[derive(Debug, Clone)]
pub struct SandboxBenchOptions {
    /// Measured repetitions of each run (after one warm-up).
    pub reps: u32,
    /// Measure the cold start (compiles the runtime: seconds).
    pub cold: bool,
    /// A real repository's tests to measure too.
    pub repo: Option<super::sandbox_repo::RepoBenchOptions>,
}

impl Default for SandboxBenchOptions {
    fn default() -> Self {
        Self {
            reps: 5,
            cold: true,
            repo: None,
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
    pub(crate) fn of(mut samples: Vec<Duration>) -> Self {
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
    /// `python -m pytest` on the two-test file, no bytecode written, a fresh copy each run.
    pub pytest: Stats,
    /// `python -c` [`LOOP_PROGRAM`].
    pub python_loop: Stats,
}

/// The host interpreter the native rows run, and where its pytest comes from.
#[derive(Debug, Clone)]
pub struct NativePython {
    pub python: String,
    /// `PYTHONPATH` entry holding pytest when the host has none of its own.
    pub pytest_path: Option<std::path::PathBuf>,
    pub pytest_from: String,
}

/// One row of the report's table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub workload: String,
    pub sandbox_s: f64,
    pub native_s: Option<f64>,
    pub ratio: Option<f64>,
}

impl Row {
    fn new(workload: impl Into<String>, sandbox_s: f64, native_s: Option<f64>) -> Self {
        let ratio = native_s.filter(|n| *n > 0.0).map(|n| sandbox_s / n);
        Self {
            workload: workload.into(),
            sandbox_s,
            native_s,
            ratio,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SandboxBench {
    /// `Sandbox::open` with an empty module cache: compile + link (+ cache write).
    pub cold_open: Option<Stats>,
    /// `Sandbox::open` with the module cached: read + checksum + load + link.
    pub warm_open: Stats,
    /// Which runtime module ran (the optimized copy, or the pinned one and why).
    pub runtime: String,
    /// `python -c pass` in an open sandbox (instantiate, interpreter start-up, exit).
    pub python_c_pass: Stats,
    /// `python -c` [`LOOP_PROGRAM`]: the interpreter's own speed.
    pub python_loop: Stats,
    /// pytest on [`TEST_FILE`] in an open sandbox, wall time of `Sandbox::run`.
    pub pytest: Stats,
    /// The same with pytest imported from source instead of the precompiled `.pyc`.
    /// The 2-test file again, every run started from scratch (no pytest snapshot).
    pub pytest_from_scratch: Stats,
    /// Runs of the bench that started from a pytest snapshot (`None`: snapshots are off).
    pub snapshot_runs: Option<u64>,
    pub pytest_without_site_pyc: Stats,
    /// The same with the standard library imported from the runtime's embedded zip.
    pub pytest_with_zip_stdlib: Stats,
    pub native: Option<NativeReference>,
    /// Why there is no native reference.
    pub native_error: Option<String>,
    /// The real repository's tests, when asked for.
    pub repo: Option<super::sandbox_repo::RepoBench>,
    /// The table: each workload's sandbox and native medians and their ratio.
    pub rows: Vec<Row>,
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

/// What [`Job::pytest`] passes (without test ids), with the report written to `junit`.
pub(crate) fn pytest_flags(junit: &Path) -> Vec<String> {
    let mut args: Vec<String> = PYTEST_FLAGS.iter().map(|s| s.to_string()).collect();
    args.extend(["-p", "no:doctest"].map(String::from));
    args.push(format!("--junitxml={}", junit.display()));
    args
}

/// What [`Job::pytest`] passes for the two-test file, with the report written to `junit`.
fn pytest_args(junit: &str) -> Vec<String> {
    let mut args = pytest_flags(Path::new(junit));
    args.extend(["-q", "test_bench.py"].map(String::from));
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

/// The host interpreter, and pytest for it: its own, else the sandbox's pinned files copied
/// and compiled once for it.
pub fn native_python(sb: &Sandbox, scratch: &Path) -> Result<NativePython, String> {
    let python = real_interpreter(&crate::fetch::python_command())?;
    let has_pytest = Command::new(&python)
        .args(["-m", "pytest", "--version"])
        .env("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if has_pytest {
        return Ok(NativePython {
            python,
            pytest_path: None,
            pytest_from: "the host's own pytest".into(),
        });
    }
    let site = scratch.join("native-site");
    copy_sources(&sb.paths().site(), &site)
        .map_err(|e| format!("copying pytest for the native run: {e}"))?;
    let compiled = Command::new(&python)
        .args(["-m", "compileall", "-q"])
        .arg(&site)
        .output()
        .map_err(|e| format!("compiling pytest for the native run: {e}"))?;
    if !compiled.status.success() {
        return Err(format!(
            "compiling pytest for the native run failed: {}",
            String::from_utf8_lossy(&compiled.stderr)
        ));
    }
    Ok(NativePython {
        python,
        pytest_from: format!(
            "the sandbox's pinned pytest files (the host has no pytest), copied to {} and \
             compiled once for the host interpreter",
            site.display()
        ),
        pytest_path: Some(site),
    })
}

fn native(np: &NativePython, scratch: &Path, reps: u32) -> Result<NativeReference, String> {
    let junit = scratch.join("native-junit.xml");
    let fresh = std::sync::atomic::AtomicU32::new(0);
    // A fresh work dir holding only the test file, for every run.
    let work = || -> std::path::PathBuf {
        let n = fresh.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = scratch.join(format!("native-work-{n}"));
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join("test_bench.py"), TEST_FILE);
        dir
    };
    let make = |args: &[String]| {
        let mut c = Command::new(&np.python);
        c.args(args)
            .current_dir(work())
            .env("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        if let Some(p) = &np.pytest_path {
            c.env("PYTHONPATH", p);
        }
        c
    };
    let mut pytest: Vec<String> = vec!["-m".into(), "pytest".into()];
    pytest.extend(pytest_args(&junit.display().to_string()));
    let pass = vec!["-c".to_string(), "pass".to_string()];
    let looped = vec!["-c".to_string(), LOOP_PROGRAM.to_string()];
    Ok(NativeReference {
        python_c_pass: repeat_command(&|| make(&pass), reps)?,
        python_loop: repeat_command(&|| make(&looped), reps)?,
        pytest: repeat_command(&|| make(&pytest), reps)?,
        python: np.python.clone(),
        pytest_from: np.pytest_from.clone(),
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
    let python_loop = repeat(&sb, &Job::python(["-c", LOOP_PROGRAM]), reps)?;

    progress.set_message("bench: pytest in the sandbox".into());
    let two_tests = Job::pytest(
        [("test_bench.py", TEST_FILE.as_bytes().to_vec())],
        ["-q", "test_bench.py"],
    );
    let pytest = repeat(&sb, &two_tests, reps)?;
    let scratch_sb = Sandbox::open_with(
        &SandboxOptions {
            no_snapshot: true,
            ..SandboxOptions::default()
        },
        progress,
    )?;
    let pytest_from_scratch = repeat(&scratch_sb, &two_tests, reps)?;
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

    progress.set_message("bench: native python".into());
    let np = native_python(&sb, scratch.path());
    let (native, native_error) = match np
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|np| native(np, scratch.path(), reps))
    {
        Ok(n) => (Some(n), None),
        Err(e) => (None, Some(e)),
    };
    let repo = match (&options.repo, &np) {
        (Some(opts), Ok(np)) => {
            progress.set_message(format!("bench: the tests of {}", opts.dir.display()));
            Some(super::sandbox_repo::bench_repo(
                &sb,
                np,
                opts,
                scratch.path(),
            )?)
        }
        (Some(_), Err(e)) => return Err(err(format!("no native python for --repo: {e}"))),
        (None, _) => None,
    };
    let mut rows = vec![
        Row::new(
            "`python -c pass`",
            python_c_pass.median_s,
            native.as_ref().map(|n| n.python_c_pass.median_s),
        ),
        Row::new(
            "a pure-Python loop (`python -c`, interpreter speed)",
            python_loop.median_s,
            native.as_ref().map(|n| n.python_loop.median_s),
        ),
        Row::new(
            "pytest, a 2-test file, warm",
            pytest.median_s,
            native.as_ref().map(|n| n.pytest.median_s),
        ),
    ];
    if let Some(r) = &repo {
        let files: std::collections::BTreeSet<&str> = r
            .tests
            .iter()
            .map(|t| t.split("::").next().unwrap_or(t))
            .collect();
        let what = if files.len() == 1 && r.tests.iter().all(|t| t.contains("::")) {
            format!(
                "{} tests of {}",
                r.tests.len(),
                files.iter().next().unwrap_or(&"")
            )
        } else {
            r.tests.join(" ")
        };
        rows.push(Row::new(
            format!("pytest, {what} (wall)"),
            r.sandbox_wall.median_s,
            Some(r.native_wall.median_s),
        ));
        rows.push(Row::new(
            "the same, time pytest itself reports",
            r.sandbox_pytest.median_s,
            Some(r.native_pytest.median_s),
        ));
    }
    Ok(SandboxBench {
        cold_open,
        warm_open,
        runtime: sb.runtime().describe(),
        python_c_pass,
        python_loop,
        pytest,
        pytest_from_scratch,
        snapshot_runs: sb.snapshot_runs(),
        pytest_without_site_pyc,
        pytest_with_zip_stdlib,
        native,
        native_error,
        repo,
        rows,
    })
}

impl SandboxBench {
    /// The table (Markdown), then the sandbox-only figures.
    pub fn summary(&self) -> String {
        let fmt = |s: f64| {
            if s >= 1.0 {
                format!("{s:.2} s")
            } else {
                format!("{:.1} ms", s * 1e3)
            }
        };
        let mut out = String::from("| workload | sandbox | native | ratio |\n|---|---|---|---|\n");
        for r in &self.rows {
            out += &format!(
                "| {} | {} | {} | {} |\n",
                r.workload,
                fmt(r.sandbox_s),
                r.native_s.map_or("-".into(), fmt),
                r.ratio.map_or("-".into(), |x| format!("{x:.2}×"))
            );
        }
        out += "\n";
        out += &format!("sandbox runtime: {}\n", self.runtime);
        if let Some(n) = &self.native {
            out += &format!(
                "native: {} ({}), PYTHONDONTWRITEBYTECODE=1, fresh copies\n",
                n.python, n.pytest_from
            );
        }
        if let Some(e) = &self.native_error {
            out += &format!("native reference unavailable: {e}\n");
        }
        if let Some(r) = &self.repo {
            out += &format!("repository: {}\n", r.dir);
            out += &format!("  sandbox: {}\n", r.sandbox_summary);
            out += &format!("  native:  {}\n", r.native_summary);
            out += &format!(
                "  sandbox first run (bytecode cache cold, then filled): {}\n",
                fmt(r.sandbox_first_s)
            );
        }
        if let Some(c) = &self.cold_open {
            out += &format!("cold open (compile):         {}\n", fmt(c.median_s));
        }
        out += &format!(
            "warm open (cached module):   {}\n",
            fmt(self.warm_open.median_s)
        );
        out += &format!(
            "pytest 2-test file, from scratch (no snapshot): {}\n",
            fmt(self.pytest_from_scratch.median_s)
        );
        out += &format!(
            "runs started from a pytest snapshot: {}\n",
            self.snapshot_runs
                .map_or("none (snapshots off)".to_string(), |n| n.to_string())
        );
        out += &format!(
            "pytest without site .pyc:    {}\n",
            fmt(self.pytest_without_site_pyc.median_s)
        );
        out += &format!(
            "pytest, stdlib from zip:     {}\n",
            fmt(self.pytest_with_zip_stdlib.median_s)
        );
        out
    }
}

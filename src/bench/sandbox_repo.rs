//! `bench sandbox --repo DIR --test ID…`: a real repository's tests, in the sandbox and natively,
//! in the same run. The sandbox copies DIR into each run's work dir (as every test run does)
//! and runs `python -m pytest` with [`Job::pytest`]'s flags and the given test ids; the native
//! reference copies DIR afresh for every run (the copy is not timed) and runs the host's
//! `python -m pytest` with the same flags and ids, without writing bytecode
//! (`PYTHONDONTWRITEBYTECODE=1`), so it compiles the code under test every time, as a fresh
//! checkout does. `--deps DIR` (pure-Python dependencies, e.g. mpmath for sympy) is mounted
//! read-only in the sandbox and put on `PYTHONPATH` for both.
//!
//! Each side is timed as wall time of the whole run and as the time pytest reports itself
//! (`… in 1.23s`). The sandbox's first run (bytecode cache cold for this source) is reported
//! apart from the warm ones.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::sandbox::{NativePython, Stats};
use crate::sandbox::{Job, Limits, Sandbox, SandboxError, Status};

/// Where `--deps` is mounted in the sandbox.
pub const GUEST_DEPS: &str = "/codeswarm-bench-deps";

/// What to run.
#[derive(Debug, Clone)]
pub struct RepoBenchOptions {
    /// The repository checkout (copied, never changed).
    pub dir: PathBuf,
    /// pytest node ids or paths, relative to `dir`.
    pub tests: Vec<String>,
    /// Pure-Python dependencies to put on the path.
    pub deps: Option<PathBuf>,
    /// Measured runs per side (after the first).
    pub reps: u32,
    /// Time limit of one sandbox run.
    pub timeout: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct RepoBench {
    pub dir: String,
    pub tests: Vec<String>,
    /// pytest's own summary line, sandbox and native (to see both ran the same tests).
    pub sandbox_summary: String,
    pub native_summary: String,
    /// The sandbox's first run of this source (the bytecode cache fills after it; its wall
    /// time here includes that).
    pub sandbox_first_s: f64,
    pub sandbox_wall: Stats,
    pub sandbox_pytest: Stats,
    pub native_wall: Stats,
    pub native_pytest: Stats,
}

fn err(e: impl std::fmt::Display) -> SandboxError {
    SandboxError::Setup(format!("bench --repo: {e}"))
}

/// The `in 1.23s` of pytest's last summary line.
pub fn reported_seconds(output: &str) -> Option<f64> {
    let line = output
        .lines()
        .rev()
        .find(|l| l.contains(" in ") && l.contains('s'))?;
    let after = line.rsplit(" in ").next()?;
    let num: String = after
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    num.parse().ok()
}

fn last_line(output: &str) -> String {
    output
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim_matches(|c: char| c == '=' || c.is_whitespace())
        .to_string()
}

/// pytest exits 0 (all passed) or 1 (some failed): both mean the tests ran.
fn ran(code: i32) -> bool {
    code == 0 || code == 1
}

fn sandbox_job(opts: &RepoBenchOptions) -> Job {
    let job = Job::pytest(Vec::<(String, Vec<u8>)>::new(), opts.tests.iter().cloned())
        .source_dir(&opts.dir)
        .limits(Limits {
            timeout: opts.timeout,
            ..Limits::default()
        });
    if let Some(deps) = &opts.deps {
        return job.mount(deps, GUEST_DEPS).env("PYTHONPATH", GUEST_DEPS);
    }
    job
}

/// Copy `src` to `dest` without `.git` and `__pycache__`.
fn copy_checkout(src: &Path, dest: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dest)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let name = entry.file_name();
        let to = dest.join(&name);
        if kind.is_dir() {
            if name != ".git" && name != "__pycache__" {
                copy_checkout(&entry.path(), &to)?;
            }
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &to)?;
        }
    }
    Ok(())
}

/// Run the repository's tests in `sb` and natively.
pub fn bench_repo(
    sb: &Sandbox,
    native: &NativePython,
    opts: &RepoBenchOptions,
    scratch: &Path,
) -> Result<RepoBench, SandboxError> {
    if !opts.dir.is_dir() {
        return Err(err(format!(
            "{} is not a directory: give a repository checkout",
            opts.dir.display()
        )));
    }
    if opts.tests.is_empty() {
        return Err(err(
            "give at least one --test ID (a pytest node id or path)",
        ));
    }
    let job = sandbox_job(opts);
    let mut wall = Vec::new();
    let mut reported = Vec::new();
    let mut first = 0.0;
    let mut sandbox_summary = String::new();
    for i in 0..=opts.reps {
        let t = Instant::now();
        let outcome = sb.run(&job)?;
        let d = t.elapsed();
        let code = match outcome.status {
            Status::Exited(c) => c,
            _ => -1,
        };
        let out = outcome.stdout_lossy();
        if !ran(code) {
            return Err(err(format!(
                "the sandbox run ended with {:?}:\n{}{}",
                outcome.status,
                out,
                outcome.stderr_lossy()
            )));
        }
        sandbox_summary = last_line(&out);
        if i == 0 {
            first = d.as_secs_f64();
            continue;
        }
        wall.push(d);
        if let Some(s) = reported_seconds(&out) {
            reported.push(Duration::from_secs_f64(s));
        }
    }

    let mut native_wall = Vec::new();
    let mut native_reported = Vec::new();
    let mut native_summary = String::new();
    for i in 0..=opts.reps {
        let work = scratch.join(format!("native-repo-{i}"));
        copy_checkout(&opts.dir, &work).map_err(err)?;
        let mut cmd = Command::new(&native.python);
        cmd.args(["-m", "pytest"])
            .args(super::sandbox::pytest_flags(
                &scratch.join("native-repo-junit.xml"),
            ))
            .args(&opts.tests)
            .current_dir(&work)
            .env("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        let mut path: Vec<PathBuf> = opts.deps.iter().cloned().collect();
        path.extend(native.pytest_path.iter().cloned());
        if !path.is_empty() {
            cmd.env("PYTHONPATH", std::env::join_paths(path).map_err(err)?);
        }
        let t = Instant::now();
        let out = cmd.output().map_err(err)?;
        let d = t.elapsed();
        let _ = std::fs::remove_dir_all(&work);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !ran(out.status.code().unwrap_or(-1)) {
            return Err(err(format!(
                "native pytest failed ({}):\n{}{}",
                out.status,
                text,
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        native_summary = last_line(&text);
        // The first native run only warms the host's file cache, as the sandbox's first did.
        if i == 0 {
            continue;
        }
        native_wall.push(d);
        if let Some(s) = reported_seconds(&text) {
            native_reported.push(Duration::from_secs_f64(s));
        }
    }
    Ok(RepoBench {
        dir: opts.dir.display().to_string(),
        tests: opts.tests.clone(),
        sandbox_summary,
        native_summary,
        sandbox_first_s: first,
        sandbox_wall: Stats::of(wall),
        sandbox_pytest: Stats::of(reported),
        native_wall: Stats::of(native_wall),
        native_pytest: Stats::of(native_reported),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pytest_summary_time() {
        let out = "....\n=== 9 passed, 7 warnings in 7.41s ===\n";
        assert_eq!(reported_seconds(out), Some(7.41));
        assert_eq!(last_line(out), "9 passed, 7 warnings in 7.41s");
        assert_eq!(
            reported_seconds("1 failed, 2 passed in 0.12s\n"),
            Some(0.12)
        );
        assert_eq!(reported_seconds("no summary\n"), None);
    }
}

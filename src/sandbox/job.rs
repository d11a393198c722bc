//! What to run in the sandbox: interpreter arguments, the files of the work dir, extra read-only
//! mounts, environment, and limits. [`Job::pytest`] builds the pytest invocation the sandbox
//! supports under WASI and asks for a JUnit report.

use std::path::PathBuf;
use std::time::Duration;

use super::layout;

/// Resource limits of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest linear memory the guest may grow to, in bytes.
    pub memory_bytes: u64,
    /// Wall-clock limit from instantiation to exit.
    pub timeout: Duration,
    /// Optional instruction budget (wasmtime fuel); needs a sandbox opened with fuel metering.
    pub fuel: Option<u64>,
    /// Bytes of stdout / stderr kept; the rest is dropped and flagged.
    pub stdout_bytes: usize,
    pub stderr_bytes: usize,
    /// Total bytes the guest may write to files (all writable mounts together), plus a small
    /// charge per file or directory it creates.
    pub disk_write_bytes: u64,
    /// Most descriptors the guest may hold open at once, stdio and the sandbox's preopened
    /// dirs included; past it opening fails with `EMFILE` (as a process's `RLIMIT_NOFILE`).
    pub open_files: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 1 << 30,
            timeout: Duration::from_secs(60),
            fuel: None,
            stdout_bytes: 1 << 20,
            stderr_bytes: 1 << 20,
            disk_write_bytes: 64 << 20,
            open_files: DEFAULT_OPEN_FILES,
        }
    }
}

/// The longest [`Limits::timeout`] a job may set (one day); the command line and the config file
/// accept whole seconds from 1 to this.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);
/// The memory limits the command line and the config file accept, in MiB: below the low end
/// the interpreter cannot start; the guest is 32-bit wasm, so it cannot use more than 4 GiB.
pub const MEMORY_MB_RANGE: std::ops::RangeInclusive<u64> = 16..=4096;

/// The default of [`Limits::open_files`].
pub const DEFAULT_OPEN_FILES: u32 = 1024;
/// The fewest [`Limits::open_files`] a job may set: the interpreter needs a few of its own
/// besides the preopened dirs.
pub const MIN_OPEN_FILES: u32 = 32;

/// A host directory the guest sees read-only at `guest` (an absolute guest path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub host: PathBuf,
    pub guest: String,
}

/// One sandboxed interpreter run.
#[derive(Debug, Clone, Default)]
pub struct Job {
    /// argv after `python` (e.g. `["-c", "print(1)"]` or `["-m", "pytest", ...]`).
    pub args: Vec<String>,
    /// A host directory whose contents are copied into the work dir (symlinks are skipped).
    pub source_dir: Option<PathBuf>,
    /// Files written into the work dir after the copy: (relative path, contents).
    pub files: Vec<(PathBuf, Vec<u8>)>,
    /// Extra read-only mounts (e.g. a site dir of a repository's dependencies).
    pub mounts: Vec<Mount>,
    /// The guest's environment, on top of the few variables the runtime itself needs.
    pub env: Vec<(String, String)>,
    pub limits: Limits,
    /// Work-dir-relative path of a JUnit report to parse into [`Outcome::tests`](super::Outcome).
    pub junit_report: Option<String>,
}

/// Where [`Job::pytest`] asks pytest to write its JUnit report (inside the work dir).
pub const JUNIT_REPORT: &str = ".codeswarm-junit.xml";

/// The pytest flags the WASI runtime needs: no faulthandler and no fd-level capture (no
/// `os.dup`), no cache dir; xunit1 reports carry the file of each test. Plugins that only serve
/// command-line options a sandboxed run never uses are not loaded (saves ~20 ms of imports);
/// `debugging` stays: pytest's unittest support reads its `--trace` option, and without it every
/// `unittest.TestCase` test fails with "no option named 'trace'".
pub const PYTEST_FLAGS: &[&str] = &[
    "-p",
    "no:faulthandler",
    "-p",
    "no:cacheprovider",
    "-p",
    "no:pastebin",
    "-p",
    "no:setuponly",
    "-p",
    "no:setupplan",
    "-p",
    "no:stepwise",
    "--capture=sys",
    "-o",
    "junit_family=xunit1",
    "--color=no",
];

impl Job {
    /// `python ARGS`.
    pub fn python<S: Into<String>>(args: impl IntoIterator<Item = S>) -> Self {
        Job {
            args: args.into_iter().map(Into::into).collect(),
            ..Job::default()
        }
    }

    /// `python -m pytest` over `files` (written into the work dir) with the flags the runtime
    /// needs ([`PYTEST_FLAGS`], plus `-p no:doctest` unless a `--doctest*` flag is given), a
    /// JUnit report, no plugin auto-loading, then `extra_args` (e.g. `-x`, `-k name`, or test
    /// paths; with no path arguments pytest collects the whole work dir).
    pub fn pytest<P: Into<PathBuf>, S: Into<String>>(
        files: impl IntoIterator<Item = (P, Vec<u8>)>,
        extra_args: impl IntoIterator<Item = S>,
    ) -> Self {
        let extra: Vec<String> = extra_args.into_iter().map(Into::into).collect();
        let mut args: Vec<String> = vec!["-m".into(), "pytest".into()];
        args.extend(PYTEST_FLAGS.iter().map(|s| s.to_string()));
        if !extra.iter().any(|a| a.starts_with("--doctest")) {
            args.extend(["-p".to_string(), "no:doctest".to_string()]);
        }
        args.push(format!("--junitxml={}", JUNIT_REPORT));
        args.extend(extra);
        Job {
            args,
            files: files.into_iter().map(|(p, b)| (p.into(), b)).collect(),
            env: vec![("PYTEST_DISABLE_PLUGIN_AUTOLOAD".into(), "1".into())],
            junit_report: Some(JUNIT_REPORT.into()),
            ..Job::default()
        }
    }

    pub fn source_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.source_dir = Some(dir.into());
        self
    }
    pub fn file(mut self, path: impl Into<PathBuf>, contents: impl Into<Vec<u8>>) -> Self {
        self.files.push((path.into(), contents.into()));
        self
    }
    pub fn mount(mut self, host: impl Into<PathBuf>, guest: impl Into<String>) -> Self {
        self.mounts.push(Mount {
            host: host.into(),
            guest: guest.into(),
        });
        self
    }
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.limits.timeout = timeout;
        self
    }
    pub fn memory(mut self, bytes: u64) -> Self {
        self.limits.memory_bytes = bytes;
        self
    }

    /// Check what the host can check before running.
    pub(crate) fn validate(&self) -> Result<(), String> {
        for (path, _) in &self.files {
            layout::check_relative(path)?;
        }
        if let Some(report) = &self.junit_report {
            layout::check_relative(std::path::Path::new(report))?;
        }
        for m in &self.mounts {
            layout::check_mount_point(&m.guest)?;
        }
        for (k, v) in &self.env {
            if k.is_empty() || k.contains(['=', '\0']) || v.contains('\0') {
                return Err(format!("bad environment variable `{k}`"));
            }
        }
        if self.limits.timeout.is_zero() || self.limits.memory_bytes == 0 {
            return Err("timeout and memory limits must be positive".into());
        }
        if self.limits.timeout > MAX_TIMEOUT {
            return Err(format!(
                "the timeout {:?} is longer than the longest allowed, {} s (one day)",
                self.limits.timeout,
                MAX_TIMEOUT.as_secs()
            ));
        }
        if self.limits.open_files < MIN_OPEN_FILES {
            return Err(format!(
                "the open-files limit {} is too small: the interpreter needs at least {MIN_OPEN_FILES}",
                self.limits.open_files
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pytest_job_has_runtime_flags_and_report() {
        let job = Job::pytest([("test_a.py", b"def test_a(): pass\n".to_vec())], ["-x"]);
        assert_eq!(&job.args[..2], ["-m", "pytest"]);
        assert!(job.args.contains(&"no:faulthandler".to_string()));
        assert!(job.args.contains(&"--capture=sys".to_string()));
        assert!(job.args.contains(&format!("--junitxml={JUNIT_REPORT}")));
        assert_eq!(job.args.last().unwrap(), "-x");
        assert_eq!(job.junit_report.as_deref(), Some(JUNIT_REPORT));
        assert!(job.args.contains(&"no:doctest".to_string()));
        job.validate().unwrap();
        let doc = Job::pytest(Vec::<(PathBuf, Vec<u8>)>::new(), ["--doctest-modules"]);
        assert!(!doc.args.contains(&"no:doctest".to_string()));
    }

    #[test]
    fn validation_rejects_escaping_paths_and_reserved_mounts() {
        assert!(Job::python(["-c", "1"])
            .file("../x.py", "")
            .validate()
            .is_err());
        assert!(Job::python(["-c", "1"])
            .file("/abs.py", "")
            .validate()
            .is_err());
        assert!(Job::python(["-c", "1"])
            .mount("/tmp", "relative")
            .validate()
            .is_err());
        assert!(Job::python(["-c", "1"])
            .mount("/tmp", layout::GUEST_SITE)
            .validate()
            .is_err());
        assert!(Job::python(["-c", "1"])
            .file("tmp/a.py", "")
            .validate()
            .is_err());
        assert!(Job::python(["-c", "1"]).env("A=B", "c").validate().is_err());
        assert!(Job::python(["-c", "1"])
            .mount("/tmp", "/deps")
            .validate()
            .is_ok());
    }
}

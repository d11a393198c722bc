//! The bridge between the Coordinator's [`TestRunner`] seam and the WASI sandbox: pytest on the
//! agents' files inside CPython-on-wasmtime, results read from the JUnit report.

use std::time::Duration;

use super::results::{ScriptRun, TestCase, TestRun, TestRunner};
use crate::config::SandboxSettings;
use crate::sandbox::{Job, Sandbox, Status};

pub struct SandboxRunner {
    pub sandbox: Sandbox,
    pub timeout: Duration,
    /// The limit of a script run (the behaviour probe).
    pub script_timeout: Duration,
    pub memory_bytes: u64,
    /// Bytes of output kept in each [`TestRun`] (`output_tail_bytes`).
    pub output_tail_bytes: usize,
}

impl SandboxRunner {
    pub fn new(sandbox: Sandbox, settings: &SandboxSettings) -> Self {
        Self {
            sandbox,
            timeout: Duration::from_secs(settings.timeout_seconds),
            script_timeout: Duration::from_secs(
                settings
                    .script_timeout_seconds
                    .unwrap_or(settings.timeout_seconds),
            ),
            memory_bytes: settings.memory_mb << 20,
            output_tail_bytes: settings.output_tail_bytes,
        }
    }

    /// Open the sandbox (fetching and preparing the runtime on first use, with a progress bar).
    pub fn open(settings: &SandboxSettings) -> Result<Self, crate::sandbox::SandboxError> {
        let bar = crate::progress::bytes_bar();
        let sandbox = super::open_sandbox(&bar);
        bar.finish_and_clear();
        Ok(Self::new(sandbox?, settings))
    }
}

impl TestRunner for SandboxRunner {
    fn run_tests(
        &self,
        files: &[(String, String)],
        test_files: &[String],
    ) -> Result<TestRun, String> {
        // Keep running the other files when one cannot even be collected: the task's examples
        // still count when the model's test file is broken.
        let mut args = vec![
            "-q".to_string(),
            "--continue-on-collection-errors".to_string(),
        ];
        args.extend(test_files.iter().cloned());
        let job = Job::pytest(
            files
                .iter()
                .map(|(p, c)| (p.clone(), c.as_bytes().to_vec())),
            args,
        )
        .timeout(self.timeout)
        .memory(self.memory_bytes);
        let out = self.sandbox.run(&job).map_err(|e| e.to_string())?;
        let cases = out.tests.iter().map(TestCase::from).collect();
        Ok(TestRun {
            label: String::new(),
            status: out.status.to_string(),
            exit_code: match out.status {
                Status::Exited(c) => Some(c),
                _ => None,
            },
            cases,
            output_tail: out.output_tail(self.output_tail_bytes),
            seconds: out.duration.as_secs_f64(),
        })
    }

    fn run_script(&self, files: &[(String, String)], script: &str) -> Result<ScriptRun, String> {
        let job = Job::python([script.to_string()])
            .timeout(self.script_timeout)
            .memory(self.memory_bytes);
        let job = files
            .iter()
            .fold(job, |j, (p, c)| j.file(p.clone(), c.as_bytes().to_vec()));
        let out = self.sandbox.run(&job).map_err(|e| e.to_string())?;
        Ok(ScriptRun {
            stdout: out.stdout_lossy(),
            status: out.status.to_string(),
            completed: matches!(out.status, Status::Exited(_)),
        })
    }
}

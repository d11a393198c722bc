//! `codeswarm sandbox [--dir DIR] [--timeout S] [--memory MB] [--setup] [-- ARGS...]`: run
//! `python ARGS` inside the WASI sandbox with DIR copied into its work dir, print the guest's
//! stdout/stderr, and exit with the guest's exit code (124 on timeout, 137 when memory ran out).
//! `--setup` fetches and prepares the runtime (also done on first use), checks every installed
//! file against the environment's manifest (sha256), and rebuilds a damaged environment.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::sandbox::{Job, Limits, SandboxOptions, Status};

#[derive(clap::Args, Debug, Clone)]
pub struct SandboxArgs {
    /// Directory whose contents are copied into the sandbox's work dir (the guest's cwd).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Wall-clock limit in seconds.
    #[arg(long, value_name = "S", default_value_t = 60.0)]
    pub timeout: f64,
    /// Memory limit in MiB.
    #[arg(long, value_name = "MB", default_value_t = 1024)]
    pub memory: u64,
    /// Fetch and prepare the runtime (CPython for WASI, pytest), then exit unless ARGS follow.
    #[arg(long)]
    pub setup: bool,
    /// Arguments for `python` inside the sandbox, e.g. `-- -m pytest -q`.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub args: Vec<String>,
}

fn progress_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    let style = indicatif::ProgressStyle::with_template("{spinner} {msg} {bytes}/{total_bytes}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

pub fn run(args: SandboxArgs) -> anyhow::Result<i32> {
    if args.args.is_empty() && !args.setup {
        anyhow::bail!("nothing to run: give python arguments after `--` (e.g. `codeswarm sandbox -- -c 'print(1)'`) or --setup");
    }
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        anyhow::bail!("--timeout must be a positive number of seconds");
    }
    let bar = progress_bar();
    let opened = if args.setup {
        // Every file of the installed environment against its manifest, not only sizes.
        let options = SandboxOptions {
            verify_hashes: true,
            ..SandboxOptions::default()
        };
        crate::sandbox::Sandbox::open_with(&options, &bar)
    } else {
        crate::testing::open_sandbox(&bar)
    };
    bar.finish_and_clear();
    let sandbox = opened.context("opening the sandbox")?;
    if args.setup {
        eprintln!(
            "sandbox runtime ready in {} (every file checked against its manifest)",
            sandbox.paths().dir.display()
        );
        if args.args.is_empty() {
            return Ok(0);
        }
    }
    let mut job = Job::python(args.args.iter().cloned()).limits(Limits {
        timeout: Duration::from_secs_f64(args.timeout),
        memory_bytes: args.memory.saturating_mul(1 << 20),
        ..Limits::default()
    });
    if let Some(dir) = &args.dir {
        anyhow::ensure!(dir.is_dir(), "--dir {} is not a directory", dir.display());
        job = job.source_dir(dir);
    }
    let outcome = sandbox.run(&job)?;
    std::io::stdout().write_all(&outcome.stdout)?;
    std::io::stdout().flush()?;
    std::io::stderr().write_all(&outcome.stderr)?;
    if outcome.truncated.stdout || outcome.truncated.stderr {
        eprintln!(
            "codeswarm: sandbox output was truncated (stdout: {}, stderr: {})",
            outcome.truncated.stdout, outcome.truncated.stderr
        );
    }
    match &outcome.status {
        Status::Exited(_) => {}
        Status::Timeout => eprintln!("codeswarm: sandbox timed out after {} s", args.timeout),
        Status::MemoryExceeded => eprintln!(
            "codeswarm: sandbox ran out of memory ({} MiB limit)",
            args.memory
        ),
        Status::DiskQuotaExceeded => eprintln!("codeswarm: sandbox exceeded its disk-write quota"),
        Status::Trap(t) => eprintln!("codeswarm: sandbox trapped: {t}"),
    }
    Ok(outcome.status.exit_code())
}

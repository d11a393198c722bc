//! `codeswarm sandbox [--dir DIR] [--timeout S] [--memory MB] [--setup] [-- ARGS...]`: run
//! `python ARGS` inside the WASI sandbox with DIR copied into its work dir, print the guest's
//! stdout/stderr, and exit with the guest's exit code (124 on timeout, 137 when memory ran out).
//! `--setup` fetches and prepares the runtime (also done on first use), checks every installed
//! file against the environment's manifest (sha256), and rebuilds a damaged environment.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::sandbox::{Job, Limits, SandboxOptions, Status, MAX_TIMEOUT, MEMORY_MB_RANGE};

#[derive(clap::Args, Debug, Clone)]
pub struct SandboxArgs {
    /// Directory whose contents are copied into the sandbox's work dir (the guest's cwd).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Wall-clock limit in seconds (1 to 86400).
    #[arg(long, value_name = "S", default_value_t = 60.0, value_parser = parse_timeout)]
    pub timeout: f64,
    /// Memory limit in MiB (16 to 4096).
    #[arg(long, value_name = "MB", default_value_t = 1024, value_parser = parse_memory)]
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

/// `--timeout`: a number of seconds from 1 to one day.
fn parse_timeout(text: &str) -> Result<f64, String> {
    let max = MAX_TIMEOUT.as_secs();
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && (1.0..=max as f64).contains(&s) => Ok(s),
        _ => Err(format!(
            "give a number of seconds from 1 to {max} (one day)"
        )),
    }
}

/// `--memory`: MiB within what a 32-bit guest can use.
fn parse_memory(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(mb) if MEMORY_MB_RANGE.contains(&mb) => Ok(mb),
        _ => Err(format!(
            "give whole MiB from {} to {} (the guest is 32-bit wasm)",
            MEMORY_MB_RANGE.start(),
            MEMORY_MB_RANGE.end()
        )),
    }
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
            "sandbox runtime ready in {} (every file checked against its manifest); runtime: {}",
            sandbox.paths().dir.display(),
            sandbox.runtime().describe()
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

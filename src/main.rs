//! Temporary entry point (branch `sandbox`): dispatches only `codeswarm sandbox ...`. The lead's
//! `main.rs` with the full command enum replaces this file on merge.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "codeswarm", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run `python ARGS` in the WASI sandbox.
    Sandbox(codeswarm::cli::sandbox::SandboxArgs),
    /// Measure the sandbox (cold/warm start, pytest vs native); JSON with --json.
    BenchSandbox {
        #[arg(long, default_value_t = 5)]
        reps: u32,
        #[arg(long)]
        json: bool,
    },
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sandbox(args) => codeswarm::cli::sandbox::run(args),
        Command::BenchSandbox { reps, json } => {
            let options = codeswarm::bench::sandbox::SandboxBenchOptions { reps, cold: true };
            codeswarm::bench::sandbox::bench_sandbox(&options, &())
                .map_err(anyhow::Error::from)
                .and_then(|b| {
                    if json {
                        println!("{}", serde_json::to_string_pretty(&b)?);
                    } else {
                        print!("{}", b.summary());
                    }
                    Ok(0)
                })
        }
    };
    match result {
        Ok(code) => std::process::ExitCode::from((code & 0xff) as u8),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

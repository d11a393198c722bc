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
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sandbox(args) => codeswarm::cli::sandbox::run(args),
    };
    match result {
        Ok(code) => std::process::ExitCode::from((code & 0xff) as u8),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

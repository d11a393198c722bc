//! The command line: one thin shell per command over a library function. Errors become a
//! message on stderr and exit code 2; each command documents its own success codes.

pub mod batch;
mod bench;
pub mod check;
mod closed_stdout;
pub mod doctor;
mod eval;
pub mod evaluate;
mod fix;
pub mod fixtures;
pub mod merge_preds;
mod models;
mod opts;
pub mod report;
mod run;
pub mod sandbox;

use clap::{Parser, Subcommand};

pub use opts::ModelOpts;

#[derive(Parser, Debug)]
#[command(
    name = "codeswarm",
    version,
    about = "A local multi-agent coding system: one small GGUF model, specialists in turn, generated Python run only inside a WASI sandbox."
)]
pub struct Cli {
    /// More log output (-v: info and llama.cpp's own log; -vv: debug). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the multi-agent pipeline on a coding task.
    Run(run::RunArgs),
    /// Run the seed's example task ("Write a fibonacci function") on the default model.
    Demo(run::DemoArgs),
    /// List, fetch and inspect models.
    #[command(subcommand)]
    Models(models::ModelsCmd),
    /// Run `python ARGS` inside the WASI sandbox (`--setup` fetches and prepares the runtime).
    Sandbox(sandbox::SandboxArgs),
    /// Fix an issue in a repository: localize, reproduce, edit, test in the sandbox, patch.
    Fix(fix::FixArgs),
    /// Measure quality: HumanEval, single prompt vs pipeline, side by side.
    #[command(subcommand)]
    Eval(eval::EvalCmd),
    /// Speed and memory benchmarks.
    #[command(subcommand)]
    Bench(bench::BenchCmd),
    /// Solve SWE-bench instances into a predictions file (resumable, shardable).
    Batch(batch::BatchArgs),
    /// Merge shard predictions files into one, deduplicating by instance id.
    MergePreds(merge_preds::MergePredsArgs),
    /// Summarize a batch run directory (table, optional self-contained HTML).
    Report(report::ReportArgs),
    /// CI gate: apply a diff in a temporary worktree, syntax-check it, run tests in the sandbox
    /// (exit 0 pass, 1 fail, 2 set-up error).
    Check(check::CheckArgs),
    /// Evaluate predictions locally with the sandboxed test executor (no Docker).
    Evaluate(evaluate::EvaluateArgs),
    /// Write the offline fixture instance set (four repositories with one seeded bug each).
    Fixtures(fixtures::FixturesArgs),
    /// Say what is set up and what is not (build, CPU features, cache, models, sandbox, a tiny
    /// timed generation and sandbox run), with the command that fixes each missing piece.
    Doctor(doctor::DoctorArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  codeswarm completions bash > ~/.local/share/bash-completion/completions/codeswarm\n  codeswarm completions zsh > \"${fpath[1]}/_codeswarm\"\n  codeswarm completions fish > ~/.config/fish/completions/codeswarm.fish"
    )]
    Completions {
        /// The shell: bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

/// Set up logging: quiet by default (warnings from codeswarm only, llama.cpp silent).
pub fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn,llama-cpp-2=off,llama_cpp_2=off,wasmtime=warn,cranelift=warn",
        1 => "info,llama-cpp-2=info,llama_cpp_2=info,wasmtime=warn,cranelift=warn",
        _ => "debug,wasmtime=info,cranelift=info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only on a terminal: piped or redirected logs stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(verbose > 0)
        .try_init();
}

/// Run a parsed command line; returns the process exit code.
pub fn main_with(cli: Cli) -> i32 {
    closed_stdout::install();
    init_tracing(cli.verbose);
    let result = match cli.command {
        Command::Run(a) => run::run(a),
        Command::Demo(a) => run::demo(a),
        Command::Models(c) => models::run(c),
        Command::Bench(c) => bench::run(c),
        Command::Eval(c) => eval::run(c),
        Command::Fix(a) => fix::run(a),
        Command::Sandbox(a) => sandbox::run(a),
        Command::Batch(a) => batch::run(a),
        Command::MergePreds(a) => merge_preds::run(a),
        Command::Fixtures(a) => fixtures::run(a),
        Command::Report(a) => report::run(a),
        Command::Evaluate(a) => evaluate::run(a),
        Command::Check(a) => check::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "codeswarm", &mut std::io::stdout());
            Ok(0)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) if closed_stdout::is_closed_stdout(&e) => closed_stdout::EXIT_CLOSED_STDOUT,
        Err(e) => {
            eprintln!("error: {e:#}");
            2
        }
    }
}

//! `codeswarm doctor`: what is set up and what is not, with the fix for each missing piece
//! (a thin shell over [`crate::doctor::diagnose`]).

use clap::Args;

use crate::doctor::{diagnose, DoctorOptions};

#[derive(Args, Debug)]
#[command(
    after_help = "Exit codes: 0 every required piece is set up, 1 something required is missing or broken.\n\nExamples:\n  codeswarm doctor\n  codeswarm doctor --quick --json\n  codeswarm doctor -m qwen2.5-coder-1.5b-instruct-q4_k_m --no-generate"
)]
pub struct DoctorArgs {
    /// The model the set-up must have: a registry name or a .gguf path (default: the
    /// registry's default model).
    #[arg(short = 'm', long, env = "CODESWARM_MODEL")]
    pub model: Option<String>,
    /// Fast: trust the stamps of the last full sha256 check, check the runtime environment's
    /// file sizes only, and skip the timed generation and sandbox run.
    #[arg(long)]
    pub quick: bool,
    /// Skip the timed generation (loading the model and generating a few tokens).
    #[arg(long)]
    pub no_generate: bool,
    /// Print the checks as JSON (`{ok, version, home, checks: [{id, status, required,
    /// detail, fix, seconds}]}`) instead of the table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: DoctorArgs) -> anyhow::Result<i32> {
    let report = diagnose(&DoctorOptions {
        model: a.model,
        quick: a.quick,
        no_generate: a.no_generate,
    });
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.text());
    }
    Ok(report.exit_code())
}

//! `codeswarm bench engine` (and, with the sandbox, `bench sandbox`).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::opts::ModelOpts;
use crate::bench::engine::{self, EngineBenchOptions};

#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// Load time, pp/tg tokens/s, time to first token, peak RSS and KV reuse of the model.
    Engine(EngineArgs),
    /// Sandbox cold and warm start, and pytest in the sandbox versus native python3 -m pytest.
    Sandbox {
        #[arg(long, default_value_t = 5)]
        reps: u32,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct EngineArgs {
    /// Prompt tokens for the pp test.
    #[arg(long, default_value_t = 512)]
    pub pp: usize,
    /// Generated tokens for the tg test.
    #[arg(long, default_value_t = 128)]
    pub tg: u32,
    /// Repetitions.
    #[arg(long, default_value_t = 3)]
    pub reps: u32,
    /// llama.cpp's llama-bench binary to run as the reference (scripts/build-llama-bench.sh).
    #[arg(long)]
    pub llama_bench: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub model: ModelOpts,
}

pub fn run(cmd: BenchCmd) -> anyhow::Result<i32> {
    match cmd {
        BenchCmd::Engine(a) => {
            let config = a.model.load_config()?;
            let mut manager = a.model.manager(&config, a.json)?;
            let opts = EngineBenchOptions {
                pp_tokens: a.pp,
                tg_tokens: a.tg,
                reps: a.reps.max(1),
                llama_bench: a.llama_bench.clone(),
            };
            let b = engine::run(&mut manager, &opts)?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&b)?);
            } else {
                print!("{}", engine::describe(&b));
            }
            Ok(0)
        }
        BenchCmd::Sandbox { reps, json } => {
            let options = crate::bench::sandbox::SandboxBenchOptions {
                reps: reps.max(1),
                cold: true,
            };
            let bar = crate::progress::spinner("benchmarking the sandbox");
            let b = crate::bench::sandbox::bench_sandbox(&options, &());
            bar.finish_and_clear();
            let b = b?;
            if json {
                println!("{}", serde_json::to_string_pretty(&b)?);
            } else {
                print!("{}", b.summary());
            }
            Ok(0)
        }
    }
}

//! `codeswarm bench engine` (and, with the sandbox, `bench sandbox`).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::opts::ModelOpts;
use crate::bench::engine::{self, EngineBenchOptions};

#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// Load time, pp/tg tokens/s, time to first token, peak RSS and KV reuse of the model.
    Engine(EngineArgs),
    /// The sandbox against native python3, as ratios measured in the same run: `python -c
    /// pass`, pytest on a 2-test file, and (with --repo/--test) a real repository's tests.
    Sandbox(SandboxBenchArgs),
}

#[derive(Args, Debug)]
pub struct SandboxBenchArgs {
    /// Measured runs of each small workload (after one warm-up).
    #[arg(long, default_value_t = 5)]
    pub reps: u32,
    /// A repository checkout whose tests to time too (copied, never changed).
    #[arg(long, value_name = "DIR", requires = "tests")]
    pub repo: Option<PathBuf>,
    /// A pytest node id or path under --repo (repeat for several), e.g.
    /// `sympy/printing/pretty/tests/test_pretty.py::test_upretty_greek`.
    #[arg(long = "test", value_name = "ID", requires = "repo")]
    pub tests: Vec<String>,
    /// A directory of pure-Python dependencies of --repo (e.g. mpmath for sympy), on the path
    /// of both the sandbox and the native runs.
    #[arg(long, value_name = "DIR", requires = "repo")]
    pub deps: Option<PathBuf>,
    /// Measured runs of the repository's tests on each side (after the first).
    #[arg(long, default_value_t = 3)]
    pub repo_reps: u32,
    /// Time limit of one sandbox run of the repository's tests, in seconds.
    #[arg(long, default_value_t = 600)]
    pub repo_timeout: u64,
    #[arg(long)]
    pub json: bool,
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
        BenchCmd::Sandbox(a) => {
            let json = a.json;
            if let Some(dir) = &a.repo {
                anyhow::ensure!(
                    dir.is_dir(),
                    "--repo {} is not a directory: give a repository checkout",
                    dir.display()
                );
            }
            if let Some(dir) = &a.deps {
                anyhow::ensure!(dir.is_dir(), "--deps {} is not a directory", dir.display());
            }
            let repo = a
                .repo
                .clone()
                .map(|dir| crate::bench::sandbox_repo::RepoBenchOptions {
                    dir,
                    tests: a.tests.clone(),
                    deps: a.deps.clone(),
                    reps: a.repo_reps.max(1),
                    timeout: std::time::Duration::from_secs(
                        a.repo_timeout
                            .clamp(1, crate::sandbox::MAX_TIMEOUT.as_secs()),
                    ),
                });
            let options = crate::bench::sandbox::SandboxBenchOptions {
                reps: a.reps.max(1),
                cold: true,
                repo,
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

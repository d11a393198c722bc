//! `codeswarm eval humaneval` and `codeswarm eval prose`.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::opts::ModelOpts;
use crate::eval::humaneval;
use crate::eval::problem::Problem;
use crate::eval::prose::{self, ProseSet};
use crate::eval::run::{self, Mode};
use crate::testing::SandboxRunner;

#[derive(Subcommand, Debug)]
pub enum EvalCmd {
    /// HumanEval: one greedy prompt (single) vs the whole pipeline, checked in the sandbox.
    Humaneval(HumanevalArgs),
    /// The project's prose tasks (evals/prose: error cases, edge values, classes), each judged
    /// by a hidden test the pipeline never sees; prints the verdict's confusion table.
    Prose(ProseArgs),
}

#[derive(Args, Debug)]
pub struct HumanevalArgs {
    /// The first N problems.
    #[arg(long, conflicts_with = "ids")]
    pub limit: Option<usize>,
    /// Problem ids (HumanEval/3 or 3), comma separated.
    #[arg(long, value_delimiter = ',')]
    pub ids: Vec<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Args, Debug)]
pub struct ProseArgs {
    /// The first N tasks.
    #[arg(long, conflicts_with = "ids")]
    pub limit: Option<usize>,
    /// Task ids (prose/parse_duration or parse_duration), comma separated.
    #[arg(long, value_delimiter = ',')]
    pub ids: Vec<String>,
    /// Another set in the same format (a folder with tasks.toml and hidden.toml) instead of
    /// the one built in.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Args, Debug)]
pub struct CommonArgs {
    #[arg(long, value_enum, default_value_t = Mode::Both)]
    pub mode: Mode,
    /// Most candidates the pipeline compares by behaviour (at least 2; stops early when they agree).
    #[arg(long)]
    pub samples: Option<u32>,
    /// Write the full report (per-problem outcomes, code, timings) here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub model: ModelOpts,
}

pub fn run(cmd: EvalCmd) -> anyhow::Result<i32> {
    match cmd {
        EvalCmd::Humaneval(a) => {
            let bar = crate::progress::bytes_bar();
            let records = humaneval::load(&bar)?;
            bar.finish_and_clear();
            let problems = humaneval::select(humaneval::problems(records), &a.ids, a.limit)?;
            evaluate(problems, a.common)
        }
        EvalCmd::Prose(a) => {
            let set = match &a.dir {
                Some(d) => ProseSet::from_dir(d)?,
                None => ProseSet::builtin()?,
            };
            let problems =
                crate::eval::problem::select(set.problems(), prose::PREFIX, &a.ids, a.limit)
                    .map_err(anyhow::Error::msg)?;
            evaluate(problems, a.common)
        }
    }
}

fn evaluate(problems: Vec<Problem>, a: CommonArgs) -> anyhow::Result<i32> {
    let mut config = a.model.load_config()?;
    if let Some(k) = a.samples {
        config.limits.samples = k.max(1);
    }
    let prompts = a.model.load_prompts()?;
    if let Some(p) = &a.report {
        crate::fsutil::check_output_file(p, "--report").map_err(anyhow::Error::msg)?;
    }
    let runner = SandboxRunner::open(&config.sandbox)?;
    let mut manager = a.model.manager(&config, true)?;
    let progress = crate::progress::items_bar(problems.len() as u64);
    let (mut single_ok, mut pipe_ok) = (0, 0);
    let report = run::run(
        &problems,
        a.mode,
        &mut manager,
        &config,
        &prompts,
        &runner,
        &mut |r| {
            single_ok += r.single.as_ref().map(|x| x.passed as usize).unwrap_or(0);
            pipe_ok += r.pipeline.as_ref().map(|x| x.passed as usize).unwrap_or(0);
            progress.set_message(format!(
                "{} | single {single_ok} | pipeline {pipe_ok}",
                r.task_id
            ));
            progress.inc(1);
            if !std::io::stderr().is_terminal() {
                // No bar when piped: one line per problem, so a long run shows it is alive.
                let show = |a: Option<&run::Attempt>| match a {
                    Some(a) => format!(
                        "{} in {:.1} s{}",
                        if a.passed { "pass" } else { "fail" },
                        a.seconds,
                        a.own_status
                            .as_deref()
                            .map(|s| format!(" (own verdict: {s})"))
                            .unwrap_or_default()
                    ),
                    None => "-".into(),
                };
                eprintln!(
                    "{}: single {} | pipeline {}",
                    r.task_id,
                    show(r.single.as_ref()),
                    show(r.pipeline.as_ref())
                );
            }
        },
    );
    progress.finish_and_clear();
    if let Some(p) = &a.report {
        crate::fsutil::write_atomic(p, &serde_json::to_vec_pretty(&report)?)?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", run::describe(&report));
    }
    Ok(0)
}

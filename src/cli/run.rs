//! `codeswarm run` and `codeswarm demo`.

use std::path::PathBuf;

use clap::Args;

use super::opts::ModelOpts;
use crate::pipeline;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The coding task.
    #[arg(
        long,
        conflicts_with = "task_file",
        required_unless_present = "task_file"
    )]
    pub task: Option<String>,
    /// Read the task from a file.
    #[arg(long)]
    pub task_file: Option<PathBuf>,
    /// Output directory for solution.py, test_solution.py and report.json.
    #[arg(long, default_value = "codeswarm-out")]
    pub out: PathBuf,
    /// Sampling seed for every agent.
    #[arg(long)]
    pub seed: Option<u32>,
    /// Most candidate solutions compared by behaviour (at least 2; stops early when they agree).
    #[arg(long)]
    pub samples: Option<u32>,
    /// Print report.json to stdout instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Print the generated text to stderr as it arrives, each reply under a header naming its
    /// agent (in-process models token by token; `--server` streams with `"stream": true`).
    #[arg(long)]
    pub stream: bool,
    #[command(flatten)]
    pub model: ModelOpts,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Output directory.
    #[arg(long, default_value = "codeswarm-demo")]
    pub out: PathBuf,
    #[arg(long)]
    pub json: bool,
    /// Print the generated text to stderr as it arrives (see `run --help`).
    #[arg(long)]
    pub stream: bool,
    #[command(flatten)]
    pub model: ModelOpts,
}

/// The seed's example task.
pub const DEMO_TASK: &str = "Write a fibonacci function";

/// Exit 0 when the verdict is passed, 3 when uncertain, 1 otherwise (see [`exit_code`]).
pub fn run(a: RunArgs) -> anyhow::Result<i32> {
    let task = match (&a.task, &a.task_file) {
        (Some(t), _) => t.clone(),
        (None, Some(f)) => crate::input_file::read_input_string(
            f,
            "--task-file",
            crate::input_file::MAX_TEXT_FILE,
            crate::input_file::Follow::Yes,
        )?,
        (None, None) => unreachable!("clap requires one"),
    };
    let report = execute(&task, &a.out, a.seed, a.samples, a.json, a.stream, &a.model)?;
    Ok(exit_code(report.status))
}

/// `run`'s exit code: 0 passed, 3 uncertain (the candidates disagree and nothing settles
/// it), 1 anything else (failed, no code, untested). 2 stays the error code of every command.
pub fn exit_code(status: crate::coordination::coordinator::FinalStatus) -> i32 {
    use crate::coordination::coordinator::FinalStatus;
    match status {
        FinalStatus::Passed => 0,
        FinalStatus::Uncertain => 3,
        _ => 1,
    }
}

/// Exit 0 whenever the pipeline completes; the summary says whether the tests passed.
pub fn demo(a: DemoArgs) -> anyhow::Result<i32> {
    execute(DEMO_TASK, &a.out, None, None, a.json, a.stream, &a.model)?;
    Ok(0)
}

fn execute(
    task: &str,
    out: &std::path::Path,
    seed: Option<u32>,
    samples: Option<u32>,
    json: bool,
    stream: bool,
    opts: &ModelOpts,
) -> anyhow::Result<crate::coordination::RunReport> {
    if task.trim().is_empty() {
        return Err(pipeline::PipelineError::EmptyTask.into());
    }
    // Checked now, created only when there is something to write.
    crate::fsutil::check_output_dir(out, "--out").map_err(anyhow::Error::msg)?;
    let mut config = opts.load_config()?;
    if let Some(s) = seed {
        config.set_seed(s);
    }
    if let Some(k) = samples {
        config.limits.samples = k.max(1);
    }
    let prompts = opts.load_prompts()?;
    let mut manager = opts.manager(&config, json)?;
    let runner = crate::testing::SandboxRunner::open(&config.sandbox)?;
    // The live display (agent, stage, tokens/s, elapsed) on stderr; `--stream` prints the text.
    let live = std::sync::Arc::new(crate::progress::LiveProgress::new(stream, json));
    manager.set_progress(live.clone());
    let outcome = pipeline::run_task(task, &mut manager, &config, &prompts, Some(&runner));
    live.finish();
    let outcome = outcome?;
    let written = pipeline::write_outputs(out, &outcome)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&outcome.report)?);
    } else {
        print!("{}", pipeline::summary(&outcome.report));
        println!(
            "wrote {}",
            written
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(outcome.report)
}

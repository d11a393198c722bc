//! `codeswarm run` as a library call: load config and prompts, run the Coordinator on a task,
//! write `solution.py`, `test_solution.py` and `report.json`, and render the summary.

use std::path::{Path, PathBuf};

use crate::agents::prompts::{PromptError, Prompts};
use crate::agents::{AgentError, Crew};
use crate::config::{Config, ConfigError};
use crate::coordination::coordinator::{SOLUTION_FILE, TESTS_FILE};
use crate::coordination::judge::EXAMPLES_FILE;
use crate::coordination::{Coordinator, RunOutcome, RunReport, TestRunner};
use crate::models::ModelManager;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("the task is empty; pass --task TEXT or --task-file FILE with a description of the code to write")]
    EmptyTask,
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Prompt(#[from] PromptError),
    #[error(transparent)]
    Agent(#[from] AgentError),
    #[error("{0}")]
    Output(String),
}

/// Run the whole pipeline on `task`.
pub fn run_task(
    task: &str,
    models: &mut ModelManager,
    config: &Config,
    prompts: &Prompts,
    runner: Option<&dyn TestRunner>,
) -> Result<RunOutcome, PipelineError> {
    let task = task.trim();
    if task.is_empty() {
        return Err(PipelineError::EmptyTask);
    }
    let crew = Crew::new(models, config, prompts);
    Ok(Coordinator::new(crew, runner, task).run()?)
}

/// Write the artifacts and `report.json` into `dir` (each file atomically).
pub fn write_outputs(dir: &Path, outcome: &RunOutcome) -> Result<Vec<PathBuf>, PipelineError> {
    let mut written = vec![];
    let mut put = |name: &str, bytes: &[u8]| -> Result<(), PipelineError> {
        let p = dir.join(name);
        crate::fsutil::write_atomic(&p, bytes)
            .map_err(|e| PipelineError::Output(format!("cannot write {}: {e}", p.display())))?;
        written.push(p);
        Ok(())
    };
    if let Some(code) = &outcome.code {
        put(SOLUTION_FILE, code.as_bytes())?;
    }
    if let Some(tests) = &outcome.tests {
        put(TESTS_FILE, tests.as_bytes())?;
    }
    if let Some(ex) = &outcome.examples {
        put(EXAMPLES_FILE, ex.as_bytes())?;
    }
    let json = serde_json::to_vec_pretty(&outcome.report)
        .map_err(|e| PipelineError::Output(e.to_string()))?;
    put("report.json", &json)?;
    Ok(written)
}

/// The readable summary printed after a run.
pub fn summary(report: &RunReport) -> String {
    let mut s = String::new();
    let roles: Vec<_> = report
        .plan
        .subtasks
        .iter()
        .map(|t| t.role.as_str())
        .collect();
    s += &format!(
        "plan ({}): {}\n",
        report.plan_trace.source,
        roles.join(" -> ")
    );
    s += &format!(
        "{:>2}  {:<15} {:>7} {:>7} {:>6} {:>7} {:>3}  {}\n",
        "#", "agent", "prompt", "reused", "gen", "secs", "rt", "result"
    );
    for st in &report.steps {
        let agent = st.agent.map(|a| a.as_str()).unwrap_or("-");
        s += &format!(
            "{:>2}  {:<15} {:>7} {:>7} {:>6} {:>7.1} {:>3}  {}\n",
            st.index,
            agent,
            st.prompt_tokens,
            st.reused_tokens,
            st.generated_tokens,
            st.seconds,
            st.retries,
            st.verdict
        );
    }
    let t = &report.totals;
    let pct = if t.prompt_tokens > 0 {
        100.0 * t.reused_tokens as f64 / t.prompt_tokens as f64
    } else {
        0.0
    };
    s += &format!(
        "model: {} | {} calls, {} prompt tokens ({} evaluated, {} reused from the KV cache = {:.0}%), {} generated, {:.1}s in the model, {:.1}s total\n",
        report.model, t.calls, t.prompt_tokens, t.evaluated_tokens, t.reused_tokens, pct, t.generated_tokens, t.model_seconds, report.seconds
    );
    if !report.test_runs.is_empty() {
        s += &format!("sandbox test runs: {}\n", report.test_runs.len());
    }
    for c in &report.changes {
        s += &format!(
            "change in step {} by {}: {:?} ({})\n",
            c.step, c.by, c.side, c.reason
        );
    }
    if report.mock {
        s += &format!(
            "note: --mock: every reply came from the script `{}`, not from a model; the code is scripted and unrelated to this task unless the script was written for it\n",
            report.model.trim_start_matches("scripted:")
        );
    }
    s += &evidence_summary(report);
    s += &format!(
        "verdict: {} - {}\n",
        report.status.label(),
        report.final_tests
    );
    s
}

/// Requirements, questions and suspect assertions: why the verdict is what it is.
fn evidence_summary(report: &RunReport) -> String {
    let mut s = String::new();
    for r in &report.requirements {
        s += &format!("{} {:<13} {}\n", r.id, r.status, r.quote);
    }
    let e = &report.evidence;
    if !e.clusters.is_empty() {
        let votes: Vec<String> = e.clusters.iter().map(|c| c.votes.to_string()).collect();
        s += &format!(
            "candidates: {} on {} input(s); behaviours by votes: {}\n",
            report.candidates.len(),
            e.inputs.len(),
            votes.join(", ")
        );
    }
    for q in &e.questions {
        s += &format!(
            "question: `{}`: {} or {} -> {}\n",
            q.input,
            q.options[0],
            q.options[1],
            q.chosen
                .map(|i| q.options[i].clone())
                .unwrap_or_else(|| "unsettled".into())
        );
    }
    for a in &e.assertions {
        s += &format!("assertion {} ({}): {}\n", a.test, a.verdict, a.message);
    }
    s
}

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
    let changes: Vec<String> = report
        .changes
        .iter()
        .map(|c| {
            format!(
                "change in step {} by {}: {:?} ({})",
                c.step,
                c.by,
                c.side,
                first_line(&c.reason)
            )
        })
        .collect();
    for line in collapse_repeats(changes) {
        s += &line;
        s.push('\n');
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
        // A stated error case: the calls that checked it and their outcome.
        if r.raises.is_some() {
            for line in &r.evidence {
                s += &format!("    {line}\n");
            }
        }
    }
    let e = &report.evidence;
    if !e.clusters.is_empty() {
        let votes: Vec<String> = e.clusters.iter().map(|c| c.votes.to_string()).collect();
        let dropped = if e.dropped_inputs.is_empty() {
            String::new()
        } else {
            format!(" ({} dropped)", e.dropped_inputs.len())
        };
        s += &format!(
            "candidates: {} on {} input(s){dropped}; behaviours by votes: {}\n",
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
    let mut lines = vec![];
    let final_run = report.test_runs.iter().rev().find(|r| r.label == "final");
    let failing: Vec<&crate::testing::TestCase> = final_run
        .map(|r| {
            r.cases
                .iter()
                .filter(|c| {
                    matches!(
                        c.outcome,
                        crate::testing::CaseOutcome::Failed | crate::testing::CaseOutcome::Error
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let verdict_of = |test: &str| e.assertions.iter().find(|a| a.test == test);
    // Why the final tests fail: each failing assertion's first line, suspect ones said so.
    for c in &failing {
        let message = case_message(&c.message, &c.details);
        lines.push(match verdict_of(&c.id) {
            Some(a) if a.verdict == "suspect" => suspect_line(&c.id, &message),
            _ => format!("failing: {}: {message}", c.id),
        });
    }
    for a in &e.assertions {
        if failing.iter().any(|c| c.id == a.test) {
            continue;
        }
        let message = case_message(&a.message, "");
        lines.push(if a.verdict == "suspect" {
            suspect_line(&a.test, &message)
        } else {
            format!("assertion {} ({}): {message}", a.test, a.verdict)
        });
    }
    for line in collapse_repeats(lines) {
        s += &line;
        s.push('\n');
    }
    s
}

/// A written assertion the verdict flags as suspect.
fn suspect_line(test: &str, message: &str) -> String {
    format!(
        "suspect test: {test}: {message} (the agreed behaviour fails it and no stated example supports it: the test is likely wrong; not sent to the Debugger)"
    )
}

/// The first non-empty line of a failure message (else of its traceback), or a placeholder.
fn case_message(message: &str, details: &str) -> String {
    let line = first_line(message);
    let line = if line.is_empty() {
        details
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
    } else {
        line
    };
    if line.is_empty() {
        "(no message)".into()
    } else {
        line.to_string()
    }
}

/// The first non-empty line of `text`, trimmed.
fn first_line(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

/// Identical lines once, in first-seen order, with `(×N)` where one repeated.
fn collapse_repeats(lines: Vec<String>) -> Vec<String> {
    let mut out: Vec<(String, usize)> = vec![];
    for line in lines {
        match out.iter_mut().find(|(l, _)| *l == line) {
            Some((_, n)) => *n += 1,
            None => out.push((line, 1)),
        }
    }
    out.into_iter()
        .map(|(l, n)| if n > 1 { format!("{l} (×{n})") } else { l })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_collapse_in_first_seen_order() {
        let lines = ["a", "b", "a", "c", "a"].map(String::from).to_vec();
        assert_eq!(collapse_repeats(lines), ["a (×3)", "b", "c"]);
    }

    #[test]
    fn a_case_message_is_its_first_line_or_the_traceback_end() {
        assert_eq!(
            case_message("\nAssertionError: assert 6 == 4\n + where 6 = f(2)", ""),
            "AssertionError: assert 6 == 4"
        );
        assert_eq!(
            case_message("", "Traceback\n  x\nE   ZeroDivisionError\n"),
            "E   ZeroDivisionError"
        );
        assert_eq!(case_message("", ""), "(no message)");
    }
}

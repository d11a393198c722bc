//! The Coordinator: runs a plan step by step on one model, passing artifacts between the
//! specialists, against the task's requirements ([`super::requirements`]).
//!
//! The verdict comes from behaviour, not from the small model's expected values: several
//! candidates (the greedy answer, one written against the requirement checklist, sampled ones)
//! run on the same inputs in the sandbox ([`super::behaviour`]); the task's stated examples are
//! ground truth; among the behaviours consistent with them the one most candidates agree on
//! wins; where the leading behaviours differ the model is asked a small question about one
//! input. Written assertions are evidence weighted by that agreement: one the agreed behaviour
//! fails is reported as suspect, never sent to the Debugger. The Debugger gets only failures
//! the stated examples or the code itself (internal errors, hangs) support. Each stated error
//! case (`raise ValueError if ...`) gets calls that meet its condition, checked to raise the
//! type the task names. The status is `passed`, `failed` or `uncertain` ([`super::verdict`]:
//! `passed` needs enough usable inputs and every stated error case exercised), with the
//! evidence in the report.
//!
//! This file holds the types, the plan loop and the state; each stage is its own file:
//! [`candidates`] (generation and static checks), [`evidence`] (inputs, probing, dropping,
//! clustering, questions), [`steps`] (tests, Debugger, Reviewer) and [`report`] (judgement,
//! verdict facts, requirements, the report).

use std::time::Instant;

use serde::Serialize;

use super::behaviour::{self, Cluster, Input, Observation, Profile};
use super::decomposer::{self, Plan, PlanTrace};
use super::default_inputs;
use super::judge::{self, EXAMPLES_FILE};
use super::requirements::{self, Kind, Requirement};
use super::stated_value;
use super::static_check::{self, Wanted};
use super::verdict::{self, Facts};
use super::well_typed;
use crate::agents::code_generator::{self, CodeRequest};
use crate::agents::debugger::{self, DebugRequest, Side};
use crate::agents::hygiene::same_program;
use crate::agents::input_writer::{self, Question, StatedCase};
use crate::agents::reviewer::{self, Review, Verdict};
use crate::agents::{test_writer, AgentError, Crew};
use crate::models::manager::LoadRecord;
use crate::models::AgentRole;
use crate::report::{CallRecord, StepRecord, Totals};
use crate::testing::{CaseOutcome, TestRun, TestRunner};

mod candidates;
mod evidence;
mod report;
mod steps;

pub const SOLUTION_FILE: &str = "solution.py";
/// The source of an input written for a stated error case (checked to raise).
pub const ERROR_CASE: &str = "error-case";
/// The source of an input written for an edge case with a stated value (checked to return it).
pub const STATED_VALUE: &str = "stated-value";
/// The source of a call written for a requirement that states behaviour but no outcome to
/// check (it exercises the requirement; the candidates' agreement judges it).
pub const REQUIREMENT_CALL: &str = "requirement";

/// An input whose expected outcome the task states for a case (raise, or return a value).
pub fn is_stated_check(source: &str) -> bool {
    source == ERROR_CASE || source == STATED_VALUE
}
pub const TESTS_FILE: &str = "test_solution.py";

/// Add an agent reply's retries, problems and clean-ups to the step record.
fn absorb_reply(step: &mut StepRecord, reply: &crate::agents::PyReply) {
    step.retries += reply.retries;
    step.notes
        .extend(reply.problems.iter().map(|p| format!("retry: {p}")));
    step.notes.extend(
        reply
            .cleaned
            .iter()
            .map(|c| format!("removed top-level `{c}`")),
    );
}

pub use super::verdict::FinalStatus;

/// A change made to the code or tests after they were first written.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub step: usize,
    pub by: AgentRole,
    pub side: Side,
    /// What prompted it (the failures or review findings).
    pub reason: String,
}

/// One candidate solution and how it behaved.
#[derive(Debug, Clone, Serialize)]
pub struct CandidateRecord {
    /// `greedy`, `requirements`, `sample`, `debugger`, `review`, `resample`.
    pub origin: String,
    /// Later samples that produced the same program (each is a vote).
    pub duplicates: usize,
    /// Static-check findings that were fed back (and whether the re-ask fixed them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub static_findings: Vec<String>,
    /// Its behaviour per input (`None` until probed).
    pub behaviour: Option<Vec<Observation>>,
    /// Stated examples matched / stated.
    pub examples: (usize, usize),
    /// Written tests passed, and the index of that run in `test_runs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written: Option<(usize, usize)>,
    #[serde(skip)]
    pub code: String,
    #[serde(skip)]
    pub profile: Option<Profile>,
}

/// A written assertion that fails on the chosen solution.
#[derive(Debug, Clone, Serialize)]
pub struct AssertionVerdict {
    pub test: String,
    pub message: String,
    /// `suspect`: the agreed behaviour fails it and no stated example supports it;
    /// `evidence`: the candidates do not agree, so it counts as evidence against the code.
    pub verdict: String,
}

/// The behaviour evidence behind the status.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Evidence {
    pub inputs: Vec<Input>,
    /// Inputs left out of the comparison, each with the reason (every candidate crashed on
    /// it, or a candidate did not finish it).
    pub dropped_inputs: Vec<String>,
    pub clusters: Vec<Cluster>,
    pub questions: Vec<Question>,
    pub assertions: Vec<AssertionVerdict>,
    /// Why the status is what it is, in one sentence.
    pub reason: String,
}

/// Everything `report.json` records about a run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub task: String,
    pub model: String,
    pub mock: bool,
    pub plan: Plan,
    pub plan_trace: PlanTrace,
    pub requirements: Vec<Requirement>,
    pub steps: Vec<StepRecord>,
    pub test_runs: Vec<TestRun>,
    pub changes: Vec<Change>,
    pub candidates: Vec<CandidateRecord>,
    pub evidence: Evidence,
    pub reviews: Vec<Review>,
    pub status: FinalStatus,
    pub success: bool,
    pub final_tests: String,
    pub totals: Totals,
    pub loads: Vec<LoadRecord>,
    pub seconds: f64,
    pub calls: Vec<CallRecord>,
}

/// The artifacts and the report.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub code: Option<String>,
    pub tests: Option<String>,
    pub examples: Option<String>,
    pub report: RunReport,
}

pub struct Coordinator<'a, 'r> {
    crew: Crew<'a>,
    runner: Option<&'r dyn TestRunner>,
    task: String,
    examples: Option<String>,
    /// The task's stated examples (read once).
    stated: Vec<judge::Example>,
    requirements: Vec<Requirement>,
    checklist: String,
    wanted: Vec<Wanted>,
    /// The task's import lines, run before the inputs in the probe.
    imports: Vec<String>,
    inputs: Vec<Input>,
    /// The requirement each input exercises (same indices as `inputs`).
    input_reqs: Vec<Option<String>>,
    candidates: Vec<CandidateRecord>,
    /// Index of the chosen candidate.
    chosen: Option<usize>,
    /// The TestWriter's assertions.
    tests: Option<String>,
    /// The InputWriter has been asked (once a valid candidate exists).
    inputs_written: bool,
    evidence: Evidence,
    steps: Vec<StepRecord>,
    test_runs: Vec<TestRun>,
    changes: Vec<Change>,
    reviews: Vec<Review>,
    findings: Option<String>,
    single_generation_step: bool,
}

impl<'a, 'r> Coordinator<'a, 'r> {
    pub fn new(crew: Crew<'a>, runner: Option<&'r dyn TestRunner>, task: &str) -> Self {
        let stated = judge::extract_examples(task);
        let max = crew.config.limits.max_requirements;
        let requirements = requirements::extract(task, &stated, max);
        let checklist = requirements::checklist(&requirements);
        Self {
            examples: judge::examples_test_file(&stated),
            wanted: static_check::wanted(task, &stated),
            imports: behaviour::task_imports(task),
            inputs: behaviour::example_inputs(&stated),
            input_reqs: stated
                .iter()
                .map(|e| {
                    requirements
                        .iter()
                        .find(|r| r.kind == Kind::Example && r.quote.starts_with(&e.expr))
                        .map(|r| r.id.clone())
                })
                .collect(),
            stated,
            requirements,
            checklist,
            crew,
            runner,
            task: task.to_string(),
            candidates: vec![],
            chosen: None,
            tests: None,
            inputs_written: false,
            evidence: Evidence::default(),
            steps: vec![],
            test_runs: vec![],
            changes: vec![],
            reviews: vec![],
            findings: None,
            single_generation_step: true,
        }
    }

    /// Plan, then run every step; the result holds the chosen candidate.
    pub fn run(mut self) -> Result<RunOutcome, AgentError> {
        let start = Instant::now();
        let mark = self.crew.calls.len();
        let min = self.crew.config.limits.model_plan_min_functions;
        let (plan, trace) = if self.wanted.len() < min {
            // One function (or none named): the model's plan could only restate the
            // standard one, so no model call is spent on it.
            (
                decomposer::Plan::default_plan(),
                decomposer::PlanTrace {
                    source: format!(
                        "standard (the task names {} function(s); limits.model_plan_min_functions = {min})",
                        self.wanted.len()
                    ),
                    rejected: vec![],
                    added: vec![],
                },
            )
        } else {
            decomposer::decompose(&mut self.crew, &self.task)?
        };
        let mut step = StepRecord {
            index: 0,
            agent: Some(AgentRole::Coordinator),
            goal: "plan the work".into(),
            verdict: format!(
                "plan from {}; {} requirement(s)",
                trace.source,
                self.requirements.len()
            ),
            ..Default::default()
        };
        step.notes
            .extend(trace.rejected.iter().map(|e| format!("rejected plan: {e}")));
        step.notes.extend(
            trace
                .added
                .iter()
                .map(|r| format!("added {r}: tests are the judge")),
        );
        step.absorb(&self.crew.calls, mark);
        self.steps.push(step);

        self.single_generation_step = plan
            .subtasks
            .iter()
            .filter(|s| s.role == AgentRole::CodeGenerator)
            .count()
            == 1;
        let mut spent = false;
        for (i, sub) in plan.subtasks.iter().enumerate() {
            let mark = self.crew.calls.len();
            let mut step = StepRecord {
                index: i + 1,
                agent: Some(sub.role),
                goal: sub.goal.clone(),
                ..Default::default()
            };
            let result = match sub.role {
                AgentRole::CodeGenerator => self.generate(&sub.goal, &mut step),
                AgentRole::TestWriter => self.write_tests(&mut step),
                AgentRole::Debugger => self.debug(&mut step),
                AgentRole::Reviewer => self.review(&mut step),
                other => {
                    step.notes
                        .push(format!("{other} cannot run a plan step; skipped"));
                    Ok(())
                }
            };
            match result {
                Ok(()) => {}
                Err(AgentError::Budget(why)) => {
                    step.notes.push(format!(
                        "stopped: budget spent ({why}); the best state so far is the result"
                    ));
                    spent = true;
                }
                Err(e) => return Err(e),
            }
            step.absorb(&self.crew.calls, mark);
            self.steps.push(step);
            if spent {
                break;
            }
        }
        let mark = self.crew.calls.len();
        let mut step = StepRecord {
            index: self.steps.len(),
            agent: Some(AgentRole::Coordinator),
            goal: "judge the result".into(),
            ..Default::default()
        };
        if !spent {
            if let Err(e) = self.settle(&mut step) {
                match e {
                    AgentError::Budget(why) => step.notes.push(format!("stopped: {why}")),
                    e => return Err(e),
                }
            }
        }
        step.absorb(&self.crew.calls, mark);
        let outcome = self.finish(plan, trace, start, step);
        Ok(outcome)
    }
}

/// `s` cut to `max` characters on one line, `...` marking a cut.
fn cut_line(s: &str, max: usize) -> String {
    let one = s.replace('\n', " ");
    if one.chars().count() <= max {
        return one;
    }
    format!("{}...", one.chars().take(max).collect::<String>())
}

fn describe(o: &Observation) -> String {
    match o {
        Observation::Value(v) => format!("returns {v}"),
        other => other.to_string(),
    }
}

fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n[... cut]", &s[..end])
}

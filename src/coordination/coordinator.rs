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

use std::time::Instant;

use serde::Serialize;

use super::behaviour::{self, Cluster, Input, Observation, Profile};
use super::decomposer::{self, Plan, PlanTrace};
use super::default_inputs;
use super::judge::{self, EXAMPLES_FILE};
use super::requirements::{self, Kind, Requirement};
use super::static_check::{self, Wanted};
use super::verdict::{self, Facts};
use super::well_typed;
use crate::agents::code_generator::{self, CodeRequest};
use crate::agents::debugger::{self, DebugRequest, Side};
use crate::agents::hygiene::same_program;
use crate::agents::input_writer::{self, ErrorCase, Question};
use crate::agents::reviewer::{self, Review, Verdict};
use crate::agents::{test_writer, AgentError, Crew};
use crate::models::manager::LoadRecord;
use crate::models::AgentRole;
use crate::report::{CallRecord, StepRecord, Totals};
use crate::testing::{CaseOutcome, TestRun, TestRunner};

pub const SOLUTION_FILE: &str = "solution.py";
/// The source of an input written for a stated error case (checked to raise).
pub const ERROR_CASE: &str = "error-case";
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

    // ---- candidates -----------------------------------------------------------------

    /// Add a candidate (a duplicate of an existing program is a vote for it); returns its index.
    fn add_candidate(&mut self, code: &str, origin: &str, step: &mut StepRecord) -> usize {
        if let Some(i) = self
            .candidates
            .iter()
            .position(|c| same_program(&c.code, code))
        {
            self.candidates[i].duplicates += 1;
            step.notes.push(format!(
                "{origin} candidate duplicates candidate {}: one more vote",
                i + 1
            ));
            return i;
        }
        self.candidates.push(CandidateRecord {
            origin: origin.to_string(),
            duplicates: 0,
            static_findings: vec![],
            behaviour: None,
            examples: (0, 0),
            written: None,
            code: code.to_string(),
            profile: None,
        });
        self.candidates.len() - 1
    }

    /// Ask the CodeGenerator for one candidate; static-check it and re-ask once with the
    /// findings. `checklist` adds the requirements to the prompt; `k` > 0 samples.
    fn new_candidate(
        &mut self,
        goal: &str,
        with_checklist: bool,
        k: usize,
        origin: &str,
        step: &mut StepRecord,
    ) -> Result<Option<usize>, AgentError> {
        self.crew.candidate = k as u32;
        let checklist = if with_checklist {
            self.checklist.clone()
        } else {
            String::new()
        };
        let reply = code_generator::generate(
            &mut self.crew,
            &CodeRequest {
                task: &self.task,
                goal,
                code: None,
                feedback: None,
                checklist: &checklist,
            },
        );
        self.crew.candidate = 0;
        let reply = reply?;
        absorb_reply(step, &reply);
        let Some(mut code) = reply.valid_code().map(str::to_string) else {
            step.notes.push(format!(
                "{origin} candidate: no valid Python after {} retries",
                reply.retries
            ));
            return Ok(None);
        };
        let mut findings = static_check::check(&code, &self.wanted);
        let first_findings = findings.clone();
        for _ in 0..self.crew.config.limits.static_fix_rounds {
            if findings.is_empty() {
                break;
            }
            let feedback = findings
                .iter()
                .map(|f| format!("- {f}"))
                .collect::<Vec<_>>()
                .join("\n");
            step.notes.push(format!(
                "{origin} candidate: static check: {}",
                findings.join("; ")
            ));
            let fixed = code_generator::generate(
                &mut self.crew,
                &CodeRequest {
                    task: &self.task,
                    goal: "",
                    code: Some(&code),
                    feedback: Some(&feedback),
                    checklist: &checklist,
                },
            )?;
            absorb_reply(step, &fixed);
            match fixed.valid_code() {
                Some(c) => {
                    code = c.to_string();
                    findings = static_check::check(&code, &self.wanted);
                }
                None => break,
            }
        }
        let i = self.add_candidate(&code, origin, step);
        if self.candidates[i].static_findings.is_empty() {
            self.candidates[i].static_findings = first_findings;
        }
        Ok(Some(i))
    }

    fn generate(&mut self, goal: &str, step: &mut StepRecord) -> Result<(), AgentError> {
        let first = self.candidates.is_empty();
        if !first {
            return self.extend(goal, step);
        }
        // A plan with one code_generator step restates the task as its goal; the first
        // candidate is asked with the task alone (the same prompt as `eval --mode single`).
        let goal = if self.single_generation_step {
            ""
        } else {
            goal
        };
        self.new_candidate(goal, false, 0, "greedy", step)?;
        if self.runner.is_none() {
            step.verdict = format!("{} candidate(s)", self.candidates.len());
            self.chosen = (!self.candidates.is_empty()).then_some(0);
            return Ok(());
        }
        self.write_inputs(step)?;
        self.probe_all(step);
        // More candidates until they agree: the requirements prompt (greedy), then samples.
        let max = self.crew.config.limits.samples.max(2) as usize;
        let agree = self.crew.config.limits.agree_candidates.max(2) as usize;
        let mut asked = 1;
        while asked < max {
            if asked >= agree && self.agreed(agree) {
                step.notes.push(format!(
                    "stopped after {asked} candidates: they agree on every input"
                ));
                break;
            }
            // The requirements prompt differs from the first only with a checklist; without
            // one a greedy answer would repeat the first, so sample instead.
            let checklist = !self.checklist.is_empty();
            let origin = if asked == 1 && checklist {
                "requirements"
            } else {
                "sample"
            };
            let k = if asked == 1 && checklist {
                0
            } else {
                asked - 1 + usize::from(!checklist)
            };
            self.new_candidate(goal, true, k, origin, step)?;
            asked += 1;
            // The inputs are written against the first valid candidate's signatures.
            if !self.inputs_written {
                self.write_inputs(step)?;
            }
            self.probe_all(step);
        }
        self.select(step);
        step.verdict = format!(
            "{} candidate(s), {} behaviour(s), {} input(s)",
            self.candidates.len(),
            self.evidence.clusters.len(),
            self.inputs.len()
        );
        Ok(())
    }

    /// A later code_generator step extends the chosen solution; the result is one more
    /// candidate, judged by the same evidence.
    fn extend(&mut self, goal: &str, step: &mut StepRecord) -> Result<(), AgentError> {
        let Some(code) = self.chosen_code() else {
            step.verdict = "skipped: no solution".into();
            return Ok(());
        };
        let reply = code_generator::generate(
            &mut self.crew,
            &CodeRequest {
                task: &self.task,
                goal,
                code: Some(&code),
                feedback: None,
                checklist: &self.checklist.clone(),
            },
        )?;
        absorb_reply(step, &reply);
        match reply.valid_code().map(str::to_string) {
            Some(new) => {
                let i = self.add_candidate(&new, "extension", step);
                self.probe_all(step);
                if self.runner.is_none() {
                    self.chosen = Some(i);
                } else {
                    self.select(step);
                }
                step.verdict = "extended solution".into();
            }
            None => step.verdict = "kept previous solution".into(),
        }
        Ok(())
    }

    fn chosen_code(&self) -> Option<String> {
        self.chosen.map(|i| self.candidates[i].code.clone())
    }

    // ---- behaviour --------------------------------------------------------------------

    /// The InputWriter writes calls that exercise the requirements (no expected values).
    fn write_inputs(&mut self, step: &mut StepRecord) -> Result<(), AgentError> {
        let Some(code) = self.candidates.first().map(|c| c.code.clone()) else {
            return Ok(());
        };
        self.inputs_written = true;
        let max = self.crew.config.limits.max_inputs;
        let names: Vec<String> = self.wanted.iter().map(|w| w.name.clone()).collect();
        let defaults = default_inputs::inputs(&code, &names, &self.stated, max);
        let example: Vec<String> = defaults.iter().take(2).cloned().collect();
        let (mut written, problems) = input_writer::write(
            &mut self.crew,
            &self.task,
            &self.checklist,
            &code,
            &example,
            max,
        )?;
        step.notes
            .extend(problems.iter().map(|p| format!("inputs: {p}")));
        // Too few calls written (a small model often writes code instead): edge values for
        // each parameter fill up to the limit.
        if written.len() < max / 2 {
            step.notes.push(format!(
                "the InputWriter gave {} call(s); added edge values for each parameter",
                written.len()
            ));
            for d in defaults {
                if written.len() >= max {
                    break;
                }
                if !written.iter().any(|w| w.code == d) {
                    written.push(input_writer::WrittenInput {
                        code: d,
                        requirement: None,
                    });
                }
            }
        }
        for w in written {
            if self.inputs.iter().any(|i| i.code == w.code) {
                continue;
            }
            self.inputs.push(Input {
                code: w.code,
                expected: None,
                source: "written".into(),
            });
            self.input_reqs.push(w.requirement);
        }
        let first = example.first().cloned().unwrap_or_else(|| "f(-1)".into());
        self.write_error_calls(&code, &first, step)?;
        step.notes.push(format!(
            "{} input(s): {} stated example(s), {} stated error-case call(s), {} written",
            self.inputs.len(),
            self.inputs.iter().filter(|i| i.source == "example").count(),
            self.inputs
                .iter()
                .filter(|i| i.source == ERROR_CASE)
                .count(),
            self.inputs.iter().filter(|i| !i.is_example()).count()
        ));
        Ok(())
    }

    /// Calls that meet each stated error case's condition (the model writes the call), each
    /// checked to raise the exception type the task names: an input with expected value
    /// `!ValueError`, ground truth like a stated example. A call that does not call a function
    /// the first candidate defines, with an argument count it takes, is left out (it would
    /// fail for its own fault).
    fn write_error_calls(
        &mut self,
        code: &str,
        example: &str,
        step: &mut StepRecord,
    ) -> Result<(), AgentError> {
        let cases: Vec<ErrorCase> = self
            .requirements
            .iter()
            .filter(|r| r.kind == Kind::Error)
            .filter_map(|r| {
                r.raises.as_ref().map(|e| ErrorCase {
                    id: r.id.clone(),
                    quote: r.quote.clone(),
                    raises: e.clone(),
                })
            })
            .collect();
        if cases.is_empty() {
            return Ok(());
        }
        let per = self.crew.config.limits.error_inputs_per_requirement;
        let (calls, problems) = input_writer::write_error_calls(
            &mut self.crew,
            &self.task,
            &cases,
            code,
            example,
            per,
        )?;
        step.notes.extend(problems);
        for w in calls {
            let Some(case) = cases
                .iter()
                .find(|c| Some(c.id.as_str()) == w.requirement.as_deref())
            else {
                continue;
            };
            if !callable_with(code, &w.code) {
                step.notes.push(format!(
                    "error case {}: `{}` does not call a function solution.py defines with arguments it takes; left out",
                    case.id, w.code
                ));
                continue;
            }
            let check = Input {
                code: w.code.clone(),
                expected: Some(format!("!{}", case.raises)),
                source: ERROR_CASE.into(),
            };
            // The InputWriter may have written the same call: it becomes the check.
            match self.inputs.iter().position(|i| i.code == w.code) {
                Some(k) if self.inputs[k].is_example() => continue,
                Some(k) => {
                    self.inputs[k] = check;
                    self.input_reqs[k] = Some(case.id.clone());
                }
                None => {
                    self.inputs.push(check);
                    self.input_reqs.push(Some(case.id.clone()));
                }
            }
        }
        Ok(())
    }

    /// Run every candidate not yet probed on every input.
    fn probe_all(&mut self, step: &mut StepRecord) {
        let Some(runner) = self.runner else {
            return;
        };
        if self.inputs.is_empty() {
            return;
        }
        for i in 0..self.candidates.len() {
            if self.candidates[i].profile.is_some() {
                continue;
            }
            match behaviour::probe_with(
                runner,
                &self.candidates[i].code,
                &self.inputs,
                &self.imports,
            ) {
                Ok(p) => {
                    self.candidates[i].examples = p.examples();
                    self.candidates[i].behaviour = Some(p.observations.clone());
                    self.candidates[i].profile = Some(p);
                }
                Err(e) => step
                    .notes
                    .push(format!("candidate {}: probe failed: {e}", i + 1)),
            }
        }
    }

    /// Inputs every probed candidate crashed on with an internal error are bad inputs, unless
    /// the task itself states their arguments (then the crash is a shared bug: every candidate
    /// failing with `TypeError` on the task's own `arr = [2, 1, 1, 4, 5, 8, 2, 3]` must not be
    /// left out, or one trivial input would make the verdict); a written input that some
    /// candidate does not finish is too slow to compare on (or a case the task does not state:
    /// `factorize(0)` looping forever). Either is left out of the comparison and named in the
    /// report; stated examples always count.
    fn drop_reason(&self, i: usize) -> Option<&'static str> {
        if self.inputs[i].is_example() {
            return None;
        }
        let profiles: Vec<&Profile> = self
            .candidates
            .iter()
            .filter_map(|c| c.profile.as_ref())
            .collect();
        if profiles.is_empty() {
            return None;
        }
        if profiles.iter().all(|p| match &p.observations[i] {
            Observation::Raised(e) => behaviour::is_internal_error(e),
            _ => false,
        }) && !behaviour::stated_in(&self.task, &self.inputs[i].code)
            && !self.shared_bug(&profiles, i)
        {
            return Some("every candidate crashes on it");
        }
        if profiles
            .iter()
            .any(|p| p.observations[i] == Observation::Hung)
        {
            return Some("a candidate does not finish it in time: not compared (too slow to judge, or a case the task does not state)");
        }
        None
    }

    /// Every candidate raises the same internal error on input `i`, and the input is
    /// well-typed for the asked signature ([`well_typed::shared_bug`]): the crash is a bug
    /// they share.
    fn shared_bug(&self, profiles: &[&Profile], i: usize) -> bool {
        let first = &profiles[0].observations[i];
        if !profiles.iter().all(|p| p.observations[i] == *first) {
            return false;
        }
        let Observation::Raised(error) = first else {
            return false;
        };
        let asked: Vec<String> = self.wanted.iter().map(|w| w.name.clone()).collect();
        let code = self
            .candidates
            .first()
            .map(|c| c.code.as_str())
            .unwrap_or("");
        well_typed::shared_bug(
            &self.inputs[i].code,
            error,
            &asked,
            &self.task,
            code,
            &self.stated,
        )
    }

    /// Inputs that ran on every candidate and count (stated examples and error cases always).
    fn usable_count(&self) -> usize {
        self.usable_inputs().iter().filter(|u| **u).count()
    }

    fn usable_inputs(&self) -> Vec<bool> {
        (0..self.inputs.len())
            .map(|i| self.drop_reason(i).is_none())
            .collect()
    }

    /// Profiles restricted to usable inputs.
    fn masked(&self, p: &Profile, usable: &[bool]) -> Profile {
        let keep = |i: &usize| usable[*i];
        let idx: Vec<usize> = (0..p.observations.len()).filter(keep).collect();
        Profile {
            observations: idx.iter().map(|&i| p.observations[i].clone()).collect(),
            matches: idx.iter().map(|&i| p.matches[i]).collect(),
            messages: idx.iter().map(|&i| p.messages[i].clone()).collect(),
        }
    }

    /// Cluster the probed candidates, apply answered questions and written-test evidence, rank.
    fn clusters(&self) -> Vec<Cluster> {
        let usable = self.usable_inputs();
        let masked: Vec<(usize, Profile, usize)> = self
            .candidates
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                c.profile
                    .as_ref()
                    .map(|p| (i, self.masked(p, &usable), 1 + c.duplicates))
            })
            .collect();
        let refs: Vec<(usize, &Profile, usize)> =
            masked.iter().map(|(i, p, v)| (*i, p, *v)).collect();
        let mut clusters = behaviour::cluster(&refs);
        for c in &mut clusters {
            c.written_passed = c
                .members
                .iter()
                .filter_map(|&m| self.candidates[m].written.map(|w| w.0))
                .max()
                .unwrap_or(0);
            let p = self.candidates[c.members[0]]
                .profile
                .as_ref()
                .expect("probed");
            for q in &self.evidence.questions {
                let Some(chosen) = q.chosen else { continue };
                let Some(i) = self.inputs.iter().position(|x| x.code == q.input) else {
                    continue;
                };
                let obs = p.observations[i].to_string();
                if obs == q.options[chosen] {
                    c.answers += 1;
                } else if obs == q.options[1 - chosen] {
                    c.answers -= 1;
                }
            }
        }
        behaviour::rank(&mut clusters);
        clusters
    }

    /// Every probed candidate behaves the same on at least one usable input, at least `votes`
    /// of them, and the stated examples hold.
    fn agreed(&self, votes: usize) -> bool {
        // Agreement on no input is no agreement: more candidates may make inputs usable.
        if self.usable_count() == 0 {
            return false;
        }
        let c = self.clusters();
        c.len() == 1 && c[0].consistent && c[0].votes >= votes
    }

    fn select(&mut self, step: &mut StepRecord) {
        let clusters = self.clusters();
        if let Some(lead) = clusters.first() {
            let best = *lead.members.iter().min().expect("non-empty cluster");
            if self.chosen != Some(best) {
                step.notes.push(format!(
                    "chose candidate {} ({} vote(s) of {}; stated examples {}/{})",
                    best + 1,
                    lead.votes,
                    clusters.iter().map(|c| c.votes).sum::<usize>(),
                    self.candidates[best].examples.0,
                    self.candidates[best].examples.1
                ));
            }
            self.chosen = Some(best);
        } else if self.chosen.is_none() && !self.candidates.is_empty() {
            self.chosen = Some(0);
        }
        self.evidence.clusters = clusters;
    }

    /// Whether the evidence settles the leading cluster: it is consistent with the stated
    /// examples, and either it is the only consistent behaviour (with two votes, or stated
    /// examples that ruled the others out), or it has more votes than the runner-up, or
    /// answered questions favour it.
    fn settled(&self, clusters: &[Cluster]) -> bool {
        let Some(lead) = clusters.first() else {
            return false;
        };
        if !lead.consistent {
            return false;
        }
        let runner_up = clusters.iter().skip(1).find(|c| c.consistent);
        let stated = self.inputs.iter().any(Input::is_example);
        match runner_up {
            None => lead.votes >= 2 || (stated && clusters.len() > 1),
            Some(r) => lead.answers > r.answers || (lead.votes >= 2 && lead.votes > r.votes),
        }
    }

    /// Ask about inputs where the two leading consistent behaviours differ, until settled.
    fn ask_questions(&mut self, step: &mut StepRecord) -> Result<(), AgentError> {
        let max = self.crew.config.limits.questions;
        let mut asked = 0;
        while asked < max {
            let clusters = self.clusters();
            if self.settled(&clusters) {
                break;
            }
            let consistent: Vec<&Cluster> = clusters.iter().filter(|c| c.consistent).collect();
            if consistent.len() < 2 {
                break;
            }
            let a = self.candidates[consistent[0].members[0]]
                .profile
                .clone()
                .expect("probed");
            let b = self.candidates[consistent[1].members[0]]
                .profile
                .clone()
                .expect("probed");
            let open = behaviour::disagreements(&self.inputs, &a, &b)
                .into_iter()
                .find(|d| {
                    !self
                        .evidence
                        .questions
                        .iter()
                        .any(|q| q.input == self.inputs[d.input].code)
                });
            let Some(d) = open else { break };
            let q = input_writer::ask(
                &mut self.crew,
                &self.task,
                &self.inputs[d.input].code,
                [d.leader.to_string(), d.other.to_string()],
            )?;
            step.notes.push(format!(
                "asked about `{}`: {} or {} -> {}",
                q.input,
                q.options[0],
                q.options[1],
                match q.chosen {
                    Some(i) => format!("`{}` (both orders)", q.options[i]),
                    None => format!("unsettled (answers {:?})", q.answers),
                }
            ));
            self.evidence.questions.push(q);
            asked += 1;
        }
        self.select(step);
        Ok(())
    }

    // ---- tests, debugging, review -----------------------------------------------------

    fn files(&self, code: &str, tests: Option<&str>) -> (Vec<(String, String)>, Vec<String>) {
        let mut files = vec![(SOLUTION_FILE.to_string(), code.to_string())];
        let mut test_files = vec![];
        if let Some(t) = tests {
            files.push((TESTS_FILE.to_string(), t.to_string()));
            test_files.push(TESTS_FILE.to_string());
        }
        if let Some(e) = &self.examples {
            files.push((EXAMPLES_FILE.to_string(), e.clone()));
            test_files.push(EXAMPLES_FILE.to_string());
        }
        (files, test_files)
    }

    /// Run the tests on `code`/`tests`; `None` without a runner or without any test file.
    fn run_tests(&mut self, code: &str, tests: Option<&str>, label: &str) -> Option<TestRun> {
        let runner = self.runner?;
        let (files, test_files) = self.files(code, tests);
        if test_files.is_empty() {
            return None;
        }
        let mut run = match runner.run_tests(&files, &test_files) {
            Ok(r) => r,
            Err(e) => TestRun {
                status: format!("runner error: {e}"),
                output_tail: e,
                ..Default::default()
            },
        };
        run.label = label.to_string();
        tracing::info!(label, summary = %run.summary(), "tests");
        self.test_runs.push(run.clone());
        Some(run)
    }

    fn write_tests(&mut self, step: &mut StepRecord) -> Result<(), AgentError> {
        let Some(code) = self.chosen_code() else {
            step.verdict = "skipped: no solution to test".into();
            return Ok(());
        };
        // When the stated examples and agreeing candidates already settle the behaviour,
        // written assertions could only be suspect: the tests pin the agreed behaviour instead.
        if self.runner.is_some() && self.settled(&self.clusters()) {
            let usable = self.usable_inputs();
            let chosen = self.chosen.expect("has code");
            if let Some(p) = self.candidates[chosen].profile.as_ref() {
                if let Some(t) = behaviour::pinned_tests(&self.inputs, p, &usable) {
                    step.verdict = format!(
                        "{} test(s) pinned from the agreed behaviour (no model call needed)",
                        t.matches("\ndef test_").count()
                    );
                    self.tests = Some(t);
                    return Ok(());
                }
            }
        }
        let reply = test_writer::write(&mut self.crew, &self.task, &code)?;
        absorb_reply(step, &reply);
        match reply.valid_code() {
            Some(t) => {
                self.tests = Some(t.to_string());
                step.verdict = format!(
                    "{} test(s); evidence weighted by agreement",
                    crate::syntax::defined_names(t)
                        .iter()
                        .filter(|n| n.starts_with("test"))
                        .count()
                );
            }
            None => step.verdict = "no valid tests; the task's examples remain the judge".into(),
        }
        Ok(())
    }

    /// What the evidence supports as bugs in the chosen candidate: stated examples it fails,
    /// and internal errors or hangs on usable inputs that some other candidate handles.
    fn supported_failures(&self) -> Vec<String> {
        let Some(i) = self.chosen else {
            return vec![];
        };
        let Some(p) = self.candidates[i].profile.as_ref() else {
            return vec![];
        };
        let usable = self.usable_inputs();
        let stated_errors: Vec<&str> = self
            .requirements
            .iter()
            .filter_map(|r| r.raises.as_deref())
            .collect();
        let mut out = vec![];
        for (k, input) in self.inputs.iter().enumerate() {
            let obs = &p.observations[k];
            let msg = &p.messages[k];
            if input.source == ERROR_CASE && p.matches[k] != Some(true) {
                let req = self.input_reqs[k].as_deref().unwrap_or("?");
                let quote = self
                    .requirements
                    .iter()
                    .find(|r| r.id == req)
                    .map(|r| cut_line(&r.quote, 120))
                    .unwrap_or_default();
                out.push(format!(
                    "`{}` must raise {} (stated in the task, {req}: \"{quote}\"), but it {}{}",
                    input.code,
                    input
                        .expected
                        .as_deref()
                        .unwrap_or("?")
                        .trim_start_matches('!'),
                    describe(obs),
                    if msg.is_empty() {
                        String::new()
                    } else {
                        format!(": {msg}")
                    }
                ));
            } else if input.is_example() && p.matches[k] != Some(true) {
                out.push(format!(
                    "`{}` must be {} (stated in the task), but it {}{}",
                    input.code,
                    input.expected.as_deref().unwrap_or("?"),
                    describe(obs),
                    if msg.is_empty() {
                        String::new()
                    } else {
                        format!(": {msg}")
                    }
                ));
            } else if usable[k] && p.crashes().contains(&k) {
                if let Observation::Raised(e) = obs {
                    if stated_errors.contains(&e.as_str()) {
                        continue;
                    }
                }
                out.push(format!(
                    "`{}` {}{}",
                    input.code,
                    describe(obs),
                    if msg.is_empty() {
                        String::new()
                    } else {
                        format!(": {msg}")
                    }
                ));
            }
        }
        out
    }

    fn debug(&mut self, step: &mut StepRecord) -> Result<(), AgentError> {
        let Some(code) = self.chosen_code() else {
            step.verdict = "skipped: no solution".into();
            return Ok(());
        };
        if self.runner.is_none() {
            // Without a sandbox the Debugger works from review findings.
            let Some(findings) = self.findings.clone() else {
                step.verdict = "skipped: no test runner and no review findings".into();
                return Ok(());
            };
            let d = debugger::revise(
                &mut self.crew,
                &DebugRequest {
                    task: &self.task,
                    code: &code,
                    tests: self.tests.as_deref().unwrap_or(""),
                    failures: &findings,
                    side: Side::Code,
                    examples_pass: false,
                },
            )?;
            absorb_reply(step, &d);
            if let Some(new) = d.valid_code() {
                let i = self.add_candidate(new, "debugger", step);
                self.chosen = Some(i);
                self.changes.push(Change {
                    step: step.index,
                    by: AgentRole::Debugger,
                    side: Side::Code,
                    reason: "review findings".into(),
                });
                step.verdict = "fixed code from review findings".into();
            }
            return Ok(());
        }
        let rounds = self.crew.config.limits.debug_rounds;
        let mut fixes = 0;
        loop {
            let failures = self.supported_failures();
            if failures.is_empty() {
                step.verdict = if fixes == 0 {
                    "nothing the evidence supports to fix".into()
                } else {
                    format!("supported failures fixed after {fixes} fix(es)")
                };
                return Ok(());
            }
            if fixes == rounds {
                step.verdict = format!(
                    "{} supported failure(s) after {fixes} fix(es)",
                    failures.len()
                );
                return self.resample(step);
            }
            let code = self.chosen_code().expect("checked");
            let report = format!(
                "These behaviours are wrong (the task's stated examples, or crashes):\n{}",
                failures
                    .iter()
                    .map(|f| format!("- {f}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            let report = cut(&report, self.crew.config.limits.failure_report_chars);
            self.crew.candidate = fixes;
            let reply = debugger::revise(
                &mut self.crew,
                &DebugRequest {
                    task: &self.task,
                    code: &code,
                    tests: self.examples.as_deref().unwrap_or(""),
                    failures: &report,
                    side: Side::Code,
                    examples_pass: false,
                },
            );
            self.crew.candidate = 0;
            let reply = reply?;
            fixes += 1;
            absorb_reply(step, &reply);
            let Some(new) = reply.valid_code().map(str::to_string) else {
                step.notes.push(format!("fix {fixes}: no valid Python"));
                continue;
            };
            if same_program(&new, &code) {
                step.notes
                    .push(format!("fix {fixes}: the code came back unchanged"));
                continue;
            }
            let before = self.chosen;
            let i = self.add_candidate(&new, "debugger", step);
            self.probe_all(step);
            self.changes.push(Change {
                step: step.index,
                by: AgentRole::Debugger,
                side: Side::Code,
                reason: failures[0].clone(),
            });
            self.select(step);
            step.notes.push(format!(
                "fix {fixes}: candidate {}{}",
                i + 1,
                if self.chosen == before {
                    " did not beat the chosen one"
                } else {
                    " is now chosen"
                }
            ));
            if self.chosen == before {
                // Try the fix itself next round only if it is at least as good on examples.
                let (ok_new, _) = self.candidates[i].examples;
                let (ok_old, _) = before
                    .map(|b| self.candidates[b].examples)
                    .unwrap_or((0, 0));
                if ok_new > ok_old {
                    self.chosen = Some(i);
                }
            }
        }
    }

    /// Fresh sampled candidates (with the checklist) when debugging left supported failures.
    fn resample(&mut self, step: &mut StepRecord) -> Result<(), AgentError> {
        let base = self.crew.config.limits.samples.max(2) as usize;
        for k in 1..=self.crew.config.limits.resample as usize {
            self.new_candidate("", true, base + k - 1, "resample", step)?;
            self.probe_all(step);
            self.select(step);
            if self.supported_failures().is_empty() {
                step.notes
                    .push(format!("resample {k}: the supported failures are gone"));
                break;
            }
        }
        Ok(())
    }

    fn review(&mut self, step: &mut StepRecord) -> Result<(), AgentError> {
        let Some(code) = self.chosen_code() else {
            step.verdict = "skipped: no solution".into();
            return Ok(());
        };
        let summary = self.behaviour_summary();
        let mut review = reviewer::review(&mut self.crew, &self.task, &code, &summary)?;
        if !review.parsed {
            step.notes
                .push("review had no VERDICT line; counted as approve".into());
        }
        let mut rounds = 0;
        // Settled behaviour outranks any single revision (one vote against agreement, or a
        // tie the earlier candidate wins), so asking for one would only spend a model call.
        if review.verdict == Verdict::RequestChanges
            && self.runner.is_some()
            && self.settled(&self.clusters())
        {
            step.notes.push(
                "change request not sent back: the stated examples and agreeing candidates settle the behaviour, and a revision could not outrank it".into(),
            );
            rounds = self.crew.config.limits.review_rounds;
        }
        // A change request without reasons gives the CodeGenerator nothing to act on.
        while review.verdict == Verdict::RequestChanges
            && !review.reasons.is_empty()
            && rounds < self.crew.config.limits.review_rounds
        {
            rounds += 1;
            let findings = review
                .reasons
                .iter()
                .map(|r| format!("- {r}"))
                .collect::<Vec<_>>()
                .join("\n");
            self.findings = Some(findings.clone());
            self.reviews.push(review.clone());
            let before = self.chosen_code().expect("checked");
            let reply = code_generator::generate(
                &mut self.crew,
                &CodeRequest {
                    task: &self.task,
                    goal: "",
                    code: Some(&before),
                    feedback: Some(&findings),
                    checklist: &self.checklist.clone(),
                },
            )?;
            absorb_reply(step, &reply);
            let Some(new) = reply.valid_code().map(str::to_string) else {
                step.notes
                    .push("revision after review: no valid Python; kept the previous code".into());
                break;
            };
            if new == before {
                step.notes.push("revision after review: unchanged".into());
                break;
            }
            let i = self.add_candidate(&new, "review", step);
            if self.runner.is_none() {
                self.chosen = Some(i);
            } else {
                self.probe_all(step);
                let prev = self.chosen;
                self.select(step);
                if self.chosen != Some(i) {
                    step.notes.push(format!(
                        "revision after review (candidate {}) did not beat the chosen behaviour; kept",
                        i + 1
                    ));
                    self.chosen = prev;
                    break;
                }
            }
            self.changes.push(Change {
                step: step.index,
                by: AgentRole::CodeGenerator,
                side: Side::Code,
                reason: "review findings".into(),
            });
            let code = self.chosen_code().expect("chosen");
            let summary = self.behaviour_summary();
            review = reviewer::review(&mut self.crew, &self.task, &code, &summary)?;
        }
        step.verdict = match review.verdict {
            Verdict::Approve => "approve".into(),
            Verdict::RequestChanges => "request-changes".into(),
        };
        if review.verdict == Verdict::RequestChanges {
            self.findings = Some(
                review
                    .reasons
                    .iter()
                    .map(|r| format!("- {r}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
        self.reviews.push(review);
        Ok(())
    }

    /// One line for the reviewer: examples and agreement so far.
    fn behaviour_summary(&self) -> String {
        let Some(i) = self.chosen else {
            return "not run".into();
        };
        let c = &self.candidates[i];
        if c.profile.is_none() {
            return "not run".into();
        }
        format!(
            "stated examples {}/{} hold; {} of {} candidate(s) behave the same",
            c.examples.0,
            c.examples.1,
            self.evidence.clusters.first().map(|c| c.votes).unwrap_or(0),
            self.evidence
                .clusters
                .iter()
                .map(|c| c.votes)
                .sum::<usize>()
        )
    }

    // ---- the verdict ------------------------------------------------------------------

    /// Questions where the evidence is split, then the written assertions weighed.
    fn settle(&mut self, step: &mut StepRecord) -> Result<(), AgentError> {
        if self.runner.is_none() || self.candidates.is_empty() {
            return Ok(());
        }
        self.probe_all(step);
        self.select(step);
        self.weigh_written_tests(step);
        self.ask_questions(step)?;
        self.judge_assertions();
        step.verdict = format!(
            "{} question(s), {} suspect assertion(s)",
            self.evidence.questions.len(),
            self.evidence
                .assertions
                .iter()
                .filter(|a| a.verdict == "suspect")
                .count()
        );
        Ok(())
    }

    /// Run the written tests on each cluster's first member: passes are weak evidence for a
    /// cluster (they break ties below agreement and answered questions).
    fn weigh_written_tests(&mut self, step: &mut StepRecord) {
        let Some(tests) = self.tests.clone() else {
            return;
        };
        let reps: Vec<usize> = self
            .evidence
            .clusters
            .iter()
            .take(self.crew.config.limits.clusters_tested)
            .map(|c| c.members[0])
            .collect();
        for r in reps {
            self.run_written(r, &tests);
        }
        let before = self.chosen;
        self.select(step);
        if before != self.chosen {
            step.notes.push(format!(
                "written tests broke a tie: candidate {} chosen",
                self.chosen.map(|c| c + 1).unwrap_or(0)
            ));
        }
    }

    /// Run the written tests on candidate `i` once; remember the run and its passes.
    fn run_written(&mut self, i: usize, tests: &str) {
        if self.candidates[i].written.is_some() {
            return;
        }
        let code = self.candidates[i].code.clone();
        if let Some(run) = self.run_tests(&code, Some(tests), &format!("candidate {}", i + 1)) {
            let n = run
                .cases
                .iter()
                .filter(|c| !c.id.contains(EXAMPLES_FILE) && c.outcome == CaseOutcome::Passed)
                .count();
            self.candidates[i].written = Some((n, self.test_runs.len() - 1));
        }
    }

    /// The written assertions the chosen candidate fails: suspect when the behaviour is
    /// settled on at least `limits.min_usable_inputs` inputs (the agreed behaviour contradicts
    /// them), evidence against it otherwise.
    fn judge_assertions(&mut self) {
        let (Some(i), Some(tests)) = (self.chosen, self.tests.clone()) else {
            return;
        };
        self.run_written(i, &tests);
        let Some((_, run)) = self.candidates[i].written else {
            return;
        };
        // Agreement on fewer than the minimum inputs is too thin to overrule an assertion.
        let settled = self.settled(&self.evidence.clusters)
            && self.usable_count() >= self.crew.config.limits.min_usable_inputs;
        self.evidence.assertions = self.test_runs[run]
            .cases
            .iter()
            .filter(|c| {
                !c.id.contains(EXAMPLES_FILE)
                    && !matches!(c.outcome, CaseOutcome::Passed | CaseOutcome::Skipped)
            })
            .map(|c| AssertionVerdict {
                test: c.id.clone(),
                message: c.message.chars().take(300).collect(),
                verdict: if settled { "suspect" } else { "evidence" }.into(),
            })
            .collect();
    }

    fn finish(
        mut self,
        plan: Plan,
        plan_trace: PlanTrace,
        start: Instant,
        judge_step: StepRecord,
    ) -> RunOutcome {
        if self.runner.is_some() && !self.candidates.is_empty() {
            self.steps.push(judge_step);
        }
        let code = self.chosen_code();
        let final_run = code
            .clone()
            .and_then(|c| self.run_tests(&c, self.tests.clone().as_deref(), "final"));
        let (status, reason) = self.verdict(code.is_some(), final_run.as_ref());
        self.evidence.reason = reason.clone();
        self.evidence.dropped_inputs = (0..self.inputs.len())
            .filter_map(|i| {
                self.drop_reason(i)
                    .map(|why| format!("{}: {why}", self.inputs[i].code))
            })
            .collect();
        self.evidence.inputs = self.inputs.clone();
        self.fill_requirements();
        let final_tests = match &final_run {
            Some(r) => format!("{reason} (tests: {})", r.summary()),
            None => reason,
        };
        let calls = std::mem::take(&mut self.crew.calls);
        let model = calls
            .first()
            .map(|c| c.model.clone())
            .unwrap_or_else(|| self.crew.models.model_arg(AgentRole::CodeGenerator));
        let report = RunReport {
            task: self.task.clone(),
            model,
            mock: self.crew.models.is_mock(),
            plan,
            plan_trace,
            requirements: self.requirements,
            steps: self.steps,
            test_runs: self.test_runs,
            changes: self.changes,
            candidates: self.candidates,
            evidence: self.evidence,
            reviews: self.reviews,
            status,
            success: status == FinalStatus::Passed,
            final_tests,
            totals: Totals::of(&calls),
            loads: self.crew.models.loads.clone(),
            seconds: start.elapsed().as_secs_f64(),
            calls,
        };
        RunOutcome {
            code,
            tests: self.tests,
            examples: self.examples,
            report,
        }
    }

    /// The calibrated status and its reason: the observations gathered into [`Facts`], the
    /// rule in [`verdict::decide`].
    fn verdict(&self, has_code: bool, final_run: Option<&TestRun>) -> (FinalStatus, String) {
        let clusters = &self.evidence.clusters;
        let chosen = self
            .chosen
            .and_then(|i| self.candidates[i].profile.as_ref());
        let count = |source: &str| -> (usize, usize) {
            let Some(p) = chosen else {
                return (0, 0);
            };
            let idx: Vec<usize> = (0..self.inputs.len())
                .filter(|&k| self.inputs[k].source == source)
                .collect();
            (
                idx.iter().filter(|&&k| p.matches[k] == Some(true)).count(),
                idx.len(),
            )
        };
        let assertions = |v: &str| {
            self.evidence
                .assertions
                .iter()
                .filter(|a| a.verdict == v)
                .count()
        };
        let facts = Facts {
            has_code,
            sandbox: self.runner.is_some(),
            inputs: self.inputs.len(),
            chosen_ran: chosen.is_some(),
            final_tests: final_run.map(|r| (r.all_passed() && !r.cases.is_empty(), r.summary())),
            failures: self.supported_failures(),
            usable: self.usable_count(),
            min_usable: self.crew.config.limits.min_usable_inputs,
            settled: self.settled(clusters),
            lead_votes: clusters.first().map(|c| c.votes).unwrap_or(0),
            total_votes: clusters.iter().map(|c| c.votes).sum(),
            behaviours: clusters.len(),
            examples: count("example"),
            error_checks: count(ERROR_CASE),
            question_settled: self.evidence.questions.iter().any(|q| q.chosen.is_some()),
            suspect: assertions("suspect"),
            evidence_against: assertions("evidence"),
            unexercised: self.unexercised(),
        };
        verdict::decide(&facts)
    }

    /// The stated error cases (an `error` requirement naming its exception) that no usable
    /// input exercised: no error-case call was written for it, and no written call made the
    /// chosen candidate raise the named exception. Each with why.
    fn unexercised(&self) -> Vec<String> {
        let usable = self.usable_inputs();
        let chosen = self
            .chosen
            .and_then(|i| self.candidates[i].profile.as_ref());
        self.requirements
            .iter()
            .filter(|r| r.kind == Kind::Error)
            .filter_map(|r| {
                let raises = r.raises.as_ref()?;
                let exercised = (0..self.inputs.len()).any(|k| {
                    usable[k]
                        && self.input_reqs[k].as_deref() == Some(r.id.as_str())
                        && (self.inputs[k].source == ERROR_CASE
                            || chosen.is_some_and(|p| {
                                p.observations[k] == Observation::Raised(raises.clone())
                            }))
                });
                (!exercised).then(|| {
                    format!(
                        "{} (\"{}\": raise {raises}; no call that meets its condition was written)",
                        r.id,
                        cut_line(&r.quote, 80)
                    )
                })
            })
            .collect()
    }

    /// Which requirements hold, from the chosen candidate's behaviour on the inputs that
    /// exercise them; each requirement lists those inputs and their outcome (a stated error
    /// case's call `holds` when it raised the stated type, `fails` otherwise; a dropped input
    /// says why), and an unexercised stated error case says why it was not exercised.
    fn fill_requirements(&mut self) {
        let drops: Vec<Option<&'static str>> = (0..self.inputs.len())
            .map(|i| self.drop_reason(i))
            .collect();
        let unexercised = self.unexercised();
        let Some(p) = self.chosen.and_then(|i| self.candidates[i].profile.clone()) else {
            return;
        };
        for r in &mut self.requirements {
            if let Some(u) = unexercised
                .iter()
                .find(|u| u.starts_with(&format!("{} (", r.id)))
            {
                r.note = Some(format!(
                    "not exercised, so the verdict cannot be `passed`: {u}"
                ));
            }
            let hits: Vec<usize> = self
                .input_reqs
                .iter()
                .enumerate()
                .filter(|(_, t)| t.as_deref() == Some(r.id.as_str()))
                .map(|(i, _)| i)
                .collect();
            if hits.is_empty() {
                if r.note.is_none() && r.kind != Kind::Example {
                    r.note = Some(
                        "no input named it and it states no value to check: judged only by the candidates' agreement on the usable inputs".into(),
                    );
                }
                continue;
            }
            r.evidence = hits
                .iter()
                .map(|&i| {
                    let mut line = format!("{} -> {}", self.inputs[i].code, p.observations[i]);
                    if self.inputs[i].source == ERROR_CASE {
                        line += if p.matches[i] == Some(true) {
                            " (holds)"
                        } else {
                            " (fails)"
                        };
                    } else if let Some(why) = drops[i] {
                        line += &format!(" (dropped: {why})");
                    }
                    line
                })
                .collect();
            let checks: Vec<usize> = hits
                .iter()
                .copied()
                .filter(|&i| self.inputs[i].source == ERROR_CASE)
                .collect();
            r.status = if r.kind == Kind::Example {
                if hits.iter().all(|&i| p.matches[i] == Some(true)) {
                    "holds"
                } else {
                    "fails"
                }
            } else if !checks.is_empty() {
                if checks.iter().all(|&i| p.matches[i] == Some(true)) {
                    "holds"
                } else {
                    "fails"
                }
            } else if hits.iter().all(|&i| drops[i].is_some()) {
                "not exercised"
            } else if let Some(e) = &r.raises {
                if hits
                    .iter()
                    .any(|&i| p.observations[i] == Observation::Raised(e.clone()))
                {
                    "holds"
                } else {
                    "exercised"
                }
            } else {
                "exercised"
            }
            .into();
        }
    }
}

/// Whether the last statement of `input` calls a top-level function (or class) `code`
/// defines with an argument count it takes; a method call or other expression is accepted.
fn callable_with(code: &str, input: &str) -> bool {
    let last = input.rsplit("; ").next().unwrap_or(input).trim();
    let Some(open) = last.find('(') else {
        return true;
    };
    let name = &last[..open];
    if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return true;
    }
    let Some((required, total)) = static_check::arity(code, name) else {
        return false;
    };
    let Some(close) = super::scan::close_of(last.as_bytes(), open, false) else {
        return false;
    };
    let args = &last[open + 1..close - 1];
    if args.contains('=') || args.contains('*') {
        return true;
    }
    let n = if args.trim().is_empty() {
        0
    } else {
        super::scan::split_top(args).len()
    };
    n >= required && total.is_none_or(|t| n <= t)
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

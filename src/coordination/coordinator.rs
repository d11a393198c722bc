//! The Coordinator: runs a plan step by step on one model, passing artifacts (code, tests,
//! test results, review findings) between the specialists. Tests are the judge: the task's
//! examples and the TestWriter's tests run in the sandbox after every change, failures go to
//! the Debugger (bounded rounds), the best-scoring state is kept, and a solution whose tests
//! fail is never reported as a success.

use std::time::Instant;

use serde::Serialize;

use super::decomposer::{self, Plan, PlanTrace};
use super::judge::{self, EXAMPLES_FILE};
use crate::agents::code_generator::{self, CodeRequest};
use crate::agents::debugger::{self, DebugRequest, Side};
use crate::agents::hygiene::same_program;
use crate::agents::reviewer::{self, Review, Verdict};
use crate::agents::{test_writer, AgentError, Crew};
use crate::models::manager::LoadRecord;
use crate::models::AgentRole;
use crate::report::{CallRecord, StepRecord, Totals};
use crate::testing::{TestRun, TestRunner};

pub const SOLUTION_FILE: &str = "solution.py";

struct DebugOutcome {
    side: Side,
    reply: crate::agents::PyReply,
}

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
pub const TESTS_FILE: &str = "test_solution.py";

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FinalStatus {
    /// The model's tests and the task's examples all pass in the sandbox.
    Passed,
    /// Some test fails (or none could run).
    Failed,
    /// No test runner was available.
    Untested,
    /// No syntactically valid solution was produced.
    NoCode,
}

/// A change made to the code or tests after they were first written.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub step: usize,
    pub by: AgentRole,
    pub side: Side,
    /// What prompted it (the test summary or review findings). The final state is the
    /// best-scoring one seen, so a change that made things worse does not survive.
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
    pub steps: Vec<StepRecord>,
    pub test_runs: Vec<TestRun>,
    pub changes: Vec<Change>,
    pub candidates: usize,
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

#[derive(Debug, Clone)]
struct State {
    code: String,
    tests: Option<String>,
    run: Option<TestRun>,
}

impl State {
    fn score(&self) -> (usize, usize, i64) {
        self.run
            .as_ref()
            .map(TestRun::score)
            .unwrap_or((0, 0, i64::MIN))
    }
}

pub struct Coordinator<'a, 'r> {
    crew: Crew<'a>,
    runner: Option<&'r dyn TestRunner>,
    task: String,
    examples: Option<String>,
    current: Option<State>,
    best: Option<State>,
    candidates: Vec<String>,
    steps: Vec<StepRecord>,
    test_runs: Vec<TestRun>,
    changes: Vec<Change>,
    reviews: Vec<Review>,
    findings: Option<String>,
    single_generation_step: bool,
    /// The Debugger has rewritten the tests once already.
    tests_revised: bool,
}

impl<'a, 'r> Coordinator<'a, 'r> {
    pub fn new(crew: Crew<'a>, runner: Option<&'r dyn TestRunner>, task: &str) -> Self {
        let examples = judge::examples_test_file(&judge::extract_examples(task));
        Self {
            crew,
            runner,
            task: task.to_string(),
            examples,
            current: None,
            best: None,
            candidates: vec![],
            steps: vec![],
            test_runs: vec![],
            changes: vec![],
            reviews: vec![],
            findings: None,
            single_generation_step: true,
            tests_revised: false,
        }
    }

    /// Plan, then run every step; the result holds the best state found.
    pub fn run(mut self) -> Result<RunOutcome, AgentError> {
        let start = Instant::now();
        let mark = self.crew.calls.len();
        let (plan, trace) = decomposer::decompose(&mut self.crew, &self.task)?;
        let mut step = StepRecord {
            index: 0,
            agent: Some(AgentRole::Coordinator),
            goal: "plan the work".into(),
            verdict: format!("plan from {}", trace.source),
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
            let spent = match result {
                Ok(()) => false,
                Err(AgentError::Budget(why)) => {
                    step.notes.push(format!(
                        "stopped: budget spent ({why}); the best state so far is the result"
                    ));
                    true
                }
                Err(e) => return Err(e),
            };
            step.absorb(&self.crew.calls, mark);
            self.steps.push(step);
            if spent {
                break;
            }
        }
        // The summary always ends with a test status for the final code.
        if self
            .current
            .as_ref()
            .map(|s| s.run.is_none())
            .unwrap_or(false)
            && self.runner.is_some()
        {
            self.test_current("final");
        }
        Ok(self.finish(plan, trace, start))
    }

    fn finish(mut self, plan: Plan, plan_trace: PlanTrace, start: Instant) -> RunOutcome {
        // The best tested state wins; among equal scores the earliest (a later change that
        // did not improve the tests is not trusted). Untested code only without a runner.
        let chosen = match (&self.best, &self.current) {
            (Some(b), Some(c)) if c.run.is_some() && c.score() > b.score() => Some(c.clone()),
            (Some(b), _) => Some(b.clone()),
            (None, c) => c.clone(),
        };
        let (status, final_tests) = match &chosen {
            None => (FinalStatus::NoCode, "no valid solution".to_string()),
            Some(s) => match &s.run {
                Some(r) if r.all_passed() => (FinalStatus::Passed, r.summary()),
                Some(r) => (FinalStatus::Failed, r.summary()),
                None if self.runner.is_none() => {
                    (FinalStatus::Untested, "not tested (no sandbox)".to_string())
                }
                None => (FinalStatus::Failed, "tests did not run".to_string()),
            },
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
            steps: self.steps,
            test_runs: self.test_runs,
            changes: self.changes,
            candidates: self.candidates.len(),
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
            code: chosen.as_ref().map(|s| s.code.clone()),
            tests: chosen.and_then(|s| s.tests),
            examples: self.examples,
            report,
        }
    }

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

    fn test_current(&mut self, label: &str) {
        let Some(cur) = self.current.clone() else {
            return;
        };
        let run = self.run_tests(&cur.code, cur.tests.as_deref(), label);
        if let Some(c) = self.current.as_mut() {
            c.run = run;
        }
        self.remember_best();
    }

    fn remember_best(&mut self) {
        if let Some(c) = &self.current {
            if c.run.is_some()
                && self
                    .best
                    .as_ref()
                    .map(|b| c.score() > b.score())
                    .unwrap_or(true)
            {
                self.best = Some(c.clone());
            }
        }
    }

    fn set_code(&mut self, code: String) {
        let tests = self.current.as_ref().and_then(|c| c.tests.clone());
        self.current = Some(State {
            code,
            tests,
            run: None,
        });
    }

    fn generate(&mut self, goal: &str, step: &mut StepRecord) -> Result<(), AgentError> {
        let first = self.current.is_none();
        // A plan with one code_generator step restates the task as its goal; the first
        // candidate is asked with the task alone (the same prompt as `eval --mode single`).
        let goal = if first && self.single_generation_step {
            ""
        } else {
            goal
        };
        let samples = if first {
            self.crew.config.limits.samples.max(1)
        } else {
            1
        };
        let code_before = self.current.as_ref().map(|c| c.code.clone());
        for k in 0..samples {
            self.crew.candidate = k;
            let reply = code_generator::generate(
                &mut self.crew,
                &CodeRequest {
                    task: &self.task,
                    goal,
                    code: code_before.as_deref(),
                    feedback: None,
                },
            );
            self.crew.candidate = 0;
            let reply = reply?;
            absorb_reply(step, &reply);
            match reply.valid_code() {
                Some(code) if !self.candidates.iter().any(|c| c == code) => {
                    self.candidates.push(code.to_string())
                }
                Some(_) => step
                    .notes
                    .push(format!("candidate {} duplicates an earlier one", k + 1)),
                None => step.notes.push(format!(
                    "candidate {}: no valid Python after {} retries",
                    k + 1,
                    reply.retries
                )),
            }
            if !first {
                if let Some(code) = reply.valid_code() {
                    self.set_code(code.to_string());
                    step.verdict = "extended solution".into();
                } else {
                    step.verdict = "kept previous solution".into();
                }
                return Ok(());
            }
        }
        match self.candidates.first().cloned() {
            Some(code) => {
                self.set_code(code);
                step.verdict = format!("{} candidate(s)", self.candidates.len());
            }
            None => step.verdict = "no valid solution".into(),
        }
        Ok(())
    }

    fn write_tests(&mut self, step: &mut StepRecord) -> Result<(), AgentError> {
        let Some(code) = self.current.as_ref().map(|c| c.code.clone()) else {
            step.verdict = "skipped: no solution to test".into();
            return Ok(());
        };
        let reply = test_writer::write(&mut self.crew, &self.task, &code)?;
        absorb_reply(step, &reply);
        match reply.valid_code() {
            Some(t) => {
                if let Some(c) = self.current.as_mut() {
                    c.tests = Some(t.to_string());
                    c.run = None;
                }
                step.verdict = format!(
                    "{} test(s)",
                    crate::syntax::defined_names(t)
                        .iter()
                        .filter(|n| n.starts_with("test"))
                        .count()
                );
            }
            None => step.verdict = "no valid tests; the task's examples remain the judge".into(),
        }
        self.select_candidate(step);
        Ok(())
    }

    /// With several candidates: run each against the tests and keep the best (examples
    /// passed, tests passed, then agreement with the other candidates' results).
    fn select_candidate(&mut self, step: &mut StepRecord) {
        if self.candidates.len() < 2 || self.runner.is_none() {
            return;
        }
        let tests = self.current.as_ref().and_then(|c| c.tests.clone());
        let mut runs = vec![];
        for (i, code) in self.candidates.clone().iter().enumerate() {
            let run = self.run_tests(code, tests.as_deref(), &format!("candidate {}", i + 1));
            runs.push(run);
        }
        let sigs: Vec<_> = runs
            .iter()
            .map(|r| r.as_ref().map(TestRun::signature))
            .collect();
        let best = (0..self.candidates.len())
            .max_by_key(|&i| {
                let score = runs[i]
                    .as_ref()
                    .map(TestRun::score)
                    .unwrap_or((0, 0, i64::MIN));
                let agree = sigs
                    .iter()
                    .filter(|s| s.is_some() && **s == sigs[i])
                    .count();
                (score, agree, std::cmp::Reverse(i))
            })
            .unwrap_or(0);
        step.notes.push(format!(
            "selected candidate {} of {} by tests",
            best + 1,
            self.candidates.len()
        ));
        self.current = Some(State {
            code: self.candidates[best].clone(),
            tests,
            run: runs[best].clone(),
        });
        self.remember_best();
    }

    fn debug(&mut self, step: &mut StepRecord) -> Result<(), AgentError> {
        if self.current.is_none() {
            step.verdict = "skipped: no solution".into();
            return Ok(());
        }
        if self.runner.is_none() {
            // Without a sandbox the Debugger works from review findings.
            let Some(findings) = self.findings.clone() else {
                step.verdict = "skipped: no test runner and no review findings".into();
                return Ok(());
            };
            let cur = self.current.clone().expect("checked");
            let d = debugger::revise(
                &mut self.crew,
                &DebugRequest {
                    task: &self.task,
                    code: &cur.code,
                    tests: cur.tests.as_deref().unwrap_or(""),
                    failures: &findings,
                    side: Side::Code,
                    examples_pass: false,
                },
            )?;
            absorb_reply(step, &d);
            if let Some(code) = d.valid_code() {
                self.set_code(code.to_string());
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
            if self
                .current
                .as_ref()
                .map(|c| c.run.is_none())
                .unwrap_or(false)
            {
                self.test_current(&format!("debug round {}", fixes + 1));
                // A fix that scored worse than the best state is undone: the next attempt
                // starts from the best code again (and samples, so it is not the same fix).
                if let (Some(c), Some(b)) = (&self.current, &self.best) {
                    if c.score() < b.score() {
                        step.notes.push(format!(
                            "fix {fixes} made the tests worse; back to the best state"
                        ));
                        self.current = Some(b.clone());
                    }
                }
            }
            let cur = self.current.clone().expect("checked above");
            let Some(run) = cur.run.clone() else {
                step.verdict = "no tests to run".into();
                return Ok(());
            };
            if run.all_passed() {
                step.verdict = if fixes == 0 {
                    "tests pass".into()
                } else {
                    format!("tests pass after {fixes} fix(es)")
                };
                return Ok(());
            }
            if fixes == rounds {
                step.verdict = format!("tests still fail after {fixes} fix(es): {}", run.summary());
                return self.resample(step, &run);
            }
            // The task's own examples are ground truth: when they all pass and the written tests
            // fail, the tests are the suspect, once; otherwise the code is.
            let (ep, et) = run.examples();
            let side = if et > 0 && ep == et && cur.tests.is_some() && !self.tests_revised {
                Side::Tests
            } else {
                Side::Code
            };
            self.tests_revised |= side == Side::Tests;
            let report = run.failure_report(3000);
            // The first fix is greedy; later ones sample, so a repeat of a failed fix is unlikely.
            self.crew.candidate = fixes;
            let reply = debugger::revise(
                &mut self.crew,
                &DebugRequest {
                    task: &self.task,
                    code: &cur.code,
                    tests: cur.tests.as_deref().unwrap_or(""),
                    failures: &report,
                    side,
                    examples_pass: side == Side::Tests,
                },
            );
            self.crew.candidate = 0;
            let reply = reply?;
            let d = DebugOutcome { side, reply };
            fixes += 1;
            absorb_reply(step, &d.reply);
            let Some(new) = d.reply.valid_code().map(str::to_string) else {
                step.notes.push(format!("fix {fixes}: no valid Python"));
                continue;
            };
            // A reply that only moved comments or spacing is no fix.
            let changed = match d.side {
                Side::Code => !same_program(&new, &cur.code),
                Side::Tests => !cur.tests.as_deref().is_some_and(|t| same_program(&new, t)),
            };
            if !changed {
                step.notes.push(format!(
                    "fix {fixes}: the {} came back unchanged",
                    if d.side == Side::Code {
                        "code"
                    } else {
                        "tests"
                    }
                ));
                continue;
            }
            let (code, tests) = match d.side {
                Side::Code => (new, cur.tests.clone()),
                Side::Tests => (cur.code.clone(), Some(new)),
            };
            self.current = Some(State {
                code,
                tests,
                run: None,
            });
            self.changes.push(Change {
                step: step.index,
                by: AgentRole::Debugger,
                side: d.side,
                reason: run.summary(),
            });
            step.notes.push(format!(
                "fix {fixes}: changed the {}",
                if d.side == Side::Code {
                    "code"
                } else {
                    "tests"
                }
            ));
        }
    }

    /// Fresh candidates (sampled, not greedy) when debugging did not make the tests pass and
    /// the failure is not just the written tests disagreeing with passing task examples.
    fn resample(&mut self, step: &mut StepRecord, last: &TestRun) -> Result<(), AgentError> {
        let (ep, et) = last.examples();
        if et > 0 && ep == et {
            return Ok(());
        }
        let tests = self.current.as_ref().and_then(|c| c.tests.clone());
        // Compare with how the first tested candidate failed (later states may be broken fixes).
        let first = self
            .test_runs
            .iter()
            .find(|r| !r.label.starts_with("candidate"))
            .cloned();
        let original = first.as_ref().unwrap_or(last).failure_signature();
        let mut same_failure = 0;
        for k in 1..=self.crew.config.limits.resample {
            self.crew.candidate = self.crew.config.limits.samples.max(1) + k - 1;
            let reply = code_generator::generate(
                &mut self.crew,
                &CodeRequest {
                    task: &self.task,
                    goal: "",
                    code: None,
                    feedback: None,
                },
            );
            self.crew.candidate = 0;
            let reply = reply?;
            absorb_reply(step, &reply);
            let Some(code) = reply.valid_code().map(str::to_string) else {
                continue;
            };
            if self.candidates.iter().any(|c| same_program(c, &code)) {
                step.notes
                    .push(format!("resample {k}: duplicate of an earlier candidate"));
                continue;
            }
            self.candidates.push(code.clone());
            let run = self.run_tests(&code, tests.as_deref(), &format!("resample {k}"));
            let passed = run.as_ref().map(TestRun::all_passed).unwrap_or(false);
            step.notes.push(format!(
                "resample {k}: {}",
                run.as_ref().map(TestRun::summary).unwrap_or_default()
            ));
            self.current = Some(State {
                code,
                tests: tests.clone(),
                run,
            });
            let signature = self
                .current
                .as_ref()
                .and_then(|c| c.run.as_ref())
                .map(TestRun::failure_signature);
            self.remember_best();
            if passed {
                step.verdict = format!("tests pass with resampled candidate {k}");
                return Ok(());
            }
            if !original.is_empty() && signature.as_ref() == Some(&original) {
                same_failure += 1;
            }
            // Independent candidates failing the same tests the same way point at the tests.
            if same_failure >= 2 {
                step.notes.push(
                    "the candidates fail the same tests the same way: the tests are likely wrong"
                        .into(),
                );
                if et == 0 && tests.is_some() && !self.tests_revised {
                    return self.revise_tests(step, last);
                }
                break;
            }
        }
        // Continue from the best state found.
        if let Some(b) = self.best.clone() {
            self.current = Some(b);
        }
        Ok(())
    }

    /// One Debugger rewrite of the tests, judged like any change (the best state wins).
    fn revise_tests(&mut self, step: &mut StepRecord, last: &TestRun) -> Result<(), AgentError> {
        self.tests_revised = true;
        let Some(cur) = self.best.clone().or_else(|| self.current.clone()) else {
            return Ok(());
        };
        let report = last.failure_report(3000);
        let reply = debugger::revise(
            &mut self.crew,
            &DebugRequest {
                task: &self.task,
                code: &cur.code,
                tests: cur.tests.as_deref().unwrap_or(""),
                failures: &report,
                side: Side::Tests,
                examples_pass: false,
            },
        )?;
        absorb_reply(step, &reply);
        let new = reply.valid_code().map(str::to_string);
        if new
            .as_deref()
            .zip(cur.tests.as_deref())
            .is_some_and(|(n, t)| same_program(n, t))
        {
            step.notes
                .push("the tests came back unchanged from the revision".into());
        } else if let Some(tests) = new {
            self.changes.push(Change {
                step: step.index,
                by: AgentRole::Debugger,
                side: Side::Tests,
                reason: "every candidate failed the tests the same way".into(),
            });
            self.current = Some(State {
                code: cur.code.clone(),
                tests: Some(tests),
                run: None,
            });
            self.test_current("after revising the tests");
            step.notes.push(format!(
                "revised the tests: {}",
                self.current
                    .as_ref()
                    .and_then(|c| c.run.as_ref())
                    .map(TestRun::summary)
                    .unwrap_or_default()
            ));
        }
        if let Some(b) = self.best.clone() {
            self.current = Some(b);
        }
        Ok(())
    }

    fn review(&mut self, step: &mut StepRecord) -> Result<(), AgentError> {
        let Some(cur) = self.current.clone() else {
            step.verdict = "skipped: no solution".into();
            return Ok(());
        };
        let summary = |s: &State| {
            s.run
                .as_ref()
                .map(TestRun::summary)
                .unwrap_or_else(|| "not run".into())
        };
        let mut review = reviewer::review(&mut self.crew, &self.task, &cur.code, &summary(&cur))?;
        if !review.parsed {
            step.notes
                .push("review had no VERDICT line; counted as approve".into());
        }
        let mut rounds = 0;
        // A change request without reasons gives the CodeGenerator nothing to act on.
        while review.verdict == Verdict::RequestChanges
            && !review.reasons.is_empty()
            && rounds < self.crew.config.limits.review_rounds
        {
            rounds += 1;
            let findings = if review.reasons.is_empty() {
                "The reviewer asked for changes.".to_string()
            } else {
                review
                    .reasons
                    .iter()
                    .map(|r| format!("- {r}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            self.findings = Some(findings.clone());
            self.reviews.push(review.clone());
            let before = self.current.clone().expect("checked");
            let reply = code_generator::generate(
                &mut self.crew,
                &CodeRequest {
                    task: &self.task,
                    goal: "",
                    code: Some(&before.code),
                    feedback: Some(&findings),
                },
            )?;
            absorb_reply(step, &reply);
            let Some(code) = reply.valid_code().map(str::to_string) else {
                step.notes
                    .push("revision after review: no valid Python; kept the previous code".into());
                break;
            };
            if code == before.code {
                step.notes.push("revision after review: unchanged".into());
                break;
            }
            self.set_code(code);
            self.test_current(&format!("after review {rounds}"));
            let cur = self.current.clone().expect("just set");
            if self.runner.is_some() && cur.score() < before.score() {
                step.notes.push(format!(
                    "revision after review scored worse ({}); reverted",
                    summary(&cur)
                ));
                self.current = Some(before);
                break;
            }
            self.changes.push(Change {
                step: step.index,
                by: AgentRole::CodeGenerator,
                side: Side::Code,
                reason: "review findings".into(),
            });
            review = reviewer::review(&mut self.crew, &self.task, &cur.code, &summary(&cur))?;
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
}

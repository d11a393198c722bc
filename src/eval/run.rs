//! `codeswarm eval humaneval|prose`: the same model prompted once (`single`) versus codeswarm's
//! whole pipeline (`pipeline`), each answer checked with the problem's hidden test inside the
//! sandbox. The pipeline sees only the problem's task (HumanEval: signature, docstring, its
//! examples; prose: the text) and the tests it writes itself, never the hidden test.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use minijinja::context;
use serde::Serialize;

use super::problem::Problem;
use crate::agents::extract;
use crate::agents::prompts::Prompts;
use crate::config::Config;
use crate::models::{AgentRole, GenRequest, Message, ModelManager};
use crate::pipeline;
use crate::sandbox::{Job, Sandbox, Status};
use crate::testing::SandboxRunner;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Single,
    Pipeline,
    Both,
}

/// One completion's result.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// The hidden test passed.
    pub passed: bool,
    /// How the hidden check ended (`exited(0)`, `timeout`, ...).
    pub check: String,
    pub check_output: String,
    pub seconds: f64,
    pub prompt_tokens: u64,
    pub generated_tokens: u64,
    pub model_calls: u32,
    /// Pipeline only: its own verdict from its own tests (`passed`, `failed`, ...).
    pub own_status: Option<String>,
    pub error: Option<String>,
    pub code: String,
    /// Pipeline only: model calls, generated tokens and model seconds per agent; the rest
    /// of `seconds` is the sandbox and the pipeline's own work.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub by_agent: BTreeMap<String, AgentShare>,
}

/// One agent's share of a pipeline attempt.
#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct AgentShare {
    pub calls: u32,
    pub generated_tokens: u64,
    pub model_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProblemResult {
    pub task_id: String,
    pub single: Option<Attempt>,
    pub pipeline: Option<Attempt>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Summary {
    pub problems: usize,
    pub passed: usize,
    pub pass_at_1: f64,
    pub seconds_per_problem: f64,
    pub tokens_per_problem: f64,
    /// Pipeline only: each agent's calls, generated tokens and model seconds per problem.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub by_agent: BTreeMap<String, AgentShare>,
    /// Pipeline only: its own verdict against the hidden tests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdicts: Option<VerdictAgreement>,
}

/// How the pipeline's own verdict compares with the hidden tests.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct VerdictAgreement {
    /// Said passed; the hidden tests pass.
    pub true_pass: usize,
    /// Said passed; the hidden tests fail.
    pub false_pass: usize,
    /// Said failed (or no code); the hidden tests fail.
    pub true_fail: usize,
    /// Said failed; the hidden tests pass.
    pub false_fail: usize,
    /// Said uncertain, by the hidden outcome.
    pub uncertain_pass: usize,
    pub uncertain_fail: usize,
}

impl VerdictAgreement {
    pub fn of<'a>(attempts: impl IntoIterator<Item = &'a Attempt>) -> Option<Self> {
        let mut v = Self::default();
        let mut any = false;
        for a in attempts {
            let Some(own) = a.own_status.as_deref() else {
                continue;
            };
            any = true;
            match (own, a.passed) {
                ("passed", true) => v.true_pass += 1,
                ("passed", false) => v.false_pass += 1,
                ("uncertain", true) => v.uncertain_pass += 1,
                ("uncertain", false) => v.uncertain_fail += 1,
                (_, true) => v.false_fail += 1,
                (_, false) => v.true_fail += 1,
            }
        }
        any.then_some(v)
    }

    /// Problems where the verdict matches the hidden tests (uncertain counts as not
    /// agreeing), and all problems.
    pub fn agreement(&self) -> (usize, usize) {
        let agree = self.true_pass + self.true_fail;
        (
            agree,
            agree + self.false_pass + self.false_fail + self.uncertain_pass + self.uncertain_fail,
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub model: String,
    pub samples: u32,
    pub single: Option<Summary>,
    pub pipeline: Option<Summary>,
    pub problems: Vec<ProblemResult>,
}

/// Run the hidden test on `code` in the sandbox.
pub fn check(
    sandbox: &Sandbox,
    p: &Problem,
    code: &str,
    timeout: Duration,
) -> (bool, String, String) {
    let program = p.check_program(code);
    let job = Job::python(["check.py"])
        .file("check.py", program.into_bytes())
        .timeout(timeout);
    match sandbox.run(&job) {
        Ok(out) => (
            out.status == Status::Exited(0),
            out.status.to_string(),
            out.output_tail(800),
        ),
        Err(e) => (false, format!("sandbox error: {e}"), String::new()),
    }
}

fn single(
    models: &mut ModelManager,
    config: &Config,
    prompts: &Prompts,
    sandbox: &Sandbox,
    p: &Problem,
    timeout: Duration,
) -> Attempt {
    let start = Instant::now();
    let result = (|| -> Result<(String, u64, u64), String> {
        // Exactly the CodeGenerator's first prompt and sampling: candidate 1 of the pipeline is
        // this answer, so the difference between the modes is what the pipeline adds.
        let messages = vec![
            Message::system(prompts.render("system", context! {}).map_err(|e| e.to_string())?),
            Message::user(prompts.render("code_generator", context! { task => p.task.as_str(), goal => "", code => "", feedback => "", checklist => "" }).map_err(|e| e.to_string())?),
        ];
        let sampling = config.sampling(AgentRole::CodeGenerator);
        // From an empty cache, as the pipeline starts each task (see `Crew::new`).
        models.fresh_start();
        let model = models
            .model_for(AgentRole::CodeGenerator)
            .map_err(|e| e.to_string())?;
        let g = model
            .generate(&GenRequest {
                agent: AgentRole::CodeGenerator,
                messages: &messages,
                sampling: &sampling,
                deadline: None,
            })
            .map_err(|e| e.to_string())?;
        let code = extract::python_code(&g.text)
            .map(|c| crate::agents::hygiene::clean_solution(&c).source)
            .unwrap_or_default();
        Ok((code, g.evaluated_tokens as u64, g.generated_tokens as u64))
    })();
    match result {
        Ok((code, prompt_tokens, generated_tokens)) => {
            let (passed, check, check_output) = check(sandbox, p, &code, timeout);
            Attempt {
                by_agent: BTreeMap::new(),
                passed,
                check,
                check_output,
                seconds: start.elapsed().as_secs_f64(),
                prompt_tokens,
                generated_tokens,
                model_calls: 1,
                own_status: None,
                error: None,
                code,
            }
        }
        Err(e) => failed(start, e),
    }
}

fn failed(start: Instant, error: String) -> Attempt {
    Attempt {
        by_agent: BTreeMap::new(),
        passed: false,
        check: "not run".into(),
        check_output: String::new(),
        seconds: start.elapsed().as_secs_f64(),
        prompt_tokens: 0,
        generated_tokens: 0,
        model_calls: 0,
        own_status: None,
        error: Some(error),
        code: String::new(),
    }
}

fn through_pipeline(
    models: &mut ModelManager,
    config: &Config,
    prompts: &Prompts,
    runner: &SandboxRunner,
    p: &Problem,
    timeout: Duration,
) -> Attempt {
    let start = Instant::now();
    match pipeline::run_task(&p.task, models, config, prompts, Some(runner)) {
        Ok(out) => {
            let code = out.code.clone().unwrap_or_default();
            let (passed, check, check_output) = check(&runner.sandbox, p, &code, timeout);
            let t = &out.report.totals;
            let mut by_agent: BTreeMap<String, AgentShare> = BTreeMap::new();
            for c in &out.report.calls {
                let a = by_agent.entry(c.agent.to_string()).or_default();
                a.calls += 1;
                a.generated_tokens += u64::from(c.generated_tokens);
                a.model_seconds += c.prompt_seconds + c.generate_seconds;
            }
            Attempt {
                by_agent,
                passed,
                check,
                check_output,
                seconds: start.elapsed().as_secs_f64(),
                prompt_tokens: t.evaluated_tokens,
                generated_tokens: t.generated_tokens,
                model_calls: t.calls,
                own_status: Some(
                    serde_json::to_value(out.report.status)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default(),
                ),
                error: None,
                code,
            }
        }
        Err(e) => failed(start, e.to_string()),
    }
}

fn summarize(
    results: &[ProblemResult],
    pick: impl Fn(&ProblemResult) -> Option<&Attempt>,
) -> Option<Summary> {
    let attempts: Vec<&Attempt> = results.iter().filter_map(pick).collect();
    if attempts.is_empty() {
        return None;
    }
    let n = attempts.len();
    let passed = attempts.iter().filter(|a| a.passed).count();
    Some(Summary {
        problems: n,
        passed,
        pass_at_1: passed as f64 / n as f64,
        seconds_per_problem: attempts.iter().map(|a| a.seconds).sum::<f64>() / n as f64,
        tokens_per_problem: attempts
            .iter()
            .map(|a| (a.prompt_tokens + a.generated_tokens) as f64)
            .sum::<f64>()
            / n as f64,
        by_agent: {
            let mut m: BTreeMap<String, AgentShare> = BTreeMap::new();
            for (agent, a) in attempts.iter().flat_map(|a| a.by_agent.iter()) {
                let e = m.entry(agent.clone()).or_default();
                e.calls += a.calls;
                e.generated_tokens += a.generated_tokens;
                e.model_seconds += a.model_seconds / n as f64;
            }
            m
        },
        verdicts: VerdictAgreement::of(attempts.iter().copied()),
    })
}

/// Evaluate `problems` in `mode`; `on_done` is called after each problem (progress).
pub fn run(
    problems: &[Problem],
    mode: Mode,
    models: &mut ModelManager,
    config: &Config,
    prompts: &Prompts,
    runner: &SandboxRunner,
    on_done: &mut dyn FnMut(&ProblemResult),
) -> EvalReport {
    let timeout = Duration::from_secs(config.sandbox.timeout_seconds);
    let mut results = vec![];
    for p in problems {
        let single = matches!(mode, Mode::Single | Mode::Both)
            .then(|| single(models, config, prompts, &runner.sandbox, p, timeout));
        let pipeline = matches!(mode, Mode::Pipeline | Mode::Both)
            .then(|| through_pipeline(models, config, prompts, runner, p, timeout));
        let r = ProblemResult {
            task_id: p.task_id.clone(),
            single,
            pipeline,
        };
        on_done(&r);
        results.push(r);
    }
    EvalReport {
        model: models.model_arg(AgentRole::CodeGenerator),
        samples: config.limits.samples,
        single: summarize(&results, |r| r.single.as_ref()),
        pipeline: summarize(&results, |r| r.pipeline.as_ref()),
        problems: results,
    }
}

/// The side-by-side table.
pub fn describe(r: &EvalReport) -> String {
    let mut s = format!("model: {} (samples: {})\n", r.model, r.samples);
    s += &format!(
        "{:<10} {:>8} {:>9} {:>12} {:>14}\n",
        "mode", "pass@1", "passed", "s/problem", "tokens/problem"
    );
    for (name, sum) in [("single", &r.single), ("pipeline", &r.pipeline)] {
        if let Some(x) = sum {
            s += &format!(
                "{:<10} {:>7.1}% {:>4}/{:<4} {:>12.1} {:>14.0}\n",
                name,
                100.0 * x.pass_at_1,
                x.passed,
                x.problems,
                x.seconds_per_problem,
                x.tokens_per_problem
            );
        }
    }
    if r.single.is_some() && r.pipeline.is_some() {
        let only_pipeline = r
            .problems
            .iter()
            .filter(|p| {
                p.pipeline.as_ref().map(|a| a.passed).unwrap_or(false)
                    && !p.single.as_ref().map(|a| a.passed).unwrap_or(false)
            })
            .count();
        let only_single = r
            .problems
            .iter()
            .filter(|p| {
                p.single.as_ref().map(|a| a.passed).unwrap_or(false)
                    && !p.pipeline.as_ref().map(|a| a.passed).unwrap_or(false)
            })
            .count();
        s += &format!("solved only by the pipeline: {only_pipeline}; only by the single prompt: {only_single}\n");
    }
    if let Some(p) = r.pipeline.as_ref().filter(|p| !p.by_agent.is_empty()) {
        let n = p.problems.max(1) as f64;
        let model: f64 = p.by_agent.values().map(|a| a.model_seconds).sum();
        let parts: Vec<String> = p
            .by_agent
            .iter()
            .map(|(agent, a)| {
                format!(
                    "{agent} {:.1} call(s) {:.0} tok {:.1} s",
                    a.calls as f64 / n,
                    a.generated_tokens as f64 / n,
                    a.model_seconds
                )
            })
            .collect();
        s += &format!(
            "pipeline per problem: {}; sandbox and the rest {:.1} s\n",
            parts.join(", "),
            (p.seconds_per_problem - model).max(0.0)
        );
    }
    if let Some(v) = r.pipeline.as_ref().and_then(|p| p.verdicts.as_ref()) {
        s += &format!(
            "pipeline verdict   {:>11} {:>11}\n{:<18} {:>11} {:>11}\n{:<18} {:>11} {:>11}\n{:<18} {:>11} {:>11}\n",
            "hidden pass",
            "hidden fail",
            "  passed",
            v.true_pass,
            v.false_pass,
            "  failed/no code",
            v.false_fail,
            v.true_fail,
            "  uncertain",
            v.uncertain_pass,
            v.uncertain_fail
        );
        let (agree, all) = v.agreement();
        s += &format!(
            "pipeline verdict vs hidden tests: agrees on {agree}/{all} ({:.1}%): passed {}+{} wrong, failed {}+{} wrong, uncertain {} (hidden pass) + {} (hidden fail)\n",
            if all > 0 { 100.0 * agree as f64 / all as f64 } else { 0.0 },
            v.true_pass,
            v.false_pass,
            v.true_fail,
            v.false_fail,
            v.uncertain_pass,
            v.uncertain_fail
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(own: Option<&str>, passed: bool) -> Attempt {
        Attempt {
            by_agent: BTreeMap::new(),
            passed,
            check: String::new(),
            check_output: String::new(),
            seconds: 1.0,
            prompt_tokens: 0,
            generated_tokens: 0,
            model_calls: 1,
            own_status: own.map(String::from),
            error: None,
            code: String::new(),
        }
    }

    #[test]
    fn verdicts_are_counted_against_the_official_tests() {
        let a = [
            attempt(Some("passed"), true),
            attempt(Some("passed"), false),
            attempt(Some("failed"), false),
            attempt(Some("no-code"), false),
            attempt(Some("failed"), true),
            attempt(Some("uncertain"), true),
        ];
        let v = VerdictAgreement::of(a.iter()).unwrap();
        assert_eq!(
            v,
            VerdictAgreement {
                true_pass: 1,
                false_pass: 1,
                true_fail: 2,
                false_fail: 1,
                uncertain_pass: 1,
                uncertain_fail: 0
            }
        );
        assert_eq!(v.agreement(), (3, 6));
        assert!(VerdictAgreement::of([attempt(None, true)].iter()).is_none());
    }
}

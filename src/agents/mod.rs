//! The specialists (CodeGenerator, TestWriter, Debugger, Reviewer) and what they share: the
//! [`Crew`] that renders prompts, asks the model through the [`ModelManager`], records every
//! call, and re-prompts when Python output does not parse.

pub mod code_generator;
pub mod debugger;
pub mod extract;
pub mod hygiene;
pub mod input_writer;
pub mod localizer;
pub mod prompts;
pub mod repairer;
pub mod reviewer;
pub mod test_writer;

use minijinja::context;
use serde::Serialize;

use crate::config::Config;
use crate::models::{
    AgentRole, Finish, GenRequest, Generation, Message, ModelError, ModelManager, Sampling,
};
use crate::report::CallRecord;
use crate::syntax;
use prompts::{PromptError, Prompts};

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The run's model-call or time budget is spent (`limits.max_model_calls`,
    /// `limits.time_limit_seconds`); callers stop and keep the best state so far.
    #[error("budget spent: {0}")]
    Budget(String),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Prompt(#[from] PromptError),
}

/// Python produced by an agent after syntax checking and retries.
#[derive(Debug, Clone, Serialize)]
pub struct PyReply {
    /// The last code extracted (valid or not); `None` if no reply contained code.
    pub code: Option<String>,
    /// Whether `code` parses.
    pub valid: bool,
    /// Re-prompts made (syntax errors or missing code).
    pub retries: u32,
    /// What each retry was about.
    pub problems: Vec<String>,
    /// The last raw reply.
    pub reply: String,
    /// Top-level statements removed by [`hygiene`] (example usage, copies of the solution).
    pub cleaned: Vec<String>,
}

impl PyReply {
    /// The code if it parses.
    pub fn valid_code(&self) -> Option<&str> {
        self.code.as_deref().filter(|_| self.valid)
    }

    /// Apply a hygiene pass to valid code.
    pub fn clean(&mut self, f: impl Fn(&str) -> hygiene::Cleaned) {
        if let (Some(code), true) = (self.code.as_mut(), self.valid) {
            let c = f(code);
            *code = c.source;
            self.cleaned.extend(c.removed);
        }
    }
}

/// When a run must stop calling the model, and which limit that is.
#[derive(Debug, Clone)]
pub struct Deadline {
    pub at: std::time::Instant,
    /// The limit as the budget error names it, e.g. `600 s (limits.time_limit_seconds)`.
    pub limit: String,
}

/// Shared machinery for the agents of one run.
pub struct Crew<'a> {
    pub models: &'a mut ModelManager,
    pub config: &'a Config,
    pub prompts: &'a Prompts,
    /// Every call made, in order.
    pub calls: Vec<CallRecord>,
    /// Candidate index: 0 uses each role's sampling, later candidates sample differently.
    pub candidate: u32,
    /// When the run must stop calling the model: no call starts after it, and a generation
    /// still running then is cut off (see [`Crew::chat`]).
    pub deadline: Option<Deadline>,
    /// A lower token limit for the calls made inside [`Crew::with_max_tokens`].
    max_tokens_cap: Option<u32>,
}

impl<'a> Crew<'a> {
    /// A crew for one task (or one repository fix), whose deadline is
    /// `limits.time_limit_seconds` from now (none when 0). The model starts from an empty
    /// cache, so the task's replies do not depend on what ran before it.
    pub fn new(models: &'a mut ModelManager, config: &'a Config, prompts: &'a Prompts) -> Self {
        models.fresh_start();
        let limit = config.limits.time_limit_seconds;
        let deadline = (limit > 0).then(|| Deadline {
            at: std::time::Instant::now() + std::time::Duration::from_secs(limit),
            limit: format!("{limit} s (limits.time_limit_seconds)"),
        });
        Self {
            models,
            config,
            prompts,
            calls: vec![],
            candidate: 0,
            deadline,
            max_tokens_cap: None,
        }
    }

    /// Run `f` with every model call's generation limited to `max` tokens (at most the
    /// role's own `max_tokens`); for agents whose replies are short by design.
    pub fn with_max_tokens<T>(&mut self, max: u32, f: impl FnOnce(&mut Self) -> T) -> T {
        let before = self.max_tokens_cap.replace(max);
        let out = f(self);
        self.max_tokens_cap = before;
        out
    }

    /// Stop at `at` as well (e.g. a batch instance's time limit, named by `limit`), whichever
    /// of the deadlines comes first.
    pub fn stop_by(&mut self, at: std::time::Instant, limit: impl Into<String>) {
        if self.deadline.as_ref().is_none_or(|d| at < d.at) {
            self.deadline = Some(Deadline {
                at,
                limit: limit.into(),
            });
        }
    }

    pub fn sampling(&self, role: AgentRole) -> Sampling {
        self.config.candidate_sampling(role, self.candidate)
    }

    /// The opening turn every agent uses: the shared system prompt, then the rendered
    /// template. All agent templates begin with the task, so consecutive calls share a long
    /// prompt prefix and the model reuses its KV cache for it.
    pub fn opening<S: Serialize>(
        &self,
        template: &str,
        ctx: S,
    ) -> Result<Vec<Message>, AgentError> {
        Ok(vec![
            Message::system(self.prompts.render("system", context! {})?),
            Message::user(self.prompts.render(template, ctx)?),
        ])
    }

    /// Count tokens of `text` with the tokenizer of the model that serves `role`.
    pub fn count_tokens(&mut self, role: AgentRole, text: &str) -> Result<usize, AgentError> {
        Ok(self.models.model_for(role)?.count_tokens(text))
    }

    /// The context window of the model that serves `role`.
    pub fn n_ctx(&mut self, role: AgentRole) -> Result<usize, AgentError> {
        Ok(self.models.model_for(role)?.n_ctx())
    }

    /// One model call, recorded. Past the model-call budget or the deadline it is not made;
    /// a generation the deadline cuts off is recorded (with [`Finish::Deadline`]) and then
    /// reported as [`AgentError::Budget`] too, so callers keep the best state so far.
    pub fn chat(
        &mut self,
        role: AgentRole,
        messages: &[Message],
    ) -> Result<Generation, AgentError> {
        let max = self.config.limits.max_model_calls;
        if max > 0 && self.calls.len() as u32 >= max {
            return Err(AgentError::Budget(format!(
                "{max} model calls (limits.max_model_calls)"
            )));
        }
        if let Some(d) = self
            .deadline
            .as_ref()
            .filter(|d| std::time::Instant::now() >= d.at)
        {
            return Err(AgentError::Budget(d.limit.clone()));
        }
        let mut sampling = self.sampling(role);
        if let Some(cap) = self.max_tokens_cap {
            sampling.max_tokens = sampling.max_tokens.min(cap);
        }
        let model = self.models.model_for(role)?;
        let name = model.name().to_string();
        let g = model.generate(&GenRequest {
            agent: role,
            messages,
            sampling: &sampling,
            deadline: self.deadline.as_ref().map(|d| d.at),
        })?;
        tracing::debug!(agent = %role, prompt = g.prompt_tokens, reused = g.reused_tokens, generated = g.generated_tokens, "model call");
        self.calls.push(CallRecord {
            agent: role,
            model: name,
            messages: messages.to_vec(),
            response: g.text.clone(),
            prompt_tokens: g.prompt_tokens,
            reused_tokens: g.reused_tokens,
            evaluated_tokens: g.evaluated_tokens,
            generated_tokens: g.generated_tokens,
            prompt_seconds: g.prompt_seconds,
            generate_seconds: g.generate_seconds,
            finish: g.finish,
        });
        if g.finish == Finish::Deadline {
            let limit = self.deadline.as_ref().map(|d| d.limit.as_str());
            return Err(AgentError::Budget(format!(
                "{}, reached while the {role} was generating (its reply was cut off)",
                limit.unwrap_or("the deadline")
            )));
        }
        Ok(g)
    }

    /// Ask for a Python file; re-prompt (in the same conversation) with the exact syntax
    /// problems, or with the absence of code, up to `limits.syntax_retries` times.
    pub fn ask_python(
        &mut self,
        role: AgentRole,
        mut messages: Vec<Message>,
        file: &str,
    ) -> Result<PyReply, AgentError> {
        let retries = self.config.limits.syntax_retries;
        let salvage_tests = file.starts_with("test_");
        let mut out = PyReply {
            code: None,
            valid: false,
            retries: 0,
            problems: vec![],
            reply: String::new(),
            cleaned: vec![],
        };
        for attempt in 0..=retries {
            let g = self.chat(role, &messages)?;
            out.reply = g.text.clone();
            let previous = (out.code.clone(), out.problems.last().cloned());
            let feedback = match extract::python_code(&g.text) {
                None => {
                    out.problems.push("no Python code in the reply".into());
                    self.prompts.render("no_code_retry", context! { file })?
                }
                Some(code) => {
                    let issues = syntax::check_python(&code);
                    if issues.is_empty() {
                        out.code = Some(code);
                        out.valid = true;
                        return Ok(out);
                    }
                    // A test file cut off at the token limit keeps its complete tests.
                    if salvage_tests && g.finish == Finish::Length {
                        if let Some(kept) = syntax::complete_prefix(&code, "def test") {
                            out.problems.push(format!(
                                "cut off at the token limit; kept the {} complete lines",
                                kept.lines().count()
                            ));
                            out.code = Some(kept);
                            out.valid = true;
                            return Ok(out);
                        }
                    }
                    out.code = Some(code);
                    let described = issues
                        .iter()
                        .map(|i| {
                            format!(
                                "Line {}, column {}: {}\n    {}",
                                i.line,
                                i.column,
                                i.message,
                                i.line_text.trim_end()
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n");
                    out.problems.push(format!("syntax: {}", issues[0]));
                    self.prompts
                        .render("syntax_retry", context! { file, issues => described })?
                }
            };
            if attempt == retries {
                break;
            }
            // The same code or the same error twice: another round will not help.
            if attempt > 0
                && (previous.0.is_some() && previous.0 == out.code
                    || previous.1.is_some() && previous.1 == out.problems.last().cloned())
            {
                out.problems
                    .push("the same problem again; stopped retrying".into());
                break;
            }
            out.retries += 1;
            messages.push(Message::assistant(g.text));
            messages.push(Message::user(feedback));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::models::{ManagerSettings, Registry};

    #[test]
    fn a_generation_cut_off_by_the_deadline_is_recorded_and_spends_the_budget() {
        let script = "[[reply]]\nrole = \"reviewer\"\ntext = \"VERDICT:\"\nstalls = true\n\
                      [[reply]]\nrole = \"reviewer\"\ntext = \"VERDICT: approve\"\n";
        let mut models = ModelManager::new(
            Registry::builtin(),
            ManagerSettings {
                mock_script: Some(("t".into(), script.into())),
                quiet: true,
                ..Default::default()
            },
        );
        let config = Config::defaults();
        let prompts = Prompts::load(Some(std::path::Path::new("/nonexistent"))).unwrap();
        let mut crew = Crew::new(&mut models, &config, &prompts);
        let own = crew.deadline.clone().unwrap();
        assert_eq!(own.limit, "600 s (limits.time_limit_seconds)");
        // An earlier deadline (a batch instance's) replaces the run's own; a later one does not.
        let at = Instant::now() + Duration::from_millis(100);
        crew.stop_by(at, "the instance's time limit (test)");
        crew.stop_by(at + Duration::from_secs(60), "later");
        assert_eq!(crew.deadline.as_ref().map(|d| d.at), Some(at));

        let msgs = [Message::user("review")];
        let err = crew.chat(AgentRole::Reviewer, &msgs).unwrap_err();
        assert!(Instant::now() >= at);
        let AgentError::Budget(why) = err else {
            panic!("{err}")
        };
        assert!(
            why.starts_with("the instance's time limit (test)")
                && why.contains("reviewer")
                && why.contains("cut off"),
            "{why}"
        );
        assert_eq!(crew.calls.len(), 1, "the cut-off call is recorded");
        assert_eq!(crew.calls[0].finish, Finish::Deadline);
        assert_eq!(crew.calls[0].response, "VERDICT:");

        // Past the deadline no call is made at all.
        let err = crew.chat(AgentRole::Reviewer, &msgs).unwrap_err();
        assert!(
            matches!(&err, AgentError::Budget(w) if w == "the instance's time limit (test)"),
            "{err}"
        );
        assert_eq!(crew.calls.len(), 1);
    }
}

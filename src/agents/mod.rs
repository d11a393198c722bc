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

/// Shared machinery for the agents of one run.
pub struct Crew<'a> {
    pub models: &'a mut ModelManager,
    pub config: &'a Config,
    pub prompts: &'a Prompts,
    /// Every call made, in order.
    pub calls: Vec<CallRecord>,
    /// Candidate index: 0 uses each role's sampling, later candidates sample differently.
    pub candidate: u32,
    /// When the run must stop calling the model.
    pub deadline: Option<std::time::Instant>,
}

impl<'a> Crew<'a> {
    pub fn new(models: &'a mut ModelManager, config: &'a Config, prompts: &'a Prompts) -> Self {
        let limit = config.limits.time_limit_seconds;
        let deadline =
            (limit > 0).then(|| std::time::Instant::now() + std::time::Duration::from_secs(limit));
        Self {
            models,
            config,
            prompts,
            calls: vec![],
            candidate: 0,
            deadline,
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

    /// One model call, recorded.
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
        if self
            .deadline
            .map(|d| std::time::Instant::now() >= d)
            .unwrap_or(false)
        {
            return Err(AgentError::Budget(format!(
                "{} s (limits.time_limit_seconds)",
                self.config.limits.time_limit_seconds
            )));
        }
        let sampling = self.sampling(role);
        let model = self.models.model_for(role)?;
        let name = model.name().to_string();
        let g = model.generate(&GenRequest {
            agent: role,
            messages,
            sampling: &sampling,
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

//! Models: the [`Model`] trait every agent talks to, its two implementations (the llama.cpp
//! backend and the deterministic [`scripted::ScriptedModel`]), and the [`ModelManager`] that is
//! the only owner of model lifetime and memory.

pub mod gguf;
pub mod llama;
pub mod manager;
pub mod memory;
pub mod observed;
pub mod registry;
pub mod scripted;
pub mod server;
pub mod stops;

pub use manager::{ManagerSettings, ModelManager};
pub use registry::{Registry, ResolvedModel};

use serde::{Deserialize, Serialize};

/// Who is asking: selects prompts, sampling, the scripted reply and (optionally) the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum AgentRole {
    Coordinator,
    CodeGenerator,
    TestWriter,
    Debugger,
    Reviewer,
    /// Repository mode: picks files and functions to edit.
    Localizer,
    /// Repository mode: writes search/replace edits.
    Repairer,
    /// A plain one-shot prompt (the baseline the pipeline is measured against).
    Single,
}

impl AgentRole {
    pub const ALL: [AgentRole; 8] = [
        AgentRole::Coordinator,
        AgentRole::CodeGenerator,
        AgentRole::TestWriter,
        AgentRole::Debugger,
        AgentRole::Reviewer,
        AgentRole::Localizer,
        AgentRole::Repairer,
        AgentRole::Single,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AgentRole::Coordinator => "coordinator",
            AgentRole::CodeGenerator => "code_generator",
            AgentRole::TestWriter => "test_writer",
            AgentRole::Debugger => "debugger",
            AgentRole::Reviewer => "reviewer",
            AgentRole::Localizer => "localizer",
            AgentRole::Repairer => "repairer",
            AgentRole::Single => "single",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for AgentRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: ChatRole,
    pub content: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    System,
    User,
    Assistant,
}

impl ChatRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatRole::System => "system",
            ChatRole::User => "user",
            ChatRole::Assistant => "assistant",
        }
    }
}

impl Message {
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: ChatRole::System,
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: ChatRole::User,
            content: content.into(),
        }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: ChatRole::Assistant,
            content: content.into(),
        }
    }
}

/// Sampling settings for one generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sampling {
    /// 0 means greedy.
    pub temperature: f32,
    pub top_p: f32,
    pub top_k: i32,
    pub seed: u32,
    pub max_tokens: u32,
    /// Generation stops when the text ends with one of these (the stop string is removed).
    pub stop: Vec<String>,
    /// Keep generating past end-of-text tokens (benchmarks only).
    pub ignore_eos: bool,
    /// Stop when the output repeats the same block of lines three times.
    pub stop_on_repetition: bool,
    /// llama.cpp's repetition penalty over the last 64 tokens (1.0 = off).
    pub repeat_penalty: f32,
}

impl Default for Sampling {
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_p: 0.95,
            top_k: 40,
            seed: 42,
            max_tokens: 1024,
            stop: vec![],
            ignore_eos: false,
            stop_on_repetition: true,
            repeat_penalty: 1.0,
        }
    }
}

/// One request to a model.
#[derive(Debug, Clone)]
pub struct GenRequest<'a> {
    pub agent: AgentRole,
    pub messages: &'a [Message],
    pub sampling: &'a Sampling,
    /// Stop generating at this instant (the run's time budget), returning what was generated
    /// so far with [`Finish::Deadline`]; `None`: no deadline.
    pub deadline: Option<std::time::Instant>,
}

impl GenRequest<'_> {
    /// Whether the deadline has passed.
    pub fn past_deadline(&self) -> bool {
        self.deadline
            .is_some_and(|d| std::time::Instant::now() >= d)
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finish {
    /// The model emitted an end-of-generation token.
    EndOfText,
    /// A stop string matched.
    StopString,
    /// `max_tokens` reached.
    Length,
    /// The context window is full.
    ContextFull,
    /// The output started repeating the same block of lines (cut after the first copy).
    Repetition,
    /// The request's deadline passed (the run's time budget ran out): the text is what was
    /// generated until then.
    Deadline,
}

/// The result of one generation, with the accounting the reports need.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Generation {
    pub text: String,
    /// Tokens in the rendered prompt.
    pub prompt_tokens: u32,
    /// Prompt tokens whose KV entries were reused from the previous call (shared prefix).
    pub reused_tokens: u32,
    /// Prompt tokens actually evaluated (`prompt_tokens - reused_tokens`).
    pub evaluated_tokens: u32,
    pub generated_tokens: u32,
    pub prompt_seconds: f64,
    pub generate_seconds: f64,
    pub finish: Finish,
}

/// Errors from a model backend.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: {reason}\n  fix: re-download with `codeswarm models pull NAME`, or pass a valid GGUF file with --model")]
    BadGguf {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("memory plan does not fit: {0}")]
    DoesNotFit(String),
    #[error("llama.cpp could not load {path}: {reason}")]
    Load {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("llama.cpp failed during generation: {0}")]
    Inference(String),
    #[error("prompt of {prompt} tokens does not fit the context of {n_ctx} tokens (with {reserve} reserved for the answer)")]
    PromptTooLong {
        prompt: usize,
        n_ctx: usize,
        reserve: usize,
    },
    #[error("chat template: {0}")]
    Template(String),
    #[error("scripted model: {0}")]
    Script(String),
    #[error("inference server: {0}")]
    Server(String),
    /// The server did not answer (refused connections, 502/503/504, time-outs), still after
    /// the retries: nothing about the request is wrong, and the same request may work once
    /// the server is back (a batch retries the instance, then defers it).
    #[error("inference server unreachable: {0}")]
    Unreachable(String),
    #[error(transparent)]
    Registry(#[from] registry::RegistryError),
}

/// What every model backend offers the agents.
pub trait Model: Send {
    /// A short name for reports.
    fn name(&self) -> &str;
    /// Generate a reply to `req.messages` (the chat template is applied by the backend).
    fn generate(&mut self, req: &GenRequest<'_>) -> Result<Generation, ModelError>;
    /// Count tokens with the model's own tokenizer (used to budget prompts).
    fn count_tokens(&self, text: &str) -> usize;
    /// The context window in tokens.
    fn n_ctx(&self) -> usize;
    /// llama.cpp's own timing counters since the last reset (None for non-llama models).
    fn engine_timings(&mut self) -> Option<EngineTimings> {
        None
    }
    fn reset_engine_timings(&mut self) {}
    /// Send each piece of generated text to `sink` as it is produced ([`Event::Token`]);
    /// returns whether this backend streams. The default does not: the reply is reported
    /// whole when it is complete (see [`observed::Observed`]).
    ///
    /// [`Event::Token`]: crate::progress::Event::Token
    fn set_progress(&mut self, _sink: Option<crate::progress::SharedSink>) -> bool {
        false
    }
    /// Forget the reusable prompt prefix (the in-process model's KV cache): the next call
    /// evaluates its whole prompt. llama.cpp's floating-point results depend on how a prompt
    /// was batched, so a task that starts from an empty cache gets the same replies whatever
    /// ran before it.
    fn clear_cache(&mut self) {}
    /// A new, independent job starts (a batch instance): a model with state of its own (the
    /// scripted model's reply queues) starts it over, so one instance never consumes
    /// another's replies. Real models have none.
    fn new_job(&mut self) {}
}

/// llama.cpp's internal performance counters (`llama_perf_context`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct EngineTimings {
    pub prompt_ms: f64,
    pub prompt_tokens: u64,
    pub eval_ms: f64,
    pub eval_tokens: u64,
}

//! What a run leaves behind: every model call, every step, every sandbox run and the final
//! verdict, serialised to `report.json` (and, in batch mode, `trajectory.json`).

use serde::Serialize;

use crate::models::{AgentRole, Finish, Message};

/// One model call.
#[derive(Debug, Clone, Serialize)]
pub struct CallRecord {
    pub agent: AgentRole,
    pub model: String,
    pub messages: Vec<Message>,
    pub response: String,
    pub prompt_tokens: u32,
    pub reused_tokens: u32,
    pub evaluated_tokens: u32,
    pub generated_tokens: u32,
    pub prompt_seconds: f64,
    pub generate_seconds: f64,
    pub finish: Finish,
}

/// One step of the plan as executed.
#[derive(Debug, Clone, Serialize, Default)]
pub struct StepRecord {
    pub index: usize,
    pub agent: Option<AgentRole>,
    pub goal: String,
    /// Model calls made by this step (indices into `RunReport::calls`).
    pub calls: Vec<usize>,
    pub prompt_tokens: u32,
    pub evaluated_tokens: u32,
    pub reused_tokens: u32,
    pub generated_tokens: u32,
    pub seconds: f64,
    /// Re-prompts after syntax errors or missing code.
    pub retries: u32,
    /// Agent-specific result: `approve`/`request-changes`, `fixed code`, `fixed tests`, ...
    pub verdict: String,
    pub notes: Vec<String>,
}

impl StepRecord {
    /// Add the token and time accounting of `calls[from..]` to this step.
    pub fn absorb(&mut self, calls: &[CallRecord], from: usize) {
        for (i, c) in calls.iter().enumerate().skip(from) {
            self.calls.push(i);
            self.prompt_tokens += c.prompt_tokens;
            self.evaluated_tokens += c.evaluated_tokens;
            self.reused_tokens += c.reused_tokens;
            self.generated_tokens += c.generated_tokens;
            self.seconds += c.prompt_seconds + c.generate_seconds;
        }
    }
}

/// Totals over all calls.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Totals {
    pub calls: u32,
    pub prompt_tokens: u64,
    pub evaluated_tokens: u64,
    pub reused_tokens: u64,
    pub generated_tokens: u64,
    pub model_seconds: f64,
}

impl Totals {
    pub fn of(calls: &[CallRecord]) -> Self {
        let mut t = Totals::default();
        for c in calls {
            t.calls += 1;
            t.prompt_tokens += c.prompt_tokens as u64;
            t.evaluated_tokens += c.evaluated_tokens as u64;
            t.reused_tokens += c.reused_tokens as u64;
            t.generated_tokens += c.generated_tokens as u64;
            t.model_seconds += c.prompt_seconds + c.generate_seconds;
        }
        t
    }
}

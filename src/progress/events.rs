//! What the model side reports while it works, as a small API: the [`ModelManager`] and the
//! model backends send [`Event`]s to a [`ProgressSink`] (set with
//! [`ModelManager::set_progress`]); a display ([`super::LiveProgress`]) or a batch worker turns
//! them into output. Events are borrowed and cheap: a sink that wants to keep one copies it.
//!
//! [`ModelManager`]: crate::models::ModelManager
//! [`ModelManager::set_progress`]: crate::models::ModelManager::set_progress

use std::sync::{Arc, Mutex};

use crate::models::AgentRole;

/// One thing that happened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event<'a> {
    /// A stage of the work begins (`loading qwen…`, `running the tests`); shown until the next.
    Stage(&'a str),
    /// A line worth printing as it is (the memory plan, a model loaded).
    Note(&'a str),
    /// `agent` asks `model` for a reply.
    GenerationStarted { agent: AgentRole, model: &'a str },
    /// Text generated for `agent`, as it arrives: one token from the in-process backend, one
    /// chunk from a streaming server, the whole reply from a backend that does not stream.
    Token { agent: AgentRole, text: &'a str },
    /// The reply is complete (`ok` false: the backend failed).
    GenerationFinished {
        agent: AgentRole,
        tokens: u32,
        seconds: f64,
        ok: bool,
    },
}

/// Receives [`Event`]s; shared between the manager, the loaded model and the display.
pub trait ProgressSink: Send + Sync {
    fn event(&self, event: &Event<'_>);
}

/// The form in which sinks are handed around.
pub type SharedSink = Arc<dyn ProgressSink>;

/// An owned copy of an [`Event`] (see [`Recorder`]).
#[derive(Debug, Clone, PartialEq)]
pub enum OwnedEvent {
    Stage(String),
    Note(String),
    GenerationStarted {
        agent: AgentRole,
        model: String,
    },
    Token {
        agent: AgentRole,
        text: String,
    },
    GenerationFinished {
        agent: AgentRole,
        tokens: u32,
        ok: bool,
    },
}

/// A sink that keeps every event (tests, and callers that summarise afterwards).
#[derive(Debug, Default)]
pub struct Recorder {
    events: Mutex<Vec<OwnedEvent>>,
}

impl Recorder {
    pub fn events(&self) -> Vec<OwnedEvent> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl ProgressSink for Recorder {
    fn event(&self, event: &Event<'_>) {
        let owned = match *event {
            Event::Stage(s) => OwnedEvent::Stage(s.into()),
            Event::Note(s) => OwnedEvent::Note(s.into()),
            Event::GenerationStarted { agent, model } => OwnedEvent::GenerationStarted {
                agent,
                model: model.into(),
            },
            Event::Token { agent, text } => OwnedEvent::Token {
                agent,
                text: text.into(),
            },
            Event::GenerationFinished {
                agent, tokens, ok, ..
            } => OwnedEvent::GenerationFinished { agent, tokens, ok },
        };
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(owned);
    }
}

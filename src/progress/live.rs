//! The live display of `run` and `fix` on stderr: the current agent and what it is doing, the
//! tokens generated and tokens/s while a reply is generated, and the elapsed time, on one
//! spinner line. With `--stream` the generated text itself goes to stderr as it arrives, each
//! reply under a header naming its agent (no spinner then, so the two do not mix). When stderr
//! is not a terminal (and without `--stream`) nothing is drawn; notes (the memory plan, the
//! load) are still printed as plain lines.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::events::{Event, ProgressSink};
use crate::models::AgentRole;

/// What an agent's generation is for, in words.
pub fn activity(agent: AgentRole) -> &'static str {
    match agent {
        AgentRole::Coordinator => "planning",
        AgentRole::CodeGenerator => "writing code",
        AgentRole::TestWriter => "writing tests and inputs",
        AgentRole::Debugger => "debugging",
        AgentRole::Reviewer => "reviewing",
        AgentRole::Localizer => "localizing",
        AgentRole::Repairer => "repairing",
        AgentRole::Single => "answering",
    }
}

#[derive(Default)]
struct State {
    stage: String,
    agent: Option<AgentRole>,
    /// When the current reply's first token arrived, and tokens since.
    first_token: Option<Instant>,
    tokens: u32,
    generating: bool,
    /// The last finished reply's rate.
    last_rate: Option<f64>,
    /// Replies so far.
    replies: u32,
    /// Streaming: the last character written was a newline.
    at_line_start: bool,
}

/// The display; a [`ProgressSink`] for the [`crate::models::ModelManager`].
pub struct LiveProgress {
    bar: ProgressBar,
    stream: bool,
    /// Plain lines (notes) go to stderr; false for `--json`.
    notes: bool,
    state: Mutex<State>,
}

impl LiveProgress {
    /// `stream`: print generated text as it arrives. `quiet`: no spinner and no notes (the
    /// `--json` commands), though `--stream` still streams.
    pub fn new(stream: bool, quiet: bool) -> Self {
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        Self::with_target(stream, quiet, terminal)
    }

    /// [`Self::new`] with the terminal question answered by the caller (tests).
    pub fn with_target(stream: bool, quiet: bool, terminal: bool) -> Self {
        let bar = if terminal && !stream && !quiet {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                    .expect("static template"),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        } else {
            ProgressBar::hidden()
        };
        Self {
            bar,
            stream,
            notes: !quiet,
            state: Mutex::new(State {
                at_line_start: true,
                ..State::default()
            }),
        }
    }

    /// Remove the spinner (call before printing the final table).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
        let mut st = self.lock();
        if self.stream && !st.at_line_start {
            eprintln!();
            st.at_line_start = true;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The spinner's message for the current state.
    fn message(st: &State) -> String {
        let mut parts = Vec::new();
        match (st.agent, st.generating) {
            (Some(agent), true) => {
                let rate = st
                    .first_token
                    .map(|t| t.elapsed().as_secs_f64())
                    .filter(|&s| s > 0.05)
                    .map(|s| format!(", {:.1} tok/s", st.tokens as f64 / s))
                    .unwrap_or_default();
                parts.push(format!("{agent}: {}", activity(agent)));
                parts.push(format!("generating: {} tokens{rate}", st.tokens));
            }
            (Some(agent), false) => {
                parts.push(format!("{agent}: replied"));
                if let Some(r) = st.last_rate {
                    parts.push(format!("{r:.1} tok/s"));
                }
            }
            (None, _) => {}
        }
        if !st.stage.is_empty() {
            parts.push(st.stage.clone());
        }
        if st.replies > 0 {
            parts.push(format!("{} model calls", st.replies));
        }
        parts.join(" · ")
    }
}

impl ProgressSink for LiveProgress {
    fn event(&self, event: &Event<'_>) {
        let mut st = self.lock();
        match *event {
            Event::Stage(s) => {
                st.stage = s.to_string();
                st.agent = None;
            }
            Event::Note(line) => {
                if self.notes {
                    if self.stream && !st.at_line_start {
                        eprintln!();
                        st.at_line_start = true;
                    }
                    // Above the spinner when there is one; a plain line otherwise.
                    if self.bar.is_hidden() {
                        eprintln!("{line}");
                    } else {
                        self.bar.println(line);
                    }
                }
            }
            Event::GenerationStarted { agent, model } => {
                st.stage.clear();
                st.agent = Some(agent);
                st.generating = true;
                st.tokens = 0;
                st.first_token = None;
                if self.stream {
                    let sep = if st.at_line_start { "" } else { "\n" };
                    eprintln!("{sep}── {agent} ({}) · {model} ──", activity(agent));
                    st.at_line_start = true;
                }
            }
            Event::Token { text, .. } => {
                st.tokens += 1;
                if st.first_token.is_none() {
                    st.first_token = Some(Instant::now());
                }
                if self.stream && !text.is_empty() {
                    let mut err = std::io::stderr().lock();
                    let _ = err.write_all(text.as_bytes());
                    let _ = err.flush();
                    st.at_line_start = text.ends_with('\n');
                }
            }
            Event::GenerationFinished {
                agent,
                tokens,
                seconds,
                ok,
            } => {
                st.generating = false;
                st.replies += 1;
                // A reply that took no measurable time (a scripted one) has no rate.
                let rate = (seconds >= 0.05).then(|| tokens as f64 / seconds);
                st.last_rate = rate.or(st.last_rate);
                if self.stream {
                    let sep = if st.at_line_start { "" } else { "\n" };
                    eprintln!(
                        "{sep}── {agent}: {}{tokens} tokens in {seconds:.1}s{} ──",
                        if ok { "" } else { "FAILED after " },
                        rate.map(|r| format!(", {r:.1} tok/s")).unwrap_or_default()
                    );
                    st.at_line_start = true;
                }
            }
        }
        if !self.bar.is_hidden() {
            self.bar.set_message(Self::message(&st));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_the_agent_its_activity_and_the_token_count() {
        let live = LiveProgress::with_target(false, false, false);
        live.event(&Event::Stage("loading m"));
        assert_eq!(LiveProgress::message(&live.lock()), "loading m");
        live.event(&Event::GenerationStarted {
            agent: AgentRole::CodeGenerator,
            model: "m",
        });
        for _ in 0..3 {
            live.event(&Event::Token {
                agent: AgentRole::CodeGenerator,
                text: "x",
            });
        }
        let m = LiveProgress::message(&live.lock());
        assert!(
            m.starts_with("code_generator: writing code · generating: 3 tokens"),
            "{m}"
        );
        live.event(&Event::GenerationFinished {
            agent: AgentRole::CodeGenerator,
            tokens: 10,
            seconds: 2.0,
            ok: true,
        });
        let m = LiveProgress::message(&live.lock());
        assert_eq!(m, "code_generator: replied · 5.0 tok/s · 1 model calls");
        live.event(&Event::Stage("running the tests"));
        let m = LiveProgress::message(&live.lock());
        assert_eq!(m, "running the tests · 1 model calls");
    }
}

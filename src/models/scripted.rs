//! A deterministic model that replays canned replies per agent role from a TOML script.
//!
//! Used by architecture tests and by the explicit `--mock` flag; never as a silent fallback for
//! the real model. Script format:
//!
//! ```toml
//! [[reply]]
//! role = "code_generator"
//! text = '''```python
//! def add(a, b):
//!     return a + b
//! ```'''
//! ```
//!
//! Replies for a role are consumed in order; asking a role with no reply left is an error that
//! names the role, so a test notices when the pipeline makes more calls than it expected.
//!
//! A script may also hold **named scripts** chosen by the prompt's content, so one model can
//! answer several tasks (the fixture instances of a `batch --mock` run, one script each):
//!
//! ```toml
//! [[script]]
//! name = "textkit"
//! matches = "truncate() returns strings one character too short"
//! [[script.reply]]
//! role = "localizer"
//! text = "textkit/strings.py"
//! ```
//!
//! A request whose messages contain a script's `matches` text is answered from that script's
//! replies (the first such script); any other request from the top-level `[[reply]]` list.
//!
//! Deadlines are honoured like the llama backend does: a request whose deadline has already
//! passed consumes its reply and returns nothing with [`Finish::Deadline`]. A reply with
//! `stalls = true` plays a generation that does not end on its own: it produces its text, then
//! runs until the request's deadline and returns that text with [`Finish::Deadline`] (a stalling
//! reply without a deadline is an error, not a hang).

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::time::Instant;

use serde::Deserialize;

use super::{AgentRole, Finish, GenRequest, Generation, Model, ModelError};

/// The seed's fibonacci demo (`run --mock`, `demo --mock`): top-level replies.
pub const DEFAULT_SCRIPT: &str = include_str!("../../models/scripted/fibonacci.toml");

/// One named script per fixture of [`crate::repo::fixture::FIXTURES`] (`fix --mock`,
/// `batch --mock` on what `codeswarm fixtures` writes), each chosen by its issue's title.
pub const FIXTURE_SCRIPTS: &[(&str, &str)] = &[
    (
        "textkit",
        include_str!("../../models/scripted/fixtures/textkit.toml"),
    ),
    (
        "shopcart",
        include_str!("../../models/scripted/fixtures/shopcart.toml"),
    ),
    (
        "statskit",
        include_str!("../../models/scripted/fixtures/statskit.toml"),
    ),
    (
        "configkit",
        include_str!("../../models/scripted/fixtures/configkit.toml"),
    ),
];

/// The name `--mock` gives the built-in script (the model is `scripted:builtin`).
pub const BUILTIN_NAME: &str = "builtin";

/// The script `--mock` uses when no `--script` is given: the fibonacci demo's replies, plus
/// the fixtures' named scripts (TOML arrays of tables concatenate).
pub fn builtin_script() -> String {
    let mut text = DEFAULT_SCRIPT.to_string();
    for (_, script) in FIXTURE_SCRIPTS {
        text.push('\n');
        text.push_str(script);
    }
    text
}

#[derive(Debug, Deserialize)]
struct ScriptFile {
    #[serde(default)]
    reply: Vec<Reply>,
    #[serde(default)]
    script: Vec<NamedScript>,
}

/// Replies for the requests whose prompt contains `matches`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NamedScript {
    name: String,
    matches: String,
    #[serde(default)]
    reply: Vec<Reply>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Reply {
    role: String,
    text: String,
    /// The generation runs until the request's deadline.
    #[serde(default)]
    stalls: bool,
}

/// One canned reply.
#[derive(Debug)]
struct Canned {
    text: String,
    stalls: bool,
}

type Queues = BTreeMap<AgentRole, VecDeque<Canned>>;

/// A named script and the text that selects it.
#[derive(Debug)]
struct Selected {
    name: String,
    matches: String,
    replies: Queues,
}

/// Replays canned replies; records every prompt it was given.
#[derive(Debug)]
pub struct ScriptedModel {
    name: String,
    replies: Queues,
    scripts: Vec<Selected>,
    /// Every request seen, in order: (role, last user message).
    pub transcript: Vec<(AgentRole, String)>,
    /// The script's name and text, to start it over for a new job.
    source: (String, String),
}

fn queues(name: &str, list: Vec<Reply>) -> Result<Queues, ModelError> {
    let mut replies = Queues::new();
    for r in list {
        let role = AgentRole::parse(&r.role).ok_or_else(|| {
            let known: Vec<_> = AgentRole::ALL.iter().map(|r| r.as_str()).collect();
            ModelError::Script(format!(
                "{name}: unknown role `{}` (known: {})",
                r.role,
                known.join(", ")
            ))
        })?;
        replies.entry(role).or_default().push_back(Canned {
            text: r.text,
            stalls: r.stalls,
        });
    }
    Ok(replies)
}

impl ScriptedModel {
    pub fn from_toml(name: &str, text: &str) -> Result<Self, ModelError> {
        let file: ScriptFile =
            toml::from_str(text).map_err(|e| ModelError::Script(format!("{name}: {e}")))?;
        let replies = queues(name, file.reply)?;
        let mut scripts = vec![];
        for s in file.script {
            if s.matches.trim().is_empty() {
                return Err(ModelError::Script(format!(
                    "{name}: script `{}` has an empty `matches`; give text its prompts contain",
                    s.name
                )));
            }
            scripts.push(Selected {
                replies: queues(&format!("{name}: script `{}`", s.name), s.reply)?,
                name: s.name,
                matches: s.matches,
            });
        }
        Ok(Self {
            name: format!("scripted:{name}"),
            replies,
            scripts,
            transcript: vec![],
            source: (name.to_string(), text.to_string()),
        })
    }

    /// The names of the named scripts, in file order.
    pub fn script_names(&self) -> Vec<&str> {
        self.scripts.iter().map(|s| s.name.as_str()).collect()
    }

    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ModelError::Script(format!("cannot read script {}: {e}", path.display()))
        })?;
        Self::from_toml(&path.display().to_string(), &text)
    }

    /// Replies not yet consumed, per role.
    pub fn remaining(&self) -> BTreeMap<AgentRole, usize> {
        self.replies.iter().map(|(r, q)| (*r, q.len())).collect()
    }
}

fn approx_tokens(text: &str) -> usize {
    text.split_whitespace().count()
}

impl Model for ScriptedModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn generate(&mut self, req: &GenRequest<'_>) -> Result<Generation, ModelError> {
        let start = Instant::now();
        let last_user = req
            .messages
            .iter()
            .rev()
            .find(|m| m.role == super::ChatRole::User)
            .map(|m| m.content.clone())
            .unwrap_or_default();
        self.transcript.push((req.agent, last_user));
        let selected = self.scripts.iter().position(|s| {
            req.messages
                .iter()
                .any(|m| m.content.contains(s.matches.as_str()))
        });
        let queue = match selected {
            Some(i) => &mut self.scripts[i].replies,
            None => &mut self.replies,
        };
        let Some(canned) = queue.get_mut(&req.agent).and_then(|q| q.pop_front()) else {
            let which = match selected {
                Some(i) => format!(" in script `{}`", self.scripts[i].name),
                None if self.scripts.is_empty() => String::new(),
                None => format!(
                    "; the prompt matches none of the named scripts ({}), which answer only the tasks they were written for",
                    self.script_names().join(", ")
                ),
            };
            return Err(ModelError::Script(format!(
                "no scripted reply left for role `{}` (call #{}){which}",
                req.agent,
                self.transcript.len()
            )));
        };
        let (text, finish) = if req.past_deadline() {
            (String::new(), Finish::Deadline)
        } else if canned.stalls {
            let Some(deadline) = req.deadline else {
                return Err(ModelError::Script(format!(
                    "a stalling reply for role `{}` needs a request with a deadline (call #{})",
                    req.agent,
                    self.transcript.len()
                )));
            };
            // Token by token, as the llama loop does: look at the deadline, then generate on.
            while !req.past_deadline() {
                let left = deadline.saturating_duration_since(Instant::now());
                std::thread::sleep(left.min(std::time::Duration::from_millis(5)));
            }
            (canned.text, Finish::Deadline)
        } else {
            (canned.text, Finish::EndOfText)
        };
        let prompt_tokens = req
            .messages
            .iter()
            .map(|m| approx_tokens(&m.content))
            .sum::<usize>() as u32;
        Ok(Generation {
            generated_tokens: approx_tokens(&text) as u32,
            text,
            prompt_tokens,
            reused_tokens: 0,
            evaluated_tokens: prompt_tokens,
            prompt_seconds: 0.0,
            generate_seconds: start.elapsed().as_secs_f64(),
            finish,
        })
    }

    fn count_tokens(&self, text: &str) -> usize {
        approx_tokens(text)
    }

    fn n_ctx(&self) -> usize {
        32768
    }

    /// Every job replays the script from its start (the text parsed once already, so this
    /// cannot fail).
    fn new_job(&mut self) {
        let (name, text) = self.source.clone();
        if let Ok(fresh) = Self::from_toml(&name, &text) {
            *self = fresh;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Message, Sampling};

    #[test]
    fn replays_in_order_per_role_and_errors_when_exhausted() {
        let script = r#"
[[reply]]
role = "code_generator"
text = "first"
[[reply]]
role = "reviewer"
text = "ok"
[[reply]]
role = "code_generator"
text = "second"
"#;
        let mut m = ScriptedModel::from_toml("t", script).unwrap();
        let msgs = [Message::user("hi")];
        let s = Sampling::default();
        let ask = |m: &mut ScriptedModel, agent| {
            m.generate(&GenRequest {
                agent,
                messages: &msgs,
                sampling: &s,
                deadline: None,
            })
        };
        assert_eq!(ask(&mut m, AgentRole::CodeGenerator).unwrap().text, "first");
        assert_eq!(ask(&mut m, AgentRole::Reviewer).unwrap().text, "ok");
        assert_eq!(
            ask(&mut m, AgentRole::CodeGenerator).unwrap().text,
            "second"
        );
        let err = ask(&mut m, AgentRole::CodeGenerator)
            .unwrap_err()
            .to_string();
        assert!(err.contains("code_generator"), "{err}");
        assert_eq!(m.transcript.len(), 4);
        // A new job (a batch instance) replays the script from its start.
        m.new_job();
        assert_eq!(ask(&mut m, AgentRole::CodeGenerator).unwrap().text, "first");
    }

    #[test]
    fn a_passed_deadline_stops_at_once_and_a_stalling_reply_runs_until_the_deadline() {
        let script = r#"
[[reply]]
role = "debugger"
text = "never seen"
[[reply]]
role = "debugger"
text = "partial"
stalls = true
[[reply]]
role = "debugger"
text = "stuck"
stalls = true
"#;
        let mut m = ScriptedModel::from_toml("t", script).unwrap();
        let msgs = [Message::user("hi")];
        let s = Sampling::default();
        let ask = |m: &mut ScriptedModel, deadline| {
            m.generate(&GenRequest {
                agent: AgentRole::Debugger,
                messages: &msgs,
                sampling: &s,
                deadline,
            })
        };
        let past = Instant::now();
        let g = ask(&mut m, Some(past)).unwrap();
        assert_eq!((g.text.as_str(), g.finish), ("", Finish::Deadline));

        let soon = Instant::now() + std::time::Duration::from_millis(50);
        let g = ask(&mut m, Some(soon)).unwrap();
        assert!(Instant::now() >= soon);
        assert_eq!((g.text.as_str(), g.finish), ("partial", Finish::Deadline));

        let err = ask(&mut m, None).unwrap_err().to_string();
        assert!(err.contains("deadline"), "{err}");
        assert_eq!(m.transcript.len(), 3);
    }

    #[test]
    fn unknown_role_is_rejected() {
        let err = ScriptedModel::from_toml("t", "[[reply]]\nrole = \"wizard\"\ntext = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("wizard"), "{err}");
    }

    #[test]
    fn named_scripts_answer_the_prompts_that_contain_their_text() {
        let script = r#"
[[reply]]
role = "localizer"
text = "default"
[[script]]
name = "a"
matches = "bug A"
[[script.reply]]
role = "localizer"
text = "for A"
[[script]]
name = "b"
matches = "bug B"
[[script.reply]]
role = "localizer"
text = "for B"
"#;
        let mut m = ScriptedModel::from_toml("t", script).unwrap();
        assert_eq!(m.script_names(), ["a", "b"]);
        let s = Sampling::default();
        let mut ask = |text: &str| {
            let msgs = [Message::system("sys"), Message::user(text)];
            m.generate(&GenRequest {
                agent: AgentRole::Localizer,
                messages: &msgs,
                sampling: &s,
                deadline: None,
            })
            .map(|g| g.text)
        };
        assert_eq!(ask("issue: bug B happens").unwrap(), "for B");
        assert_eq!(ask("issue: bug A happens").unwrap(), "for A");
        assert_eq!(ask("something else").unwrap(), "default");
        let err = ask("bug A again").unwrap_err().to_string();
        assert!(err.contains("in script `a`"), "{err}");
        let err = ask("unrelated").unwrap_err().to_string();
        assert!(
            err.contains("matches none of the named scripts (a, b)"),
            "{err}"
        );
    }

    #[test]
    fn every_fixture_has_a_builtin_script_chosen_by_its_issue() {
        let m = ScriptedModel::from_toml(BUILTIN_NAME, &builtin_script()).unwrap();
        for f in crate::repo::fixture::FIXTURES {
            let chosen: Vec<&str> = m
                .scripts
                .iter()
                .filter(|s| f.issue.contains(s.matches.as_str()))
                .map(|s| s.name.as_str())
                .collect();
            assert_eq!(chosen, [f.name], "{}", f.name);
            let s = m.scripts.iter().find(|s| s.name == f.name).unwrap();
            for role in [
                AgentRole::Localizer,
                AgentRole::TestWriter,
                AgentRole::Repairer,
            ] {
                assert!(s.replies.contains_key(&role), "{}: {role}", f.name);
            }
        }
        // The fibonacci demo's task selects no fixture script.
        assert!(!m
            .scripts
            .iter()
            .any(|s| "Write a fibonacci function".contains(s.matches.as_str())));
    }

    #[test]
    fn default_script_parses() {
        let m = ScriptedModel::from_toml("default", DEFAULT_SCRIPT).unwrap();
        assert!(
            m.remaining()
                .get(&AgentRole::CodeGenerator)
                .copied()
                .unwrap_or(0)
                >= 1
        );
    }
}

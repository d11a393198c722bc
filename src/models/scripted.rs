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

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::time::Instant;

use serde::Deserialize;

use super::{AgentRole, Finish, GenRequest, Generation, Model, ModelError};

/// The script `--mock` uses when no `--script` is given: the seed's fibonacci demo.
pub const DEFAULT_SCRIPT: &str = include_str!("../../models/scripted/fibonacci.toml");

#[derive(Debug, Deserialize)]
struct ScriptFile {
    #[serde(default)]
    reply: Vec<Reply>,
}

#[derive(Debug, Deserialize)]
struct Reply {
    role: String,
    text: String,
}

/// Replays canned replies; records every prompt it was given.
#[derive(Debug)]
pub struct ScriptedModel {
    name: String,
    replies: BTreeMap<AgentRole, VecDeque<String>>,
    /// Every request seen, in order: (role, last user message).
    pub transcript: Vec<(AgentRole, String)>,
}

impl ScriptedModel {
    pub fn from_toml(name: &str, text: &str) -> Result<Self, ModelError> {
        let file: ScriptFile =
            toml::from_str(text).map_err(|e| ModelError::Script(format!("{name}: {e}")))?;
        let mut replies: BTreeMap<AgentRole, VecDeque<String>> = BTreeMap::new();
        for r in file.reply {
            let role = AgentRole::parse(&r.role).ok_or_else(|| {
                let known: Vec<_> = AgentRole::ALL.iter().map(|r| r.as_str()).collect();
                ModelError::Script(format!(
                    "{name}: unknown role `{}` (known: {})",
                    r.role,
                    known.join(", ")
                ))
            })?;
            replies.entry(role).or_default().push_back(r.text);
        }
        Ok(Self {
            name: format!("scripted:{name}"),
            replies,
            transcript: vec![],
        })
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
        let text = self
            .replies
            .get_mut(&req.agent)
            .and_then(|q| q.pop_front())
            .ok_or_else(|| {
                ModelError::Script(format!(
                    "no scripted reply left for role `{}` (call #{})",
                    req.agent,
                    self.transcript.len()
                ))
            })?;
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
            finish: Finish::EndOfText,
        })
    }

    fn count_tokens(&self, text: &str) -> usize {
        approx_tokens(text)
    }

    fn n_ctx(&self) -> usize {
        32768
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
    }

    #[test]
    fn unknown_role_is_rejected() {
        let err = ScriptedModel::from_toml("t", "[[reply]]\nrole = \"wizard\"\ntext = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("wizard"), "{err}");
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

//! Debugger: given the failing tests (ids, assertion messages, trimmed tracebacks) or review
//! findings, revises the solution, or, when a test contradicts the task, the tests.

use minijinja::context;
use serde::Serialize;

use super::{AgentError, Crew, PyReply};
use crate::models::{AgentRole, Message};

/// Which file the Debugger changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Code,
    Tests,
}

#[derive(Debug, Clone)]
pub struct DebugRequest<'a> {
    pub task: &'a str,
    pub code: &'a str,
    pub tests: &'a str,
    /// Failure report (or review findings) in plain text.
    pub failures: &'a str,
    /// The task's own examples pass (so failing model tests may be wrong).
    pub examples_pass: bool,
    /// Whether the Debugger may rewrite the tests instead of the code.
    pub may_fix_tests: bool,
}

#[derive(Debug, Clone)]
pub struct DebugReply {
    pub side: Side,
    pub reply: PyReply,
}

pub fn revise(crew: &mut Crew<'_>, req: &DebugRequest<'_>) -> Result<DebugReply, AgentError> {
    let messages: Vec<Message> = crew.opening(
        "debugger",
        context! {
            task => req.task, code => req.code, tests => req.tests, failures => req.failures,
            examples_pass => req.examples_pass, may_fix_tests => req.may_fix_tests,
        },
    )?;
    let reply = crew.ask_python(AgentRole::Debugger, messages, "the fixed file")?;
    let side = if req.may_fix_tests && chose_tests(&reply) {
        Side::Tests
    } else {
        Side::Code
    };
    Ok(DebugReply { side, reply })
}

/// The Debugger chose the tests when it said `FIX: tests`, or when its code is a test module
/// (test functions and no definitions other than tests and fixtures).
fn chose_tests(reply: &PyReply) -> bool {
    if reply
        .reply
        .lines()
        .any(|l| l.trim().eq_ignore_ascii_case("FIX: tests"))
    {
        return true;
    }
    let Some(code) = reply.valid_code() else {
        return false;
    };
    let names = crate::syntax::defined_names(code);
    !names.is_empty()
        && names
            .iter()
            .all(|n| n.starts_with("test_") || n.starts_with("Test"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &str, code: &str) -> PyReply {
        PyReply {
            code: Some(code.into()),
            valid: true,
            retries: 0,
            problems: vec![],
            reply: text.into(),
        }
    }

    #[test]
    fn side_is_tests_only_when_said_or_when_the_file_is_all_tests() {
        assert!(chose_tests(&reply(
            "FIX: tests\n```python\n```",
            "def f():\n    pass\n"
        )));
        assert!(chose_tests(&reply(
            "",
            "from solution import *\ndef test_a():\n    assert f() == 1\n"
        )));
        assert!(!chose_tests(&reply("", "def f():\n    return 1\n")));
        assert!(!chose_tests(&reply(
            "",
            "def f():\n    return 1\ndef test_f():\n    assert f() == 1\n"
        )));
    }
}

//! Debugger: given the failing tests (ids, assertion messages, trimmed tracebacks) or review
//! findings, revises the solution; or, when the Coordinator decides the tests are the suspect
//! (the task's own examples pass but the written tests fail, or independent candidates all
//! fail them the same way), revises the tests.

use minijinja::context;
use serde::Serialize;

use super::{AgentError, Crew, PyReply};
use crate::models::AgentRole;

/// Which file the Debugger changes.
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
    /// The file to fix.
    pub side: Side,
    /// With `Side::Tests`: why the tests are the suspect — the task's examples pass (true), or
    /// independent candidates fail them the same way (false).
    pub examples_pass: bool,
}

pub fn revise(crew: &mut Crew<'_>, req: &DebugRequest<'_>) -> Result<PyReply, AgentError> {
    let (template, file) = match req.side {
        Side::Code => ("debugger", "solution.py"),
        Side::Tests => ("debugger_tests", "test_solution.py"),
    };
    let messages = crew.opening(template, context! { task => req.task, code => req.code, tests => req.tests, failures => req.failures, examples_pass => req.examples_pass })?;
    let mut reply = crew.ask_python(AgentRole::Debugger, messages, file)?;
    match req.side {
        Side::Code => reply.clean(super::hygiene::clean_solution),
        Side::Tests => {
            let names = crate::syntax::defined_names(req.code);
            reply.clean(|t| super::hygiene::clean_tests(t, &names));
            if let Some(t) = reply.code.as_mut() {
                super::test_writer::ensure_import(t);
            }
        }
    }
    Ok(reply)
}

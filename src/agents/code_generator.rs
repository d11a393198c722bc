//! CodeGenerator: writes solution.py for the task, extends it for a later subtask, or revises it
//! from review findings.

use minijinja::context;

use super::{AgentError, Crew, PyReply};
use crate::models::AgentRole;

/// What the CodeGenerator is asked to do.
#[derive(Debug, Clone, Default)]
pub struct CodeRequest<'a> {
    pub task: &'a str,
    /// The subtask goal from the plan (may be empty).
    pub goal: &'a str,
    /// The current solution, when extending or revising.
    pub code: Option<&'a str>,
    /// Problems to fix (review findings, static-check findings).
    pub feedback: Option<&'a str>,
    /// The task's requirements, one per line (empty: not shown).
    pub checklist: &'a str,
}

pub fn generate(crew: &mut Crew<'_>, req: &CodeRequest<'_>) -> Result<PyReply, AgentError> {
    let messages = crew.opening(
        "code_generator",
        context! { task => req.task, goal => req.goal, code => req.code.unwrap_or(""), feedback => req.feedback.unwrap_or(""), checklist => req.checklist },
    )?;
    let mut reply = crew.ask_python(AgentRole::CodeGenerator, messages, "solution.py")?;
    reply.clean(super::hygiene::clean_solution);
    Ok(reply)
}

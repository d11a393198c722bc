//! TaskDecomposer: the model writes the plan as JSON (subtasks, each with a role and a goal).
//! The plan is parsed with serde and validated; an invalid plan is retried once with the error,
//! then the default plan (generate → write tests → debug → review) is used and the trace says so.

use minijinja::context;
use serde::{Deserialize, Serialize};

use crate::agents::{AgentError, Crew};
use crate::models::{AgentRole, Message};

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subtask {
    pub role: AgentRole,
    pub goal: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub subtasks: Vec<Subtask>,
}

/// Roles a plan may name.
pub const PLAN_ROLES: [AgentRole; 4] = [
    AgentRole::CodeGenerator,
    AgentRole::TestWriter,
    AgentRole::Debugger,
    AgentRole::Reviewer,
];

impl Plan {
    /// The plan used when the model's plan is unusable.
    pub fn default_plan() -> Plan {
        let s = |role, goal: &str| Subtask {
            role,
            goal: goal.to_string(),
        };
        Plan {
            subtasks: vec![
                s(AgentRole::CodeGenerator, "Write the solution."),
                s(AgentRole::TestWriter, "Write pytest tests for the task."),
                s(AgentRole::Debugger, "Run the tests and fix failures."),
                s(AgentRole::Reviewer, "Review the solution against the task."),
            ],
        }
    }
}

/// Where the plan came from.
#[derive(Debug, Clone, Serialize)]
pub struct PlanTrace {
    /// `model`, `model-after-retry` or `default`.
    pub source: String,
    /// The error of each rejected attempt.
    pub rejected: Vec<String>,
    /// Steps the coordinator added to a valid model plan (tests are the judge).
    pub added: Vec<AgentRole>,
}

/// Parse and validate a plan from a model reply (JSON, possibly inside a fence or prose).
pub fn parse_plan(reply: &str, max_subtasks: usize) -> Result<Plan, String> {
    let start = reply.find('{').ok_or("no JSON object in the reply")?;
    let end = reply.rfind('}').ok_or("the JSON object is not closed")?;
    if end < start {
        return Err("no JSON object in the reply".into());
    }
    let plan: Plan =
        serde_json::from_str(&reply[start..=end]).map_err(|e| format!("invalid plan JSON: {e}"))?;
    validate(&plan, max_subtasks)?;
    Ok(plan)
}

/// Structural rules for a plan.
pub fn validate(plan: &Plan, max_subtasks: usize) -> Result<(), String> {
    if plan.subtasks.is_empty() {
        return Err("the plan has no subtasks".into());
    }
    if plan.subtasks.len() > max_subtasks {
        return Err(format!(
            "the plan has {} subtasks; at most {max_subtasks} are allowed",
            plan.subtasks.len()
        ));
    }
    for (i, s) in plan.subtasks.iter().enumerate() {
        if !PLAN_ROLES.contains(&s.role) {
            return Err(format!(
                "subtask {} has role `{}`; use code_generator, test_writer, debugger or reviewer",
                i + 1,
                s.role
            ));
        }
        if s.goal.trim().is_empty() {
            return Err(format!("subtask {} has an empty goal", i + 1));
        }
    }
    if plan.subtasks[0].role != AgentRole::CodeGenerator {
        return Err(format!(
            "the first subtask must be code_generator, not {}",
            plan.subtasks[0].role
        ));
    }
    Ok(())
}

/// Tests are the judge: a valid plan without a test writer or a debugger gets them appended.
fn complete(plan: &mut Plan) -> Vec<AgentRole> {
    let mut added = vec![];
    for (role, goal) in [
        (AgentRole::TestWriter, "Write pytest tests for the task."),
        (AgentRole::Debugger, "Run the tests and fix failures."),
    ] {
        if !plan.subtasks.iter().any(|s| s.role == role) {
            let at = plan
                .subtasks
                .iter()
                .position(|s| s.role == AgentRole::Reviewer)
                .unwrap_or(plan.subtasks.len());
            plan.subtasks.insert(
                at,
                Subtask {
                    role,
                    goal: goal.into(),
                },
            );
            added.push(role);
        }
    }
    added
}

/// Ask the model for a plan; retry with the error; fall back to the default plan.
pub fn decompose(crew: &mut Crew<'_>, task: &str) -> Result<(Plan, PlanTrace), AgentError> {
    let max = crew.config.limits.max_subtasks;
    let mut messages = crew.opening("decomposer", context! { task })?;
    let mut rejected = vec![];
    for attempt in 0..=crew.config.limits.plan_retries {
        let g = crew.chat(AgentRole::Coordinator, &messages)?;
        match parse_plan(&g.text, max) {
            Ok(mut plan) => {
                let added = complete(&mut plan);
                let source = if attempt == 0 {
                    "model"
                } else {
                    "model-after-retry"
                }
                .to_string();
                return Ok((
                    plan,
                    PlanTrace {
                        source,
                        rejected,
                        added,
                    },
                ));
            }
            Err(e) => {
                tracing::info!(error = %e, "plan rejected");
                rejected.push(e.clone());
                messages.push(Message::assistant(g.text));
                messages.push(Message::user(
                    crew.prompts.render("plan_retry", context! { error => e })?,
                ));
            }
        }
    }
    Ok((
        Plan::default_plan(),
        PlanTrace {
            source: "default".into(),
            rejected,
            added: vec![],
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_fenced_plan() {
        let r = "Here is the plan:\n```json\n{\"subtasks\": [{\"role\": \"code_generator\", \"goal\": \"write fib\"}, {\"role\": \"reviewer\", \"goal\": \"check\"}]}\n```";
        let p = parse_plan(r, 8).unwrap();
        assert_eq!(p.subtasks.len(), 2);
        assert_eq!(p.subtasks[1].role, AgentRole::Reviewer);
    }

    #[test]
    fn rejects_bad_plans_with_reasons() {
        assert!(parse_plan("no json here", 8)
            .unwrap_err()
            .contains("no JSON"));
        assert!(parse_plan("{\"subtasks\": []}", 8)
            .unwrap_err()
            .contains("no subtasks"));
        assert!(parse_plan(
            "{\"subtasks\": [{\"role\": \"wizard\", \"goal\": \"x\"}]}",
            8
        )
        .unwrap_err()
        .contains("invalid plan JSON"));
        assert!(parse_plan(
            "{\"subtasks\": [{\"role\": \"coordinator\", \"goal\": \"x\"}]}",
            8
        )
        .unwrap_err()
        .contains("role `coordinator`"));
        assert!(parse_plan(
            "{\"subtasks\": [{\"role\": \"reviewer\", \"goal\": \"x\"}]}",
            8
        )
        .unwrap_err()
        .contains("first subtask"));
        assert!(parse_plan(
            "{\"subtasks\": [{\"role\": \"code_generator\", \"goal\": \" \"}]}",
            8
        )
        .unwrap_err()
        .contains("empty goal"));
        let many = format!(
            "{{\"subtasks\": [{}]}}",
            vec!["{\"role\": \"code_generator\", \"goal\": \"x\"}"; 9].join(",")
        );
        assert!(parse_plan(&many, 8).unwrap_err().contains("at most 8"));
        assert!(parse_plan("{\"subtasks\": [{\"role\": \"code_generator\"}]}", 8).is_err());
    }

    #[test]
    fn completion_adds_test_writer_and_debugger_before_the_reviewer() {
        let mut p = Plan {
            subtasks: vec![
                Subtask {
                    role: AgentRole::CodeGenerator,
                    goal: "a".into(),
                },
                Subtask {
                    role: AgentRole::Reviewer,
                    goal: "b".into(),
                },
            ],
        };
        let added = complete(&mut p);
        assert_eq!(added, vec![AgentRole::TestWriter, AgentRole::Debugger]);
        let roles: Vec<_> = p.subtasks.iter().map(|s| s.role).collect();
        assert_eq!(
            roles,
            vec![
                AgentRole::CodeGenerator,
                AgentRole::TestWriter,
                AgentRole::Debugger,
                AgentRole::Reviewer
            ]
        );
        assert!(validate(&Plan::default_plan(), 8).is_ok());
    }
}

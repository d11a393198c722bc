//! The whole pipeline on the ScriptedModel: plan retry, syntax-error-then-fix retry, a reviewer
//! change request looping back to the CodeGenerator, and the fallback to the default plan.

use codeswarm::agents::prompts::Prompts;
use codeswarm::config::Config;
use codeswarm::coordination::coordinator::FinalStatus;
use codeswarm::coordination::RunOutcome;
use codeswarm::models::{AgentRole, Finish, ManagerSettings, ModelManager, Registry};

/// These scripts plan with the model whatever the task's size (the plan is under test).
fn run(script: &str, task: &str) -> RunOutcome {
    let mut config = Config::defaults();
    config.limits.model_plan_min_functions = 0;
    run_with(script, task, &config)
}

fn run_with(script: &str, task: &str, config: &Config) -> RunOutcome {
    let settings = ManagerSettings {
        mock_script: Some(("test".into(), script.into())),
        quiet: true,
        ..Default::default()
    };
    let mut manager = ModelManager::new(Registry::builtin(), settings);
    let prompts = Prompts::load(Some(std::path::Path::new("/nonexistent"))).unwrap();
    codeswarm::pipeline::run_task(task, &mut manager, config, &prompts, None).unwrap()
}

const RETRY_SCRIPT: &str = r#"
[[reply]]
role = "coordinator"
text = "Sure! Here is my plan: first write code, then test."

[[reply]]
role = "coordinator"
text = '''{"subtasks": [{"role": "code_generator", "goal": "write add"}, {"role": "reviewer", "goal": "review"}]}'''

[[reply]]
role = "code_generator"
text = '''```python
def add(a, b)
    return a + b
```'''

[[reply]]
role = "code_generator"
text = '''```python
def add(a, b):
    return a - b
```'''

[[reply]]
role = "test_writer"
text = '''```python
def test_add():
    assert add(2, 3) == 5
```'''

[[reply]]
role = "reviewer"
text = '''VERDICT: request-changes
- add subtracts instead of adding'''

[[reply]]
role = "code_generator"
text = '''```python
def add(a, b):
    return a + b
```'''

[[reply]]
role = "reviewer"
text = "VERDICT: approve"
"#;

#[test]
fn syntax_retry_plan_retry_and_review_loop() {
    let out = run(RETRY_SCRIPT, "Write add(a, b) returning the sum.");
    let r = &out.report;

    // Plan: rejected once with the reason, then accepted; test writer and debugger added.
    assert_eq!(r.plan_trace.source, "model-after-retry");
    assert!(
        r.plan_trace.rejected[0].contains("no JSON"),
        "{:?}",
        r.plan_trace.rejected
    );
    let roles: Vec<_> = r.plan.subtasks.iter().map(|s| s.role).collect();
    assert_eq!(
        roles,
        vec![
            AgentRole::CodeGenerator,
            AgentRole::TestWriter,
            AgentRole::Debugger,
            AgentRole::Reviewer
        ]
    );
    let plan_retry_prompt = &r.calls[1].messages.last().unwrap().content;
    assert!(
        plan_retry_prompt.contains("not valid") && plan_retry_prompt.contains("no JSON"),
        "{plan_retry_prompt}"
    );

    // Syntax error: the CodeGenerator is re-prompted with line, column and the line itself.
    let gen = &r.steps[1];
    assert_eq!(gen.agent, Some(AgentRole::CodeGenerator));
    assert_eq!(gen.retries, 1);
    let retry = &r.calls[3].messages.last().unwrap().content;
    assert!(
        retry.contains("does not parse")
            && retry.contains("Line 1")
            && retry.contains("def add(a, b)"),
        "{retry}"
    );
    assert_eq!(
        r.calls[3].messages.len(),
        4,
        "retry continues the same conversation"
    );

    // The reviewer's change request went back to the CodeGenerator with the reasons.
    let review = r
        .steps
        .iter()
        .find(|s| s.agent == Some(AgentRole::Reviewer))
        .unwrap();
    assert_eq!(review.verdict, "approve");
    assert_eq!(r.reviews.len(), 2);
    let revision_prompt = &r.calls[6].messages[1].content;
    assert!(
        revision_prompt.contains("subtracts instead of adding")
            && revision_prompt.contains("return a - b"),
        "{revision_prompt}"
    );
    assert_eq!(
        out.code.as_deref(),
        Some("def add(a, b):\n    return a + b\n")
    );
    assert!(r.changes.iter().any(|c| c.by == AgentRole::CodeGenerator));

    // Without a sandbox nothing is claimed as passing.
    assert_eq!(r.status, FinalStatus::Untested);
    assert!(!r.success);
    assert_eq!(
        r.calls.len(),
        8,
        "every scripted reply used, no extra calls"
    );
    // All agents share the system prompt and begin with the task.
    assert!(r
        .calls
        .iter()
        .all(|c| c.messages[0].content == r.calls[0].messages[0].content));
    assert!(r
        .calls
        .iter()
        .all(|c| c.messages[1].content.starts_with("Task:\nWrite add(a, b)")));
}

#[test]
fn invalid_plans_fall_back_to_the_default_plan_and_say_so() {
    let script = r#"
[[reply]]
role = "coordinator"
text = '''{"subtasks": [{"role": "wizard", "goal": "magic"}]}'''
[[reply]]
role = "coordinator"
text = '''{"subtasks": []}'''
[[reply]]
role = "code_generator"
text = "I will not write code."
[[reply]]
role = "code_generator"
text = "Still no code."
[[reply]]
role = "code_generator"
text = "No."
[[reply]]
role = "code_generator"
text = "Never."
"#;
    let out = run(script, "Write f().");
    let r = &out.report;
    assert_eq!(r.plan_trace.source, "default");
    assert_eq!(r.plan_trace.rejected.len(), 2);
    assert!(r.steps[0].notes.iter().any(|n| n.contains("rejected plan")));
    // The same problem twice in a row stops the retries early; the run ends without code, honestly.
    assert_eq!(r.steps[1].retries, 1);
    assert!(
        r.steps[1]
            .notes
            .iter()
            .any(|n| n.contains("stopped retrying")),
        "{:?}",
        r.steps[1].notes
    );
    assert_eq!(r.status, FinalStatus::NoCode);
    assert!(out.code.is_none());
    assert!(
        r.steps
            .iter()
            .skip(2)
            .all(|s| s.verdict.starts_with("skipped")),
        "{:?}",
        r.steps
    );
}

/// The TestWriter's generation runs past the run's time limit: it is cut off there (not run to
/// its end), the run stops with the time limit named, and the code written before is the result.
#[test]
fn the_time_limit_cuts_a_generation_off_and_the_run_keeps_its_best_state() {
    let script = r#"
[[reply]]
role = "coordinator"
text = '''{"subtasks": [{"role": "code_generator", "goal": "write add"}, {"role": "reviewer", "goal": "review"}]}'''

[[reply]]
role = "code_generator"
text = '''```python
def add(a, b):
    return a + b
```'''

[[reply]]
role = "test_writer"
text = '''```python
def test_add():
    assert add(2, 3) =='''
stalls = true

[[reply]]
role = "reviewer"
text = "VERDICT: approve"
"#;
    let mut config = Config::defaults();
    config.limits.model_plan_min_functions = 0;
    config.limits.time_limit_seconds = 1;
    let started = std::time::Instant::now();
    let out = run_with(script, "Write add(a, b) returning the sum.", &config);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let r = &out.report;

    // The cut-off call is recorded with its finish reason; nothing is called after it.
    let last = r.calls.last().unwrap();
    assert_eq!(
        (last.agent, last.finish),
        (AgentRole::TestWriter, Finish::Deadline)
    );
    assert!(r.calls.iter().all(|c| c.agent != AgentRole::Reviewer));
    let writer = r
        .steps
        .iter()
        .find(|s| s.agent == Some(AgentRole::TestWriter))
        .unwrap();
    assert!(
        writer.notes.iter().any(|n| n.contains("budget spent")
            && n.contains("limits.time_limit_seconds")
            && n.contains("cut off")),
        "{:?}",
        writer.notes
    );

    // The best state found so far is the result.
    assert!(
        out.code.as_deref().unwrap_or("").contains("return a + b"),
        "{:?}",
        out.code
    );
    assert!(out.tests.is_none());
    assert_eq!(r.status, FinalStatus::Untested);
}

#[test]
fn empty_task_is_an_error() {
    let settings = ManagerSettings {
        mock_script: Some(("t".into(), String::new())),
        quiet: true,
        ..Default::default()
    };
    let mut manager = ModelManager::new(Registry::builtin(), settings);
    let prompts = Prompts::load(Some(std::path::Path::new("/nonexistent"))).unwrap();
    let err =
        codeswarm::pipeline::run_task("  \n", &mut manager, &Config::defaults(), &prompts, None)
            .unwrap_err();
    assert!(err.to_string().contains("task is empty"));
}

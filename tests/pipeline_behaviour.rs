//! The verdict by behaviour and agreement, on the scripted model and the real sandbox:
//! candidates cluster by what they do on the same inputs, a wrong written assertion is
//! suspect (never sent to the Debugger), a tie becomes a question asked in both orders, an
//! unsettled tie is `uncertain`, and a stated example that fails goes to the Debugger.
//!
//! Needs the sandbox runtime (fetched with pip on first use, or `codeswarm sandbox --setup`).

mod common;

use codeswarm::coordination::coordinator::FinalStatus;
use codeswarm::coordination::RunOutcome;
use codeswarm::models::AgentRole;
use codeswarm::sandbox::Sandbox;
use codeswarm::testing::SandboxRunner;
use common::scripted::{run_scripted as run_with, APPROVE};

fn run(script: &str, task: &str, samples: u32) -> RunOutcome {
    run_with(script, task, |c| c.limits.samples = samples)
}

fn calls_of(out: &RunOutcome, role: AgentRole) -> usize {
    out.report.calls.iter().filter(|c| c.agent == role).count()
}

/// The seed's demo failure was right code judged by wrong expected values; agreeing
/// candidates now settle it and the tests pin what they agree on.
#[test]
fn agreeing_candidates_settle_the_behaviour_and_the_tests_pin_it() {
    let script = format!(
        r#"
[[reply]]
role = "code_generator"
text = '''```python
def fibonacci(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a
```'''

[[reply]]
role = "test_writer"
text = '''```python
fibonacci(2)
fibonacci(4)  # R1
fibonacci(10)
```'''

[[reply]]
role = "code_generator"
text = '''```python
def fibonacci(n):
    if n < 1:
        return 0
    if n < 3:
        return 1
    return fibonacci(n - 1) + fibonacci(n - 2)
```'''

[[reply]]
role = "reviewer"
text = """VERDICT: request-changes
- fibonacci should use memoization"""
"#
    );
    let out = run(
        &script,
        "Write fibonacci(n) returning the n-th Fibonacci number; fibonacci(0) == 0 and fibonacci(1) == 1.",
        4,
    );
    let r = &out.report;
    assert_eq!(r.status, FinalStatus::Passed, "{}", r.evidence.reason);
    // Two candidates, one behaviour, two votes: generation stopped early.
    assert_eq!(r.candidates.len(), 2);
    assert_eq!(r.evidence.clusters.len(), 1);
    assert_eq!(r.evidence.clusters[0].votes, 2);
    assert_eq!(calls_of(&out, AgentRole::CodeGenerator), 2);
    // The review's change request is not sent back: no revision can outrank settled
    // behaviour (the CodeGenerator count above includes no revision).
    assert!(
        r.steps
            .iter()
            .flat_map(|s| &s.notes)
            .any(|n| n.contains("change request not sent back")),
        "{:?}",
        r.steps
    );
    // One requested function: the standard plan, without a planning call.
    assert!(
        r.plan_trace.source.starts_with("standard"),
        "{}",
        r.plan_trace.source
    );
    assert_eq!(calls_of(&out, AgentRole::Coordinator), 0);
    // The stated examples are inputs with expected values, and hold.
    assert_eq!(r.candidates[0].examples, (2, 2));
    // Settled before any assertion was written: the TestWriter only wrote the inputs, and
    // the tests pin the agreed behaviour and the stated examples; the Debugger never ran.
    assert_eq!(calls_of(&out, AgentRole::TestWriter), 1);
    assert_eq!(calls_of(&out, AgentRole::Debugger), 0);
    let tests = out.tests.as_deref().unwrap();
    assert!(
        tests.contains("def test_example_1():\n    assert fibonacci(0) == 0\n"),
        "{tests}"
    );
    assert!(tests.contains("assert fibonacci(10) == 55"), "{tests}");
    assert!(r.evidence.assertions.is_empty());
    assert!(
        r.final_tests.contains("passed, 0 failed"),
        "{}",
        r.final_tests
    );
}

/// `agree_candidates` in `[limits]` sets how many agreeing candidates end generation early.
#[test]
fn a_higher_agreement_bar_asks_for_more_candidates() {
    let script = r#"
[[reply]]
role = "code_generator"
text = '''```python
def double(n):
    return n * 2
```'''

[[reply]]
role = "test_writer"
text = '''```python
double(3)
double(-1)
```'''

[[reply]]
role = "code_generator"
text = '''```python
def double(n):
    return n + n
```'''

[[reply]]
role = "code_generator"
text = '''```python
def double(n):
    return 2 * n
```'''

[[reply]]
role = "reviewer"
text = "VERDICT: approve"
"#;
    let task = "Write double(n) returning twice n. double(2) == 4.";
    let two = run_with(script, task, |c| c.limits.samples = 4);
    assert_eq!(calls_of(&two, AgentRole::CodeGenerator), 2);
    let three = run_with(script, task, |c| {
        c.limits.samples = 4;
        c.limits.agree_candidates = 3;
    });
    assert_eq!(calls_of(&three, AgentRole::CodeGenerator), 3);
    assert_eq!(three.report.candidates.len(), 3);
    assert_eq!(three.report.evidence.clusters[0].votes, 3);
    assert_eq!(three.report.status, FinalStatus::Passed);
}

// "returns nothing" states no literal value: the empty case is left to the question (a task
// that says "returns None" gets a stated-value check instead; see tests/pipeline_stated.rs).
const HEAD_TASK: &str = "Write head(xs) returning the first element of the list xs. head([3, 4]) == 3. For an empty list, head returns nothing.";

fn head_script(answers: [&str; 2]) -> String {
    format!(
        r#"
[[reply]]
role = "code_generator"
text = '''```python
def head(xs):
    return xs[0] if xs else None
```'''

[[reply]]
role = "test_writer"
text = '''```python
head([7])
head([])  # R3
```'''

[[reply]]
role = "code_generator"
text = '''```python
def head(xs):
    return xs[0]
```'''

[[reply]]
role = "test_writer"
text = '''```python
import pytest
from solution import head

def test_one():
    assert head([5]) == 5

def test_empty():
    with pytest.raises(IndexError):
        head([])
```'''
{APPROVE}
[[reply]]
role = "coordinator"
text = '''"For an empty list, head returns None."
ANSWER: {a}'''

[[reply]]
role = "coordinator"
text = '''"For an empty list, head returns None."
ANSWER: {b}'''
"#,
        a = answers[0],
        b = answers[1]
    )
}

#[test]
fn a_tie_becomes_a_question_and_an_answer_that_survives_the_swap_settles_it() {
    // Two candidates, two behaviours (None vs IndexError on []): a 1-1 tie.
    // The written tests favour IndexError (a tie-breaker below agreement), so that behaviour
    // leads when the question is asked; the answer, stable under the swap, picks None.
    let out = run(&head_script(["B", "A"]), HEAD_TASK, 2);
    let r = &out.report;
    assert_eq!(r.evidence.clusters.len(), 2);
    assert_eq!(r.evidence.questions.len(), 1, "{:?}", r.evidence.questions);
    let q = &r.evidence.questions[0];
    assert_eq!(q.input, "head([])");
    assert_eq!(
        q.options,
        ["raises IndexError".to_string(), "None".to_string()]
    );
    assert_eq!(q.answers, vec!["B", "A"]);
    assert_eq!(q.chosen, Some(1));
    assert_eq!(r.status, FinalStatus::Passed, "{}", r.evidence.reason);
    assert!(out.code.unwrap().contains("else None"));
    // The written assertion that expects IndexError contradicts the settled behaviour.
    assert_eq!(
        r.evidence.assertions.len(),
        1,
        "{:?}",
        r.evidence.assertions
    );
    assert!(r.evidence.assertions[0].test.contains("test_empty"));
    assert_eq!(r.evidence.assertions[0].verdict, "suspect");
    // The swapped ask put the other behaviour first.
    let asks: Vec<&str> = r
        .calls
        .iter()
        .filter(|c| c.agent == AgentRole::Coordinator)
        .map(|c| c.messages.last().unwrap().content.as_str())
        .collect();
    assert!(
        asks[0].contains("A) raises IndexError\nB) None"),
        "{}",
        asks[0]
    );
    assert!(
        asks[1].contains("A) None\nB) raises IndexError"),
        "{}",
        asks[1]
    );
    // The requirement about the empty list names what the chosen code did.
    let req = r
        .requirements
        .iter()
        .find(|q| q.quote.contains("empty list"))
        .unwrap();
    assert_eq!(req.status, "exercised");
    assert_eq!(req.evidence, vec!["head([]) -> None"]);
}

#[test]
fn an_answer_that_flips_with_the_order_leaves_the_run_uncertain() {
    let out = run(&head_script(["A", "A"]), HEAD_TASK, 2);
    let r = &out.report;
    assert_eq!(r.evidence.questions[0].chosen, None);
    assert_eq!(r.status, FinalStatus::Uncertain, "{}", r.evidence.reason);
    assert!(!r.success);
    assert!(
        r.evidence.reason.contains("disagree"),
        "{}",
        r.evidence.reason
    );
}

#[test]
fn a_failing_stated_example_goes_to_the_debugger_and_static_findings_to_the_generator() {
    let script = format!(
        r#"
[[reply]]
role = "code_generator"
text = '''```python
def double(x):
    return scale(x, 3)
```'''

[[reply]]
role = "code_generator"
text = '''```python
def double(x):
    return x * 3
```'''

[[reply]]
role = "test_writer"
text = '''```python
double(0)
double(-1)
```'''

[[reply]]
role = "code_generator"
text = '''```python
def double(x):
    return 3 * x
```'''

[[reply]]
role = "test_writer"
text = '''```python
from solution import double

def test_two():
    assert double(2) == 4
```'''

[[reply]]
role = "debugger"
text = '''```python
def double(x):
    return x * 2
```'''
{APPROVE}"#
    );
    let out = run(
        &script,
        "Write double(x) returning twice x. double(2) == 4",
        2,
    );
    let r = &out.report;
    // The undefined `scale` was fed back before any test ran.
    assert!(
        r.candidates[0].static_findings[0].contains("calls `scale`"),
        "{:?}",
        r.candidates[0].static_findings
    );
    let regen = &r
        .calls
        .iter()
        .filter(|c| c.agent == AgentRole::CodeGenerator)
        .nth(1)
        .unwrap();
    assert!(regen
        .messages
        .last()
        .unwrap()
        .content
        .contains("calls `scale`, but nothing"));
    // Both candidates fail the stated example; the Debugger is told exactly that.
    let debug = r
        .calls
        .iter()
        .find(|c| c.agent == AgentRole::Debugger)
        .unwrap();
    let prompt = &debug.messages.last().unwrap().content;
    assert!(
        prompt.contains("`double(2)` must be 4 (stated in the task), but it returns 6"),
        "{prompt}"
    );
    assert_eq!(r.status, FinalStatus::Passed, "{}", r.evidence.reason);
    assert!(out.code.unwrap().contains("x * 2"));
    assert_eq!(r.candidates.len(), 3);
}

/// The probe harness reads only its own lines, and one endless input costs that input only.
#[test]
fn printed_output_is_not_a_result_and_a_hang_costs_one_input() {
    use codeswarm::coordination::behaviour::{probe, Input, Observation};
    let sandbox = Sandbox::open(&()).expect("the sandbox runtime");
    let runner = SandboxRunner {
        sandbox,
        timeout: std::time::Duration::from_secs(30),
        // The probe runs as a script: its own limit applies, not the test-run one.
        script_timeout: std::time::Duration::from_secs(3),
        memory_bytes: 256 << 20,
        output_tail_bytes: 4000,
    };
    let code = "def f(x):\n    print('{\"id\": 0, \"value\": \"2\", \"matches\": true}')\n    while x < 0:\n        pass\n    return x\n";
    let input = |c: &str, e: Option<&str>| Input {
        code: c.into(),
        expected: e.map(String::from),
        source: "written".into(),
    };
    let inputs = vec![
        input("f(1)", Some("2")),
        input("f(-1)", None),
        input("f(3)", None),
    ];
    let p = probe(&runner, code, &inputs).unwrap();
    assert_eq!(p.observations[0], Observation::Value("1".into()));
    assert_eq!(p.matches[0], Some(false), "a forged line must not count");
    assert_eq!(p.observations[1], Observation::Hung);
    assert_eq!(p.observations[2], Observation::Value("3".into()));
}

/// A written edge input that one candidate never finishes (`halve_steps(0)` loops forever)
/// is left out of the comparison and named, not held against it: both candidates agree on
/// everything else, so the behaviour is settled and the run passes.
#[test]
fn an_input_a_candidate_does_not_finish_is_dropped_not_a_failure() {
    let script = format!(
        r#"
[[reply]]
role = "code_generator"
text = '''```python
def halve_steps(n):
    count = 0
    while n % 2 == 0:
        n //= 2
        count += 1
    return count
```'''

[[reply]]
role = "test_writer"
text = '''```python
halve_steps(0)
halve_steps(12)
halve_steps(7)
```'''

[[reply]]
role = "code_generator"
text = '''```python
def halve_steps(n):
    if n == 0:
        return 0
    steps = 0
    while n % 2 == 0:
        n = n // 2
        steps += 1
    return steps
```'''

{APPROVE}"#
    );
    let out = run(
        &script,
        "Write halve_steps(n) returning how many times n can be halved before it is odd. halve_steps(8) == 3 and halve_steps(6) == 1.",
        4,
    );
    let r = &out.report;
    assert_eq!(r.status, FinalStatus::Passed, "{}", r.evidence.reason);
    assert_eq!(r.evidence.clusters.len(), 1, "{:?}", r.evidence.clusters);
    assert_eq!(r.evidence.clusters[0].votes, 2);
    assert!(
        r.evidence
            .dropped_inputs
            .iter()
            .any(|d| d.starts_with("halve_steps(0): a candidate does not finish")),
        "{:?}",
        r.evidence.dropped_inputs
    );
    // The hang is not a bug the evidence supports: the Debugger is not called.
    assert_eq!(calls_of(&out, AgentRole::Debugger), 0);
}

/// Every candidate crashing on an input usually means the input is bad (`names([5], 2)`: the
/// wrong number of arguments), and it is left out. But when the task itself writes those
/// arguments (`arr = [2, 1, 1, 4]`), the crash is a bug all candidates share: it stays, goes to
/// the Debugger, and keeps the verdict from `passed` (HumanEval/105: a solution that crashed on
/// every non-empty list was judged on `[]` alone).
#[test]
fn a_crash_on_arguments_the_task_states_is_a_failure_not_a_bad_input() {
    let crasher = r#"def name_of(d):
    return ["One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine"][d - 1]

def names(arr):
    return [name_of[d] for d in sorted(arr, reverse=True) if 1 <= d <= 9]"#;
    // The greedy answer and the checklist candidate: the same program.
    let generated =
        format!("[[reply]]\nrole = \"code_generator\"\ntext = '''```python\n{crasher}\n```'''\n");
    let script = format!(
        r#"
{generated}
[[reply]]
role = "test_writer"
text = '''```python
names([])
names([2, 1, 1, 4])
names([5], 2)
```'''

[[reply]]
role = "test_writer"
text = '''```python
names([3, 1])
```'''

{generated}
[[reply]]
role = "debugger"
text = '''```python
{fixed}
```'''
{APPROVE}"#,
        fixed = crasher.replace("name_of[d]", "name_of(d)")
    );
    let task = "Write names(arr): keep the integers of arr between 1 and 9, sort them in \
                descending order and return their names (\"One\" to \"Nine\"). For example:\n    \
                arr = [2, 1, 1, 4]\n    -> sorted, reversed: [4, 2, 1, 1]\n";
    let out = run_with(&script, task, |c| {
        c.limits.debug_rounds = 1;
        c.limits.resample = 0;
    });
    let r = &out.report;
    assert_eq!(r.candidates[0].examples.1, 0, "no stated expected values");
    let dropped = &r.evidence.dropped_inputs;
    assert!(
        dropped.contains(&"names([5], 2): every candidate crashes on it".to_string()),
        "{dropped:?}"
    );
    assert!(
        !dropped.iter().any(|d| d.starts_with("names([2, 1, 1, 4])")),
        "{dropped:?}"
    );
    let debug = r
        .calls
        .iter()
        .find(|c| c.agent == AgentRole::Debugger)
        .expect("the shared crash went to the Debugger");
    let prompt = &debug.messages.last().unwrap().content;
    assert!(
        prompt.contains("`names([2, 1, 1, 4])` raises TypeError"),
        "{prompt}"
    );
    assert_ne!(r.status, FinalStatus::Passed, "{}", r.evidence.reason);
}

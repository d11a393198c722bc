//! Why did it fail? The `run` summary names each failing assertion (its first line), says
//! when the verdict flags a written test as suspect, and prints no line twice. On the
//! scripted model and the real sandbox.
//!
//! Needs the sandbox runtime (fetched with pip on first use, or `codeswarm sandbox --setup`).

mod common;

use codeswarm::coordination::coordinator::FinalStatus;
use codeswarm::coordination::RunOutcome;
use common::scripted::run_scripted;

fn run(script: &str, task: &str, samples: u32) -> RunOutcome {
    run_scripted(script, task, |c| c.limits.samples = samples)
}

const PLAN: &str = r#"
[[reply]]
role = "coordinator"
text = '''{"subtasks": [{"role": "code_generator", "goal": "write it"}, {"role": "test_writer", "goal": "test it"}, {"role": "debugger", "goal": "fix it"}, {"role": "reviewer", "goal": "review"}]}'''
"#;

/// No line of the summary appears twice.
fn assert_no_repeats(summary: &str) {
    let mut seen = std::collections::HashSet::new();
    for line in summary.lines() {
        assert!(seen.insert(line), "repeated line {line:?} in:\n{summary}");
    }
}

/// Every candidate and every fix triples instead of doubling: the stated example fails on
/// all of them, so the run fails, and the summary says which assertion fails and how.
#[test]
fn a_failed_run_prints_the_failing_assertion_once() {
    let wrong = r#"
[[reply]]
role = "code_generator"
text = '''```python
def double(x):
    return x * 3
```'''
"#;
    let fix = r#"
[[reply]]
role = "debugger"
text = '''```python
def double(x):
    return 3 * x
```'''
"#;
    let script = format!(
        r#"{PLAN}
{wrong}
[[reply]]
role = "test_writer"
text = '''```python
double(0)
double(5)
```'''

[[reply]]
role = "test_writer"
text = '''```python
from solution import double

def test_double_two():
    assert double(2) == 4
```'''
{}
{}
[[reply]]
role = "reviewer"
text = "VERDICT: approve"
"#,
        wrong.repeat(8),
        fix.repeat(8)
    );
    let out = run(
        &script,
        "Write double(x) returning twice x. double(2) == 4",
        2,
    );
    let r = &out.report;
    assert_eq!(r.status, FinalStatus::Failed, "{}", r.evidence.reason);
    let summary = codeswarm::pipeline::summary(r);
    assert_no_repeats(&summary);
    let failing: Vec<&str> = summary
        .lines()
        .filter(|l| l.starts_with("failing: "))
        .collect();
    assert!(!failing.is_empty(), "{summary}");
    assert!(
        failing.iter().any(|l| l.contains("6") && l.contains("4")),
        "the first line of the assertion, with its values:\n{summary}"
    );
    assert!(summary.contains("verdict: FAILED"), "{summary}");
    // The Debugger's three fixes for the same failure: one line, counted.
    let changes: Vec<&str> = summary
        .lines()
        .filter(|l| l.starts_with("change in step"))
        .collect();
    assert_eq!(r.changes.len(), 3, "{:?}", r.changes);
    assert_eq!(changes.len(), 1, "{summary}");
    assert!(changes[0].ends_with("(×3)"), "{summary}");
}

// "returns nothing" states no literal value, so the empty case is left to the question.
const HEAD_TASK: &str = "Write head(xs) returning the first element of the list xs. head([3, 4]) == 3. For an empty list, head returns nothing.";

/// Two behaviours tie; the model's stable answer settles on `None`, so the written test that
/// expects IndexError is suspect, and the summary says so. (One requested function: the
/// standard plan, no planning reply; the coordinator's replies are the two answers.)
#[test]
fn a_suspect_assertion_is_flagged_in_the_summary() {
    let script = format!(
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

[[reply]]
role = "reviewer"
text = "VERDICT: approve"

[[reply]]
role = "coordinator"
text = '''"For an empty list, head returns None."
ANSWER: B'''

[[reply]]
role = "coordinator"
text = '''"For an empty list, head returns None."
ANSWER: A'''
"#
    );
    let out = run(&script, HEAD_TASK, 2);
    let r = &out.report;
    assert_eq!(
        r.evidence.assertions.len(),
        1,
        "{:?}",
        r.evidence.assertions
    );
    assert_eq!(r.evidence.assertions[0].verdict, "suspect");
    let summary = codeswarm::pipeline::summary(r);
    assert_no_repeats(&summary);
    let suspect: Vec<&str> = summary
        .lines()
        .filter(|l| l.starts_with("suspect test: "))
        .collect();
    assert_eq!(suspect.len(), 1, "{summary}");
    assert!(suspect[0].contains("test_empty"), "{summary}");
    assert!(suspect[0].contains("the test is likely wrong"), "{summary}");
    assert!(
        !summary
            .lines()
            .any(|l| l.starts_with("failing: ") && l.contains("test_empty")),
        "a suspect test is not reported as a plain failure:\n{summary}"
    );
}

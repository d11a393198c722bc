//! Issue 31 items 2 and 3 on the scripted model and the real sandbox: an edge case whose value
//! the task states ("if xs is empty, return an empty list") gets calls that meet it, checked
//! against the task's value (`failed` when one returns something else, `uncertain` when no
//! fitting call was written); a class task is probed by call sequences, every step's result
//! observed, so candidates that differ in the middle of a sequence do not agree.
//!
//! Needs the sandbox runtime (fetched with pip on first use, or `codeswarm sandbox --setup`).

mod common;

use codeswarm::config::Config;
use codeswarm::coordination::coordinator::FinalStatus;
use codeswarm::coordination::RunOutcome;
use codeswarm::models::AgentRole;
use common::scripted::{python, reply, run_scripted, APPROVE};

fn run_with(script: &str, task: &str, tweak: impl FnOnce(&mut Config)) -> RunOutcome {
    run_scripted(script, task, |c| {
        c.limits.samples = 2;
        // Three written calls are enough: no edge values are added to them.
        c.limits.max_inputs = 6;
        tweak(c);
    })
}

const EVENS_TASK: &str = "Write evens(xs) returning the even numbers of xs in order. If xs is empty, return an empty list.";
const EVENS: &str = "def evens(xs):\n    return [x for x in xs if x % 2 == 0]";
const EVENS_NONE: &str =
    "def evens(xs):\n    if not xs:\n        return None\n    return [x for x in xs if x % 2 == 0]";

fn evens_script(stated_calls: &str, code: &str) -> String {
    let code = python(code);
    reply("code_generator", &code)
        + &reply(
            "test_writer",
            &python("evens([1, 2, 3, 4])\nevens([5])\nevens([2, 2, 7])"),
        )
        + &reply("test_writer", &python(stated_calls))
        + &reply("code_generator", &code)
        + &reply(
            "test_writer",
            &python("from solution import evens\n\ndef test_two():\n    assert evens([2]) == [2]"),
        )
        + APPROVE
}

fn no_repair(c: &mut Config) {
    c.limits.debug_rounds = 0;
    c.limits.resample = 0;
}

/// The stated value holds on a call that meets the case: the requirement holds and names it,
/// and the model was asked for calls with the task's value in the prompt.
#[test]
fn a_stated_edge_value_that_holds_is_evidence() {
    let out = run_with(&evens_script("evens([])  # R2", EVENS), EVENS_TASK, |_| {});
    let r = &out.report;
    assert_eq!(r.status, FinalStatus::Passed, "{}", r.evidence.reason);
    let req = r.requirements.iter().find(|q| q.id == "R2").unwrap();
    assert_eq!(req.returns.as_deref(), Some("[]"), "{req:?}");
    assert_eq!(req.status, "holds", "{req:?}");
    assert_eq!(req.evidence, vec!["evens([]) -> [] (holds)"]);
    assert!(
        r.evidence
            .reason
            .contains("stated edge value(s) return as stated"),
        "{}",
        r.evidence.reason
    );
    let ask = r
        .calls
        .iter()
        .filter(|c| c.agent == AgentRole::TestWriter)
        .nth(1)
        .unwrap();
    let prompt = &ask.messages.last().unwrap().content;
    assert!(
        prompt.contains("R2: If xs is empty, return an empty list. (must return [])"),
        "{prompt}"
    );
}

/// Both candidates agree on returning None for the empty list: agreement does not outvote the
/// task's words.
#[test]
fn a_stated_edge_value_that_does_not_hold_fails() {
    let out = run_with(
        &evens_script("evens([])  # R2", EVENS_NONE),
        EVENS_TASK,
        no_repair,
    );
    let r = &out.report;
    assert_eq!(r.status, FinalStatus::Failed, "{}", r.evidence.reason);
    assert!(
        r.evidence
            .reason
            .contains("`evens([])` must return [] (stated in the task, R2"),
        "{}",
        r.evidence.reason
    );
    let req = r.requirements.iter().find(|q| q.id == "R2").unwrap();
    assert_eq!(req.status, "fails");
    assert_eq!(req.evidence, vec!["evens([]) -> None (fails)"]);
}

/// A call that does not meet the case as worded (no empty argument for "if xs is empty") is
/// left out rather than checked against the wrong value, and the case stays unexercised.
#[test]
fn a_call_that_does_not_fit_the_case_is_left_out_and_the_case_is_unexercised() {
    let out = run_with(
        &evens_script("evens([1, 3])  # R2", EVENS),
        EVENS_TASK,
        |_| {},
    );
    let r = &out.report;
    assert_eq!(r.status, FinalStatus::Uncertain, "{}", r.evidence.reason);
    assert!(
        r.evidence.reason.contains("R2 (") && r.evidence.reason.contains("return []"),
        "{}",
        r.evidence.reason
    );
    assert!(
        r.steps
            .iter()
            .flat_map(|s| &s.notes)
            .any(|n| n.contains("`evens([1, 3])` does not meet the case as worded")),
        "{:?}",
        r.steps
    );
}

const ACCOUNT_TASK: &str = "Write a class Account(balance) with deposit(amount), which adds amount and returns the new balance, and total(), which returns the balance.";

/// A class task whose InputWriter answers with code instead of calls: the inputs are call
/// sequences through the class (construct, then its methods), and the probe observes every
/// step, so a candidate whose `deposit` returns None differs from one that returns the balance
/// even where `total()` agrees.
#[test]
fn a_class_task_is_probed_by_call_sequences_compared_step_by_step() {
    let right = python("class Account:\n    def __init__(self, balance):\n        self.balance = balance\n\n    def deposit(self, amount):\n        self.balance += amount\n        return self.balance\n\n    def total(self):\n        return self.balance");
    let quiet = python("class Account:\n    def __init__(self, balance):\n        self.balance = balance\n\n    def deposit(self, amount):\n        self.balance += amount\n\n    def total(self):\n        return self.balance");
    let script = reply("code_generator", &right)
        // Code instead of calls: nothing usable is written.
        + &reply("test_writer", &python("class Test:\n    pass"))
        + &reply("code_generator", &quiet)
        + &reply(
            "test_writer",
            &python("from solution import Account\n\ndef test_deposit():\n    assert Account(1).deposit(2) == 3"),
        )
        + APPROVE
        // The two behaviours become a question, asked in both orders; it does not settle.
        + &reply("coordinator", "ANSWER: unclear")
        + &reply("coordinator", "ANSWER: unclear");
    let out = run_with(&script, ACCOUNT_TASK, |c| {
        no_repair(c);
        c.limits.questions = 1;
    });
    let r = &out.report;
    let inputs: Vec<&str> = r.evidence.inputs.iter().map(|i| i.code.as_str()).collect();
    assert!(
        inputs.contains(&"obj = Account(0); obj.deposit(1); obj.total()"),
        "{inputs:?}"
    );
    let k = inputs
        .iter()
        .position(|c| *c == "obj = Account(0); obj.deposit(1); obj.total()")
        .unwrap();
    let seen = |i: usize| r.candidates[i].behaviour.as_ref().unwrap()[k].to_string();
    assert_eq!(seen(0), "1 ; 1");
    assert_eq!(seen(1), "None ; 1");
    assert_ne!(r.status, FinalStatus::Passed, "{}", r.evidence.reason);
    assert!(r.evidence.clusters.len() >= 2, "{:?}", r.evidence.clusters);
}

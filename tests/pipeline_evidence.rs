//! `passed` needs evidence (issue 31), on the scripted model and the real sandbox: agreement
//! on zero usable inputs is `uncertain` and never claimed; a stated error case gets calls
//! that must raise the exception the task names (`failed` when one does not, `uncertain` when
//! none was written); a crash every candidate shares on a well-typed input is a bug, not a
//! bad input; agreement on fewer than `limits.min_usable_inputs` inputs never makes a written
//! assertion suspect; inputs run with the standard-library modules they name.
//!
//! Needs the sandbox runtime (fetched with pip on first use, or `codeswarm sandbox --setup`).

mod common;

use codeswarm::config::Config;
use codeswarm::coordination::coordinator::FinalStatus;
use codeswarm::coordination::RunOutcome;
use codeswarm::models::AgentRole;
use codeswarm::sandbox::Sandbox;
use codeswarm::testing::SandboxRunner;
use common::scripted::{python, reply, run_scripted, APPROVE};

fn run_with(script: &str, task: &str, tweak: impl FnOnce(&mut Config)) -> RunOutcome {
    run_scripted(script, task, |c| {
        c.limits.samples = 2;
        // Three written calls are enough: no edge values are added to them.
        c.limits.max_inputs = 6;
        tweak(c);
    })
}

/// The issue's "agreement on nothing": every written input calls a function the task never
/// names, so every candidate crashes on every input and all are dropped. Two identical
/// candidates used to be "2 of 2 candidates agree on every input" and `passed`.
#[test]
fn zero_usable_inputs_is_uncertain_and_no_agreement_is_claimed() {
    let code = python("def area(w, h):\n    return w * h");
    let script = reply("code_generator", &code)
        + &reply("test_writer", &python("f(0)\nf(1)\nf(-1)"))
        + &reply("code_generator", &code)
        // Nothing is settled on evidence, so the TestWriter writes assertions.
        + &reply(
            "test_writer",
            &python("from solution import area\n\ndef test_area():\n    assert area(2, 3) == 6"),
        )
        + APPROVE;
    let out = run_with(
        &script,
        "Write area(w, h) returning the area of a w by h rectangle.",
        |_| {},
    );
    let r = &out.report;
    assert_eq!(r.status, FinalStatus::Uncertain, "{}", r.evidence.reason);
    assert_eq!(
        r.evidence.dropped_inputs.len(),
        3,
        "{:?}",
        r.evidence.dropped_inputs
    );
    assert!(
        !r.evidence.reason.contains("candidate(s) agree"),
        "{}",
        r.evidence.reason
    );
    assert!(
        r.evidence
            .reason
            .contains("no input ran on every candidate"),
        "{}",
        r.evidence.reason
    );
    let summary = codeswarm::pipeline::summary(r);
    assert!(!summary.contains("agree on every input"), "{summary}");
}

const TO_X_TASK: &str =
    "Write to_x(n) returning n times 2. Raise ValueError if n is negative. to_x(2) == 4";

fn to_x_script(error_calls: &str, code: &str) -> String {
    let code = python(code);
    reply("code_generator", &code)
        + &reply("test_writer", &python("to_x(0)\nto_x(5)\nto_x(10)"))
        + &reply("test_writer", &python(error_calls))
        + &reply("code_generator", &code)
        // Asked only when nothing is settled (a stated case fails).
        + &reply(
            "test_writer",
            &python("from solution import to_x\n\ndef test_two():\n    assert to_x(2) == 4"),
        )
        + APPROVE
}

const RAISES: &str =
    "def to_x(n):\n    if n < 0:\n        raise ValueError('negative')\n    return n * 2";
const NEVER_RAISES: &str = "def to_x(n):\n    return n * 2";

/// The error case's calls are checked against the task's exception; when they raise it, the
/// requirement holds and links the calls with their outcome.
#[test]
fn a_stated_error_case_that_raises_holds_and_names_its_calls() {
    let out = run_with(
        &to_x_script(
            "to_x(-1)  # R3\nwith pytest.raises(ValueError): to_x(-7)  # R3",
            RAISES,
        ),
        TO_X_TASK,
        |_| {},
    );
    let r = &out.report;
    assert_eq!(r.status, FinalStatus::Passed, "{}", r.evidence.reason);
    // The sentence that describes `to_x` as a whole is exercised by every usable call, and
    // says how it was judged.
    let whole = r.requirements.iter().find(|q| q.id == "R2").unwrap();
    assert_eq!(whole.status, "exercised", "{whole:?}");
    assert!(
        whole
            .note
            .as_deref()
            .unwrap_or("")
            .contains("the candidates' agreement judges it"),
        "{whole:?}"
    );
    let req = r.requirements.iter().find(|q| q.id == "R3").unwrap();
    assert_eq!(req.raises.as_deref(), Some("ValueError"));
    assert_eq!(req.status, "holds", "{req:?}");
    assert_eq!(
        req.evidence,
        vec![
            "to_x(-1) -> raises ValueError (holds)",
            "to_x(-7) -> raises ValueError (holds)"
        ]
    );
    let summary = codeswarm::pipeline::summary(r);
    assert!(
        summary.contains("\n    to_x(-1) -> raises ValueError (holds)\n"),
        "{summary}"
    );
    // The model wrote the calls from a prompt that names the case and the task's exception.
    let ask = r
        .calls
        .iter()
        .filter(|c| c.agent == AgentRole::TestWriter)
        .nth(1)
        .unwrap();
    let prompt = &ask.messages.last().unwrap().content;
    assert!(
        prompt.contains("R3: Raise ValueError if n is negative. (must raise ValueError)"),
        "{prompt}"
    );
}

/// A stated error case whose call does not raise is a failure from the task's text, whatever
/// the candidates agree on.
#[test]
fn a_stated_error_case_that_does_not_raise_fails() {
    let out = run_with(
        &to_x_script("to_x(-1)  # R3", NEVER_RAISES),
        TO_X_TASK,
        |c| {
            c.limits.debug_rounds = 0;
            c.limits.resample = 0;
        },
    );
    let r = &out.report;
    assert_eq!(r.status, FinalStatus::Failed, "{}", r.evidence.reason);
    assert!(
        r.evidence
            .reason
            .contains("`to_x(-1)` must raise ValueError (stated in the task, R3"),
        "{}",
        r.evidence.reason
    );
    assert!(
        r.evidence.reason.contains("but it returns -2"),
        "{}",
        r.evidence.reason
    );
    let req = r.requirements.iter().find(|q| q.id == "R3").unwrap();
    assert_eq!(req.status, "fails");
    assert_eq!(req.evidence, vec!["to_x(-1) -> -2 (fails)"]);
}

const DEDUPE_TASK: &str = "Write dedupe(xs) returning the items of xs without repeats. \
    The order of first occurrences is kept.";

fn dedupe_script(requirement_calls: &str) -> String {
    let code = python("def dedupe(xs):\n    return list(dict.fromkeys(xs))");
    reply("code_generator", &code)
        + &reply(
            "test_writer",
            &python("dedupe([])\ndedupe([1])\ndedupe([1, 2])"),
        )
        + &reply("test_writer", requirement_calls)
        + &reply("code_generator", &code)
        + &reply(
            "test_writer",
            &python(
                "from solution import dedupe\n\ndef test_one():\n    assert dedupe([1, 1]) == [1]",
            ),
        )
        + APPROVE
}

/// A behaviour sentence that states no value and names no defined function ("The order of
/// first occurrences is kept") gets calls of its own; with none usable, agreement on the other
/// inputs does not make it `passed`.
#[test]
fn a_behaviour_requirement_no_call_exercised_is_uncertain() {
    let out = run_with(&dedupe_script("no calls today"), DEDUPE_TASK, |_| {});
    let r = &out.report;
    assert_eq!(r.status, FinalStatus::Uncertain, "{}", r.evidence.reason);
    assert!(
        r.evidence.reason.contains("R2 (") && r.evidence.reason.contains("not exercised"),
        "{}",
        r.evidence.reason
    );
    let req = r.requirements.iter().find(|q| q.id == "R2").unwrap();
    assert_eq!(req.status, "not exercised", "{req:?}");
    // The sentence naming `dedupe` is exercised by every usable call.
    let whole = r.requirements.iter().find(|q| q.id == "R1").unwrap();
    assert_eq!(whole.status, "exercised", "{whole:?}");
}

/// The same run with a call written for the sentence: it is exercised, linked to its call, and
/// the candidates' agreement on enough inputs is `passed`.
#[test]
fn a_behaviour_requirement_with_its_call_is_exercised() {
    let out = run_with(
        &dedupe_script(&python("dedupe([3, 1, 3, 2])  # R2")),
        DEDUPE_TASK,
        |_| {},
    );
    let r = &out.report;
    assert_eq!(r.status, FinalStatus::Passed, "{}", r.evidence.reason);
    let req = r.requirements.iter().find(|q| q.id == "R2").unwrap();
    assert_eq!(req.status, "exercised", "{req:?}");
    assert_eq!(req.evidence, vec!["dedupe([3, 1, 3, 2]) -> [3, 1, 2]"]);
    let input = r
        .evidence
        .inputs
        .iter()
        .find(|i| i.code == "dedupe([3, 1, 3, 2])")
        .unwrap();
    assert_eq!(input.source, "requirement");
    assert_eq!(input.expected, None);
}

/// No call was written for an edge sentence with no stated value (the model wrote code
/// instead), but a written call meets its words ("negative": a negative argument): that call
/// exercises it.
#[test]
fn a_written_call_that_meets_an_unanswered_requirement_exercises_it() {
    let code = python("def dedupe(xs):\n    return list(dict.fromkeys(xs))");
    let script = reply("code_generator", &code)
        + &reply(
            "test_writer",
            &python("dedupe([])\ndedupe([1])\ndedupe([-1, 2, -1])"),
        )
        + &reply(
            "test_writer",
            &python("def dedupe(xs):\n    return xs  # R2"),
        )
        + &reply("code_generator", &code)
        + APPROVE;
    let out = run_with(
        &script,
        "Write dedupe(xs) returning the items of xs without repeats. \
         Negative numbers count like any other.",
        |_| {},
    );
    let r = &out.report;
    assert_eq!(r.status, FinalStatus::Passed, "{}", r.evidence.reason);
    let req = r.requirements.iter().find(|q| q.id == "R2").unwrap();
    assert_eq!(req.status, "exercised", "{req:?}");
    assert_eq!(req.evidence, vec!["dedupe([-1, 2, -1]) -> [-1, 2]"]);
}

/// The model wrote code instead of calls for the stated error case, but the InputWriter wrote
/// a call that meets its words (`to_x(-3)` for "n is negative") and the chosen code raises the
/// stated exception there: the case is exercised and holds.
#[test]
fn a_written_call_that_meets_an_error_case_and_raises_exercises_it() {
    let code = python(RAISES);
    let script = reply("code_generator", &code)
        + &reply("test_writer", &python("to_x(0)\nto_x(5)\nto_x(-3)"))
        + &reply("test_writer", &python(&format!("# R3\n{RAISES}")))
        + &reply("code_generator", &code)
        + APPROVE;
    let out = run_with(&script, TO_X_TASK, |_| {});
    let r = &out.report;
    assert_eq!(r.status, FinalStatus::Passed, "{}", r.evidence.reason);
    let req = r.requirements.iter().find(|q| q.id == "R3").unwrap();
    assert_eq!(req.status, "holds", "{req:?}");
    assert_eq!(req.evidence, vec!["to_x(-3) -> raises ValueError"]);
}

/// Two identical correct `format_hms` candidates, three written calls, then one reply per
/// later call-writing prompt (`calls`).
fn format_hms_script(calls: &[&str]) -> String {
    let code = python(
        "def format_hms(seconds: int) -> str:\n    h, r = divmod(seconds, 3600)\n    return f'{h:02}:{r // 60:02}:{r % 60:02}'",
    );
    let mut script = reply("code_generator", &code)
        + &reply(
            "test_writer",
            &python("format_hms(1)\nformat_hms(61)\nformat_hms(3600)"),
        );
    for c in calls {
        script += &reply("test_writer", &python(c));
    }
    script + &reply("code_generator", &code) + APPROVE
}

/// A sentence a stated example was read from ("0 returns "00:00:00"") is exercised by that
/// example: no call is asked for it, and it holds with the example.
#[test]
fn the_sentence_of_a_stated_example_is_exercised_by_it() {
    let script = format_hms_script(&[]);
    let out = run_with(
        &script,
        "Write a Python function `format_hms(seconds: int) -> str` that formats seconds as \
         HH:MM:SS. 0 returns \"00:00:00\".",
        |_| {},
    );
    let r = &out.report;
    assert_eq!(r.status, FinalStatus::Passed, "{}", r.evidence.reason);
    let req = r
        .requirements
        .iter()
        .find(|q| q.quote.starts_with("0 returns"))
        .unwrap();
    assert_eq!(req.status, "holds", "{req:?}");
}

/// The sampled candidate is the only one whose stated error case holds, so it leads alone;
/// that settles the error case, not the sentences only agreement can judge: `uncertain`.
#[test]
fn a_lone_candidate_the_checks_leave_is_not_agreement() {
    let script = reply("code_generator", &python(NEVER_RAISES))
        + &reply("test_writer", &python("to_x(0)\nto_x(5)\nto_x(10)"))
        + &reply("test_writer", &python("to_x(-1)  # R2"))
        + &reply("test_writer", &python("to_x(7)  # R3"))
        + &reply("code_generator", &python(RAISES))
        + &reply(
            "test_writer",
            &python("from solution import to_x\n\ndef test_two():\n    assert to_x(2) == 4"),
        )
        + APPROVE;
    let out = run_with(
        &script,
        "Write to_x(n) returning n times 2. Raise ValueError if n is negative. \
         The result must be even.",
        |c| {
            c.limits.debug_rounds = 0;
            c.limits.resample = 0;
        },
    );
    let r = &out.report;
    assert_eq!(r.status, FinalStatus::Uncertain, "{}", r.evidence.reason);
    assert!(out.code.unwrap().contains("raise ValueError"));
    assert!(
        r.evidence
            .reason
            .contains("only the candidates' agreement can judge"),
        "{}",
        r.evidence.reason
    );
}

/// The call written for a behaviour sentence is the stated example's own call: it runs again
/// under the sentence's tag, so the sentence is exercised.
#[test]
fn a_requirement_call_equal_to_a_stated_example_exercises_it() {
    let script = format_hms_script(&["print(format_hms(0))  # R3"]);
    let out = run_with(
        &script,
        "Write a Python function `format_hms(seconds: int) -> str` that formats seconds as \
         HH:MM:SS. 0 returns \"00:00:00\". Each part is zero-padded to two digits.",
        |_| {},
    );
    let r = &out.report;
    assert_eq!(r.status, FinalStatus::Passed, "{}", r.evidence.reason);
    let req = r.requirements.iter().find(|q| q.id == "R3").unwrap();
    assert!(req.quote.contains("zero-padded"), "{req:?}");
    assert_eq!(req.status, "exercised", "{req:?}");
    assert_eq!(req.evidence, vec!["format_hms(0) -> '00:00:00'"]);
}

/// No call was written for the stated error case (the one written calls a function that does
/// not exist): the case is unexercised, so the run is `uncertain` and the report says why.
#[test]
fn an_unexercised_error_requirement_is_uncertain() {
    let out = run_with(&to_x_script("f(-1)  # R3", RAISES), TO_X_TASK, |_| {});
    let r = &out.report;
    assert_eq!(r.status, FinalStatus::Uncertain, "{}", r.evidence.reason);
    assert!(
        r.evidence.reason.contains("R3 (") && r.evidence.reason.contains("not exercised"),
        "{}",
        r.evidence.reason
    );
    let req = r.requirements.iter().find(|q| q.id == "R3").unwrap();
    assert_eq!(req.status, "not exercised");
    assert!(
        req.note
            .as_deref()
            .unwrap_or("")
            .contains("no call that meets its condition"),
        "{req:?}"
    );
    assert!(
        r.steps
            .iter()
            .flat_map(|s| &s.notes)
            .any(|n| n.contains("`f(-1)` does not call a function solution.py defines")),
        "{:?}",
        r.steps
    );
}

/// Every candidate raising the same internal error on a well-typed call of the asked function
/// (literal arguments, the right count) is a bug they share: the input stays and the run
/// fails, instead of being dropped as a bad input.
#[test]
fn a_shared_crash_on_a_well_typed_input_is_a_failure() {
    let code = python("def total(xs):\n    return sum(xs) + offset");
    let script = reply("code_generator", &code)
        + &reply("test_writer", &python("total([1, 2])\ntotal([5])\ntotal(1, 2)"))
        + &reply("code_generator", &code)
        // Nothing to pin (every usable input crashes): the TestWriter is asked.
        + &reply(
            "test_writer",
            &python("from solution import total\n\ndef test_sum():\n    assert total([1, 2]) == 3"),
        )
        + APPROVE;
    let out = run_with(
        &script,
        "Write total(xs) returning the sum of the list xs.",
        |c| {
            c.limits.debug_rounds = 0;
            c.limits.resample = 0;
        },
    );
    let r = &out.report;
    assert_eq!(r.status, FinalStatus::Failed, "{}", r.evidence.reason);
    assert!(
        r.evidence
            .reason
            .contains("`total([1, 2])` raises NameError"),
        "{}",
        r.evidence.reason
    );
    // The wrong argument count is the input's own fault: still dropped.
    assert_eq!(
        r.evidence.dropped_inputs,
        vec!["total(1, 2): every candidate crashes on it".to_string()]
    );
}

/// Two candidates agree on four inputs (nothing to pin: a set is not a plain literal, so the
/// TestWriter writes assertions). With `min_usable_inputs = 5` that agreement is too thin: the
/// failing assertion is evidence, not suspect, and the run is `uncertain`; with the default
/// (3) it is suspect and the run passes.
#[test]
fn assertions_are_not_suspect_against_agreement_on_too_few_inputs() {
    let script = reply(
        "code_generator",
        &python("def uniq(xs):\n    return set(xs)"),
    ) + &reply(
        "test_writer",
        &python("uniq([])\nuniq([1, 2])\nuniq([3, 3, 4])"),
    ) + &reply(
        "code_generator",
        &python("def uniq(xs):\n    return {x for x in xs}"),
    ) + &reply(
        "test_writer",
        &python("from solution import uniq\n\ndef test_two():\n    assert uniq([1, 2]) == {1}"),
    ) + APPROVE;
    let task =
        "Write uniq(xs) returning the set of distinct items of the list xs. uniq([1, 1]) == {1}";
    let out = run_with(&script, task, |c| c.limits.min_usable_inputs = 5);
    let r = &out.report;
    assert_eq!(r.status, FinalStatus::Uncertain, "{}", r.evidence.reason);
    assert!(
        r.evidence.reason.contains("only 4 input(s)"),
        "{}",
        r.evidence.reason
    );
    assert_eq!(
        r.evidence.assertions.len(),
        1,
        "{:?}",
        r.evidence.assertions
    );
    assert_eq!(r.evidence.assertions[0].verdict, "evidence");
    let out = run_with(&script, task, |_| {});
    let r = &out.report;
    assert_eq!(r.status, FinalStatus::Passed, "{}", r.evidence.reason);
    assert_eq!(r.evidence.assertions[0].verdict, "suspect");
}

/// Inputs run with the standard-library modules they name (`datetime.date(...)`) and the
/// task's own import lines (`from datetime import date`): neither is dropped for a name the
/// probe did not import.
#[test]
fn inputs_run_with_the_modules_they_name() {
    let code = python(
        "from datetime import timedelta\n\ndef next_day(d):\n    return d + timedelta(days=1)",
    );
    let script = reply("code_generator", &code)
        + &reply(
            "test_writer",
            &python("next_day(datetime.date(2024, 2, 28))\nnext_day(date(2024, 2, 29))\nnext_day(date(2023, 12, 31))"),
        )
        + &reply("code_generator", &code)
        // A date is not a Python literal, so nothing is pinned: the TestWriter is asked.
        + &reply(
            "test_writer",
            &python("import datetime\nfrom solution import next_day\n\ndef test_leap():\n    assert next_day(datetime.date(2024, 2, 28)) == datetime.date(2024, 2, 29)"),
        )
        + APPROVE;
    let task = "Write next_day(d) returning the day after the date d.\n```python\nfrom datetime import date\n```";
    let out = run_with(&script, task, |_| {});
    let r = &out.report;
    assert!(
        r.evidence.dropped_inputs.is_empty(),
        "{:?}",
        r.evidence.dropped_inputs
    );
    let seen = r.candidates[0].behaviour.as_ref().unwrap();
    assert_eq!(
        seen[0].to_string(),
        "datetime.date(2024, 2, 29)",
        "{seen:?}"
    );
    assert_eq!(seen[2].to_string(), "datetime.date(2024, 1, 1)");
    assert_eq!(r.status, FinalStatus::Passed, "{}", r.evidence.reason);
}

/// A method that calls an attribute its class never defines (`self.helper()`) is a static
/// finding, fed back to the CodeGenerator before any input runs.
#[test]
fn a_self_attribute_never_defined_is_a_static_finding() {
    let fixed = "class Counter:\n    def __init__(self):\n        self.total = 0\n\n    def add(self, n):\n        self.total += n\n        return self.total";
    let script = reply(
        "code_generator",
        &python("class Counter:\n    def __init__(self):\n        self.total = 0\n\n    def add(self, n):\n        self.total = self.helper(n)\n        return self.total"),
    ) + &reply("code_generator", &python(fixed))
        + &reply(
            "test_writer",
            &python("c = Counter(); c.add(2)\nc = Counter(); c.add(2); c.add(3)\nc = Counter(); c.add(0)"),
        )
        + &reply("code_generator", &python(fixed))
        + &reply(
            "test_writer",
            &python("from solution import Counter\n\ndef test_add():\n    c = Counter()\n    assert c.add(2) == 2"),
        )
        + APPROVE;
    let out = run_with(
        &script,
        "Write a class Counter whose add(n) adds n to its total and returns the new total.",
        |_| {},
    );
    let r = &out.report;
    assert!(
        r.candidates[0].static_findings[0]
            .contains("uses `self.helper`, but class `Counter` never defines `helper`"),
        "{:?}",
        r.candidates[0].static_findings
    );
    let regen = r
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
        .contains("`self.helper`"));
    assert_eq!(r.status, FinalStatus::Passed, "{}", r.evidence.reason);
}

/// A stated exception type is matched as `pytest.raises` matches it: the type or a subclass.
#[test]
fn a_subclass_of_the_stated_exception_holds() {
    use codeswarm::coordination::behaviour::{probe, Input};
    let sandbox = Sandbox::open(&()).expect("the sandbox runtime");
    let runner = SandboxRunner::new(sandbox, &Config::defaults().sandbox);
    let code = "class BadInput(ValueError):\n    pass\n\ndef to_x(n):\n    if n < 0:\n        raise BadInput(n)\n    if n == 0:\n        raise KeyError(n)\n    return n\n";
    let check = |c: &str| Input {
        code: c.into(),
        expected: Some("!ValueError".into()),
        source: "error-case".into(),
    };
    let p = probe(
        &runner,
        code,
        &[check("to_x(-1)"), check("to_x(0)"), check("to_x(1)")],
    )
    .unwrap();
    assert_eq!(p.matches, vec![Some(true), Some(false), Some(false)]);
}

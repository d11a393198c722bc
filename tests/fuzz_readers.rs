//! Property-based fuzzing of the readers of hostile input files: instances
//! (`batch::instances`), predictions (`batch::predictions`), specs (`testing::specs`) and
//! pytest's JUnit XML (`sandbox::junit`, fed by what `gate::junit` writes too).
//!
//! For each reader: arbitrary bytes and mutated valid inputs never panic and, when refused,
//! give an error naming the file; valid inputs read back as written (round trip). The case
//! counts and the seed come from tests/fuzz_common (`PROPTEST_CASES`, `PROPTEST_RNG_SEED`);
//! docs/fuzzing.md has the commands.

mod fuzz_common;

use std::path::Path;

use codeswarm::batch::instances::{load_instances, parse_instances, Location};
use codeswarm::batch::predictions::{parse_predictions, Prediction};
use codeswarm::fix::FixStatus;
use codeswarm::gate::junit::{junit_xml, xml_safe};
use codeswarm::gate::report::{ApplyStep, CheckReport, SyntaxStep, TestsStep, Timings, Verdict};
use codeswarm::sandbox::junit::{self, TestOutcome};
use codeswarm::testing::results::{CaseOutcome, TestCase};
use codeswarm::testing::SpecSet;
use fuzz_common::{config, Tally};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::json;

/// Cases per property in a default run (each takes well under a millisecond).
const DEFAULT_CASES: u32 = 256;

/// Run `strategy` through `test` with the fuzz configuration; each case's result (what the
/// reader did: `read`, `refused`, `round trip`) is counted under `name` and printed.
fn run<S: Strategy>(
    name: &str,
    strategy: S,
    test: impl Fn(S::Value) -> Result<&'static str, TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let tally = Tally::new();
    let mut runner = TestRunner::new(config(DEFAULT_CASES));
    let result = runner.run(&strategy, |v| {
        let what = test(v)?;
        tally.add(format!("case: {what}"));
        Ok(())
    });
    tally.print(name);
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Mutations of a valid input.

#[derive(Debug, Clone)]
enum Edit {
    /// Flip bits of the byte at this position.
    Flip(usize, u8),
    /// Insert these bytes.
    Insert(usize, Vec<u8>),
    /// Delete this many bytes.
    Delete(usize, usize),
    /// Cut the input here.
    Truncate(usize),
    /// Repeat this many bytes from here.
    Duplicate(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    // Bytes that matter to the formats: JSON, TOML and XML punctuation, quotes, escapes,
    // newlines, NUL, a UTF-8 lead byte without its continuation.
    let special = prop::sample::select(
        b"{}[]\",:\\\n\r\t\0<>/&;=#'.-0e+ \xc3\xff"
            .iter()
            .map(|b| vec![*b])
            .collect::<Vec<_>>(),
    );
    let bytes = prop_oneof![special, prop::collection::vec(any::<u8>(), 1..6)];
    prop_oneof![
        3 => (any::<usize>(), 1..=255u8).prop_map(|(i, b)| Edit::Flip(i, b)),
        3 => (any::<usize>(), bytes).prop_map(|(i, b)| Edit::Insert(i, b)),
        2 => (any::<usize>(), 1..8usize).prop_map(|(i, n)| Edit::Delete(i, n)),
        1 => any::<usize>().prop_map(Edit::Truncate),
        1 => (any::<usize>(), 1..40usize).prop_map(|(i, n)| Edit::Duplicate(i, n)),
    ]
}

fn mutate(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = bytes.len();
        match e {
            Edit::Flip(i, b) if len > 0 => bytes[i % len] ^= b,
            Edit::Insert(i, new) => {
                let at = i % (len + 1);
                bytes.splice(at..at, new.iter().copied());
            }
            Edit::Delete(i, n) if len > 0 => {
                let at = i % len;
                bytes.drain(at..(at + n).min(len));
            }
            Edit::Truncate(i) => bytes.truncate(i % (len + 1)),
            Edit::Duplicate(i, n) if len > 0 => {
                let at = i % len;
                let piece = bytes[at..(at + n).min(len)].to_vec();
                bytes.splice(at..at, piece);
            }
            _ => {}
        }
    }
    bytes
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    prop::collection::vec(edit(), 1..5)
}

/// Text with the characters that make readers stumble: quotes, escapes, newlines, control
/// characters, non-ASCII, bidi controls.
fn nasty_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::char::range('a', 'z'),
            1 => prop::sample::select(vec![
                '"', '\\', '\n', '\r', '\t', '\0', '\u{1b}', '<', '&', '\'', ']', '[', '{', '}',
                'é', '\u{202e}', '\u{feff}', '\u{1F600}', ' ', '#', '=',
            ]),
            1 => any::<char>(),
        ],
        0..max,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

fn word() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,7}"
}

// ---------------------------------------------------------------------------------------------
// Instances.

#[derive(Debug, Clone)]
struct GenInstance {
    id: String,
    repo: String,
    commit: String,
    problem: String,
    hints: Option<String>,
    version: Option<String>,
    fail_to_pass: Vec<String>,
    /// The dataset's encoding: a string holding a JSON array (else a real array).
    encoded_lists: bool,
}

fn gen_instance() -> impl Strategy<Value = GenInstance> {
    (
        "[A-Za-z0-9][A-Za-z0-9_.-]{0,20}",
        (word(), word()),
        "[0-9a-f]{40}",
        nasty_text(60),
        // Blank hints read as none.
        prop::option::of("[a-z][a-z ]{0,19}"),
        prop::option::of("[0-9]\\.[0-9]{1,2}"),
        prop::collection::vec(nasty_text(20), 0..3),
        any::<bool>(),
    )
        .prop_map(
            |(id, (owner, name), commit, problem, hints, version, f2p, encoded)| GenInstance {
                id,
                repo: format!("{owner}/{name}"),
                commit,
                problem,
                hints,
                version,
                fail_to_pass: f2p,
                encoded_lists: encoded,
            },
        )
}

impl GenInstance {
    fn to_json(&self) -> serde_json::Value {
        let list = if self.encoded_lists {
            json!(serde_json::to_string(&self.fail_to_pass).unwrap())
        } else {
            json!(self.fail_to_pass)
        };
        json!({
            "instance_id": self.id,
            "repo": self.repo,
            "base_commit": self.commit,
            "problem_statement": self.problem,
            "hints_text": self.hints,
            "version": self.version,
            "FAIL_TO_PASS": list,
            "PASS_TO_PASS": "[]",
        })
    }
}

/// Unique ids (the reader keeps the first of duplicated ids and reports the others).
fn gen_instances() -> impl Strategy<Value = Vec<GenInstance>> {
    prop::collection::vec(gen_instance(), 0..6).prop_map(|mut v| {
        let mut seen = std::collections::HashSet::new();
        v.retain(|i| seen.insert(i.id.clone()));
        v
    })
}

fn instances_text(items: &[GenInstance], array: bool) -> String {
    if array {
        serde_json::to_string_pretty(&items.iter().map(|i| i.to_json()).collect::<Vec<_>>())
            .unwrap()
    } else {
        items.iter().map(|i| format!("{}\n", i.to_json())).collect()
    }
}

/// What every outcome of the instances reader must satisfy, whatever the input.
fn instances_invariants(bytes: &[u8]) -> Result<&'static str, TestCaseError> {
    let ok;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("instances.jsonl");
    std::fs::write(&path, bytes).unwrap();
    match load_instances(&path) {
        Ok(set) => {
            ok = "read";
            let mut ids = std::collections::HashSet::new();
            for inst in &set.instances {
                prop_assert!(!inst.id().trim().is_empty());
                prop_assert!(ids.insert(inst.id().to_string()), "duplicate id kept");
                prop_assert!(!inst.view.repo.trim().is_empty());
                prop_assert!(!inst.view.base_commit.trim().is_empty());
            }
            for p in &set.problems {
                prop_assert!(!p.message.is_empty());
                if let Location::Line(n) = p.location {
                    prop_assert!(n >= 1);
                }
            }
        }
        Err(e) => {
            ok = "refused";
            let message = e.to_string();
            prop_assert!(message.contains(&*path.to_string_lossy()), "{message}");
        }
    }
    Ok(ok)
}

#[test]
fn instances_reader_never_panics_and_round_trips() {
    run(
        "instances: arbitrary bytes",
        prop::collection::vec(any::<u8>(), 0..400),
        |bytes| instances_invariants(&bytes),
    );
    run(
        "instances: mutated valid files",
        (gen_instances(), any::<bool>(), edits()),
        |(items, array, edits)| {
            instances_invariants(&mutate(instances_text(&items, array).into_bytes(), &edits))
        },
    );
    run(
        "instances: round trip",
        (gen_instances(), any::<bool>()),
        |(items, array)| {
            let text = instances_text(&items, array);
            let set = parse_instances(&text, Path::new("i.jsonl"))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(set.problems.is_empty(), "{:?}", set.problems);
            prop_assert_eq!(set.instances.len(), items.len());
            for (got, want) in set.instances.iter().zip(&items) {
                prop_assert_eq!(&got.view.instance_id, &want.id);
                prop_assert_eq!(&got.view.repo, &want.repo);
                prop_assert_eq!(&got.view.base_commit, &want.commit);
                prop_assert_eq!(&got.view.problem_statement, &want.problem);
                prop_assert_eq!(&got.view.hints_text, &want.hints);
                prop_assert_eq!(&got.view.version, &want.version);
                prop_assert_eq!(got.eval.fail_to_pass.as_ref(), Some(&want.fail_to_pass));
            }
            Ok("round trip")
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Predictions.

fn gen_prediction() -> impl Strategy<Value = Prediction> {
    (
        "[A-Za-z0-9_.-]{1,20}",
        nasty_text(10),
        nasty_text(80),
        0usize..=FixStatus::ALL.len(),
    )
        .prop_map(|(id, model, patch, status)| Prediction {
            instance_id: id,
            model_name_or_path: model,
            model_patch: patch,
            // One in five without a status, as other tools write them.
            codeswarm_status: FixStatus::ALL.get(status).copied(),
        })
}

/// The prediction as read back: `to_line` ends a non-empty patch with a newline.
fn as_written(p: &Prediction) -> Prediction {
    let mut p = p.clone();
    if !p.model_patch.is_empty() && !p.model_patch.ends_with('\n') {
        p.model_patch.push('\n');
    }
    p
}

fn predictions_invariants(bytes: &[u8]) -> Result<&'static str, TestCaseError> {
    let ok;
    let path = Path::new("preds.jsonl");
    match parse_predictions(bytes, path) {
        Ok(read) => {
            ok = "read";
            if let Some(torn) = &read.torn {
                prop_assert_eq!(torn.offset as usize + torn.bytes, bytes.len());
            }
            let mut last = 0;
            for (n, _) in &read.lines {
                prop_assert!(*n > last, "line numbers increase");
                last = *n;
            }
        }
        Err(e) => {
            ok = "refused";
            prop_assert!(e.to_string().contains("preds.jsonl"), "{e}");
        }
    }
    Ok(ok)
}

#[test]
fn predictions_reader_never_panics_and_round_trips() {
    run(
        "predictions: arbitrary bytes",
        prop::collection::vec(any::<u8>(), 0..400),
        |bytes| predictions_invariants(&bytes),
    );
    run(
        "predictions: mutated valid files",
        (prop::collection::vec(gen_prediction(), 0..5), edits()),
        |(preds, edits)| {
            let text: String = preds.iter().map(Prediction::to_line).collect();
            predictions_invariants(&mutate(text.into_bytes(), &edits))
        },
    );
    run(
        "predictions: round trip, whole and cut anywhere",
        (
            prop::collection::vec(gen_prediction(), 0..5),
            any::<usize>(),
        ),
        |(preds, cut)| {
            let lines: Vec<String> = preds.iter().map(Prediction::to_line).collect();
            let text = lines.concat();
            let read = parse_predictions(text.as_bytes(), Path::new("p.jsonl"))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let got: Vec<Prediction> = read.lines.iter().map(|(_, p)| p.clone()).collect();
            let want: Vec<Prediction> = preds.iter().map(as_written).collect();
            prop_assert_eq!(&got, &want);
            prop_assert!(read.torn.is_none());
            // The same as a JSON array.
            let array = serde_json::to_string(&want).unwrap();
            let read = parse_predictions(array.as_bytes(), Path::new("p.json"))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let got: Vec<Prediction> = read.lines.iter().map(|(_, p)| p.clone()).collect();
            prop_assert_eq!(&got, &want);
            // Cut (as by a crash mid-append): the whole lines before the cut are read, the rest
            // is a torn tail, itself read when it is a whole prediction missing its newline.
            let cut = cut % (text.len() + 1);
            let bytes = &text.as_bytes()[..cut];
            let read = parse_predictions(bytes, Path::new("p.jsonl"))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut end = 0;
            let mut whole = Vec::new();
            for (line, p) in lines.iter().zip(&want) {
                end += line.len();
                if end <= cut {
                    whole.push(p.clone());
                } else {
                    if end - 1 == cut {
                        whole.push(p.clone());
                    }
                    break;
                }
            }
            let got: Vec<Prediction> = read.lines.iter().map(|(_, p)| p.clone()).collect();
            prop_assert_eq!(got, whole);
            let torn = bytes
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(cut, |i| cut - i - 1);
            prop_assert_eq!(read.torn.map_or(0, |t| t.bytes), torn);
            Ok("round trip")
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Specs.

#[derive(Debug, Clone)]
struct GenSpec {
    repo: String,
    versions: Vec<String>,
    runner: &'static str,
    path: Vec<String>,
    timeout: Option<u64>,
    env: Vec<(String, String)>,
    note: String,
}

fn gen_spec() -> impl Strategy<Value = GenSpec> {
    (
        (word(), word()),
        prop::collection::vec("[0-9]\\.[0-9]{1,2}|\\*", 1..4),
        prop::sample::select(vec!["pytest", "sympy", "django"]),
        prop::collection::vec("[a-z]{1,6}(/[a-z]{1,6})?", 0..3),
        prop::option::of(1..86_400u64),
        prop::collection::btree_map("[A-Z][A-Z_]{0,7}", nasty_text(20), 0..3),
        nasty_text(40),
    )
        .prop_map(
            |((owner, name), versions, runner, path, timeout, env, note)| GenSpec {
                repo: format!("{owner}/{name}"),
                versions,
                runner,
                path,
                timeout,
                env: env.into_iter().filter(|(k, _)| k != "PYTHONPATH").collect(),
                note,
            },
        )
}

/// A TOML string (basic string with escapes, from the toml crate's own writer).
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn specs_text(specs: &[GenSpec]) -> String {
    let mut out = String::new();
    for s in specs {
        let list = |v: &[String]| v.iter().map(|x| toml_str(x)).collect::<Vec<_>>().join(", ");
        out.push_str("[[spec]]\n");
        out.push_str(&format!("repo = {}\n", toml_str(&s.repo)));
        out.push_str(&format!("versions = [{}]\n", list(&s.versions)));
        out.push_str(&format!("runner = {}\n", toml_str(s.runner)));
        out.push_str(&format!("path = [{}]\n", list(&s.path)));
        if let Some(t) = s.timeout {
            out.push_str(&format!("timeout_seconds = {t}\n"));
        }
        out.push_str(&format!("note = {}\n", toml_str(&s.note)));
        if !s.env.is_empty() {
            out.push_str("[spec.env]\n");
            for (k, v) in &s.env {
                out.push_str(&format!("{k} = {}\n", toml_str(v)));
            }
        }
        out.push('\n');
    }
    out
}

fn specs_invariants(bytes: &[u8]) -> Result<&'static str, TestCaseError> {
    let ok;
    let text = String::from_utf8_lossy(bytes);
    match SpecSet::parse(&text, Path::new("my-specs.toml")) {
        Ok(set) => {
            ok = "read";
            for s in set.specs() {
                prop_assert!(!s.versions.is_empty());
                prop_assert_eq!(s.repo.split('/').filter(|p| !p.is_empty()).count(), 2);
            }
        }
        Err(e) => {
            ok = "refused";
            prop_assert!(e.to_string().contains("my-specs.toml"), "{e}");
        }
    }
    Ok(ok)
}

#[test]
fn specs_reader_never_panics_and_round_trips() {
    run(
        "specs: arbitrary bytes",
        prop::collection::vec(any::<u8>(), 0..400),
        |bytes| specs_invariants(&bytes),
    );
    run("specs: mutated built-in specs", edits(), |edits| {
        specs_invariants(&mutate(
            codeswarm::testing::specs::BUILTIN.as_bytes().to_vec(),
            &edits,
        ))
    });
    run(
        "specs: mutated generated specs",
        (prop::collection::vec(gen_spec(), 0..3), edits()),
        |(specs, edits)| specs_invariants(&mutate(specs_text(&specs).into_bytes(), &edits)),
    );
    run(
        "specs: round trip",
        prop::collection::vec(gen_spec(), 0..4),
        |specs| {
            let text = specs_text(&specs);
            let set = SpecSet::parse(&text, Path::new("s.toml"))
                .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(set.specs().len(), specs.len());
            for (got, want) in set.specs().iter().zip(&specs) {
                prop_assert_eq!(&got.repo, &want.repo);
                prop_assert_eq!(&got.versions, &want.versions);
                prop_assert_eq!(got.runner.as_str(), want.runner);
                prop_assert_eq!(&got.path, &want.path);
                prop_assert_eq!(got.timeout_seconds, want.timeout);
                prop_assert_eq!(&got.note, &want.note);
                let env: Vec<(String, String)> = got
                    .env
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                prop_assert_eq!(&env, &want.env);
            }
            Ok("round trip")
        },
    );
}

// ---------------------------------------------------------------------------------------------
// JUnit XML.

/// pytest's own report (`junit_family=xunit1`), for mutation.
const PYTEST_XML: &str = r#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="4" time="0.05"><testcase classname="tests.test_a.TestA" name="test_ok[1-&lt;x&gt;]" file="tests/test_a.py" line="3" time="0.001" /><testcase classname="tests.test_a" name="test_bad" file="tests/test_a.py" line="9" time="0.002"><failure message="assert 1 == 2">def test_bad():
&gt;       assert 1 == 2
E       assert 1 == 2</failure></testcase><testcase classname="test_b" name="test_skip" time="0"><skipped type="pytest.skip" message="not today">test_b.py:4: not today</skipped></testcase><testcase classname="test_b" name="test_err" time="0.1"><error message="failed on setup with &quot;boom&quot;"><![CDATA[fixture 'x' not found]]></error></testcase></testsuite></testsuites>
"#;

fn junit_invariants(bytes: &[u8]) -> Result<&'static str, TestCaseError> {
    let ok;
    match junit::parse(bytes) {
        Ok(cases) => {
            ok = "read";
            for c in cases {
                prop_assert!(c.time.is_finite());
                prop_assert!(c
                    .message
                    .as_ref()
                    .is_none_or(|m| m.len() <= junit::MESSAGE_MAX + 3));
                prop_assert!(c
                    .details
                    .as_ref()
                    .is_none_or(|d| d.len() <= junit::DETAILS_MAX + 3));
            }
        }
        Err(e) => {
            ok = "refused";
            prop_assert!(e.starts_with("JUnit report"), "{e}");
        }
    }
    Ok(ok)
}

fn outcome() -> impl Strategy<Value = CaseOutcome> {
    prop::sample::select(vec![
        CaseOutcome::Passed,
        CaseOutcome::Failed,
        CaseOutcome::Error,
        CaseOutcome::Skipped,
    ])
}

/// A pytest node id in the shapes pytest prints: `dir/test_m.py[::Class]::test_n[params]`.
fn node_id() -> impl Strategy<Value = String> {
    (
        prop::option::of("[a-z]{1,6}"),
        "test_[a-z0-9]{1,6}",
        prop::option::of("Test[A-Z][a-z]{0,5}"),
        "test_[a-z0-9_]{1,8}",
        prop::option::of("[ -Z^-~]{0,12}"),
    )
        .prop_map(|(dir, module, class, name, params)| {
            let mut id = match dir {
                Some(d) => format!("{d}/{module}.py"),
                None => format!("{module}.py"),
            };
            if let Some(c) = class {
                id.push_str(&format!("::{c}"));
            }
            id.push_str(&format!("::{name}"));
            if let Some(p) = params {
                id.push_str(&format!("[{p}]"));
            }
            id
        })
}

fn check_report(cases: Vec<TestCase>) -> CheckReport {
    CheckReport {
        verdict: Verdict::Fail,
        reasons: vec![],
        notes: vec![],
        repo: "r".into(),
        base: "HEAD".into(),
        base_commit: "0".repeat(40),
        patch: "p.diff".into(),
        allow_not_runnable: false,
        apply: ApplyStep {
            ok: true,
            ..ApplyStep::default()
        },
        syntax: SyntaxStep::default(),
        tests: TestsStep {
            cases,
            ..TestsStep::default()
        },
        timings: Timings::default(),
    }
}

#[test]
fn junit_reader_never_panics_and_reads_the_gates_report_back() {
    run(
        "junit: arbitrary bytes",
        prop::collection::vec(any::<u8>(), 0..400),
        |bytes| junit_invariants(&bytes),
    );
    run("junit: mutated pytest report", edits(), |edits| {
        junit_invariants(&mutate(PYTEST_XML.as_bytes().to_vec(), &edits))
    });
    run(
        "junit: gate report round trip",
        prop::collection::btree_map(node_id(), (outcome(), nasty_text(30), nasty_text(60)), 0..6),
        |cases| {
            let cases: Vec<TestCase> = cases
                .into_iter()
                .map(|(id, (outcome, message, details))| TestCase {
                    id,
                    outcome,
                    message,
                    details,
                })
                .collect();
            let xml = junit_xml(&check_report(cases.clone()));
            junit_invariants(&xml)?;
            let read = junit::parse(&xml).map_err(TestCaseError::fail)?;
            for c in &cases {
                let got = read
                    .iter()
                    .find(|r| r.node_id == c.id)
                    .ok_or_else(|| TestCaseError::fail(format!("{} not read back", c.id)))?;
                let want = match c.outcome {
                    CaseOutcome::Passed => TestOutcome::Passed,
                    CaseOutcome::Failed => TestOutcome::Failed,
                    CaseOutcome::Error => TestOutcome::Error,
                    CaseOutcome::Skipped => TestOutcome::Skipped,
                };
                prop_assert_eq!(got.outcome, want);
                if want != TestOutcome::Passed {
                    let message = xml_safe(&c.message);
                    prop_assert_eq!(got.message.as_deref(), Some(message.as_str()));
                }
            }
            Ok("round trip")
        },
    );
}

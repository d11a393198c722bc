//! Local evaluation on the fixture instance set: gold patches resolve, empty and wrong ones do
//! not, patches that do not apply and executors that cannot run are reported as such.
//!
//! The executor here runs the fixture repositories' tests with the host's python3 — only in
//! this test code: the fixtures are this project's own trusted code. Library code never runs
//! tests on the host; the CLI uses the WASI sandbox. pytest need not be installed: a minimal
//! runner imports each test file and calls the function its node id names (with a stand-in
//! `pytest.raises` when pytest is missing).

mod batch_common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use batch_common::FixtureSet;
use codeswarm::batch::evaluate::{
    evaluate, EvalOptions, EvalStatus, ExecError, TestExecutor, TestOutcome, TestRequest,
    TestResults,
};
use codeswarm::batch::fixture_set::ADDED_TEST_ID;
use codeswarm::batch::instances::{load_instances, Instance};
use codeswarm::batch::Prediction;
use codeswarm::repo::checkout::{resolve, CheckoutOptions};
use codeswarm::repo::patch::diff_worktree;

const RUNNER: &str = r#"
import contextlib, importlib.util, json, os, re, sys, traceback, types
root = sys.argv[1]
ids = json.loads(sys.stdin.read())
sys.dont_write_bytecode = True
sys.path.insert(0, root)
os.chdir(root)
try:
    import pytest  # noqa: F401
except ImportError:
    stub = types.ModuleType("pytest")
    @contextlib.contextmanager
    def raises(exc, match=None):
        try:
            yield
        except exc as e:
            if match is not None and not re.search(match, str(e)):
                raise AssertionError("exception message does not match %r: %s" % (match, e))
            return
        raise AssertionError("DID NOT RAISE %r" % (exc,))
    stub.raises = raises
    sys.modules["pytest"] = stub
modules, results = {}, {}
for nid in ids:
    path, _, name = nid.partition("::")
    full = os.path.join(root, path)
    if not os.path.isfile(full):
        results[nid] = "not_found"
        continue
    try:
        if path not in modules:
            spec = importlib.util.spec_from_file_location("t_" + re.sub(r"\W", "_", path), full)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            modules[path] = mod
    except Exception:
        traceback.print_exc()
        results[nid] = "error"
        continue
    fn = getattr(modules[path], name, None)
    if fn is None:
        results[nid] = "not_found"
        continue
    try:
        fn()
        results[nid] = "passed"
    except Exception:
        traceback.print_exc()
        results[nid] = "failed"
print("@@RESULTS@@" + json.dumps(results))
"#;

/// Test-only: runs fixture tests with the host's python3.
struct HostPython;

impl TestExecutor for HostPython {
    fn run_tests(&self, worktree: &Path, req: &TestRequest<'_>) -> Result<TestResults, ExecError> {
        use std::io::Write;
        let node_ids = req.ids;
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(RUNNER)
            .arg(worktree)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| ExecError::Failed(format!("these tests need python3 on PATH: {e}")))?;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(serde_json::to_string(node_ids).unwrap().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let json = stdout
            .lines()
            .find_map(|l| l.strip_prefix("@@RESULTS@@"))
            .ok_or_else(|| {
                ExecError::Failed(format!(
                    "runner failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ))
            })?;
        let raw: BTreeMap<String, String> = serde_json::from_str(json).unwrap();
        let outcomes = raw
            .into_iter()
            .map(|(k, v)| {
                let o = match v.as_str() {
                    "passed" => TestOutcome::Passed,
                    "failed" => TestOutcome::Failed,
                    "error" => TestOutcome::Error,
                    _ => TestOutcome::NotFound,
                };
                (k, o)
            })
            .collect();
        Ok(TestResults {
            outcomes,
            log: String::from_utf8_lossy(&out.stderr).into_owned(),
            ..TestResults::default()
        })
    }
}

/// An executor for which nothing is runnable (a repository with C extensions, say).
struct NothingRuns;

impl TestExecutor for NothingRuns {
    fn run_tests(&self, _: &Path, _: &TestRequest<'_>) -> Result<TestResults, ExecError> {
        Err(ExecError::NotRunnable(
            "the package needs a C extension".into(),
        ))
    }
}

fn options(set: &FixtureSet) -> EvalOptions {
    let mut o = EvalOptions::new(set.template.clone());
    o.cache = set.cache();
    o.work_dir = Some(set.path().join("work"));
    o
}

fn preds(set: &FixtureSet, patch: impl Fn(&str) -> String) -> Vec<Prediction> {
    set.ids()
        .iter()
        .map(|id| Prediction {
            instance_id: id.clone(),
            model_name_or_path: "m".into(),
            model_patch: patch(id),
            codeswarm_status: None,
        })
        .collect()
}

#[test]
fn gold_patches_resolve_and_empty_ones_do_not() {
    let set = FixtureSet::build();
    let loaded = load_instances(&set.instances).unwrap();
    let instances: Vec<&Instance> = loaded.instances.iter().collect();
    let gold = set.gold();

    let report = evaluate(
        &instances,
        &preds(&set, |id| gold[id].clone()),
        &HostPython,
        &options(&set),
    );
    assert_eq!(report.final_line(), "resolved 4/4", "{}", report.summary());
    for e in &report.instances {
        assert_eq!(e.status, EvalStatus::Resolved, "{e:?}");
        assert!(!e.fail_to_pass.is_empty());
        assert!(e.fail_to_pass.values().all(|o| *o == TestOutcome::Passed));
        assert_eq!(
            e.pass_to_pass.get(ADDED_TEST_ID),
            Some(&TestOutcome::Passed),
            "the test patch was applied"
        );
    }
    assert!(report.summary().ends_with("resolved 4/4"));
    // Predictions without `codeswarm_status`: nothing per status.
    assert!(report.resolved_by_status.is_empty());
    assert!(report.instances.iter().all(|e| e.fix_status.is_none()));
    assert!(
        !report.summary().contains("fix status"),
        "{}",
        report.summary()
    );
    let json = serde_json::to_value(&report).unwrap();
    assert!(json.get("resolved_by_status").is_none(), "{json}");

    let report = evaluate(
        &instances,
        &preds(&set, |_| String::new()),
        &HostPython,
        &options(&set),
    );
    assert_eq!(report.final_line(), "resolved 0/4");
    assert!(report
        .instances
        .iter()
        .all(|e| e.status == EvalStatus::NoPatch));
}

#[test]
fn a_patch_that_does_not_fix_the_bug_is_unresolved_by_its_failing_tests() {
    let set = FixtureSet::build();
    let loaded = load_instances(&set.instances).unwrap();
    let textkit = set.ids()[0].clone();
    let instances: Vec<&Instance> = loaded
        .instances
        .iter()
        .filter(|i| i.id() == textkit)
        .collect();
    // A real, applicable patch that leaves the bug alone: a README edit.
    let source = resolve(&set.repos[0].url(), &set.template).unwrap();
    let wt = set
        .cache()
        .checkout(
            &source,
            Some(&set.repos[0].base_commit),
            &CheckoutOptions::default(),
        )
        .unwrap();
    std::fs::write(wt.path().join("README.md"), "# textkit\n\nBetter docs.\n").unwrap();
    let readme_patch = diff_worktree(wt.path(), None).unwrap().text;
    let p = vec![Prediction {
        instance_id: textkit.clone(),
        model_name_or_path: "m".into(),
        model_patch: readme_patch,
        codeswarm_status: None,
    }];
    let report = evaluate(&instances, &p, &HostPython, &options(&set));
    assert_eq!(report.final_line(), "resolved 0/1");
    let e = &report.instances[0];
    assert_eq!(e.status, EvalStatus::Unresolved);
    assert_eq!(
        e.fail_to_pass["tests/test_strings.py::test_truncate_fills_width"],
        TestOutcome::Failed
    );
    assert!(
        e.pass_to_pass.values().all(|o| *o == TestOutcome::Passed),
        "{e:?}"
    );
    assert!(e
        .reason
        .as_deref()
        .unwrap()
        .contains("test_truncate_fills_width"));
    assert!(e.log.contains("AssertionError"), "{}", e.log);
}

#[test]
fn unappliable_patches_unrunnable_tests_and_missing_predictions_are_reported() {
    let set = FixtureSet::build();
    let loaded = load_instances(&set.instances).unwrap();
    let instances: Vec<&Instance> = loaded.instances.iter().collect();
    let ids = set.ids();
    let bad = "diff --git a/textkit/strings.py b/textkit/strings.py\n--- a/textkit/strings.py\n+++ b/textkit/strings.py\n@@ -1,2 +1,2 @@\n-no such line\n+x\n context that is not there\n";
    let mut p = vec![Prediction {
        instance_id: ids[0].clone(),
        model_name_or_path: "m".into(),
        model_patch: bad.into(),
        codeswarm_status: None,
    }];
    p.push(Prediction {
        instance_id: "not-in-the-file".into(),
        model_name_or_path: "m".into(),
        model_patch: String::new(),
        codeswarm_status: None,
    });
    let report = evaluate(&instances, &p, &HostPython, &options(&set));
    assert_eq!(report.instances[0].status, EvalStatus::PatchFailed);
    assert!(report.instances[0]
        .reason
        .as_deref()
        .unwrap()
        .contains("does not apply"));
    assert_eq!(report.missing_predictions, ids[1..].to_vec());
    assert_eq!(
        report.unknown_predictions,
        vec!["not-in-the-file".to_string()]
    );
    assert_eq!(report.final_line(), "resolved 0/1");

    let gold = set.gold();
    let report = evaluate(
        &instances,
        &preds(&set, |id| gold[id].clone()),
        &NothingRuns,
        &options(&set),
    );
    assert_eq!(report.not_runnable, 4);
    assert_eq!(report.final_line(), "resolved 0/4");
    assert!(report
        .instances
        .iter()
        .all(|e| e.status == EvalStatus::NotRunnable));
    let summary = report.summary();
    assert!(
        summary.contains("official SWE-bench Docker harness"),
        "{summary}"
    );
    assert!(summary.lines().last().unwrap() == "resolved 0/4");
}

#[test]
fn resolved_is_counted_per_fix_status_when_the_predictions_carry_one() {
    use codeswarm::fix::FixStatus;
    let set = FixtureSet::build();
    let loaded = load_instances(&set.instances).unwrap();
    let instances: Vec<&Instance> = loaded.instances.iter().collect();
    let gold = set.gold();
    let ids = set.ids();
    // Gold patches rated verified and unverified, an empty one rated no-patch, and one gold
    // patch without a status (another tool's line).
    let mut p = preds(&set, |id| {
        if id == ids[2] {
            String::new()
        } else {
            gold[id].clone()
        }
    });
    for (pred, status) in p.iter_mut().zip([
        Some(FixStatus::Verified),
        Some(FixStatus::Unverified),
        Some(FixStatus::NoPatch),
        None,
    ]) {
        pred.codeswarm_status = status;
    }
    // Through the predictions file, as `evaluate` reads it.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("preds.jsonl");
    std::fs::write(&file, p.iter().map(Prediction::to_line).collect::<String>()).unwrap();
    let read: Vec<Prediction> = codeswarm::batch::predictions::read_predictions(&file)
        .unwrap()
        .lines
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let report = evaluate(&instances, &read, &HostPython, &options(&set));
    assert_eq!(report.final_line(), "resolved 3/4", "{}", report.summary());
    let statuses: Vec<Option<FixStatus>> = report.instances.iter().map(|e| e.fix_status).collect();
    assert_eq!(
        statuses,
        [
            Some(FixStatus::Verified),
            Some(FixStatus::Unverified),
            Some(FixStatus::NoPatch),
            None
        ]
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["resolved_by_status"],
        serde_json::json!({
            "verified": {"instances": 1, "resolved": 1},
            "plausible": {"instances": 0, "resolved": 0},
            "unverified": {"instances": 1, "resolved": 1},
            "no-patch": {"instances": 1, "resolved": 0},
        })
    );
    assert_eq!(json["instances"][0]["fix_status"], "verified");
    let summary = report.summary();
    assert!(
        summary.contains(
            "status       instances  resolved\n\
             verified             1         1\n\
             plausible            0         0\n\
             unverified           1         1\n\
             no-patch             1         0\n\
             (no status)          1         1\n"
        ),
        "{summary}"
    );
    assert!(summary.ends_with("resolved 3/4"), "{summary}");
}

//! `codeswarm evaluate` through the real sandbox executor (pytest under CPython-WASI): on the
//! fixture instance set, gold predictions resolve every instance (FAIL_TO_PASS, PASS_TO_PASS and
//! the test patch's own test all pass in the sandbox), empty predictions resolve none.

mod batch_common;
mod check_common;

use batch_common::FixtureSet;
use check_common::{codeswarm, git, out, stdout, Home};
use codeswarm::batch::fixture_set::ADDED_TEST_ID;

/// Gold predictions carry a `codeswarm_status` each (as a batch of the fixer writes them),
/// empty ones none (as other tools write them).
fn predictions(set: &FixtureSet, path: &std::path::Path, gold: bool) {
    let patches = set.gold();
    let statuses = ["verified", "plausible", "unverified", "verified"];
    let lines: Vec<String> = set
        .ids()
        .iter()
        .zip(statuses)
        .map(|(id, status)| {
            let mut line = serde_json::json!({
                "instance_id": id,
                "model_name_or_path": "test",
                "model_patch": if gold { patches[id].clone() } else { String::new() },
            });
            if gold {
                line["codeswarm_status"] = status.into();
            }
            line.to_string()
        })
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn gold_predictions_resolve_all_and_empty_ones_none_in_the_sandbox() {
    let home = Home::new();
    let set = FixtureSet::build();
    let preds = set.path().join("preds.jsonl");
    let report = set.path().join("report.json");
    let args = |preds: &std::path::Path| -> Vec<String> {
        [
            "evaluate",
            "--instances",
            set.instances.to_str().unwrap(),
            "--predictions",
            preds.to_str().unwrap(),
            "--repo-url-template",
            &set.template,
            "--report",
            report.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };

    predictions(&set, &preds, true);
    let a = args(&preds);
    let o = codeswarm(
        &home,
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(
        stdout(&o).trim_end().ends_with("resolved 4/4"),
        "{}",
        out(&o)
    );
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let instances = r["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 4);
    for e in instances {
        assert_eq!(e["status"], "resolved", "{e}");
        assert_eq!(
            e["pass_to_pass"][ADDED_TEST_ID], "passed",
            "the test patch ran: {e}"
        );
        assert!(!e["fail_to_pass"].as_object().unwrap().is_empty());
    }
    assert_eq!(instances[1]["fix_status"], "plausible");
    assert_eq!(
        r["resolved_by_status"]["verified"],
        serde_json::json!({"instances": 2, "resolved": 2})
    );
    assert_eq!(
        r["resolved_by_status"]["no-patch"],
        serde_json::json!({"instances": 0, "resolved": 0})
    );
    let table: Vec<Vec<String>> = stdout(&o)
        .lines()
        .skip_while(|l| !l.starts_with("status "))
        .take(5)
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect();
    assert_eq!(
        table,
        [
            ["status", "instances", "resolved"],
            ["verified", "2", "2"],
            ["plausible", "1", "1"],
            ["unverified", "1", "1"],
            ["no-patch", "0", "0"],
        ],
        "{}",
        out(&o)
    );

    predictions(&set, &preds, false);
    let o = codeswarm(
        &home,
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(
        stdout(&o).trim_end().ends_with("resolved 0/4"),
        "{}",
        out(&o)
    );
    // Without `codeswarm_status`: no table, nothing per status in the report.
    assert!(!stdout(&o).contains("per fix status"), "{}", out(&o));
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert!(r.get("resolved_by_status").is_none(), "{r}");
}

/// The diff `change` makes to a clone of `repo` at its base.
fn hostile_patch(
    repo: &codeswarm::repo::fixture::FixtureRepo,
    change: &dyn Fn(&std::path::Path),
) -> String {
    let dir = tempfile::tempdir().unwrap();
    let clone = dir.path().join("c");
    git(
        dir.path(),
        &["clone", "-q", repo.path.to_str().unwrap(), "c"],
    );
    git(&clone, &["checkout", "-q", &repo.base_commit]);
    change(&clone);
    git(&clone, &["add", "-A"]);
    git(&clone, &["diff", "--cached"])
}

/// pytest code that turns every test report into a pass.
const FORCE_PASS: &str = "import _pytest.reports as r\n_orig = r.TestReport.from_item_and_call.__func__\n\n\ndef _f(cls, item, call):\n    rep = _orig(cls, item, call)\n    rep.outcome = 'passed'\n    return rep\n\n\nr.TestReport.from_item_and_call = classmethod(_f)\n";

/// Model patches that leave the bug in place and steer their judge instead: a test package's
/// `__init__.py` forcing passes, a top-level `pdb.py` (standard library name, imported by
/// pytest after start-up) forcing passes, FAIL_TO_PASS tests rewritten in a file the test patch
/// does not touch. The official harness resolves all three (`--harness-compat` shows it); the
/// default evaluation resolves none and says what its guards did.
#[test]
fn hostile_model_patches_do_not_resolve_unless_harness_compat() {
    let home = Home::new();
    let set = FixtureSet::build();
    let ids = set.ids();
    let patches: Vec<String> = vec![
        hostile_patch(&set.repos[0], &|d| {
            std::fs::write(d.join("tests/__init__.py"), FORCE_PASS).unwrap()
        }),
        hostile_patch(&set.repos[1], &|d| {
            std::fs::write(
                d.join("pdb.py"),
                format!(
                    "{FORCE_PASS}\n\nclass Pdb:\n    pass\n\n\ndef set_trace(*a, **k):\n    pass\n"
                ),
            )
            .unwrap()
        }),
        hostile_patch(&set.repos[2], &|d| {
            let mut files: Vec<&str> = Vec::new();
            for t in &set.repos[2].failing_tests {
                files.push(t.split("::").next().unwrap());
            }
            for f in files {
                let tests: String = set.repos[2]
                    .failing_tests
                    .iter()
                    .chain(&set.repos[2].passing_tests)
                    .filter(|t| t.starts_with(&format!("{f}::")))
                    .map(|t| {
                        format!(
                            "def {}():\n    assert True\n\n\n",
                            t.rsplit("::").next().unwrap()
                        )
                    })
                    .collect();
                std::fs::write(d.join(f), tests).unwrap();
            }
        }),
    ];
    let preds = set.path().join("hostile.jsonl");
    let lines: Vec<String> = patches
        .iter()
        .enumerate()
        .map(|(i, p)| {
            serde_json::json!({"instance_id": ids[i], "model_name_or_path": "hostile", "model_patch": p})
                .to_string()
        })
        .collect();
    std::fs::write(&preds, lines.join("\n") + "\n").unwrap();
    let report = set.path().join("report.json");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "evaluate",
            "--instances",
            set.instances.to_str().unwrap(),
            "--predictions",
            preds.to_str().unwrap(),
            "--repo-url-template",
            &set.template,
            "--report",
            report.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = codeswarm(&home, &args, &[]);
        assert_eq!(o.status.code(), Some(0), "{}", out(&o));
        let r: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        (o, r)
    };

    let (o, _) = run(&["--harness-compat"]);
    assert!(
        stdout(&o).trim_end().ends_with("resolved 3/3"),
        "the attacks work on the harness's rules: {}",
        out(&o)
    );

    let (o, r2) = run(&[]);
    assert!(
        stdout(&o).trim_end().ends_with("resolved 0/3"),
        "{}",
        out(&o)
    );
    assert!(
        stdout(&o).contains("guards changed or refused"),
        "{}",
        out(&o)
    );
    let by_id = |id: &str| {
        r2["instances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["instance_id"] == id)
            .unwrap()
            .clone()
    };
    let init = by_id(&ids[0]);
    assert_eq!(init["status"], "unresolved", "{init}");
    assert!(
        init["guards"].to_string().contains("tests/__init__.py"),
        "{init}"
    );
    let shadow = by_id(&ids[1]);
    assert_eq!(shadow["status"], "patch_failed", "{shadow}");
    assert!(
        shadow["reason"].as_str().unwrap().contains("`pdb.py`"),
        "{shadow}"
    );
    let edited = by_id(&ids[2]);
    assert_eq!(edited["status"], "unresolved", "{edited}");
    assert!(
        edited["guards"].to_string().contains("named test file"),
        "{edited}"
    );
}

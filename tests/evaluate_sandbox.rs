//! `codeswarm evaluate` through the real sandbox executor (pytest under CPython-WASI): on the
//! fixture instance set, gold predictions resolve every instance (FAIL_TO_PASS, PASS_TO_PASS and
//! the test patch's own test all pass in the sandbox), empty predictions resolve none.

mod batch_common;
mod check_common;

use batch_common::FixtureSet;
use check_common::{codeswarm, out, stdout, Home};
use codeswarm::batch::fixture_set::ADDED_TEST_ID;

fn predictions(set: &FixtureSet, path: &std::path::Path, gold: bool) {
    let patches = set.gold();
    let lines: Vec<String> = set
        .ids()
        .iter()
        .map(|id| {
            serde_json::json!({
                "instance_id": id,
                "model_name_or_path": "test",
                "model_patch": if gold { patches[id].clone() } else { String::new() },
            })
            .to_string()
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
}

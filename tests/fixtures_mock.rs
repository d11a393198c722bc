//! Repository mode without weights: `codeswarm fixtures` prints the mock batch, report and
//! evaluate commands, and running them through the binary solves every fixture with the
//! built-in scripts (models/scripted/fixtures/), the real sandbox and real git: each patch is
//! the fixture's gold fix, verified, and `evaluate` resolves all of them.
//!
//! Needs the sandbox runtime (fetched with pip on first use, or `codeswarm sandbox --setup`).

mod common;

use codeswarm::batch::fixture_set::{self, FixtureSet};
use codeswarm::batch::runner::InstanceResult;
use common::{bin, stderr, stdout};

/// Run the binary with a printed step's arguments (the user's environment, so the sandbox
/// runtime in the shared cache is found).
fn run_step(step: &fixture_set::Step) -> std::process::Output {
    bin().args(&step.args).output().expect("run codeswarm")
}

#[test]
fn the_printed_mock_commands_solve_report_and_resolve_every_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fx");
    let o = bin()
        .args(["fixtures", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let printed = stdout(&o);

    // The same set, as the library describes its commands.
    let set = FixtureSet {
        dir: out.clone(),
        instances: out.join("instances.jsonl"),
        url_template: fixture_set::url_template(&out.join("repos")),
        ids: vec![],
    };
    let steps = set.commands();
    for s in &steps {
        assert!(
            printed.contains(&s.command_line()),
            "not printed: {}\n{printed}",
            s.command_line()
        );
    }
    let mock_at = printed.find("batch --mock").unwrap();
    let real_at = printed.find("codeswarm batch --instances").unwrap();
    assert!(
        mock_at < real_at,
        "the mock command comes first:\n{printed}"
    );
    assert!(printed.contains("scripted model"), "{printed}");
    let (batch, report, evaluate) = (&steps[0], &steps[1], &steps[2]);
    assert_eq!(batch.args[..2], ["batch", "--mock"]);
    assert_eq!(report.args[0], "report");
    assert_eq!(evaluate.args[0], "evaluate");

    // 1. The mock batch.
    let o = run_step(batch);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let summary = stdout(&o);
    assert!(
        summary.contains("the model is scripted"),
        "the summary says the model is scripted:\n{summary}"
    );
    let instances: Vec<serde_json::Value> = std::fs::read_to_string(out.join("instances.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let preds: Vec<serde_json::Value> =
        std::fs::read_to_string(out.join(fixture_set::MOCK_PREDICTIONS))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    assert_eq!(preds.len(), 4, "{preds:?}");
    let run_dir = out.join("mock-preds.run");
    for inst in &instances {
        let id = inst["instance_id"].as_str().unwrap();
        let pred = preds
            .iter()
            .find(|p| p["instance_id"] == id)
            .unwrap_or_else(|| panic!("{id}: no prediction"));
        assert_eq!(pred["model_name_or_path"], "codeswarm-mock");
        // The scripted repair is the gold fix; git2's diff of it is the gold patch.
        assert_eq!(
            pred["model_patch"], inst["patch"],
            "{id}: the patch is the gold fix"
        );
        let inst_dir = run_dir.join("instances").join(id);
        let result = InstanceResult::load(&inst_dir).unwrap();
        assert_eq!(result.status.as_str(), "patched", "{result:?}");
        assert_eq!(result.patch_verified, Some(true), "{result:?}");
        // The fixer's status travels to result.json and the prediction line.
        assert_eq!(
            serde_json::to_value(result.fix_status).unwrap(),
            "verified",
            "{result:?}"
        );
        assert_eq!(pred["codeswarm_status"], "verified", "{pred}");
        assert_eq!(result.stopped_by, None, "{result:?}");
        assert!(result.tokens > 0);
        let log = std::fs::read_to_string(inst_dir.join("log.txt")).unwrap();
        assert!(log.contains("result: PATCH, verified"), "{log}");
        assert!(
            log.contains("--mock"),
            "the log says the model is scripted:\n{log}"
        );
        let trajectory: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(inst_dir.join("trajectory.json")).unwrap(),
        )
        .unwrap();
        // Two proposals (the greedy one and a sample that agrees with it); localization asks
        // the model unless the issue names the code itself.
        let calls = trajectory["calls"].as_array().unwrap();
        let repairs = calls.iter().filter(|c| c["agent"] == "repairer").count();
        assert_eq!(repairs, 2, "{id}");
        assert!(trajectory["calls"][0]["model"]
            .as_str()
            .unwrap()
            .starts_with("scripted:"));
    }

    // 2. The report, table and HTML.
    let o = run_step(report);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("4 instances: 4 patched"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("repository fixes: 4 verified, 0 plausible, 0 unverified, 0 no-patch"),
        "{}",
        stdout(&o)
    );
    let html = std::fs::read_to_string(report.args.last().unwrap()).unwrap();
    assert!(html.contains("codeswarm-fixtures__textkit-1"));

    // 3. The evaluation resolves every instance.
    let o = run_step(evaluate);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).trim_end().ends_with("resolved 4/4"),
        "{}\n{}",
        stdout(&o),
        stderr(&o)
    );
    // Resolved per fix status: the four verified patches resolve.
    assert!(
        stdout(&o)
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["verified", "4", "4"]),
        "{}",
        stdout(&o)
    );
    let eval: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(evaluate.args.last().unwrap()).unwrap())
            .unwrap();
    assert_eq!(eval["resolved"], 4, "{eval}");
    assert_eq!(eval["evaluated"], 4, "{eval}");
}

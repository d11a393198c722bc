//! The batch runner end to end on the fixture instance set: artifacts and predictions, failure
//! containment (errors, panics, time limits), resume and --redo, the manifest's settings
//! policy, malformed input, and the solver-unavailable stop.

mod batch_common;

use std::collections::HashSet;
use std::time::Duration;

use batch_common::{prediction_lines, FixtureSet, Mode, TestSolver};
use codeswarm::batch::manifest::{Manifest, ManifestError};
use codeswarm::batch::runner::{
    run_batch, BatchError, InstanceResult, InstanceStatus, Interrupt, SolveContext, SolveError,
    SolveOutcome, Solver,
};
use codeswarm::batch::SolverView;
use codeswarm::fix::FixStatus;

#[test]
fn end_to_end_records_every_instance_and_contains_failures() {
    let set = FixtureSet::build();
    let out = tempfile::tempdir().unwrap();
    let ids = set.ids();
    let (textkit, shopcart, statskit, configkit) = (&ids[0], &ids[1], &ids[2], &ids[3]);
    let mut solver = TestSolver::new(&set)
        .with(shopcart, Mode::Error("the model ran out of ideas".into()))
        .with(
            statskit,
            Mode::Panic("index out of range in the ranker".into()),
        );
    let config = set.config(out.path());
    let summary = run_batch(&config, &mut solver, &Interrupt::new()).unwrap();
    assert_eq!(
        solver.calls, ids,
        "every instance solved once, in file order"
    );
    assert_eq!(
        (
            summary.selected,
            summary.solved,
            summary.patched,
            summary.failed,
            summary.no_patch
        ),
        (4, 4, 2, 2, 0)
    );
    assert!(!summary.interrupted);
    assert_eq!(summary.remaining, 0);

    let lines = prediction_lines(&config.predictions);
    let got: Vec<&str> = lines
        .iter()
        .map(|l| l["instance_id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ids.iter().map(String::as_str).collect::<Vec<_>>());
    for line in &lines {
        let keys: Vec<&String> = line.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 3, "{line}");
        assert_eq!(line["model_name_or_path"], "codeswarm-test");
    }
    let patch_of = |id: &str| {
        lines.iter().find(|l| l["instance_id"] == id).unwrap()["model_patch"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        patch_of(textkit).contains("+    return text[: width - len(suffix)] + suffix\n"),
        "{}",
        patch_of(textkit)
    );
    assert!(patch_of(configkit).starts_with("diff --git a/configkit/"));
    assert_eq!(patch_of(shopcart), "");
    assert_eq!(patch_of(statskit), "");

    let run = out.path().join("run");
    for id in &ids {
        let dir = run.join("instances").join(id);
        for f in ["trajectory.json", "patch.diff", "log.txt", "result.json"] {
            assert!(dir.join(f).is_file(), "{id}/{f}");
        }
        assert!(!dir.join("scratch").exists(), "scratch removed for {id}");
    }
    let result = |id: &str| InstanceResult::load(&run.join("instances").join(id)).unwrap();
    assert_eq!(result(textkit).status, InstanceStatus::Patched);
    assert_eq!(result(textkit).tokens, 100);
    assert!(result(textkit).patch_lines >= 2);
    assert_eq!(result(shopcart).status, InstanceStatus::Failed);
    assert_eq!(
        result(shopcart).reason.as_deref(),
        Some("the model ran out of ideas")
    );
    assert_eq!(
        std::fs::read_to_string(run.join("instances").join(shopcart).join("log.txt")).unwrap(),
        "it went wrong\n"
    );
    assert_eq!(result(statskit).status, InstanceStatus::Panicked);
    assert!(result(statskit)
        .reason
        .unwrap()
        .contains("index out of range in the ranker"));
    let trajectory: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.join("instances").join(textkit).join("trajectory.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(trajectory[0]["step"], "gold");

    let m = Manifest::load(&run).unwrap().unwrap();
    assert_eq!(m.state, "completed");
    assert_eq!(
        (
            m.progress.selected,
            m.progress.done,
            m.progress.patched,
            m.progress.empty,
            m.progress.failed,
            m.progress.remaining
        ),
        (4, 4, 2, 2, 2, 0)
    );
    assert_eq!(m.settings.instances_sha256.len(), 64);
    assert_eq!(m.settings.time_limit_s, Some(60));

    // Rerun: everything is finished, nothing is solved again.
    let mut again = TestSolver::new(&set);
    let summary = run_batch(&config, &mut again, &Interrupt::new()).unwrap();
    assert!(again.calls.is_empty(), "{:?}", again.calls);
    assert_eq!((summary.skipped_done, summary.solved), (4, 0));
    assert_eq!(prediction_lines(&config.predictions).len(), 4);

    // --redo of one instance: solved again, its line replaced, the others kept.
    let mut redo = TestSolver::new(&set);
    let mut cfg = config.clone();
    cfg.redo = true;
    cfg.filter.instance_ids = Some(vec![shopcart.clone()]);
    let summary = run_batch(&cfg, &mut redo, &Interrupt::new()).unwrap();
    assert_eq!(redo.calls, vec![shopcart.clone()]);
    assert_eq!(summary.patched, 1);
    let lines = prediction_lines(&config.predictions);
    assert_eq!(lines.len(), 4);
    let ids_now: HashSet<&str> = lines
        .iter()
        .map(|l| l["instance_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids_now.len(), 4, "one line per instance");
    assert_eq!(lines[3]["instance_id"], shopcart.as_str());
    assert!(lines[3]["model_patch"]
        .as_str()
        .unwrap()
        .starts_with("diff --git a/shopcart/"));
    assert_eq!(result(shopcart).status, InstanceStatus::Patched);
}

#[test]
fn time_limit_cancels_the_instance_and_the_batch_goes_on() {
    let set = FixtureSet::build();
    let out = tempfile::tempdir().unwrap();
    let ids = set.ids();
    let mut solver = TestSolver::new(&set)
        .with(&ids[0], Mode::WaitForCancel)
        .with(&ids[2], Mode::Empty);
    let mut config = set.config(out.path());
    // Long enough that the gold instance (a checkout and a diff) ends well inside it on a
    // loaded machine; the waiting one runs into it.
    config.time_limit = Some(Duration::from_secs(3));
    config.filter.limit = Some(3);
    let started = std::time::Instant::now();
    let summary = run_batch(&config, &mut solver, &Interrupt::new()).unwrap();
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(
        (
            summary.solved,
            summary.failed,
            summary.patched,
            summary.no_patch
        ),
        (3, 1, 1, 1)
    );
    let r = InstanceResult::load(&out.path().join("run/instances").join(&ids[0])).unwrap();
    assert_eq!(r.status, InstanceStatus::TimedOut);
    assert!(r.reason.unwrap().contains("time limit"));
    assert!(r.seconds >= 3.0 && r.seconds < 15.0, "{}", r.seconds);
    let r = InstanceResult::load(&out.path().join("run/instances").join(&ids[2])).unwrap();
    assert_eq!(r.status, InstanceStatus::NoPatch);
    assert_eq!(r.reason.as_deref(), Some("no candidate edit passed review"));
    let lines = prediction_lines(&config.predictions);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["model_patch"], "");
}

#[test]
fn changed_identity_settings_need_redo_but_the_selection_may_grow() {
    let set = FixtureSet::build();
    let out = tempfile::tempdir().unwrap();
    let mut config = set.config(out.path());
    config.filter.limit = Some(1);
    run_batch(&config, &mut TestSolver::new(&set), &Interrupt::new()).unwrap();

    // A larger --limit resumes: only the new instance is solved.
    config.filter.limit = Some(2);
    let mut solver = TestSolver::new(&set);
    run_batch(&config, &mut solver, &Interrupt::new()).unwrap();
    assert_eq!(solver.calls, vec![set.ids()[1].clone()]);

    // Another model into the same run directory is refused, naming the change and --redo.
    let mut other = config.clone();
    other.model_name = "another-model".into();
    let err = run_batch(&other, &mut TestSolver::new(&set), &Interrupt::new()).unwrap_err();
    assert!(
        matches!(
            err,
            BatchError::Manifest(ManifestError::SettingsChanged { .. })
        ),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("model: was codeswarm-test, now another-model") && msg.contains("--redo"),
        "{msg}"
    );
    assert_eq!(
        prediction_lines(&config.predictions).len(),
        2,
        "nothing touched"
    );

    other.redo = true;
    let mut solver = TestSolver::new(&set);
    run_batch(&other, &mut solver, &Interrupt::new()).unwrap();
    assert_eq!(solver.calls.len(), 2);
    let lines = prediction_lines(&config.predictions);
    assert_eq!(lines.len(), 2);
    assert!(lines
        .iter()
        .all(|l| l["model_name_or_path"] == "another-model"));
    let m = Manifest::load(&out.path().join("run")).unwrap().unwrap();
    assert_eq!(m.previous_settings.len(), 1);
    assert_eq!(m.invocations, 3, "the refused invocation left no trace");
}

#[test]
fn malformed_input_lines_are_reported_and_skipped() {
    let set = FixtureSet::build();
    let out = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&set.instances).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.insert(1, "{\"instance_id\": \"half".into());
    lines.insert(
        3,
        "{\"instance_id\": \"no-repo\", \"base_commit\": \"abc\", \"problem_statement\": \"x\"}"
            .into(),
    );
    std::fs::write(&set.instances, lines.join("\n")).unwrap();
    let config = set.config(out.path());
    let mut solver = TestSolver::new(&set);
    let summary = run_batch(&config, &mut solver, &Interrupt::new()).unwrap();
    assert_eq!(summary.input_problems, 2);
    assert_eq!(solver.calls.len(), 4, "the valid instances all ran");
    let problems: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("run/input-problems.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(problems[0]["location"]["line"], 2);
    assert_eq!(problems[1]["location"]["line"], 4);
    assert_eq!(problems[1]["instance_id"], "no-repo");
    assert!(problems[1]["message"]
        .as_str()
        .unwrap()
        .contains("missing field `repo`"));
    assert!(summary
        .to_string()
        .contains("2 malformed input entries skipped"));
}

struct Unavailable;

impl Solver for Unavailable {
    fn solve(&mut self, _: &SolverView, _: &SolveContext<'_>) -> Result<SolveOutcome, SolveError> {
        Err(SolveError::Unavailable("model file missing".into()))
    }
}

#[test]
fn an_unavailable_solver_stops_the_batch_without_recording() {
    let set = FixtureSet::build();
    let out = tempfile::tempdir().unwrap();
    let config = set.config(out.path());
    let err = run_batch(&config, &mut Unavailable, &Interrupt::new()).unwrap_err();
    assert!(matches!(err, BatchError::SolverUnavailable { .. }), "{err}");
    assert!(err.to_string().contains("model file missing"));
    assert_eq!(prediction_lines(&config.predictions).len(), 0);
    let m = Manifest::load(&out.path().join("run")).unwrap().unwrap();
    assert_eq!(m.state, "aborted");
    // A working solver afterwards picks everything up.
    let summary = run_batch(&config, &mut TestSolver::new(&set), &Interrupt::new()).unwrap();
    assert_eq!(summary.solved, 4);
}

#[test]
fn an_invalid_patch_is_recorded_empty_with_the_reason() {
    let set = FixtureSet::build();
    let out = tempfile::tempdir().unwrap();
    let ids = set.ids();
    let mut solver = TestSolver::new(&set).with(
        &ids[0],
        Mode::Patch("I changed truncate() to fix it.".into()),
    );
    let mut config = set.config(out.path());
    config.filter.limit = Some(1);
    run_batch(&config, &mut solver, &Interrupt::new()).unwrap();
    let lines = prediction_lines(&config.predictions);
    assert_eq!(lines[0]["model_patch"], "");
    let r = InstanceResult::load(&out.path().join("run/instances").join(&ids[0])).unwrap();
    assert_eq!(r.status, InstanceStatus::Failed);
    assert!(r.reason.unwrap().contains("not a usable diff"));
}

#[test]
fn redo_rewrites_through_a_symlink_and_keeps_the_file_mode() {
    use std::os::unix::fs::PermissionsExt;
    let set = FixtureSet::build();
    let out = tempfile::tempdir().unwrap();
    let mut config = set.config(out.path());
    // preds.jsonl -> shared/preds.jsonl, a file with mode 0644.
    std::fs::create_dir(out.path().join("shared")).unwrap();
    let real = out.path().join("shared/preds.jsonl");
    std::fs::write(&real, "").unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::symlink("shared/preds.jsonl", &config.predictions).unwrap();
    run_batch(&config, &mut TestSolver::new(&set), &Interrupt::new()).unwrap();

    config.redo = true;
    config.filter.instance_ids = Some(vec![set.ids()[0].clone()]);
    let mut solver = TestSolver::new(&set);
    run_batch(&config, &mut solver, &Interrupt::new()).unwrap();
    assert_eq!(solver.calls, vec![set.ids()[0].clone()]);

    let link = std::fs::symlink_metadata(&config.predictions).unwrap();
    assert!(link.file_type().is_symlink(), "the link is kept");
    assert_eq!(prediction_lines(&real).len(), 4, "written through the link");
    let mode = std::fs::metadata(&real).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "the file's mode is kept");
}

#[test]
fn a_second_batch_on_the_same_predictions_file_through_a_link_is_refused() {
    use codeswarm::batch::predictions::PredictionsError;
    let set = FixtureSet::build();
    let out = tempfile::tempdir().unwrap();
    let config = set.config(out.path());
    let ids = set.ids();
    let interrupt = Interrupt::new();
    std::thread::scope(|scope| {
        let first = scope.spawn(|| {
            let mut solver = TestSolver::new(&set).with(&ids[0], Mode::WaitForCancel);
            solver.marker_dir = Some(out.path().to_path_buf());
            run_batch(&config, &mut solver, &interrupt)
        });
        let marker = out.path().join(format!("solving-{}", ids[0]));
        let started = std::time::Instant::now();
        while !marker.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the first batch never started"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        type Link = fn(&std::path::Path, &std::path::Path) -> std::io::Result<()>;
        let links: [(&str, Link); 2] = [
            ("sym", |a, b| std::os::unix::fs::symlink(a, b)),
            ("hard", |a, b| std::fs::hard_link(a, b)),
        ];
        for (name, link) in links {
            let other = out.path().join(format!("{name}.jsonl"));
            link(&config.predictions, &other).unwrap();
            let mut second = config.clone();
            second.predictions = other;
            second.run_dir = Some(out.path().join(format!("run-{name}")));
            let mut solver = TestSolver::new(&set);
            let err = run_batch(&second, &mut solver, &Interrupt::new()).unwrap_err();
            assert!(
                matches!(err, BatchError::Predictions(PredictionsError::Locked(_))),
                "{name}: {err}"
            );
            assert!(solver.calls.is_empty(), "{name}: nothing solved");
        }
        interrupt.trigger();
        let summary = first.join().unwrap().unwrap();
        assert!(summary.interrupted);
    });
    assert!(prediction_lines(&config.predictions).is_empty());
}

/// Returns the same patch for every instance, each with the status `rate` gives its id.
struct Rated {
    rate: Box<dyn Fn(&str) -> (Option<&'static str>, FixStatus) + Send>,
}

const RATED_PATCH: &str =
    "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n";

impl Solver for Rated {
    fn solve(
        &mut self,
        inst: &SolverView,
        _: &SolveContext<'_>,
    ) -> Result<SolveOutcome, SolveError> {
        let (patch, status) = (self.rate)(&inst.instance_id);
        Ok(SolveOutcome {
            patch: patch.map(String::from),
            reason: patch.is_none().then(|| "no candidate edit applied".into()),
            fix_status: Some(status),
            ..SolveOutcome::default()
        })
    }
}

#[test]
fn a_fix_status_reaches_result_json_the_prediction_line_the_summary_and_the_report() {
    use codeswarm::batch::{html, report};
    let set = FixtureSet::build();
    let out = tempfile::tempdir().unwrap();
    let ids = set.ids();
    let order = ids.clone();
    let mut solver = Rated {
        rate: Box::new(move |id| {
            match order.iter().position(|i| i == id).unwrap() {
                0 => (Some(RATED_PATCH), FixStatus::Verified),
                1 => (Some(RATED_PATCH), FixStatus::Plausible),
                2 => (None, FixStatus::NoPatch),
                // Rated, but not a diff: the instance fails and its prediction is empty.
                _ => (Some("I changed truncate()."), FixStatus::Unverified),
            }
        }),
    };
    let config = set.config(out.path());
    let summary = run_batch(&config, &mut solver, &Interrupt::new()).unwrap();
    let expected = [
        ("verified", "verified"),
        ("plausible", "plausible"),
        ("no-patch", "no-patch"),
        // result.json rates patch.diff; the prediction line rates the (empty) prediction.
        ("unverified", "no-patch"),
    ];
    let lines = prediction_lines(&config.predictions);
    for (i, id) in ids.iter().enumerate() {
        let r = InstanceResult::load(&out.path().join("run/instances").join(id)).unwrap();
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["fix_status"], expected[i].0, "{json}");
        let line = lines.iter().find(|l| l["instance_id"] == **id).unwrap();
        assert_eq!(line["codeswarm_status"], expected[i].1, "{line}");
        assert_eq!(line.as_object().unwrap().len(), 4, "{line}");
    }
    // The harness's keys first, as they were; the status last.
    let text = std::fs::read_to_string(&config.predictions).unwrap();
    for l in text.lines() {
        assert!(
            l.starts_with("{\"instance_id\":")
                && l.contains(",\"model_name_or_path\":\"codeswarm-test\",\"model_patch\":")
                && l.contains("\",\"codeswarm_status\":\"")
                && l.ends_with("\"}"),
            "{l}"
        );
    }
    assert_eq!(
        summary.by_status.line(),
        "1 verified, 1 plausible, 0 unverified, 2 no-patch"
    );
    assert!(
        summary
            .to_string()
            .contains("repository fixes: 1 verified, 1 plausible, 0 unverified, 2 no-patch"),
        "{summary}"
    );

    let run = report::load_run(&out.path().join("run")).unwrap();
    let table = report::render_table(&run);
    let header = table.lines().next().unwrap();
    let columns: Vec<&str> = header
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        columns,
        [
            "instance",
            "status",
            "fix status",
            "seconds",
            "tokens",
            "patch lines"
        ],
        "{table}"
    );
    let row = |id: &str| {
        table
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap()
            .to_string()
    };
    assert!(row(&ids[0]).contains(" verified "), "{table}");
    assert!(
        row(&ids[3]).contains(" failed ") && row(&ids[3]).contains(" unverified "),
        "{table}"
    );
    assert!(
        table.contains("repository fixes: 1 verified, 1 plausible, 1 unverified, 1 no-patch"),
        "{table}"
    );
    let page = html::render_html(&run, &out.path().join("report.html"));
    assert!(page.contains("<th>fix status</th>"), "{page}");
    assert!(
        page.contains(&format!(
            "<span class=\"badge f-verified\" title=\"{}\">verified</span>",
            FixStatus::Verified.promise()
        )),
        "{page}"
    );
}

#[test]
fn a_solver_without_a_status_adds_no_status_anywhere() {
    use codeswarm::batch::report;
    let set = FixtureSet::build();
    let out = tempfile::tempdir().unwrap();
    let mut config = set.config(out.path());
    config.filter.limit = Some(1);
    let summary = run_batch(
        &config,
        &mut TestSolver::new(&set).with(&set.ids()[0], Mode::Patch(RATED_PATCH.into())),
        &Interrupt::new(),
    )
    .unwrap();
    assert!(summary.by_status.is_empty());
    assert!(
        !summary.to_string().contains("repository fixes"),
        "{summary}"
    );
    let line = &prediction_lines(&config.predictions)[0];
    assert!(line.get("codeswarm_status").is_none(), "{line}");
    let r = InstanceResult::load(&out.path().join("run/instances").join(&set.ids()[0])).unwrap();
    assert_eq!(r.fix_status, None);
    let table = report::render_table(&report::load_run(&out.path().join("run")).unwrap());
    assert!(!table.contains("fix status"), "{table}");
}

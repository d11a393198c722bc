//! The batch commands through the real binary: `report` (table and self-contained HTML),
//! `merge-preds` and `fixtures` (the offline instance set).

mod batch_common;
mod common;

use batch_common::{prediction_lines, FixtureSet, Mode, TestSolver};
use codeswarm::batch::runner::{run_batch, Interrupt};
use codeswarm::batch::Prediction;
use codeswarm::repo::checkout::{resolve, CheckoutOptions};
use codeswarm::repo::patch::diff_worktree;
use common::{codeswarm, stderr, stdout};

fn home_env(dir: &std::path::Path) -> Vec<(String, String)> {
    vec![(
        "CODESWARM_HOME".into(),
        dir.join("home").display().to_string(),
    )]
}

fn run(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    let env = home_env(dir);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    codeswarm(args, &env)
}

#[test]
fn report_prints_a_table_and_writes_a_self_contained_escaped_html_page() {
    let set = FixtureSet::build();
    let out = tempfile::tempdir().unwrap();
    let ids = set.ids();
    // A patch whose added line is markup.
    let source = resolve(&set.repos[1].url(), &set.template).unwrap();
    let wt = set
        .cache()
        .checkout(
            &source,
            Some(&set.repos[1].base_commit),
            &CheckoutOptions::default(),
        )
        .unwrap();
    std::fs::write(
        wt.path().join("README.md"),
        "# shopcart\n<script>alert(1)</script>\n",
    )
    .unwrap();
    let script_patch = diff_worktree(wt.path(), None).unwrap().text;
    let mut solver = TestSolver::new(&set)
        .with(&ids[1], Mode::Patch(script_patch))
        .with(&ids[2], Mode::Error("failed <b>badly</b>".into()));
    let config = set.config(out.path());
    run_batch(&config, &mut solver, &Interrupt::new()).unwrap();

    let run_dir = out.path().join("run");
    let html = out.path().join("html/report.html");
    let o = run(
        &[
            "report",
            run_dir.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
        out.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    assert!(
        table.lines().next().unwrap().starts_with("instance"),
        "{table}"
    );
    for id in &ids {
        assert!(table.contains(id.as_str()), "{table}");
    }
    assert!(
        table.contains("patched") && table.contains("failed"),
        "{table}"
    );
    assert!(
        table.contains("4 instances: 3 patched, 0 without patch, 1 failed"),
        "{table}"
    );

    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<style>"));
    assert!(
        !page.contains("<script"),
        "markup from the run must be escaped"
    );
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("failed &lt;b&gt;badly&lt;/b&gt;"));
    for external in ["src=", "<link", "href=\"http", "url(", "@import"] {
        assert!(
            !page.contains(external),
            "external asset `{external}` in the page"
        );
    }
    assert!(
        page.contains("<span class=\"add\">+&lt;script&gt;"),
        "diff lines are highlighted"
    );
    let link = format!("../run/instances/{}/trajectory.json", ids[0]);
    assert!(
        page.contains(&format!("href=\"{link}\"")),
        "trajectory link"
    );
    assert!(out.path().join("html").join(&link).is_file());

    let o = run(
        &["report", out.path().join("nothing").to_str().unwrap()],
        out.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a codeswarm run directory"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn merge_preds_dedups_and_names_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let line = |id: &str, patch: &str| {
        Prediction {
            instance_id: id.into(),
            model_name_or_path: "m".into(),
            model_patch: patch.into(),
            codeswarm_status: None,
        }
        .to_line()
    };
    let a = dir.path().join("shard-0.jsonl");
    let b = dir.path().join("shard-1.jsonl");
    std::fs::write(
        &a,
        format!("{}{}", line("x__x-1", "p\n"), line("y__y-2", "")),
    )
    .unwrap();
    std::fs::write(
        &b,
        format!("{}{}", line("z__z-3", "q\n"), line("x__x-1", "p\n")),
    )
    .unwrap();
    let out = dir.path().join("all.jsonl");
    let o = run(
        &[
            "merge-preds",
            out.to_str().unwrap(),
            a.to_str().unwrap(),
            b.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("1 identical duplicates dropped, 3 instances written"),
        "{}",
        stdout(&o)
    );
    let ids: Vec<String> = prediction_lines(&out)
        .iter()
        .map(|l| l["instance_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["x__x-1", "y__y-2", "z__z-3"]);

    std::fs::write(&b, line("y__y-2", "different\n")).unwrap();
    let o = run(
        &[
            "merge-preds",
            out.to_str().unwrap(),
            a.to_str().unwrap(),
            b.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("y__y-2") && err.contains("shard-0.jsonl") && err.contains("shard-1.jsonl"),
        "{err}"
    );
}

#[test]
fn batch_stops_cleanly_when_the_model_cannot_be_loaded() {
    let set = FixtureSet::build();
    let out = tempfile::tempdir().unwrap();
    // A malformed line too: reported with its line number, not fatal.
    let mut text = std::fs::read_to_string(&set.instances).unwrap();
    text.push_str("{oops\n");
    std::fs::write(&set.instances, text).unwrap();
    let preds = out.path().join("preds.jsonl");
    let o = run(
        &[
            "batch",
            "--instances",
            set.instances.to_str().unwrap(),
            "--predictions",
            preds.to_str().unwrap(),
            "--repo-url-template",
            &set.template,
            "--shard",
            "0/1",
            "--model",
            out.path().join("missing.gguf").to_str().unwrap(),
        ],
        out.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("missing.gguf") && err.contains("does not exist"),
        "{err}"
    );
    assert!(
        err.contains("line 5"),
        "the malformed line is reported: {err}"
    );
    assert_eq!(prediction_lines(&preds).len(), 0, "nothing recorded");
    assert!(
        out.path().join("preds.run/manifest.json").is_file(),
        "default run dir beside the predictions"
    );

    let o = run(
        &[
            "batch",
            "--instances",
            "x.jsonl",
            "--predictions",
            "p.jsonl",
            "--shard",
            "4/4",
        ],
        out.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("0-based"), "{}", stderr(&o));
}

#[test]
fn evaluate_without_predictions_lists_the_instances_it_skipped() {
    let set = FixtureSet::build();
    let out = tempfile::tempdir().unwrap();
    let preds = out.path().join("preds.jsonl");
    std::fs::write(&preds, "").unwrap();
    let o = run(
        &[
            "evaluate",
            "--instances",
            set.instances.to_str().unwrap(),
            "--predictions",
            preds.to_str().unwrap(),
            "--repo-url-template",
            &set.template,
        ],
        out.path(),
    );
    let text = String::from_utf8_lossy(&o.stdout);
    // Nothing evaluated is not a result (exit 2), but the listing still says why.
    assert_eq!(o.status.code(), Some(2), "{text}{}", stderr(&o));
    assert!(
        stderr(&o).contains("nothing was evaluated"),
        "{}",
        stderr(&o)
    );
    assert!(text.contains("4 instances have no prediction"), "{text}");
    assert!(text.trim_end().ends_with("resolved 0/0"), "{text}");
}

#[test]
fn fixtures_writes_an_offline_instance_set_and_refuses_to_overwrite_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("set");
    let o = run(&["fixtures", "--out", out.to_str().unwrap()], dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(out.join("instances.jsonl")).unwrap();
    let instances: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(instances.len(), 4);
    let printed = stdout(&o);
    for inst in &instances {
        let id = inst["instance_id"].as_str().unwrap();
        assert!(printed.contains(id), "{id} not listed:\n{printed}");
        // The printed template resolves `repo` to a repository holding the base commit.
        let name = inst["repo"].as_str().unwrap().split('/').nth(1).unwrap();
        let repo = git2::Repository::open(out.join("repos").join(name)).unwrap();
        let base = git2::Oid::from_str(inst["base_commit"].as_str().unwrap()).unwrap();
        assert!(repo.find_commit(base).is_ok(), "{id}: base commit missing");
    }
    assert!(
        printed.contains(&format!("{}/repos/{{name}}", out.display())),
        "{printed}"
    );

    let again = run(&["fixtures", "--out", out.to_str().unwrap()], dir.path());
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn a_predictions_path_that_cannot_work_is_refused_before_anything_is_created() {
    let set = FixtureSet::build();
    let out = tempfile::tempdir().unwrap();
    let batch = |preds: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "batch",
            "--instances",
            set.instances.to_str().unwrap(),
            "--predictions",
            preds.to_str().unwrap(),
            "--repo-url-template",
            &set.template,
            "--mock",
        ];
        args.extend_from_slice(extra);
        run(&args, out.path())
    };
    let listing = || {
        let mut names: Vec<String> = std::fs::read_dir(out.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };

    // `x.run` would be its own run directory.
    std::fs::create_dir(out.path().join("bp")).unwrap();
    let before = listing();
    let o = batch(&out.path().join("bp/x.run"), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the run directory would be the predictions file itself")
            && stderr(&o).contains("--run-dir"),
        "{}",
        stderr(&o)
    );
    assert!(!out.path().join("bp/x.run").exists(), "nothing created");
    // Also when --run-dir names the predictions file.
    let preds = out.path().join("preds.jsonl");
    let o = batch(&preds, &["--run-dir", preds.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!preds.exists());

    // A directory is not a predictions file, and no DIR.run is left behind.
    let dir = out.path().join("predsdir");
    std::fs::create_dir(&dir).unwrap();
    let o = batch(&dir, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is a directory"), "{}", stderr(&o));
    let mut expected = before.clone();
    expected.push("predsdir".into());
    expected.sort();
    assert_eq!(listing(), expected, "no predsdir.run/ or home left behind");
}

#[test]
fn report_over_a_corrupt_result_fails_naming_the_file() {
    let set = FixtureSet::build();
    let out = tempfile::tempdir().unwrap();
    let ids = set.ids();
    let mut solver = TestSolver::new(&set).with(&ids[0], Mode::Empty);
    run_batch(&set.config(out.path()), &mut solver, &Interrupt::new()).unwrap();
    let run_dir = out.path().join("run");
    let result = run_dir.join("instances").join(&ids[1]).join("result.json");
    std::fs::write(&result, "{\"instance_id\": \"trunc").unwrap();
    let o = run(&["report", run_dir.to_str().unwrap()], out.path());
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(result.to_str().unwrap()) && stderr(&o).contains("delete it"),
        "{}",
        stderr(&o)
    );
}

//! Crash safety of a batch run, with real processes: kill -9 in the middle of an instance and
//! at random moments, a torn last line, worktrees a killed run leaves behind, and Ctrl-C. The child is this test binary re-executed
//! on `child_process_entry` with `CODESWARM_BATCH_CHILD` describing what to run.

mod batch_common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use batch_common::{prediction_lines, FixtureSet, Mode, TestSolver};
use codeswarm::batch::manifest::Manifest;
use codeswarm::batch::runner::{run_batch, BatchConfig, InstanceResult, InstanceStatus, Interrupt};
use codeswarm::batch::Filter;
use codeswarm::repo::checkout::MirrorCache;
use serde_json::json;

const CHILD_ENV: &str = "CODESWARM_BATCH_CHILD";
const STRESS_PATCH: &str =
    "diff --git a/f.py b/f.py\n--- a/f.py\n+++ b/f.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n";

fn config(instances: &Path, out: &Path, template: &str) -> BatchConfig {
    BatchConfig {
        instances: instances.to_path_buf(),
        predictions: out.join("preds.jsonl"),
        run_dir: Some(out.join("run")),
        model_name: "codeswarm-test".into(),
        filter: Filter::default(),
        time_limit: Some(Duration::from_secs(120)),
        repo_url_template: template.to_string(),
        site: None,
        redo: false,
        show_progress: false,
    }
}

/// Not a test of its own: the body of the child process (a no-op in a normal test run).
#[test]
fn child_process_entry() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let spec: serde_json::Value = serde_json::from_str(&spec).unwrap();
    let s = |k: &str| spec[k].as_str().unwrap().to_string();
    let instances = PathBuf::from(s("instances"));
    let out = PathBuf::from(s("out"));
    let config = config(&instances, &out, &s("template"));
    let mut solver =
        TestSolver::from_instances_file(&instances, &s("template"), MirrorCache::new(s("cache")));
    solver.marker_dir = Some(out.clone());
    match s("mode").as_str() {
        // The second instance blocks until cancelled.
        "block" => {
            let set = codeswarm::batch::instances::load_instances(&instances).unwrap();
            solver = solver.with(set.instances[1].id(), Mode::WaitForCancel);
        }
        // The second instance checks out a worktree, then blocks until cancelled.
        "worktree" => {
            let set = codeswarm::batch::instances::load_instances(&instances).unwrap();
            solver = solver.with(set.instances[1].id(), Mode::CheckoutThenWait);
        }
        "stress" => {
            solver.marker_dir = None;
            let set = codeswarm::batch::instances::load_instances(&instances).unwrap();
            for i in &set.instances {
                solver = solver.with(i.id(), Mode::Patch(STRESS_PATCH.into()));
            }
        }
        other => panic!("unknown mode {other}"),
    }
    let interrupt = Interrupt::new();
    if spec["ctrl_c"].as_bool().unwrap_or(false) {
        interrupt.install_ctrl_c_handler().unwrap();
    }
    std::fs::write(out.join("child-ready"), "").unwrap();
    let summary = run_batch(&config, &mut solver, &interrupt).unwrap();
    std::process::exit(if summary.interrupted { 130 } else { 0 });
}

fn spawn_child(spec: serde_json::Value) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    // A private temp dir: nothing of the batch may land in the system's.
    if let Some(tmp) = spec["tmpdir"].as_str() {
        command.env("TMPDIR", tmp);
    }
    command
        .args([
            "--exact",
            "child_process_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, spec.to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_for(path: &Path, child: &mut Child) {
    let start = Instant::now();
    while !path.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("child exited early ({status}) before {}", path.display());
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("child did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn child_spec(set: &FixtureSet, out: &Path, mode: &str, ctrl_c: bool) -> serde_json::Value {
    json!({
        "instances": set.instances, "out": out, "template": set.template,
        "cache": set.path().join("cache"), "mode": mode, "ctrl_c": ctrl_c,
    })
}

#[test]
fn kill_9_mid_instance_then_a_torn_line_then_resume() {
    let set = FixtureSet::build();
    let out = tempfile::tempdir().unwrap();
    let ids = set.ids();
    let mut child = spawn_child(child_spec(&set, out.path(), "block", false));
    wait_for(&out.path().join(format!("solving-{}", ids[1])), &mut child);
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success());

    let preds = out.path().join("preds.jsonl");
    let lines = prediction_lines(&preds);
    assert_eq!(lines.len(), 1, "only the instance finished before the kill");
    assert_eq!(lines[0]["instance_id"], ids[0].as_str());
    assert!(
        InstanceResult::load(&out.path().join("run/instances").join(&ids[1])).is_none(),
        "the killed instance has no result"
    );

    // As if a later kill had landed in the middle of an append.
    let mut torn = std::fs::read_to_string(&preds).unwrap();
    torn.push_str("{\"instance_id\":\"codeswarm-fixtures__shopcart-1\",\"model_name_or_p");
    std::fs::write(&preds, torn).unwrap();

    let cfg = config(&set.instances, out.path(), &set.template);
    let mut solver = TestSolver::new(&set);
    let summary = run_batch(&cfg, &mut solver, &Interrupt::new()).unwrap();
    assert!(summary.repaired_torn_line);
    assert_eq!(
        solver.calls,
        ids[1..].to_vec(),
        "the finished instance is not solved again"
    );
    let lines = prediction_lines(&preds);
    let got: Vec<&str> = lines
        .iter()
        .map(|l| l["instance_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        ids.iter().map(String::as_str).collect::<Vec<_>>(),
        "exactly one complete line per instance"
    );
    assert!(lines
        .iter()
        .all(|l| l["model_patch"].as_str().unwrap().starts_with("diff --git")));
    assert_eq!(
        InstanceResult::load(&out.path().join("run/instances").join(&ids[1]))
            .unwrap()
            .status,
        InstanceStatus::Patched
    );
}

#[test]
fn ctrl_c_cancels_the_instance_in_flight_and_exits_cleanly() {
    stop_with_signal(libc::SIGINT);
}

#[test]
fn sigterm_stops_like_ctrl_c() {
    stop_with_signal(libc::SIGTERM);
}

fn stop_with_signal(signal: i32) {
    let set = FixtureSet::build();
    let out = tempfile::tempdir().unwrap();
    let ids = set.ids();
    let mut child = spawn_child(child_spec(&set, out.path(), "block", true));
    wait_for(&out.path().join(format!("solving-{}", ids[1])), &mut child);
    // SAFETY: signalling our own child by its pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
    let status = wait_exit(&mut child);
    assert_eq!(status.code(), Some(130), "interrupted runs exit 130");

    let preds = out.path().join("preds.jsonl");
    let lines = prediction_lines(&preds);
    assert_eq!(lines.len(), 1, "the cancelled instance is not recorded");
    assert_eq!(lines[0]["instance_id"], ids[0].as_str());
    let r = InstanceResult::load(&out.path().join("run/instances").join(&ids[1])).unwrap();
    assert_eq!(r.status, InstanceStatus::Interrupted);
    assert!(
        !out.path().join(format!("solving-{}", ids[2])).exists(),
        "no new instance started after Ctrl-C"
    );
    let m = Manifest::load(&out.path().join("run")).unwrap().unwrap();
    assert_eq!(m.state, "interrupted");
    assert_eq!((m.progress.done, m.progress.remaining), (1, 3));

    let cfg = config(&set.instances, out.path(), &set.template);
    let mut solver = TestSolver::new(&set);
    let summary = run_batch(&cfg, &mut solver, &Interrupt::new()).unwrap();
    assert_eq!(solver.calls, ids[1..].to_vec());
    assert!(!summary.interrupted);
    assert_eq!(prediction_lines(&preds).len(), 4);
}

#[test]
fn kill_9_at_random_moments_never_leaves_more_than_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let instances = dir.path().join("stress.jsonl");
    let n = 120;
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&json!({"instance_id": format!("stress__s-{i}"), "repo": "o/r", "base_commit": "0".repeat(40), "problem_statement": "p"}).to_string());
        text.push('\n');
    }
    std::fs::write(&instances, text).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let spec = json!({"instances": instances, "out": out, "template": "{repo}", "cache": dir.path().join("cache"), "mode": "stress"});
    let preds = out.join("preds.jsonl");
    // A fixed pseudo-random sequence of kill delays.
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut killed = 0;
    let mut partial_rounds = 0;
    for _round in 0..6 {
        let ready = out.join("child-ready");
        let _ = std::fs::remove_file(&ready);
        let mut child = spawn_child(spec.clone());
        wait_for(&ready, &mut child);
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(30 + (seed >> 33) % 250));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
        // Whatever the moment: complete lines, then at most one torn tail; no duplicate id.
        let bytes = std::fs::read(&preds).unwrap_or_default();
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let mut seen = HashSet::new();
        for line in String::from_utf8(bytes[..complete].to_vec())
            .unwrap()
            .lines()
        {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(
                seen.insert(v["instance_id"].as_str().unwrap().to_string()),
                "duplicate line {line}"
            );
            assert_eq!(v["model_patch"], STRESS_PATCH);
        }
        if !seen.is_empty() && seen.len() < n {
            partial_rounds += 1;
        }
    }
    assert!(
        killed > 0 && partial_rounds > 0,
        "at least one child was killed mid-run"
    );
    let cfg = config(&instances, &out, "{repo}");
    let mut solver = TestSolver::from_instances_file(
        &instances,
        "{repo}",
        MirrorCache::new(dir.path().join("cache")),
    );
    let set = codeswarm::batch::instances::load_instances(&instances).unwrap();
    for i in &set.instances {
        solver = solver.with(i.id(), Mode::Patch(STRESS_PATCH.into()));
    }
    run_batch(&cfg, &mut solver, &Interrupt::new()).unwrap();
    let lines = prediction_lines(&preds);
    assert_eq!(lines.len(), n);
    let ids: HashSet<&str> = lines
        .iter()
        .map(|l| l["instance_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), n, "exactly one line per instance");
}

/// Entries of `dir` whose names start with `prefix`, at any depth up to `depth`.
fn find_named(dir: &Path, prefix: &str, depth: usize) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for e in entries.flatten() {
        let p = e.path();
        if e.file_name().to_string_lossy().starts_with(prefix) {
            found.push(p.clone());
        }
        if depth > 0 && e.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(find_named(&p, prefix, depth - 1));
        }
    }
    found
}

#[test]
fn kill_9_leaves_worktrees_only_under_the_run_dir_and_the_next_start_removes_them() {
    let set = FixtureSet::build();
    let out = tempfile::tempdir().unwrap();
    let tmp = out.path().join("system-tmp");
    std::fs::create_dir(&tmp).unwrap();
    let ids = set.ids();
    let mut spec = child_spec(&set, out.path(), "worktree", false);
    spec["tmpdir"] = json!(tmp);
    let mut child = spawn_child(spec);
    wait_for(
        &out.path().join(format!("checked-out-{}", ids[1])),
        &mut child,
    );
    child.kill().unwrap(); // SIGKILL
    assert!(!child.wait().unwrap().success());

    let work = out.path().join("run/work");
    let stale = find_named(&work, "codeswarm-wt-", 2);
    assert_eq!(
        stale.len(),
        1,
        "the killed instance's worktree is under run/work: {stale:?}"
    );
    assert!(stale[0].starts_with(work.join(&ids[1])), "{stale:?}");
    assert!(
        find_named(&tmp, "codeswarm-wt-", 3).is_empty(),
        "nothing in the system temp dir"
    );

    // A resume that solves nothing (the only selected instance is finished) still removes it.
    let mut cfg = config(&set.instances, out.path(), &set.template);
    cfg.filter.instance_ids = Some(vec![ids[0].clone()]);
    let mut solver = TestSolver::new(&set);
    let summary = run_batch(&cfg, &mut solver, &Interrupt::new()).unwrap();
    assert!(solver.calls.is_empty() && summary.skipped_done == 1);
    assert!(!work.exists(), "the stale work space is removed on start");

    // A full resume leaves no work space behind either.
    let cfg = config(&set.instances, out.path(), &set.template);
    run_batch(&cfg, &mut TestSolver::new(&set), &Interrupt::new()).unwrap();
    assert!(find_named(&out.path().join("run"), "codeswarm-wt-", 3).is_empty());
    assert_eq!(prediction_lines(&out.path().join("preds.jsonl")).len(), 4);
}

#[test]
fn the_repository_solver_checks_out_under_the_run_dir() {
    // The real solver of `codeswarm batch` (scripted model): its worktree, logged at info
    // level, is under PREDICTIONS.run/work/, not the system temp dir.
    codeswarm::sandbox::Sandbox::open(&())
        .expect("the sandbox runtime (codeswarm sandbox --setup)");
    let set = FixtureSet::build();
    let out = tempfile::tempdir().unwrap();
    let home = out.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::os::unix::fs::symlink(codeswarm::paths::runtime_dir(), home.join("runtime")).unwrap();
    let tmp = out.path().join("system-tmp");
    std::fs::create_dir(&tmp).unwrap();
    let preds = out.path().join("preds.jsonl");
    let o = Command::new(env!("CARGO_BIN_EXE_codeswarm"))
        .args(["batch", "--instances"])
        .arg(&set.instances)
        .arg("--predictions")
        .arg(&preds)
        .args([
            "--repo-url-template",
            &set.template,
            "--mock",
            "--limit",
            "1",
        ])
        .env("CODESWARM_HOME", &home)
        .env("TMPDIR", &tmp)
        .env("RUST_LOG", "codeswarm=info")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let ready: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("worktree ready"))
        .collect();
    assert_eq!(ready.len(), 1, "{err}");
    let work = out.path().join("preds.run/work").join(&set.ids()[0]);
    assert!(
        ready[0].contains(&format!("{}/codeswarm-wt-", work.display())),
        "{}",
        ready[0]
    );
    assert!(find_named(&tmp, "codeswarm-wt-", 3).is_empty());
    assert!(
        !out.path().join("preds.run/work").exists(),
        "removed when finished"
    );
}

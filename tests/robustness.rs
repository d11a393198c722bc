//! Hostile input files and host data (issue 30, items 5–12), through the real binary: an
//! instance file may only name `owner/name`, run-directory files are read without following
//! links, input files must be regular files of bounded size, a closed stdout ends a command
//! quietly, local source repositories are never written, oversized blobs are refused before
//! they are read, and names reach the terminal escaped.

mod batch_common;
mod check_common;
mod common;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use batch_common::FixtureSet;
use common::{codeswarm, stderr, stdout};

/// Run the binary with its own `CODESWARM_HOME` under `dir`.
fn run(args: &[&str], dir: &Path) -> Output {
    let home = dir.join("home").display().to_string();
    codeswarm(args, &[("CODESWARM_HOME", home.as_str())])
}

/// [`run`], killed after `limit` (an input that hangs the reader fails the test instead of
/// hanging it).
fn run_within(args: &[&str], dir: &Path, limit: Duration) -> Output {
    let mut child = common::bin()
        .args(args)
        .env("CODESWARM_HOME", dir.join("home"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            let o = child.wait_with_output().unwrap();
            panic!(
                "codeswarm {args:?} still running after {limit:?}: {}",
                stderr(&o)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// Make a FIFO at `path`.
fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// The fixture set's instances, each a JSON object, with `edit` applied.
fn instances_with(set: &FixtureSet, edit: impl Fn(&mut serde_json::Value)) -> String {
    let text = std::fs::read_to_string(&set.instances).unwrap();
    let mut out = String::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        edit(&mut v);
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

#[test]
fn an_instance_file_may_only_name_owner_name_repositories() {
    let set = FixtureSet::build();
    let out = tempfile::tempdir().unwrap();
    let repos = set.path().join("repos");
    // Each instance names its repository by local path, file:// URL or a host URL.
    let hostile = instances_with(&set, |v| {
        let name = v["repo"]
            .as_str()
            .unwrap()
            .split('/')
            .nth(1)
            .unwrap()
            .to_string();
        let local = repos.join(&name).display().to_string();
        let repo = match name.len() % 3 {
            0 => local,
            1 => format!("file://{local}"),
            _ => "http://127.0.0.1:9/o/r.git".to_string(),
        };
        v["repo"] = repo.into();
    });
    let instances = out.path().join("hostile.jsonl");
    std::fs::write(&instances, hostile).unwrap();
    let preds = out.path().join("preds.jsonl");
    // `batch` reads the same instance loader; `evaluate` reaches it without the sandbox set-up.
    std::fs::write(&preds, "").unwrap();
    let o = run(
        &[
            "evaluate",
            "--instances",
            instances.to_str().unwrap(),
            "--predictions",
            preds.to_str().unwrap(),
            "--repo-url-template",
            &set.template,
        ],
        out.path(),
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for id in set.ids() {
        assert!(err.contains(&id), "{id} not named: {err}");
    }
    assert!(
        err.contains("must be `owner/name`") && err.contains("--repo-url-template"),
        "{err}"
    );
}

#[test]
#[cfg(unix)]
fn report_never_reads_a_run_directory_file_through_a_link() {
    let out = tempfile::tempdir().unwrap();
    let secret_dir = out.path().join("host");
    std::fs::create_dir(&secret_dir).unwrap();
    std::fs::write(secret_dir.join("secret.txt"), "HOST-SECRET-1\n").unwrap();
    std::fs::write(secret_dir.join("patch.diff"), "+HOST-SECRET-2\n").unwrap();
    let run_dir = out.path().join("run");
    let instances = run_dir.join("instances");
    std::fs::create_dir_all(instances.join("a__a-1")).unwrap();
    // A linked instance directory is left out, whatever it holds.
    std::os::unix::fs::symlink(&secret_dir, instances.join("b__b-2")).unwrap();
    let html = out.path().join("report.html");
    let report = || {
        run(
            &[
                "report",
                run_dir.to_str().unwrap(),
                "--html",
                html.to_str().unwrap(),
            ],
            out.path(),
        )
    };
    let o = report();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("a__a-1"), "{page}");
    assert!(!page.contains("HOST-SECRET") && !stdout(&o).contains("HOST-SECRET"));

    // A linked patch.diff is refused, naming it; nothing of the host file is shown or written.
    std::fs::remove_file(&html).unwrap();
    std::os::unix::fs::symlink(
        secret_dir.join("secret.txt"),
        instances.join("a__a-1/patch.diff"),
    )
    .unwrap();
    let o = report();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("patch.diff") && err.contains("symbolic link"),
        "{err}"
    );
    assert!(!err.contains("HOST-SECRET") && !stdout(&o).contains("HOST-SECRET"));
    assert!(!html.exists(), "no page written");
}

#[test]
#[cfg(target_os = "linux")]
fn input_files_must_be_regular_files_of_bounded_size() {
    let out = tempfile::tempdir().unwrap();
    let d = out.path();
    let fifo = d.join("fifo.jsonl");
    mkfifo(&fifo);
    let instances = d.join("instances.jsonl");
    std::fs::write(
        &instances,
        r#"{"instance_id": "o__r-1", "repo": "o/r", "base_commit": "abc", "problem_statement": "p"}"#,
    )
    .unwrap();
    // A sparse file just over the data-file limit: no disk used, never read.
    let huge = d.join("huge.jsonl");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(codeswarm::input_file::MAX_DATA_FILE + 1)
        .unwrap();
    let limit = Duration::from_secs(30);
    let fifo_s = fifo.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["evaluate", "--instances", fifo_s, "--predictions", fifo_s],
            "FIFO",
        ),
        (
            vec![
                "evaluate",
                "--instances",
                "/dev/zero",
                "--predictions",
                "/dev/zero",
            ],
            "character device",
        ),
        (
            vec![
                "evaluate",
                "--instances",
                huge.to_str().unwrap(),
                "--predictions",
                fifo_s,
            ],
            "larger than the limit of 512 MiB",
        ),
        (
            vec![
                "evaluate",
                "--instances",
                instances.to_str().unwrap(),
                "--predictions",
                "/dev/full",
            ],
            "character device",
        ),
        (
            vec![
                "batch",
                "--mock",
                "--instances",
                instances.to_str().unwrap(),
                "--predictions",
                fifo_s,
            ],
            "FIFO",
        ),
        (vec!["check", "--repo", ".", "--patch", fifo_s], "FIFO"),
        (
            vec![
                "check",
                "--repo",
                ".",
                "--patch",
                "x",
                "--tests-from",
                "/dev/zero",
            ],
            "character device",
        ),
        (
            vec!["run", "--mock", "--task-file", "/dev/zero"],
            "character device",
        ),
    ];
    for (args, needle) in cases {
        let o = run_within(&args, d, limit);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert!(
        !d.join("fifo.run").exists(),
        "no run directory beside a FIFO"
    );
    let mut left: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "home")
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["fifo.jsonl", "huge.jsonl", "instances.jsonl"],
        "nothing created"
    );
}

/// Run the binary with its standard output a pipe whose reader is already closed.
#[cfg(unix)]
fn run_into_closed_pipe(args: &[&str], dir: &Path) -> Output {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    unsafe { libc::close(fds[0]) };
    // SAFETY: the write end is ours alone; Stdio takes ownership.
    let write_end = unsafe { Stdio::from_raw_fd(fds[1]) };
    common::bin()
        .args(args)
        .env("CODESWARM_HOME", dir.join("home"))
        .stdout(write_end)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
#[cfg(unix)]
fn a_closed_stdout_ends_a_command_quietly() {
    let out = tempfile::tempdir().unwrap();
    let run_dir = out.path().join("run");
    std::fs::create_dir_all(run_dir.join("instances/a__a-1")).unwrap();
    for args in [
        vec!["report", run_dir.to_str().unwrap()],
        vec!["completions", "bash"],
        vec![
            "fixtures",
            "--out",
            out.path().join("set").to_str().unwrap(),
        ],
    ] {
        let o = run_into_closed_pipe(&args, out.path());
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(141), "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
    }
}

/// Every file under `dir` with its modification time.
fn mtimes(dir: &Path) -> std::collections::BTreeMap<std::path::PathBuf, std::time::SystemTime> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = std::fs::symlink_metadata(e.path()).unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else {
                out.insert(e.path(), m.modified().unwrap());
            }
        }
    }
    out
}

#[test]
fn check_never_touches_the_source_repositorys_objects() {
    let home = check_common::Home::new();
    let dir = tempfile::tempdir().unwrap();
    let repo = check_common::fixture_repo("textkit", dir.path());
    let git_dir = repo.path.join(".git");
    // Age every file of the repository's git directory, so any write shows.
    let old = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    for path in mtimes(&git_dir).keys() {
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    let before = mtimes(&git_dir);
    // The patch adds a file identical to one the repository already has, so applying it
    // creates a blob that exists there (libgit2 would "freshen" it).
    let existing = "textkit/case.py";
    let content = std::fs::read_to_string(repo.path.join(existing)).unwrap();
    let patch = check_common::write(
        dir.path(),
        "p.diff",
        &check_common::add_file_patch("textkit/copy_of_init.py", &content),
    );
    let o = check_common::check(
        &home,
        repo.path.to_str().unwrap(),
        &repo.base_commit,
        &patch,
        &[],
    );
    assert!(
        matches!(o.status.code(), Some(0) | Some(1)),
        "{}",
        check_common::out(&o)
    );
    assert_eq!(
        mtimes(&git_dir),
        before,
        "the source repository was written to"
    );
}

#[test]
fn a_tree_over_the_size_limit_is_refused_before_any_blob_is_read() {
    use codeswarm::repo::checkout::{resolve, CheckoutError, CheckoutOptions, MirrorCache};
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    let repo = git2::Repository::init(&src).unwrap();
    const LIMIT: u64 = 1 << 20;
    std::fs::write(src.join("small.py"), "x = 1\n").unwrap();
    std::fs::create_dir(src.join("data")).unwrap();
    std::fs::write(src.join("data/big.bin"), vec![b'a'; LIMIT as usize]).unwrap();
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("t", "t@example.invalid").unwrap();
    let base = repo
        .commit(Some("HEAD"), &sig, &sig, "base", &tree, &[])
        .unwrap();
    let parent = d.path().join("work");
    std::fs::create_dir(&parent).unwrap();
    let source = resolve(src.to_str().unwrap(), "{repo}").unwrap();
    let cache = MirrorCache::new(d.path().join("cache"));
    let checkout = |max: u64| {
        cache.checkout(
            &source,
            Some(&base.to_string()),
            &CheckoutOptions {
                parent_dir: Some(parent.clone()),
                max_tree_bytes: Some(max),
                ..CheckoutOptions::default()
            },
        )
    };
    // Just over: refused, naming the largest file, with nothing left in the parent directory.
    let e = checkout(LIMIT).unwrap_err();
    assert!(matches!(e, CheckoutError::TooLarge { .. }), "{e}");
    assert!(e.to_string().contains("data/big.bin"), "{e}");
    assert_eq!(
        std::fs::read_dir(&parent).unwrap().count(),
        0,
        "no worktree left"
    );
    // At the limit: checked out.
    let wt = checkout(LIMIT + 6).unwrap();
    assert!(wt.path().join("data/big.bin").is_file());
}

#[test]
fn directories_a_killed_run_left_behind_are_removed_on_the_next_start() {
    let home = check_common::Home::new();
    let dir = tempfile::tempdir().unwrap();
    let repo = check_common::fixture_repo("textkit", dir.path());
    let tmp = dir.path().join("tmp");
    let sandbox_tmp = home.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::create_dir_all(&sandbox_tmp).unwrap();
    // A process id no process has (above any pid_max), and this test's own (alive).
    let dead = 2_147_483_646u32;
    let live = std::process::id();
    let plant = |parent: &Path, name: String| {
        let p = parent.join(name);
        std::fs::create_dir_all(p.join("pkg")).unwrap();
        std::fs::write(p.join("pkg/big.py"), "x = 1\n").unwrap();
        p
    };
    let stale_wt = plant(&tmp, format!("codeswarm-wt-{dead}-AbC123"));
    let live_wt = plant(&tmp, format!("codeswarm-wt-{live}-AbC123"));
    let stale_sb = plant(&sandbox_tmp, format!("sandbox-{dead}-XyZ789"));
    let live_sb = plant(&sandbox_tmp, format!("sandbox-{live}-XyZ789"));
    let unrelated = plant(&tmp, "sandbox-notapid".to_string());

    let patch = check_common::write(
        dir.path(),
        "p.diff",
        &check_common::add_file_patch("textkit/extra.py", "y = 2\n"),
    );
    let o = check_common::codeswarm(
        &home,
        &[
            "check",
            "--repo",
            repo.path.to_str().unwrap(),
            "--base",
            &repo.base_commit,
            "--patch",
            &patch,
            "--tests",
            "tests/test_case.py",
        ],
        &[("TMPDIR", tmp.to_str().unwrap())],
    );
    assert!(
        matches!(o.status.code(), Some(0) | Some(1)),
        "{}",
        check_common::out(&o)
    );
    assert!(!stale_wt.exists(), "stale worktree left");
    assert!(!stale_sb.exists(), "stale sandbox copy left");
    for kept in [&live_wt, &live_sb, &unrelated] {
        assert!(
            kept.join("pkg/big.py").is_file(),
            "{} removed",
            kept.display()
        );
    }
    // The run's own directories are gone too (dropped normally).
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

#[test]
fn evaluate_reads_null_patches_refuses_conflicting_repeats_and_escapes_names() {
    let set = FixtureSet::build();
    let out = tempfile::tempdir().unwrap();
    let ids = set.ids();
    let bidi_id = "evil\u{202E}txt.exe__x-1";
    let huge_id = "h".repeat(10_000);
    let mut instances = std::fs::read_to_string(&set.instances).unwrap();
    for id in [bidi_id, huge_id.as_str()] {
        instances.push_str(
            &serde_json::json!({
                "instance_id": id, "repo": "o/r", "base_commit": "abc", "problem_statement": "p"
            })
            .to_string(),
        );
        instances.push('\n');
    }
    let instances_path = out.path().join("instances.jsonl");
    std::fs::write(&instances_path, instances).unwrap();
    let line = |id: &str, patch: serde_json::Value| {
        format!(
            "{}\n",
            serde_json::json!({"instance_id": id, "model_name_or_path": "m", "model_patch": patch})
        )
    };
    let preds = out.path().join("preds.jsonl");
    let evaluate = || {
        run(
            &[
                "evaluate",
                "--instances",
                instances_path.to_str().unwrap(),
                "--predictions",
                preds.to_str().unwrap(),
                "--repo-url-template",
                &set.template,
            ],
            out.path(),
        )
    };

    // Two different lines for one instance: an error naming it and both lines.
    std::fs::write(
        &preds,
        line(&ids[0], "".into()) + &line(&ids[1], "a".into()) + &line(&ids[1], "b".into()),
    )
    .unwrap();
    let o = evaluate();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&ids[1]) && err.contains("lines 2, 3"), "{err}");

    // `"model_patch": null` is no patch, not a broken file; names reach the terminal escaped.
    std::fs::write(
        &preds,
        line(&ids[0], serde_json::Value::Null) + &line(bidi_id, "".into()),
    )
    .unwrap();
    let o = evaluate();
    let (text, err) = (stdout(&o), stderr(&o));
    assert!(text.contains(&ids[0]), "{text}{err}");
    assert!(
        !text.contains('\u{202E}') && !err.contains('\u{202E}'),
        "{text}{err}"
    );
    assert!(text.contains("evil\\u{202e}txt.exe__x-1"), "{text}");
    assert!(!err.contains(&huge_id), "a 10 kB id is not echoed whole");
    assert!(err.contains("more characters"), "{err}");
}

#[test]
fn an_unknown_test_environment_is_an_error() {
    let home = check_common::Home::new();
    let dir = tempfile::tempdir().unwrap();
    let repo = check_common::fixture_repo("textkit", dir.path());
    let patch = check_common::write(
        dir.path(),
        "p.diff",
        &check_common::add_file_patch("textkit/extra.py", "y = 2\n"),
    );
    for env in ["nope/nope@1", "nope/nope"] {
        let o = check_common::check(
            &home,
            repo.path.to_str().unwrap(),
            &repo.base_commit,
            &patch,
            &["--tests", "tests/test_case.py", "--env", env],
        );
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{env}: {}", check_common::out(&o));
        assert!(
            err.contains("--env") && err.contains("--specs"),
            "{env}: {err}"
        );
    }
}

#[test]
fn under_mock_each_batch_instance_replays_the_script_from_its_start() {
    let home = check_common::Home::new();
    let set = FixtureSet::build();
    let out = tempfile::tempdir().unwrap();
    // The same fixture twice, under two ids: both get the script's replies.
    let text = std::fs::read_to_string(&set.instances).unwrap();
    let first = text.lines().next().unwrap();
    let mut copy: serde_json::Value = serde_json::from_str(first).unwrap();
    let id = copy["instance_id"].as_str().unwrap().to_string();
    copy["instance_id"] = format!("{id}-copy").into();
    let instances = out.path().join("twice.jsonl");
    std::fs::write(&instances, format!("{first}\n{copy}\n")).unwrap();
    let preds = out.path().join("preds.jsonl");
    let o = check_common::codeswarm(
        &home,
        &[
            "batch",
            "--mock",
            "--instances",
            instances.to_str().unwrap(),
            "--predictions",
            preds.to_str().unwrap(),
            "--repo-url-template",
            &set.template,
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", check_common::out(&o));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&preds)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let patches: Vec<&str> = lines
        .iter()
        .map(|l| l["model_patch"].as_str().unwrap())
        .collect();
    assert!(!patches[0].is_empty(), "{}", check_common::out(&o));
    assert_eq!(patches[0], patches[1], "{}", check_common::out(&o));
}

#[test]
fn tree_entries_that_cannot_be_checked_out_are_named() {
    use codeswarm::repo::checkout::{resolve, CheckoutError, CheckoutOptions, MirrorCache};
    // Hand-made trees git itself would refuse to write.
    for (name, problem) in [
        (b"".to_vec(), "empty or invalid name"),
        (b"caf\xe9.py".to_vec(), "is not UTF-8"),
        (b"..".to_vec(), "reserved"),
    ] {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        let repo = git2::Repository::init(&src).unwrap();
        let blob = repo.blob(b"x = 1\n").unwrap();
        // The raw tree object (`<mode> <name>\0<id>` per entry, sorted by name): libgit2's
        // tree builder refuses these names.
        let mut raw = Vec::new();
        for n in [name.as_slice(), b"ok.py"] {
            raw.extend_from_slice(b"100644 ");
            raw.extend_from_slice(n);
            raw.push(0);
            raw.extend_from_slice(blob.as_bytes());
        }
        let sub_id = repo
            .odb()
            .unwrap()
            .write(git2::ObjectType::Tree, &raw)
            .unwrap();
        let mut root = repo.treebuilder(None).unwrap();
        root.insert("pkg", sub_id, 0o040000).unwrap();
        let tree = repo.find_tree(root.write().unwrap()).unwrap();
        let sig = git2::Signature::now("t", "t@example.invalid").unwrap();
        let base = repo
            .commit(Some("HEAD"), &sig, &sig, "base", &tree, &[])
            .unwrap();
        let source = resolve(src.to_str().unwrap(), "{repo}").unwrap();
        let parent = d.path().join("work");
        let e = MirrorCache::new(d.path().join("cache"))
            .checkout(
                &source,
                Some(&base.to_string()),
                &CheckoutOptions {
                    parent_dir: Some(parent.clone()),
                    ..CheckoutOptions::default()
                },
            )
            .unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, CheckoutError::BadFileName { .. }), "{text}");
        assert!(text.contains(problem) && text.contains("pkg/"), "{text}");
        assert!(!text.contains("partial clone"), "{text}");
    }
}

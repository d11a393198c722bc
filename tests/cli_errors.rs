//! Bad input gets a clear error naming the thing and the fix, and exit code 2: missing,
//! truncated, corrupt and foreign model files, a wrong sha256, an unknown model name, an empty
//! task, an unwritable --out, and a memory plan that does not fit.

mod common;

use common::{codeswarm, gguf_writer, stderr};

fn expect_error(args: &[&str], needles: &[&str]) {
    let o = codeswarm(args, &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "args {args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "args {args:?}: expected `{n}` in:\n{err}");
    }
}

#[test]
fn missing_truncated_corrupt_and_foreign_model_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.gguf");
    expect_error(
        &["models", "info", missing.to_str().unwrap()],
        &["does not exist", "missing.gguf"],
    );

    let trunc = dir.path().join("trunc.gguf");
    gguf_writer::tiny(&trunc, true);
    expect_error(
        &["models", "info", trunc.to_str().unwrap()],
        &["truncated", "fix:"],
    );

    let foreign = dir.path().join("foreign.gguf");
    std::fs::write(&foreign, b"\x7fELF not a model").unwrap();
    expect_error(
        &[
            "run",
            "--task",
            "x",
            "--out",
            dir.path().join("o").to_str().unwrap(),
            "--model",
            foreign.to_str().unwrap(),
        ],
        &["not a GGUF file", "foreign.gguf"],
    );
}

#[test]
fn wrong_sha256_of_a_known_model_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // Same name and size as the registry's default model, wrong content (a sparse file).
    let fake = dir.path().join("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf");
    std::fs::File::create(&fake)
        .unwrap()
        .set_len(491_400_064)
        .unwrap();
    expect_error(
        &["models", "info", fake.to_str().unwrap()],
        &[
            "sha256 mismatch",
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ],
    );
    // And a wrong size is named as such.
    std::fs::File::create(&fake).unwrap().set_len(1000).unwrap();
    expect_error(
        &["models", "info", fake.to_str().unwrap()],
        &["expected 491400064 bytes, got 1000"],
    );
}

#[test]
fn unknown_model_name_lists_the_known_ones() {
    expect_error(
        &["models", "info", "no-such-model"],
        &[
            "unknown model `no-such-model`",
            "qwen2.5-coder-0.5b-instruct-q4_k_m",
        ],
    );
    expect_error(
        &["models", "pull", "no-such-model"],
        &["unknown model `no-such-model`"],
    );
}

#[test]
fn empty_task_and_unwritable_out() {
    let dir = tempfile::tempdir().unwrap();
    expect_error(
        &["run", "--task", "  ", "--out", dir.path().to_str().unwrap()],
        &["task is empty", "--task"],
    );
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    expect_error(
        &[
            "run",
            "--task",
            "write f",
            "--mock",
            "--out",
            file.join("sub").to_str().unwrap(),
        ],
        &["cannot create output directory", "--out"],
    );
    let empty_task_file = dir.path().join("task.txt");
    std::fs::write(&empty_task_file, "\n").unwrap();
    expect_error(
        &[
            "run",
            "--task-file",
            empty_task_file.to_str().unwrap(),
            "--out",
            dir.path().to_str().unwrap(),
        ],
        &["task is empty"],
    );
    expect_error(
        &[
            "run",
            "--task-file",
            dir.path().join("nope.txt").to_str().unwrap(),
        ],
        &["cannot read --task-file"],
    );
}

#[test]
fn plan_that_cannot_fit_the_budget_is_refused_with_numbers() {
    common::default_model();
    let dir = tempfile::tempdir().unwrap();
    expect_error(
        &[
            "run",
            "--task",
            "write f",
            "--out",
            dir.path().to_str().unwrap(),
            "--ram-budget",
            "300MiB",
        ],
        &["does not fit", "weights 463.0 MiB", "RAM budget 300.0 MiB"],
    );
    expect_error(
        &[
            "models",
            "info",
            "qwen2.5-coder-0.5b-instruct-q4_k_m",
            "--ram-budget",
            "lots",
        ],
        &["lots"],
    );
}

#[test]
fn out_of_range_timeouts_and_memory_are_refused_not_panics() {
    for (value, needle) in [
        ("1e300", "'1e300' for '--timeout"),
        ("1e19", "from 1 to 86400"),
        ("0", "from 1 to 86400"),
        ("NaN", "from 1 to 86400"),
        ("-5", "from 1 to 86400"),
    ] {
        expect_error(
            &["sandbox", &format!("--timeout={value}"), "--", "-c", "1"],
            &[needle],
        );
    }
    for value in ["0", "99999999999999"] {
        expect_error(
            &["sandbox", "--memory", value, "--", "-c", "1"],
            &["--memory", "16 to 4096"],
        );
    }
    expect_error(
        &[
            "batch",
            "--instances",
            "x.jsonl",
            "--predictions",
            "p.jsonl",
            "--time-limit",
            "99999999999",
        ],
        &["--time-limit"],
    );

    // The same ranges in a config file, named by section and key, before any work.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    let out = dir.path().join("out");
    for (text, needle) in [
        (
            "[sandbox]\ntimeout_seconds = 9223372036854775807\n",
            "[sandbox] timeout_seconds = 9223372036854775807",
        ),
        (
            "[sandbox]\ntimeout_seconds = 0\n",
            "[sandbox] timeout_seconds = 0",
        ),
        ("[sandbox]\nmemory_mb = 0\n", "[sandbox] memory_mb = 0"),
    ] {
        std::fs::write(&config, text).unwrap();
        expect_error(
            &[
                "run",
                "--task",
                "write f",
                "--mock",
                "--config",
                config.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
            &[needle, "c.toml"],
        );
    }
    std::fs::write(
        &config,
        "[repo_tests]\ntimeout_seconds = 9223372036854775807\n",
    )
    .unwrap();
    let patch = dir.path().join("p.diff");
    std::fs::write(&patch, "").unwrap();
    expect_error(
        &[
            "check",
            "--repo",
            dir.path().to_str().unwrap(),
            "--patch",
            patch.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ],
        &["[repo_tests] timeout_seconds", "1 to 86400"],
    );
}

#[test]
fn unwritable_output_paths_are_refused_before_the_work_starts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    // The instances file does not even exist: the output path is checked first.
    let missing = dir.path().join("missing.jsonl");
    let m = missing.to_str().unwrap();
    expect_error(
        &[
            "evaluate",
            "--instances",
            m,
            "--predictions",
            m,
            "--report",
            "/proc/nope/r.json",
        ],
        &["--report /proc/nope/r.json", "cannot be written"],
    );
    expect_error(
        &["evaluate", "--instances", m, "--gold", "--report", d],
        &["--report", "is a directory"],
    );
    let patch = dir.path().join("p.diff");
    std::fs::write(&patch, "").unwrap();
    expect_error(
        &[
            "check",
            "--repo",
            d,
            "--patch",
            patch.to_str().unwrap(),
            "--junit",
            "/tmp",
        ],
        &["--junit /tmp", "is a directory"],
    );
    expect_error(&["report", d, "--html", d], &["--html", "is a directory"]);
    expect_error(
        &[
            "fix",
            "--repo",
            d,
            "--issue",
            "x",
            "--mock",
            "--report",
            "/proc/nope/r.json",
        ],
        &["--report /proc/nope/r.json"],
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "nothing created"
    );
}

#[test]
fn arguments_of_the_wrong_kind_are_named_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = dir.path().join("newdir");
    let o = out.to_str().unwrap();
    // A directory where a model file is expected.
    expect_error(
        &["models", "info", d],
        &["is a directory, not a model file", d],
    );
    // Prompt overrides that are not a directory; the set-up error leaves no empty --out.
    expect_error(
        &[
            "run",
            "--task",
            "write f",
            "--mock",
            "--prompts",
            "/nonexistent",
            "--out",
            o,
        ],
        &["--prompts /nonexistent", "does not exist"],
    );
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    expect_error(
        &[
            "run",
            "--task",
            "write f",
            "--mock",
            "--prompts",
            file.to_str().unwrap(),
            "--out",
            o,
        ],
        &["--prompts", "is not a directory"],
    );
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[repo_tests]\ntimeout_seconds = 0\n").unwrap();
    expect_error(
        &[
            "run",
            "--task",
            "write f",
            "--mock",
            "--config",
            config.to_str().unwrap(),
            "--out",
            o,
        ],
        &["[repo_tests] timeout_seconds = 0"],
    );
    assert!(!out.exists(), "set-up errors leave no empty --out behind");
    // An issue that is a directory is neither a file nor the text.
    expect_error(
        &[
            "fix",
            "--repo",
            d,
            "--issue",
            "/tmp",
            "--mock",
            "--patch-out",
            dir.path().join("p.patch").to_str().unwrap(),
        ],
        &["--issue /tmp", "is a directory"],
    );
    // An option smuggled in as a test id.
    let patch = dir.path().join("p.diff");
    std::fs::write(&patch, "").unwrap();
    expect_error(
        &[
            "check",
            "--repo",
            d,
            "--patch",
            patch.to_str().unwrap(),
            "--tests=--collect-only",
        ],
        &["`--collect-only` is an option, not a test"],
    );
    let tests_from = dir.path().join("tests.txt");
    std::fs::write(&tests_from, "test_a.py::t\n-p no:cacheprovider\n").unwrap();
    expect_error(
        &[
            "check",
            "--repo",
            d,
            "--patch",
            patch.to_str().unwrap(),
            "--tests-from",
            tests_from.to_str().unwrap(),
        ],
        &["`-p no:cacheprovider` is an option"],
    );
    // Every instance malformed: nothing to evaluate is an error.
    let instances = dir.path().join("bad.jsonl");
    std::fs::write(&instances, "{oops\n[1, 2]\n{\"instance_id\": 3}\n").unwrap();
    let preds = dir.path().join("preds.jsonl");
    std::fs::write(&preds, "").unwrap();
    expect_error(
        &[
            "evaluate",
            "--instances",
            instances.to_str().unwrap(),
            "--predictions",
            preds.to_str().unwrap(),
        ],
        &["bad.jsonl holds no valid instance (3 malformed entries skipped"],
    );
}

//! Live progress of `run`: `--stream` prints each reply under a header naming its agent, on
//! stderr, for a backend that does not stream (the scripted model's replies come whole); without
//! it, and with stderr not a terminal, nothing but the usual lines is printed there. Also the
//! small output promises of `models list` and `models info DIR`.

mod common;

use common::{codeswarm, stderr, stdout};

fn mock_run(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let out = dir.join("out");
    let mut args = vec![
        "run",
        "--mock",
        "--task",
        "Write a fibonacci function",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    codeswarm(&args, &[])
}

#[test]
fn stream_prints_each_reply_under_its_agent_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let o = mock_run(dir.path(), &["--stream"]);
    let err = stderr(&o);
    // A one-function task is planned without a model call: the first reply is the code.
    assert!(!err.contains("── coordinator (planning)"), "{err}");
    assert!(
        err.contains("── code_generator (writing code) · scripted:builtin ──"),
        "{err}"
    );
    assert!(err.contains("def fibonacci(n: int) -> int:"), "{err}");
    assert!(
        err.contains("── code_generator: "),
        "a closing line per reply: {err}"
    );
    // The generated text stays off stdout, which keeps the summary.
    assert!(!stdout(&o).contains("── "), "{}", stdout(&o));
}

#[test]
fn without_a_terminal_and_without_stream_nothing_is_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let o = mock_run(dir.path(), &[]);
    let err = stderr(&o);
    assert!(!err.contains("── "), "{err}");
    assert!(!err.contains("tok/s"), "{err}");
    assert!(!err.contains('\r'), "no spinner redraws: {err:?}");
}

#[test]
fn models_list_shows_a_size_for_every_model_and_old_names_still_work() {
    let o = codeswarm(&["models", "list"], &[]);
    let out = stdout(&o);
    assert!(out.contains("qwen2.5-coder-1.5b-instruct-q4_k_m"), "{out}");
    let big = out
        .lines()
        .find(|l| l.contains("qwen2.5-coder-7b-instruct-q4_k_m"))
        .unwrap();
    assert!(big.contains("~4.36 GiB"), "{big}");
    assert!(!big.contains(" ? "), "{big}");
    // A directory in the current directory (no `/` in the argument) is called a directory.
    let o = codeswarm(&["models", "info", "src"], &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("is a directory, not a model file"), "{err}");
}

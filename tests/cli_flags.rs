//! Conventional flags and small usability promises of the command line: llama.cpp's short
//! forms, `--kv-type q8_0` as llama.cpp writes it, `--patch-out` for `fix`, shell completions,
//! and a `--mock` run that says its output is scripted.

mod common;

use common::{codeswarm, stdout};

#[test]
fn llama_cpp_short_flags_are_accepted() {
    let o = codeswarm(&["run", "--help"], &[]);
    let help = stdout(&o);
    for flag in [
        "-m, --model",
        "-c, --ctx",
        "-t, --threads",
        "[alias: --ngl]",
    ] {
        assert!(help.contains(flag), "`{flag}` missing from:\n{help}");
    }
    let o = codeswarm(&["fix", "--help"], &[]);
    assert!(stdout(&o).contains("--patch-out <FILE>"), "{}", stdout(&o));
}

#[test]
fn a_mock_run_says_it_is_scripted_and_takes_kv_type_as_llama_cpp_writes_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = codeswarm(
        &[
            "run",
            "--mock",
            "--kv-type",
            "q8_0",
            "-t",
            "1",
            "--task",
            "Write is_even(n) returning whether n is even.",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    let text = stdout(&o);
    assert!(
        text.contains("note: --mock: every reply came from the script `builtin`"),
        "{text}\n{}",
        common::stderr(&o)
    );
    assert!(out.join("report.json").exists());
}

#[test]
fn completions_cover_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let o = codeswarm(&["completions", shell], &[]);
        assert_eq!(o.status.code(), Some(0), "{shell}");
        let script = stdout(&o);
        for word in ["evaluate", "batch", "check", "patch-out"] {
            assert!(script.contains(word), "{shell}: `{word}` missing");
        }
    }
    let o = codeswarm(&["completions", "tcsh"], &[]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

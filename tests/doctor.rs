//! `codeswarm doctor` on set-ups that lack pieces (no weights needed): an empty cache says what
//! is missing with the fix for each and exits 1, `--json` has the documented shape, a damaged
//! model file is named with its size mismatch, a directory given as the model is called a
//! directory, and the timed generation is skipped with a reason when the model is absent.

use std::process::{Command, Output};

fn doctor(home: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_codeswarm"))
        .arg("doctor")
        .args(args)
        .env("CODESWARM_HOME", home)
        .env_remove("CODESWARM_MODEL")
        .output()
        .expect("run codeswarm doctor")
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The line of check `id` and the line after it (its fix, when there is one).
fn check_lines<'a>(out: &'a str, id: &str) -> (&'a str, &'a str) {
    let lines: Vec<&str> = out.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.split_whitespace().nth(1) == Some(id))
        .unwrap_or_else(|| panic!("no `{id}` line in:\n{out}"));
    (lines[i], lines.get(i + 1).copied().unwrap_or(""))
}

#[test]
fn an_empty_set_up_names_each_missing_piece_with_its_fix_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("nothing-here");
    let o = doctor(&home, &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");

    let (line, fix) = check_lines(&out, "cache");
    assert!(
        line.contains("MISSING") && line.contains("does not exist"),
        "{line}"
    );
    assert!(fix.contains("fix: scripts/setup.sh demo"), "{fix}");

    let default = codeswarm::models::Registry::builtin().default;
    let (line, fix) = check_lines(&out, &format!("model:{default}"));
    assert!(
        line.contains("MISSING") && line.contains("not downloaded"),
        "{line}"
    );
    assert!(
        fix.ends_with(&format!("fix: codeswarm models pull {default}")),
        "{fix}"
    );

    let (line, fix) = check_lines(&out, "runtime");
    assert!(line.contains("MISSING"), "{line}");
    assert!(fix.ends_with("fix: codeswarm sandbox --setup"), "{fix}");

    let (line, _) = check_lines(&out, "generate");
    assert!(
        line.contains("skipped") && line.contains("is not ready"),
        "the generation is skipped with its reason: {line}"
    );
    let (line, _) = check_lines(&out, "sandbox_run");
    assert!(line.contains("skipped"), "{line}");
    // The CPU features this binary was built for are on their own line.
    let (line, _) = check_lines(&out, "cpu");
    assert!(line.contains("built for"), "{line}");
    assert!(out.contains("not ready: "), "{out}");
    // Nothing was created by looking.
    assert!(!home.exists());
}

#[test]
fn json_lists_every_check_with_status_requirement_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let o = doctor(&dir.path().join("h"), &["--json", "--quick"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert_eq!(v["ok"], false);
    assert!(v["version"].is_string() && v["home"].is_string(), "{v}");
    let checks = v["checks"].as_array().unwrap();
    let ids: Vec<&str> = checks.iter().map(|c| c["id"].as_str().unwrap()).collect();
    for id in [
        "build",
        "cpu",
        "cache",
        "runtime",
        "generate",
        "sandbox_run",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    for c in checks {
        for key in ["id", "status", "required", "detail", "fix", "seconds"] {
            assert!(c.get(key).is_some(), "{key} missing from {c}");
        }
        let status = c["status"].as_str().unwrap();
        assert!(
            ["ok", "warn", "missing", "failed", "skipped", "info"].contains(&status),
            "{c}"
        );
        if c["required"] == true && (status == "missing" || status == "failed") {
            assert!(c["fix"].is_string(), "a required problem has a fix: {c}");
        }
    }
    let gen = checks.iter().find(|c| c["id"] == "generate").unwrap();
    assert_eq!(gen["status"], "skipped");
    assert!(gen["detail"].as_str().unwrap().contains("--quick"), "{gen}");
    // Optional models are information, not failures.
    let big = checks
        .iter()
        .find(|c| c["id"] == "model:qwen2.5-coder-7b-instruct-q4_k_m")
        .unwrap();
    assert_eq!(
        (big["status"].as_str(), big["required"].as_bool()),
        (Some("info"), Some(false))
    );
}

#[test]
fn a_damaged_model_is_failed_with_the_mismatch_and_the_pull_that_fixes_it() {
    let dir = tempfile::tempdir().unwrap();
    let reg = codeswarm::models::Registry::builtin();
    let entry = reg.default_entry();
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    std::fs::write(models.join(&entry.file), b"not a model").unwrap();
    let o = doctor(dir.path(), &["--no-generate"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let (line, fix) = check_lines(&out, &format!("model:{}", entry.name));
    assert!(
        line.contains("FAILED") && line.contains("expected"),
        "{line}"
    );
    assert!(line.contains("got 11"), "the size found is named: {line}");
    assert!(
        fix.ends_with(&format!("fix: codeswarm models pull {}", entry.name)),
        "{fix}"
    );
    let (line, _) = check_lines(&out, "cache");
    assert!(line.starts_with("  ok"), "{line}");
    let (line, _) = check_lines(&out, "generate");
    assert!(line.contains("--no-generate"), "{line}");
}

#[test]
fn a_directory_as_the_model_is_called_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("weights");
    std::fs::create_dir(&weights).unwrap();
    let o = doctor(dir.path(), &["--quick", "-m", weights.to_str().unwrap()]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let (line, fix) = check_lines(&out, &format!("model:{}", weights.display()));
    assert!(line.contains("is a directory, not a model file"), "{line}");
    assert!(fix.contains("pass a .gguf file"), "{fix}");
}

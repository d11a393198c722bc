//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod gguf_writer;
pub mod scripted;

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `codeswarm` binary built for these tests.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_codeswarm"))
}

/// Run the binary with `args`, returning its output.
pub fn codeswarm(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = bin();
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run codeswarm")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The default model, fetched into the shared cache if missing (the README's test command
/// fetches it first, so this is normally instant).
pub fn default_model() -> PathBuf {
    let reg = codeswarm::models::Registry::builtin();
    reg.resolve(None, true, &())
        .expect("default model available (run `codeswarm models pull`)")
        .path
}

/// Clone `repo` into a temp dir, check out `base`, and `git apply` `patch` there with the real
/// git command (`--check` first). Returns the clone (kept alive by the returned TempDir).
pub fn git_apply_on_fresh_clone(
    repo: &std::path::Path,
    base: &str,
    patch: &str,
) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str], cwd: &std::path::Path| {
        Command::new("git")
            .args(args)
            .current_dir(cwd)
            .output()
            .unwrap()
    };
    assert!(
        git(&["clone", "-q", repo.to_str().unwrap(), "c"], dir.path())
            .status
            .success()
    );
    let clone = dir.path().join("c");
    assert!(git(&["checkout", "-q", base], &clone).status.success());
    let file = dir.path().join("p.diff");
    std::fs::write(&file, patch).unwrap();
    let check = git(&["apply", "--check", file.to_str().unwrap()], &clone);
    assert!(
        check.status.success(),
        "git apply --check: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(git(&["apply", file.to_str().unwrap()], &clone)
        .status
        .success());
    (dir, clone)
}

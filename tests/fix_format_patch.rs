//! `codeswarm fix --format-patch` on the ScriptedModel (`--mock`, the built-in textkit script):
//! the written file is a `git am`-ready mail whose subject is the issue's title and whose body
//! carries codeswarm's status and evidence, and `git am` applies it on the base commit as a
//! commit with that message and the fix.
//!
//! Needs the sandbox runtime (fetched with pip on first use, or `codeswarm sandbox --setup`).

mod check_common;

use std::path::Path;
use std::process::Command;

use check_common::{codeswarm, fixture_repo, out, Home};

fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_COMMITTER_NAME", "ci")
        .env("GIT_COMMITTER_EMAIL", "ci@example.com")
        .output()
        .expect("git")
}

fn git_ok(dir: &Path, args: &[&str]) -> String {
    let o = git(dir, args);
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn format_patch_output_applies_with_git_am_and_carries_the_message() {
    let home = Home::new();
    let tmp = tempfile::tempdir().unwrap();
    let fx = fixture_repo("textkit", tmp.path());
    let issue = tmp.path().join("issue.md");
    std::fs::write(&issue, format!("# {}", fx.issue)).unwrap();
    let title = fx.issue.lines().next().unwrap().trim().to_string();
    let mail = tmp.path().join("fix.patch");
    let o = codeswarm(
        &home,
        &[
            "fix",
            "--mock",
            "--repo",
            fx.path.to_str().unwrap(),
            "--commit",
            &fx.base_commit,
            "--issue",
            issue.to_str().unwrap(),
            "--patch-out",
            mail.to_str().unwrap(),
            "--format-patch",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("(apply with `git am`)"),
        "{}",
        out(&o)
    );
    let text = std::fs::read_to_string(&mail).unwrap();
    assert!(
        text.starts_with(&format!(
            "From {} Mon Sep 17 00:00:00 2001\n",
            fx.base_commit
        )),
        "{text}"
    );
    assert!(
        text.contains("\nFrom: codeswarm <codeswarm@localhost>\n"),
        "{text}"
    );
    assert!(text.contains("\nDate: "), "{text}");
    assert!(
        text.contains(&format!("\nSubject: [PATCH] {title}\n")),
        "{text}"
    );
    assert!(
        text.contains("\n---\ndiff --git a/textkit/strings.py"),
        "{text}"
    );

    // `git am` on a clone at the base commit.
    let clone = tmp.path().join("clone");
    git_ok(
        tmp.path(),
        &[
            "clone",
            "-q",
            fx.path.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    git_ok(&clone, &["checkout", "-q", "--detach", &fx.base_commit]);
    git_ok(&clone, &["am", "-q", mail.to_str().unwrap()]);
    assert_eq!(git_ok(&clone, &["log", "-1", "--format=%s"]).trim(), title);
    assert_eq!(
        git_ok(&clone, &["log", "-1", "--format=%an <%ae>"]).trim(),
        "codeswarm <codeswarm@localhost>"
    );
    let body = git_ok(&clone, &["log", "-1", "--format=%b"]);
    assert!(
        body.contains("Status: verified: a reproduction that failed at the base passes"),
        "{body}"
    );
    assert!(body.contains("reproduction (fails at the base)"), "{body}");
    assert!(body.contains("model: scripted:"), "{body}");
    assert_eq!(
        git_ok(&clone, &["rev-parse", "HEAD~1"]).trim(),
        fx.base_commit
    );
    let code = std::fs::read_to_string(clone.join("textkit/strings.py")).unwrap();
    assert!(
        code.contains("text[: width - len(suffix)] + suffix"),
        "{code}"
    );
    assert!(!code.contains("len(suffix) - 1]"), "{code}");
}

#[test]
fn format_patch_needs_a_patch_and_the_bare_diff_stays_the_default() {
    // Without --format-patch nothing changes: the flag is off by default.
    let o = Command::new(env!("CARGO_BIN_EXE_codeswarm"))
        .args(["fix", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(help.contains("--format-patch"), "{help}");
    assert!(help.contains("git am"), "{help}");
}

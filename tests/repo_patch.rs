//! Edit a fixture worktree with SEARCH/REPLACE blocks, produce the patch, and check it with the
//! real `git apply --check` on a fresh clone at the base commit; apply patches with
//! `apply_patch` and have rejected hunks named.

use std::path::Path;
use std::process::Command;

use codeswarm::repo::checkout::{
    resolve, CheckoutOptions, MirrorCache, Worktree, DEFAULT_URL_TEMPLATE,
};
use codeswarm::repo::edit::{apply_edits_to_dir, parse_edits, WritePolicy};
use codeswarm::repo::fixture::{self, FixtureRepo};
use codeswarm::repo::patch::{apply_patch, check_patch, diff_worktree, FileStatus, PatchError};

fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .expect("these tests need the git command-line tool on PATH");
    out
}

fn fresh_clone(fx: &FixtureRepo, into: &Path) {
    let out = git(
        into.parent().unwrap(),
        &[
            "clone",
            "-q",
            fx.path.to_str().unwrap(),
            into.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "clone: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = git(into, &["checkout", "-q", "--detach", &fx.base_commit]);
    assert!(
        out.status.success(),
        "checkout: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn git_apply_check(dir: &Path, patch: &str) -> std::process::Output {
    let file = dir.join("..").join(format!(
        "{}.patch",
        dir.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&file, patch).unwrap();
    git(dir, &["apply", "--check", "-v", file.to_str().unwrap()])
}

fn worktree(fx: &FixtureRepo, tmp: &Path) -> Worktree {
    let cache = MirrorCache::new(tmp.join("cache"));
    let source = resolve(&fx.url(), DEFAULT_URL_TEMPLATE).unwrap();
    cache
        .checkout(
            &source,
            Some(&fx.base_commit),
            &CheckoutOptions {
                refresh: false,
                parent_dir: Some(tmp.to_path_buf()),
            },
        )
        .unwrap()
}

const MODEL_OUTPUT: &str = "The slice drops one character too many.\n\n\
textkit/strings.py\n```python\n<<<<<<< SEARCH\n    if len(text) <= width:\n        return text\n    return text[: width - len(suffix) - 1] + suffix\n=======\n    if len(text) <= width:\n        return text\n    return text[: width - len(suffix)] + suffix\n>>>>>>> REPLACE\n```\n\n\
tests/test_regression.py\n```python\n<<<<<<< SEARCH\n=======\nfrom textkit.strings import truncate\n\n\ndef test_width_8():\n    assert truncate(\"hello world\", 8) == \"hello...\"\n>>>>>>> REPLACE\n```\n";

#[test]
fn edited_worktree_patch_passes_real_git_apply_check() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = fixture::by_name("textkit")
        .unwrap()
        .build(&tmp.path().join("src"))
        .unwrap();
    let wt = worktree(&fx, tmp.path());

    let blocks = parse_edits(MODEL_OUTPUT).unwrap();
    let outcome = apply_edits_to_dir(wt.path(), &blocks, WritePolicy::AllOrNothing);
    assert!(outcome.is_clean(), "{}", outcome.error_report());
    assert_eq!(outcome.created, ["tests/test_regression.py"]);
    assert_eq!(
        std::fs::read_to_string(wt.path().join(&fx.buggy_file)).unwrap(),
        fx.fixed_content
    );

    // Junk a test run leaves behind must stay out of the patch.
    std::fs::create_dir_all(wt.path().join("textkit/__pycache__")).unwrap();
    std::fs::write(
        wt.path()
            .join("textkit/__pycache__/strings.cpython-312.pyc"),
        b"\0junk",
    )
    .unwrap();
    std::fs::create_dir_all(wt.path().join(".pytest_cache")).unwrap();
    std::fs::write(wt.path().join(".pytest_cache/README.md"), "cache").unwrap();
    std::fs::write(wt.path().join("textkit/strings.py.orig"), "old").unwrap();

    let patch = diff_worktree(wt.path(), Some(wt.base_commit())).unwrap();
    let files: Vec<(&str, FileStatus)> = patch
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.status))
        .collect();
    assert_eq!(
        files,
        [
            ("tests/test_regression.py", FileStatus::Added),
            ("textkit/strings.py", FileStatus::Modified)
        ]
    );
    assert!(
        !patch.text.contains("pycache")
            && !patch.text.contains("pytest_cache")
            && !patch.text.contains(".orig")
    );
    assert!(
        patch.text.contains(&fx.gold_patch),
        "the source part equals the gold patch:\n{}\n---\n{}",
        patch.text,
        fx.gold_patch
    );

    let clone = tmp.path().join("fresh");
    fresh_clone(&fx, &clone);
    let out = git_apply_check(&clone, &patch.text);
    assert!(
        out.status.success(),
        "git apply --check rejected the patch:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        patch.text
    );

    // The gold patch is valid for git too, and a patch against the wrong base is not.
    let out = git_apply_check(&clone, &fx.gold_patch);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stale = fx.gold_patch.replace(
        "-    return text[: width - len(suffix) - 1]",
        "-    return text[: width - len(suffix) - 2]",
    );
    assert!(
        !git_apply_check(&clone, &stale).status.success(),
        "git must reject a hunk that does not match"
    );
}

#[test]
fn gold_patches_apply_with_apply_patch_and_reapplying_names_the_hunk() {
    let tmp = tempfile::tempdir().unwrap();
    for fx in fixture::build_all(&tmp.path().join("src")).unwrap() {
        let wt = worktree(&fx, &tmp.path().join(&fx.name));
        let report = check_patch(wt.path(), &fx.gold_patch).unwrap();
        assert_eq!(report.files.len(), 1, "{}", fx.name);
        let report = apply_patch(wt.path(), &fx.gold_patch).unwrap();
        assert_eq!(report.files[0].path, fx.buggy_file);
        assert!(!report.checked_only);
        assert_eq!(
            std::fs::read_to_string(wt.path().join(&fx.buggy_file)).unwrap(),
            fx.fixed_content,
            "{}",
            fx.name
        );

        // Applying it a second time cannot work: its context is gone.
        match apply_patch(wt.path(), &fx.gold_patch).unwrap_err() {
            PatchError::HunkRejected {
                file, line, hunk, ..
            } => {
                assert_eq!(file, fx.buggy_file, "{}", fx.name);
                assert_eq!(hunk, 1);
                let expected_line: u32 = fx
                    .gold_patch
                    .split("@@ -")
                    .nth(1)
                    .unwrap()
                    .split([',', ' '])
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert_eq!(line, expected_line, "{}", fx.name);
            }
            other => panic!("{}: {other:?}", fx.name),
        }

        // The worktree diff now equals the gold patch.
        let produced = diff_worktree(wt.path(), None).unwrap();
        assert_eq!(produced.text, fx.gold_patch, "{}", fx.name);
    }
}

#[test]
fn empty_and_binary_patches_are_distinct_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = fixture::by_name("configkit")
        .unwrap()
        .build(&tmp.path().join("src"))
        .unwrap();
    let wt = worktree(&fx, tmp.path());
    assert!(matches!(apply_patch(wt.path(), ""), Err(PatchError::Empty)));
    let produced = diff_worktree(wt.path(), None).unwrap();
    assert!(produced.is_empty() && produced.text.is_empty());
    assert!(matches!(
        apply_patch(wt.path(), &produced.text),
        Err(PatchError::Empty)
    ));

    let binary = "diff --git a/logo.png b/logo.png\nnew file mode 100644\nindex 0000000..0b1c2d3\nBinary files /dev/null and b/logo.png differ\n";
    match apply_patch(wt.path(), binary) {
        Err(PatchError::Binary { files }) => assert_eq!(files, ["logo.png"]),
        other => panic!("{other:?}"),
    }
}

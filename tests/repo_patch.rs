//! Edit a fixture worktree with SEARCH/REPLACE blocks, produce the patch, and check it with the
//! real `git apply --check` on a fresh clone at the base commit; apply patches with
//! `apply_patch` and have rejected hunks named. Patches that need a line offset or fuzz apply
//! as `git apply` and GNU `patch --fuzz=5` apply them, and a patch that does not apply changes
//! nothing.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use codeswarm::repo::checkout::{
    resolve, CheckoutOptions, MirrorCache, Worktree, DEFAULT_URL_TEMPLATE,
};
use codeswarm::repo::edit::{apply_edits_to_dir, parse_edits, WritePolicy};
use codeswarm::repo::fixture::{self, FixtureRepo};
use codeswarm::repo::patch::{
    apply_patch, apply_patch_with, check_patch, diff_worktree, ApplyMethod, FileStatus,
    PatchApplyOptions, PatchError,
};

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
                max_tree_bytes: None,
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

// ---------------------------------------------------------------------------------------------
// Exact, offset and fuzz tiers, compared with `git apply` and GNU `patch`.

/// A git repository at `dir` with one commit holding `files`.
fn small_repo(dir: &Path, files: &[(&str, &[u8])]) {
    std::fs::create_dir_all(dir).unwrap();
    assert!(git(dir, &["init", "-q"]).status.success());
    for (path, content) in files {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }
    assert!(git(dir, &["add", "-A"]).status.success());
    let out = git(
        dir,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "-c",
            "core.autocrlf=false",
            "commit",
            "-q",
            "-m",
            "base",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every file under `dir` except `.git`, with whether it is executable.
fn files_of(dir: &Path) -> BTreeMap<String, (Vec<u8>, bool)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (Vec<u8>, bool)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .to_string();
            if rel == ".git" {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                walk(root, &path, out);
            } else {
                use std::os::unix::fs::PermissionsExt;
                let exec = meta.permissions().mode() & 0o111 != 0;
                out.insert(rel, (std::fs::read(&path).unwrap(), exec));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Apply `patch` to a copy made by `make(dir)` with `git apply` (no options, as the harness's
/// first try) and return the files, or the refusal.
fn with_git_apply(
    tmp: &Path,
    name: &str,
    make: impl Fn(&Path),
    patch: &str,
) -> Result<BTreeMap<String, (Vec<u8>, bool)>, String> {
    let dir = tmp.join(name);
    make(&dir);
    let file = tmp.join(format!("{name}.patch"));
    std::fs::write(&file, patch).unwrap();
    let out = git(&dir, &["apply", "--verbose", file.to_str().unwrap()]);
    if out.status.success() {
        Ok(files_of(&dir))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).to_string())
    }
}

fn gnu_patch_available() -> bool {
    Command::new("patch")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// As the harness's last try: `patch --batch --forward --fuzz=5 -p1` (without backup files).
fn with_gnu_patch(
    tmp: &Path,
    name: &str,
    make: impl Fn(&Path),
    patch: &str,
) -> Result<BTreeMap<String, (Vec<u8>, bool)>, String> {
    let dir = tmp.join(name);
    make(&dir);
    let file = tmp.join(format!("{name}.patch"));
    std::fs::write(&file, patch).unwrap();
    let out = Command::new("patch")
        .args([
            "--batch",
            "--forward",
            "--fuzz=5",
            "-p1",
            "--no-backup-if-mismatch",
            "-i",
        ])
        .arg(&file)
        .current_dir(&dir)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(files_of(&dir))
    } else {
        Err(String::from_utf8_lossy(&out.stdout).to_string())
    }
}

/// `n` numbered lines, `value_1 = 1` …
fn numbered(n: usize) -> String {
    (1..=n).map(|i| format!("value_{i} = {i}\n")).collect()
}

/// A patch against `numbered(30)` changing line 15 (3 lines of context each side).
const CHANGE_LINE_15: &str = "diff --git a/mod.py b/mod.py\n--- a/mod.py\n+++ b/mod.py\n\
@@ -12,7 +12,7 @@ def f():\n value_12 = 12\n value_13 = 13\n value_14 = 14\n-value_15 = 15\n+value_15 = 150\n value_16 = 16\n value_17 = 17\n value_18 = 18\n";

#[test]
fn exact_patches_report_exact() {
    let tmp = tempfile::tempdir().unwrap();
    small_repo(tmp.path(), &[("mod.py", numbered(30).as_bytes())]);
    let report = apply_patch(tmp.path(), CHANGE_LINE_15).unwrap();
    assert_eq!(report.method, ApplyMethod::Exact);
    assert!(report.adjusted_hunks.is_empty());
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("mod.py")).unwrap(),
        numbered(30).replace("value_15 = 15\n", "value_15 = 150\n")
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["method"], "exact");
    assert_eq!(serde_json::to_value(ApplyMethod::Offset).unwrap(), "offset");
    assert_eq!(serde_json::to_value(ApplyMethod::Fuzz).unwrap(), "fuzz");
}

#[test]
fn lines_gained_above_a_hunk_apply_with_an_offset_like_git_apply() {
    let tmp = tempfile::tempdir().unwrap();
    let shifted = format!("import os\nimport sys\n\n\n{}", numbered(30));
    let make = |dir: &Path| small_repo(dir, &[("mod.py", shifted.as_bytes())]);
    let expected = with_git_apply(tmp.path(), "git", make, CHANGE_LINE_15)
        .expect("git apply accepts a 4-line offset");

    let ours = tmp.path().join("ours");
    make(&ours);
    let checked = check_patch(&ours, CHANGE_LINE_15).unwrap();
    assert_eq!(checked.method, ApplyMethod::Offset);
    assert_eq!(
        files_of(&ours)["mod.py"].0,
        shifted.as_bytes(),
        "check writes nothing"
    );

    // Limited to exact, it is refused at its stated line.
    let exact_only = PatchApplyOptions {
        max_method: ApplyMethod::Exact,
        ..PatchApplyOptions::default()
    };
    match apply_patch_with(&ours, CHANGE_LINE_15, &exact_only).unwrap_err() {
        PatchError::HunkRejected {
            file, hunk, line, ..
        } => {
            assert_eq!((file.as_str(), hunk, line), ("mod.py", 1, 12))
        }
        other => panic!("{other:?}"),
    }

    let report = apply_patch(&ours, CHANGE_LINE_15).unwrap();
    assert_eq!(report.method, ApplyMethod::Offset);
    let adjusted = &report.adjusted_hunks[0];
    assert_eq!(
        (
            adjusted.file.as_str(),
            adjusted.hunk,
            adjusted.line,
            adjusted.applied_line,
            adjusted.offset,
            adjusted.fuzz
        ),
        ("mod.py", 1, 12, 16, 4, 0)
    );
    assert_eq!(files_of(&ours), expected);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["method"], "offset");
    assert_eq!(json["adjusted_hunks"][0]["offset"], 4);
}

#[test]
fn a_changed_outer_context_line_applies_with_fuzz_like_gnu_patch() {
    let tmp = tempfile::tempdir().unwrap();
    // Line 12, the hunk's first context line, differs; and 2 lines were gained above.
    let target = format!(
        "# header\n# more\n{}",
        numbered(30).replace("value_12 = 12\n", "value_12 = 'twelve'\n")
    );
    let make = |dir: &Path| small_repo(dir, &[("mod.py", target.as_bytes())]);
    assert!(
        with_git_apply(tmp.path(), "git", make, CHANGE_LINE_15).is_err(),
        "git apply needs every context line"
    );
    let ours = tmp.path().join("ours");
    make(&ours);
    let report = apply_patch(&ours, CHANGE_LINE_15).unwrap();
    assert_eq!(report.method, ApplyMethod::Fuzz);
    let adjusted = &report.adjusted_hunks[0];
    assert_eq!(
        (
            adjusted.method,
            adjusted.fuzz,
            adjusted.offset,
            adjusted.applied_line
        ),
        (ApplyMethod::Fuzz, 1, 2, 14)
    );
    let expected_content = target.replace("value_15 = 15\n", "value_15 = 150\n");
    assert_eq!(files_of(&ours)["mod.py"].0, expected_content.as_bytes());
    if gnu_patch_available() {
        let gnu = with_gnu_patch(tmp.path(), "gnu", make, CHANGE_LINE_15)
            .expect("GNU patch applies it with fuzz 1");
        assert_eq!(files_of(&ours), gnu);
    }

    // A removed line that is not there is never fuzzed away.
    let wrong = CHANGE_LINE_15.replace("-value_15 = 15\n", "-value_15 = 15.0\n");
    let fresh = tmp.path().join("fresh");
    make(&fresh);
    match apply_patch(&fresh, &wrong).unwrap_err() {
        PatchError::HunkRejected { message, .. } => {
            assert!(message.contains("fuzz 3"), "{message}");
            assert!(
                message.contains("closest at line 14 (5 of its 7 context and removed lines equal); line 14 is `value_12 = 'twelve'` where the hunk has `value_12 = 12`; line 17 is `value_15 = 15` where the hunk has `value_15 = 15.0`"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_hunk_that_matches_nowhere_leaves_every_file_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let a = numbered(30);
    let b = "def g():\n    return 1\n";
    // The first file needs an offset (so the tiers run), the second file's hunk matches
    // nowhere; the patch also adds and deletes files.
    let shifted = format!("# gained\n{a}");
    small_repo(
        tmp.path(),
        &[
            ("a.py", shifted.as_bytes()),
            ("b.py", b.as_bytes()),
            ("gone.py", b"x = 1\n"),
        ],
    );
    let patch = format!(
        "{}diff --git a/new.py b/new.py\nnew file mode 100644\n--- /dev/null\n+++ b/new.py\n@@ -0,0 +1 @@\n+NEW = 1\n\
diff --git a/gone.py b/gone.py\ndeleted file mode 100644\n--- a/gone.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-x = 1\n\
diff --git a/b.py b/b.py\n--- a/b.py\n+++ b/b.py\n@@ -1,2 +1,2 @@\n def g():\n-    return 99\n+    return 3\n",
        CHANGE_LINE_15.replace("a/mod.py", "a/a.py").replace("b/mod.py", "b/a.py")
    );
    let before = files_of(tmp.path());
    let err = apply_patch(tmp.path(), &patch).unwrap_err();
    match &err {
        PatchError::HunkRejected {
            file,
            hunk,
            header,
            line,
            message,
        } => {
            assert_eq!((file.as_str(), *hunk, *line), ("b.py", 1, 1));
            assert_eq!(header, "@@ -1,2 +1,2 @@");
            assert!(
                message.contains(
                    "closest at line 1 (1 of its 2 context and removed lines equal); line 2 is `    return 1` where the hunk has `    return 99`"
                ),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("b.py"), "{err}");
    assert_eq!(files_of(tmp.path()), before, "nothing at all is written");
    assert!(check_patch(tmp.path(), &patch).is_err());
    assert_eq!(files_of(tmp.path()), before);
}

#[test]
fn hunks_with_offsets_never_overlap_earlier_ones() {
    let tmp = tempfile::tempdir().unwrap();
    // Two identical blocks; each hunk changes one of them. Eight lines gained at the top put
    // the second hunk's stated line next to the first block, which the first hunk has taken.
    let block = "k = 0\np = 1\nx = 1\nq = 1\nk = 0\n";
    let base = format!("head\n{block}mid1\nmid2\nmid3\nmid4\n{block}tail\n");
    let hunk = |line: usize| {
        format!("@@ -{line},5 +{line},5 @@\n k = 0\n p = 1\n-x = 1\n+x = 2\n q = 1\n k = 0\n")
    };
    let patch = format!(
        "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n{}{}",
        hunk(2),
        hunk(11)
    );
    let target = format!("{}{base}", "# gained\n".repeat(8));
    let make = |dir: &Path| small_repo(dir, &[("m.py", target.as_bytes())]);
    let expected = with_git_apply(tmp.path(), "git", make, &patch).expect("git apply accepts it");
    let ours = tmp.path().join("ours");
    make(&ours);
    let report = apply_patch(&ours, &patch).unwrap();
    assert_eq!(report.method, ApplyMethod::Offset);
    let offsets: Vec<i64> = report.adjusted_hunks.iter().map(|h| h.offset).collect();
    assert_eq!(offsets, [8, 8]);
    assert_eq!(files_of(&ours), expected);
    let text = String::from_utf8(files_of(&ours)["m.py"].0.clone()).unwrap();
    assert_eq!(text.matches("x = 2").count(), 2, "{text}");
}

#[test]
fn new_deleted_renamed_crlf_and_no_newline_files_apply_like_git_apply() {
    let tmp = tempfile::tempdir().unwrap();
    // Every modified file gained lines above its hunks, so the offset tier applies the patch.
    let crlf_base = "a = 1\r\nb = 2\r\nc = 3\r\nd = 4\r\ne = 5\r\nf = 6\r\ng = 7\r\n";
    let crlf_target = format!("# gained\r\n# gained\r\n{crlf_base}");
    let nonl_target = "# gained\none\ntwo\nthree\nfour";
    let tail_target = format!("# gained\n{}", numbered(10));
    let renamed_target = format!("# gained\n{}", numbered(6));
    let make = |dir: &Path| {
        small_repo(
            dir,
            &[
                ("crlf.py", crlf_target.as_bytes()),
                ("nonl.py", nonl_target.as_bytes()),
                ("pkg/tail.py", tail_target.as_bytes()),
                ("pkg/old_name.py", renamed_target.as_bytes()),
                ("pkg/gone.py", b"x = 1\ny = 2\n"),
            ],
        )
    };
    let patch = "diff --git a/crlf.py b/crlf.py\n--- a/crlf.py\n+++ b/crlf.py\n\
@@ -2,5 +2,5 @@\n b = 2\r\n c = 3\r\n-d = 4\r\n+d = 40\r\n e = 5\r\n f = 6\r\n\
diff --git a/nonl.py b/nonl.py\n--- a/nonl.py\n+++ b/nonl.py\n\
@@ -2,3 +2,4 @@\n two\n three\n-four\n\\ No newline at end of file\n+four\n+five\n\\ No newline at end of file\n\
diff --git a/pkg/tail.py b/pkg/tail.py\n--- a/pkg/tail.py\n+++ b/pkg/tail.py\n\
@@ -8,3 +8,5 @@\n value_8 = 8\n value_9 = 9\n value_10 = 10\n+value_11 = 11\n+value_12 = 12\n\
diff --git a/pkg/old_name.py b/pkg/new_name.py\nsimilarity index 80%\nrename from pkg/old_name.py\nrename to pkg/new_name.py\nindex 1111111..2222222 100644\n--- a/pkg/old_name.py\n+++ b/pkg/new_name.py\n\
@@ -2,4 +2,4 @@\n value_2 = 2\n value_3 = 3\n-value_4 = 4\n+value_4 = 44\n value_5 = 5\n\
diff --git a/pkg/gone.py b/pkg/gone.py\ndeleted file mode 100644\n--- a/pkg/gone.py\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-x = 1\n-y = 2\n\
diff --git a/bin/run.sh b/bin/run.sh\nnew file mode 100755\n--- /dev/null\n+++ b/bin/run.sh\n@@ -0,0 +1,2 @@\n+#!/bin/sh\n+echo hi\n";
    let expected = with_git_apply(tmp.path(), "git", make, patch).expect("git apply accepts it");
    let ours = tmp.path().join("ours");
    make(&ours);
    let report = apply_patch(&ours, patch).unwrap();
    assert_eq!(
        report.method,
        ApplyMethod::Offset,
        "{:?}",
        report.adjusted_hunks
    );
    assert_eq!(files_of(&ours), expected);
    // Spelled out, in case git changes.
    let got = files_of(&ours);
    assert_eq!(
        got["crlf.py"].0,
        crlf_target.replace("d = 4\r\n", "d = 40\r\n").as_bytes()
    );
    assert_eq!(got["nonl.py"].0, b"# gained\none\ntwo\nthree\nfour\nfive");
    assert!(String::from_utf8_lossy(&got["pkg/tail.py"].0)
        .ends_with("value_10 = 10\nvalue_11 = 11\nvalue_12 = 12\n"));
    assert!(got.contains_key("pkg/new_name.py") && !got.contains_key("pkg/old_name.py"));
    assert!(!got.contains_key("pkg/gone.py"));
    assert_eq!(got["bin/run.sh"], (b"#!/bin/sh\necho hi\n".to_vec(), true));
    let statuses: Vec<FileStatus> = report.files.iter().map(|f| f.status).collect();
    assert_eq!(
        statuses,
        [
            FileStatus::Modified,
            FileStatus::Modified,
            FileStatus::Modified,
            FileStatus::Renamed,
            FileStatus::Deleted,
            FileStatus::Added
        ]
    );
}

#[test]
fn an_already_applied_patch_is_refused_not_applied_twice() {
    let tmp = tempfile::tempdir().unwrap();
    small_repo(tmp.path(), &[("mod.py", numbered(20).as_bytes())]);
    let add = "diff --git a/mod.py b/mod.py\n--- a/mod.py\n+++ b/mod.py\n\
@@ -8,6 +8,7 @@\n value_8 = 8\n value_9 = 9\n value_10 = 10\n+value_10b = 10.5\n value_11 = 11\n value_12 = 12\n value_13 = 13\n";
    apply_patch(tmp.path(), add).unwrap();
    let once = files_of(tmp.path());
    match apply_patch(tmp.path(), add).unwrap_err() {
        PatchError::HunkRejected { hunk, message, .. } => {
            assert_eq!(hunk, 1);
            assert!(message.contains("applied already"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(files_of(tmp.path()), once);
}

#[cfg(unix)]
#[test]
fn paths_through_symlinks_in_the_worktree_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    small_repo(&repo, &[("pkg/mod.py", numbered(30).as_bytes())]);
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("mod.py"), numbered(30)).unwrap();
    std::os::unix::fs::symlink(&outside, repo.join("linked")).unwrap();
    std::os::unix::fs::symlink(outside.join("mod.py"), repo.join("file_link.py")).unwrap();
    for (target, reason) in [
        ("linked/mod.py", "passes through the symlink `linked`"),
        ("file_link.py", "is a symlink"),
    ] {
        let patch = CHANGE_LINE_15
            .replace("a/mod.py", &format!("a/{target}"))
            .replace("b/mod.py", &format!("b/{target}"));
        match apply_patch(&repo, &patch).unwrap_err() {
            PatchError::UnsafePath { path, reason: why } => {
                assert_eq!(path, target);
                assert!(why.contains(reason), "{why}");
            }
            other => panic!("{target}: {other:?}"),
        }
    }
    assert_eq!(
        std::fs::read_to_string(outside.join("mod.py")).unwrap(),
        numbered(30),
        "nothing outside the worktree is written"
    );
}

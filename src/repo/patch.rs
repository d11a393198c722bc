//! Patches: produce the unified diff of a worktree against its base commit, and apply a diff
//! to a worktree with the rejected hunk named.
//!
//! [`diff_worktree`] compares the base commit's tree with the files on disk (the index plays
//! no part), includes new files with their content, and leaves out junk ([`super::junk`]:
//! `__pycache__`, `*.pyc`, pytest caches, `*.orig`, …), ignored files and binary files. The
//! text is what `git apply` accepts on the base commit.
//!
//! [`apply_patch`] and [`check_patch`] (the CI gate `codeswarm check`) parse a diff with
//! libgit2 and apply it to a worktree. Empty and binary patches are distinct errors, and a hunk
//! that does not apply is reported with its file, hunk header and line.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use git2::{ApplyLocation, ApplyOptions, Delta, Diff, DiffOptions, Oid, Patch, Repository};
use serde::Serialize;

use super::edit::normalize_rel_path;
use super::junk::is_junk_path;

/// Why a patch could not be produced or applied.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error("the patch is empty: it changes no file; produce a unified diff (`diff --git a/… b/…` with hunks)")]
    Empty,
    #[error("the patch changes binary files ({}); only text patches are accepted, leave binary files unchanged", files.join(", "))]
    Binary { files: Vec<String> },
    #[error(
        "not a valid unified diff: {message}; produce it with `git diff` against the base commit"
    )]
    Malformed { message: String },
    #[error("patch path `{path}` {reason}; patches may only touch files inside the repository")]
    UnsafePath { path: String, reason: String },
    #[error(
        "hunk {hunk} of {file} (`{header}`) does not apply at line {line}: the file's lines there differ from \
         the hunk's context; regenerate the patch against the base commit ({message})"
    )]
    HunkRejected {
        file: String,
        hunk: usize,
        header: String,
        line: u32,
        message: String,
    },
    #[error("{file}: {message}")]
    FileRejected { file: String, message: String },
    #[error("{} is not a git worktree ({message}); pass a directory created by `repo::checkout`", path.display())]
    NotARepository { path: PathBuf, message: String },
    #[error("{context}: {message}")]
    Git { context: String, message: String },
}

fn git_err(context: &str) -> impl FnOnce(git2::Error) -> PatchError + '_ {
    move |e| PatchError::Git {
        context: context.to_string(),
        message: e.message().to_string(),
    }
}

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    Added,
    Modified,
    Deleted,
    Renamed,
    TypeChanged,
}

/// One file of a patch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatchFile {
    pub path: String,
    /// The old path of a rename.
    pub old_path: Option<String>,
    pub status: FileStatus,
    pub hunks: usize,
    pub additions: usize,
    pub deletions: usize,
}

/// A produced patch.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProducedPatch {
    /// Unified diff text (`diff --git …`), empty when nothing changed.
    pub text: String,
    pub files: Vec<PatchFile>,
    /// Changed paths left out, with why (`junk`, `binary`).
    pub skipped: Vec<(String, String)>,
    /// The base commit the diff is against.
    pub base: String,
}

impl ProducedPatch {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

fn path_of(delta: &git2::DiffDelta<'_>) -> String {
    delta
        .new_file()
        .path()
        .or_else(|| delta.old_file().path())
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .unwrap_or_default()
}

fn status_of(delta: Delta) -> FileStatus {
    match delta {
        Delta::Added | Delta::Untracked | Delta::Copied => FileStatus::Added,
        Delta::Deleted => FileStatus::Deleted,
        Delta::Renamed => FileStatus::Renamed,
        Delta::Typechange => FileStatus::TypeChanged,
        _ => FileStatus::Modified,
    }
}

fn file_of(patch: &Patch<'_>) -> Result<PatchFile, git2::Error> {
    let delta = patch.delta();
    let (_, additions, deletions) = patch.line_stats()?;
    let status = status_of(delta.status());
    let old = delta
        .old_file()
        .path()
        .map(|p| p.to_string_lossy().replace('\\', "/"));
    let path = path_of(&delta);
    Ok(PatchFile {
        old_path: if status == FileStatus::Renamed {
            old
        } else {
            None
        },
        path,
        status,
        hunks: patch.num_hunks(),
        additions,
        deletions,
    })
}

/// The unified diff of the files under `worktree` against `base` (default: HEAD, the base
/// commit of a [`super::checkout::Worktree`]).
pub fn diff_worktree(worktree: &Path, base: Option<Oid>) -> Result<ProducedPatch, PatchError> {
    let repo = Repository::open(worktree).map_err(|e| PatchError::NotARepository {
        path: worktree.to_path_buf(),
        message: e.message().to_string(),
    })?;
    let commit = match base {
        Some(oid) => repo
            .find_commit(oid)
            .map_err(git_err("finding the base commit"))?,
        None => repo
            .head()
            .and_then(|h| h.peel_to_commit())
            .map_err(git_err("resolving HEAD"))?,
    };
    let tree = commit.tree().map_err(git_err("reading the base tree"))?;
    let mut options = DiffOptions::new();
    options
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .show_untracked_content(true)
        .include_typechange(true)
        .ignore_submodules(true)
        .context_lines(3);
    let diff = repo
        .diff_tree_to_workdir(Some(&tree), Some(&mut options))
        .map_err(git_err("diffing the worktree"))?;

    let mut produced = ProducedPatch {
        base: commit.id().to_string(),
        ..ProducedPatch::default()
    };
    for idx in 0..diff.deltas().len() {
        let Some(mut patch) =
            Patch::from_diff(&diff, idx).map_err(git_err("building a file patch"))?
        else {
            continue;
        };
        let path = path_of(&patch.delta());
        if is_junk_path(&path) {
            produced.skipped.push((path, "junk".into()));
            continue;
        }
        if patch.delta().flags().is_binary() {
            tracing::warn!(file = %path, "binary change left out of the patch");
            produced.skipped.push((path, "binary".into()));
            continue;
        }
        let file = file_of(&patch).map_err(git_err("counting patch lines"))?;
        if file.hunks == 0 && file.status == FileStatus::Modified {
            // Mode-only or stat-only noise.
            continue;
        }
        let buf = patch.to_buf().map_err(git_err("formatting the patch"))?;
        produced.text.push_str(&String::from_utf8_lossy(&buf));
        produced.files.push(file);
    }
    tracing::debug!(
        files = produced.files.len(),
        skipped = produced.skipped.len(),
        "worktree diff produced"
    );
    Ok(produced)
}

/// Render a whole diff as unified-diff text.
pub fn diff_to_text(diff: &Diff<'_>) -> Result<String, PatchError> {
    let mut text = String::new();
    for idx in 0..diff.deltas().len() {
        if let Some(mut patch) =
            Patch::from_diff(diff, idx).map_err(git_err("building a file patch"))?
        {
            let buf = patch.to_buf().map_err(git_err("formatting the patch"))?;
            text.push_str(&String::from_utf8_lossy(&buf));
        }
    }
    Ok(text)
}

/// What applying (or checking) a patch did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplyReport {
    pub files: Vec<PatchFile>,
    pub hunks: usize,
    pub additions: usize,
    pub deletions: usize,
    /// True when only checked ([`check_patch`]), nothing written.
    pub checked_only: bool,
}

/// Files named by `diff --git a/X b/X` headers directly preceding binary markers.
fn binary_files(text: &str) -> Vec<String> {
    let mut files = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("diff --git ") {
            current = rest
                .split_once(" b/")
                .map(|(_, b)| b.to_string())
                .or_else(|| Some(rest.to_string()));
        } else if line.starts_with("GIT binary patch")
            || (line.starts_with("Binary files ") && line.ends_with(" differ"))
        {
            let name = current.clone().unwrap_or_else(|| "<unknown file>".into());
            if !files.contains(&name) {
                files.push(name);
            }
        }
    }
    files
}

/// Make plain unified diffs (`diff -u`, or a model's) acceptable to libgit2, which reads only
/// git-style patches: drop Markdown fences around the patch, give each `--- X` / `+++ Y` pair
/// without a `diff --git` header one, add the `a/` and `b/` prefixes, and cut timestamps.
pub fn normalize_patch_text(text: &str) -> String {
    // Raw lines keep their endings: content lines of CRLF files end in `\r\n`.
    let raw: Vec<&str> = text.split_inclusive('\n').collect();
    let bare = |l: &str| l.trim_end_matches(['\n', '\r']).to_string();
    let is_fence = |l: &str| {
        let t = l.trim();
        t == "```" || (t.starts_with("```") && !t[3..].contains(' ') && t.len() <= 12)
    };
    // Only a fence pair around the whole patch is removed; a blank context line is a single
    // space and must stay.
    let mut body: &[&str] = &raw;
    let first = raw.iter().position(|l| !l.trim().is_empty());
    let last = raw.iter().rposition(|l| !l.trim().is_empty());
    if let (Some(first), Some(last)) = (first, last) {
        if first < last && is_fence(raw[first]) && is_fence(raw[last]) {
            body = &raw[first + 1..last];
        }
    }
    let header_path = |l: &str| -> String {
        let p = bare(l);
        let p = &p[4..];
        p.split('\t').next().unwrap_or(p).trim().to_string()
    };
    let mut out = String::with_capacity(text.len() + 64);
    let mut in_git_header = false;
    let mut i = 0;
    while i < body.len() {
        let line = body[i];
        if line.starts_with("diff --git ") {
            in_git_header = true;
        } else if line.starts_with("@@") {
            in_git_header = false;
        }
        let next = body.get(i + 1).copied().unwrap_or("");
        if !in_git_header && line.starts_with("--- ") && next.starts_with("+++ ") {
            let (old, new) = (header_path(line), header_path(next));
            let prefixed = |p: &str, prefix: &str| {
                if p == "/dev/null" || p.starts_with(&format!("{prefix}/")) {
                    p.to_string()
                } else {
                    format!("{prefix}/{p}")
                }
            };
            let (old_p, new_p) = (prefixed(&old, "a"), prefixed(&new, "b"));
            let old_name = if old == "/dev/null" {
                new_p[2..].to_string()
            } else {
                old_p[2..].to_string()
            };
            let new_name = if new == "/dev/null" {
                old_name.clone()
            } else {
                new_p[2..].to_string()
            };
            out.push_str(&format!("diff --git a/{old_name} b/{new_name}\n"));
            if old == "/dev/null" {
                out.push_str("new file mode 100644\n");
            } else if new == "/dev/null" {
                out.push_str("deleted file mode 100644\n");
            }
            out.push_str(&format!("--- {old_p}\n+++ {new_p}\n"));
            i += 2;
            continue;
        }
        out.push_str(line);
        if !line.ends_with('\n') {
            out.push('\n');
        }
        i += 1;
    }
    out
}

/// Parse `diff_text` and validate it: not empty, not binary, paths inside the repository.
pub fn parse_patch(diff_text: &str) -> Result<(Diff<'static>, ApplyReport), PatchError> {
    if diff_text.trim().is_empty() {
        return Err(PatchError::Empty);
    }
    let looks_like_diff = diff_text.lines().any(|l| {
        l.starts_with("diff --git ")
            || l.starts_with("--- ")
            || l.starts_with("+++ ")
            || l.starts_with("@@ ")
    });
    if !looks_like_diff {
        return Err(PatchError::Empty);
    }
    let binary = binary_files(diff_text);
    if !binary.is_empty() {
        return Err(PatchError::Binary { files: binary });
    }
    let normalized = normalize_patch_text(diff_text);
    let diff = Diff::from_buffer(normalized.as_bytes()).map_err(|e| PatchError::Malformed {
        message: e.message().to_string(),
    })?;
    if diff.deltas().len() == 0 {
        return Err(PatchError::Empty);
    }
    let mut report = ApplyReport::default();
    let mut binary = Vec::new();
    for idx in 0..diff.deltas().len() {
        let Some(patch) = Patch::from_diff(&diff, idx).map_err(|e| PatchError::Malformed {
            message: e.message().to_string(),
        })?
        else {
            continue;
        };
        let delta = patch.delta();
        for p in [delta.old_file().path(), delta.new_file().path()]
            .into_iter()
            .flatten()
        {
            let p = p.to_string_lossy();
            normalize_rel_path(&p).map_err(|reason| PatchError::UnsafePath {
                path: p.to_string(),
                reason,
            })?;
        }
        if delta.flags().is_binary() {
            binary.push(path_of(&delta));
            continue;
        }
        let file = file_of(&patch).map_err(|e| PatchError::Malformed {
            message: e.message().to_string(),
        })?;
        report.hunks += file.hunks;
        report.additions += file.additions;
        report.deletions += file.deletions;
        report.files.push(file);
    }
    if !binary.is_empty() {
        return Err(PatchError::Binary { files: binary });
    }
    if report.hunks == 0
        && report
            .files
            .iter()
            .all(|f| f.status == FileStatus::Modified)
    {
        return Err(PatchError::Empty);
    }
    Ok((diff, report))
}

/// Apply `diff_text` to the files of `worktree`.
pub fn apply_patch(worktree: &Path, diff_text: &str) -> Result<ApplyReport, PatchError> {
    apply_impl(worktree, diff_text, false)
}

/// Check that `diff_text` applies to `worktree` without changing anything.
pub fn check_patch(worktree: &Path, diff_text: &str) -> Result<ApplyReport, PatchError> {
    apply_impl(worktree, diff_text, true)
}

#[derive(Default)]
struct Progress {
    file: String,
    hunk: usize,
    header: String,
    line: u32,
}

fn apply_impl(worktree: &Path, diff_text: &str, check: bool) -> Result<ApplyReport, PatchError> {
    let (diff, mut report) = parse_patch(diff_text)?;
    let repo = Repository::open(worktree).map_err(|e| PatchError::NotARepository {
        path: worktree.to_path_buf(),
        message: e.message().to_string(),
    })?;
    let progress = Rc::new(RefCell::new(Progress::default()));
    let on_delta = progress.clone();
    let on_hunk = progress.clone();
    let mut options = ApplyOptions::new();
    options
        .check(check)
        .delta_callback(move |delta| {
            let mut p = on_delta.borrow_mut();
            p.file = delta.map(|d| path_of(&d)).unwrap_or_default();
            p.hunk = 0;
            p.header.clear();
            p.line = 0;
            true
        })
        .hunk_callback(move |hunk| {
            let mut p = on_hunk.borrow_mut();
            p.hunk += 1;
            if let Some(h) = hunk {
                p.header = String::from_utf8_lossy(h.header()).trim().to_string();
                p.line = h.old_start();
            }
            true
        });
    let result = repo.apply(&diff, ApplyLocation::WorkDir, Some(&mut options));
    drop(options);
    if let Err(e) = result {
        let p = progress.borrow();
        let message = if e.message().is_empty() {
            "does not apply".to_string()
        } else {
            e.message().to_string()
        };
        tracing::info!(file = %p.file, hunk = p.hunk, error = %message, "patch rejected");
        return Err(if p.hunk > 0 {
            PatchError::HunkRejected {
                file: p.file.clone(),
                hunk: p.hunk,
                header: p.header.clone(),
                line: p.line,
                message,
            }
        } else {
            let message = if e.code() == git2::ErrorCode::ApplyFail
                || e.code() == git2::ErrorCode::NotFound
            {
                format!("the file the patch changes does not exist in the worktree ({message})")
            } else {
                message
            };
            PatchError::FileRejected {
                file: p.file.clone(),
                message,
            }
        });
    }
    report.checked_only = check;
    tracing::info!(
        files = report.files.len(),
        hunks = report.hunks,
        check,
        "patch applied"
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use git2::{Signature, Time};

    /// A repository with one commit holding `files`, checked out.
    fn repo_with(files: &[(&str, &str)]) -> (tempfile::TempDir, Oid) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        for (path, content) in files {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, content).unwrap();
        }
        let mut index = repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = Signature::new("t", "t@example.invalid", &Time::new(1_700_000_000, 0)).unwrap();
        let oid = repo
            .commit(Some("HEAD"), &sig, &sig, "base", &tree, &[])
            .unwrap();
        (dir, oid)
    }

    const MOD: &str = "def f(x):\n    a = 1\n    b = 2\n    c = 3\n    return x + a\n\n\ndef g():\n    return 2\n";

    #[test]
    fn diff_includes_new_files_and_skips_junk_and_binary() {
        let (dir, base) = repo_with(&[("pkg/mod.py", MOD), ("pkg/gone.py", "x = 1\n")]);
        let root = dir.path();
        std::fs::write(root.join("pkg/mod.py"), MOD.replace("x + a", "x + a + b")).unwrap();
        std::fs::write(root.join("pkg/new.py"), "NEW = True\n").unwrap();
        std::fs::remove_file(root.join("pkg/gone.py")).unwrap();
        std::fs::create_dir_all(root.join("pkg/__pycache__")).unwrap();
        std::fs::write(
            root.join("pkg/__pycache__/mod.cpython-312.pyc"),
            b"\0\x01junk",
        )
        .unwrap();
        std::fs::write(root.join("pkg/mod.py.orig"), MOD).unwrap();
        std::fs::create_dir_all(root.join(".pytest_cache/v")).unwrap();
        std::fs::write(root.join(".pytest_cache/v/lastfailed"), "{}").unwrap();
        std::fs::write(root.join("blob.bin"), b"\0\0\0\x7fELF").unwrap();

        let p = diff_worktree(root, Some(base)).unwrap();
        let paths: Vec<(&str, FileStatus)> = p
            .files
            .iter()
            .map(|f| (f.path.as_str(), f.status))
            .collect();
        assert_eq!(
            paths,
            [
                ("pkg/gone.py", FileStatus::Deleted),
                ("pkg/mod.py", FileStatus::Modified),
                ("pkg/new.py", FileStatus::Added)
            ],
            "{}",
            p.text
        );
        assert!(
            p.text
                .contains("+++ b/pkg/new.py\n@@ -0,0 +1 @@\n+NEW = True\n"),
            "{}",
            p.text
        );
        assert!(
            p.text
                .contains("-    return x + a\n+    return x + a + b\n"),
            "{}",
            p.text
        );
        assert!(
            !p.text.contains("pycache")
                && !p.text.contains(".orig")
                && !p.text.contains("pytest_cache")
        );
        assert!(
            p.skipped
                .contains(&("blob.bin".to_string(), "binary".to_string())),
            "{:?}",
            p.skipped
        );
        assert_eq!(p.base, base.to_string());
    }

    #[test]
    fn produced_patch_round_trips_through_apply_patch() {
        let (dir, base) = repo_with(&[("pkg/mod.py", MOD)]);
        std::fs::write(
            dir.path().join("pkg/mod.py"),
            MOD.replace("return 2", "return 3"),
        )
        .unwrap();
        std::fs::write(dir.path().join("pkg/extra.py"), "E = 1\n").unwrap();
        let p = diff_worktree(dir.path(), None).unwrap();
        let (fresh, _) = repo_with(&[("pkg/mod.py", MOD)]);
        let checked = check_patch(fresh.path(), &p.text).unwrap();
        assert!(checked.checked_only);
        assert_eq!(
            std::fs::read_to_string(fresh.path().join("pkg/mod.py")).unwrap(),
            MOD,
            "check must not write"
        );
        let report = apply_patch(fresh.path(), &p.text).unwrap();
        assert_eq!(
            (report.files.len(), report.additions, report.deletions),
            (2, 2, 1)
        );
        assert!(std::fs::read_to_string(fresh.path().join("pkg/mod.py"))
            .unwrap()
            .contains("return 3"));
        assert_eq!(
            std::fs::read_to_string(fresh.path().join("pkg/extra.py")).unwrap(),
            "E = 1\n"
        );
        let _ = base;
    }

    #[test]
    fn rejected_hunk_is_named_with_file_and_line() {
        let (dir, _) = repo_with(&[("pkg/mod.py", MOD), ("pkg/other.py", "o = 1\n")]);
        let patch = "diff --git a/pkg/other.py b/pkg/other.py\n--- a/pkg/other.py\n+++ b/pkg/other.py\n@@ -1 +1 @@\n-o = 1\n+o = 2\n\
                     diff --git a/pkg/mod.py b/pkg/mod.py\n--- a/pkg/mod.py\n+++ b/pkg/mod.py\n@@ -8,2 +8,2 @@ def f(x):\n def g():\n-    return 99\n+    return 3\n";
        let e = apply_patch(dir.path(), patch).unwrap_err();
        match &e {
            PatchError::HunkRejected {
                file,
                hunk,
                line,
                header,
                ..
            } => {
                assert_eq!(file, "pkg/mod.py");
                assert_eq!(*hunk, 1);
                assert_eq!(*line, 8);
                assert!(header.starts_with("@@ -8,2 +8,2 @@"), "{header}");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            e.to_string().contains("pkg/mod.py") && e.to_string().contains("line 8"),
            "{e}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("pkg/other.py")).unwrap(),
            "o = 1\n",
            "nothing applied"
        );
    }

    #[test]
    fn plain_unified_diffs_and_fenced_patches_are_accepted() {
        let (dir, _) = repo_with(&[("a.py", "a = 1\n"), ("old.py", "o = 1\n")]);
        let plain =
            "```diff\n--- a.py\t2024-01-01 00:00:00\n+++ a.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n\
                     --- /dev/null\n+++ b/new.py\n@@ -0,0 +1 @@\n+n = 1\n\
                     --- a/old.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-o = 1\n```\n";
        let report = apply_patch(dir.path(), plain).unwrap();
        let statuses: Vec<FileStatus> = report.files.iter().map(|f| f.status).collect();
        assert_eq!(
            statuses,
            [FileStatus::Modified, FileStatus::Added, FileStatus::Deleted]
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.py")).unwrap(),
            "a = 2\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("new.py")).unwrap(),
            "n = 1\n"
        );
        assert!(!dir.path().join("old.py").exists());
        // Blank context lines at the end and CRLF content survive normalization.
        let crlf = "diff --git a/w.py b/w.py\n--- a/w.py\n+++ b/w.py\n@@ -1,2 +1,2 @@\n-x = 1\r\n+x = 2\r\n \r\n \n";
        assert_eq!(normalize_patch_text(crlf), crlf);
        // A git-style patch is left as it is.
        let git_style =
            "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-a = 2\n+a = 3\n";
        assert_eq!(normalize_patch_text(git_style), git_style);
    }

    #[test]
    fn missing_file_is_named() {
        let (dir, _) = repo_with(&[("a.py", "a = 1\n")]);
        let patch =
            "diff --git a/nope.py b/nope.py\n--- a/nope.py\n+++ b/nope.py\n@@ -1 +1 @@\n-a\n+b\n";
        match apply_patch(dir.path(), patch).unwrap_err() {
            PatchError::FileRejected { file, .. } | PatchError::HunkRejected { file, .. } => {
                assert_eq!(file, "nope.py")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn empty_binary_malformed_and_unsafe_patches_are_distinct() {
        let (dir, _) = repo_with(&[("a.py", "a = 1\n")]);
        assert!(matches!(
            apply_patch(dir.path(), ""),
            Err(PatchError::Empty)
        ));
        assert!(matches!(
            apply_patch(dir.path(), "  \n\n"),
            Err(PatchError::Empty)
        ));
        assert!(matches!(
            apply_patch(dir.path(), "I fixed it, trust me.\n"),
            Err(PatchError::Empty)
        ));
        let binary = "diff --git a/img.png b/img.png\nindex 0000000..1111111 100644\nBinary files a/img.png and b/img.png differ\n";
        match apply_patch(dir.path(), binary) {
            Err(PatchError::Binary { files }) => assert_eq!(files, ["img.png"]),
            other => panic!("{other:?}"),
        }
        let git_binary = "diff --git a/x.bin b/x.bin\nnew file mode 100644\nindex 0000000..e69de29\nGIT binary patch\nliteral 3\nKcmZQzfB*mh0RR91\n\nliteral 0\nHcmV?d00001\n\n";
        assert!(matches!(
            apply_patch(dir.path(), git_binary),
            Err(PatchError::Binary { .. })
        ));
        let escape =
            "diff --git a/../x.py b/../x.py\n--- a/../x.py\n+++ b/../x.py\n@@ -1 +1 @@\n-a\n+b\n";
        assert!(matches!(
            apply_patch(dir.path(), escape),
            Err(PatchError::UnsafePath { .. }) | Err(PatchError::Malformed { .. })
        ));
        let e = PatchError::Empty.to_string();
        assert!(e.contains("empty"));
    }
}

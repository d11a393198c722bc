//! Patches: produce the unified diff of a worktree against its base commit, and apply a diff
//! to a worktree with the rejected hunk named.
//!
//! [`diff_worktree`] compares the base commit's tree with the files on disk (the index plays
//! no part), includes new files with their content, and leaves out junk ([`super::junk`]:
//! `__pycache__`, `*.pyc`, pytest caches, `*.orig`, …), ignored files and binary files. The
//! text is what `git apply` accepts on the base commit.
//!
//! [`apply_patch`] and [`check_patch`] (the CI gate `codeswarm check`) parse a diff with
//! libgit2 and apply it to a worktree, at least as permissively as the SWE-bench harness
//! (`git apply`, then GNU `patch --batch --forward --fuzz=5`). Each hunk is placed by the
//! first of three tiers that finds it, and [`ApplyReport::method`] names the loosest tier any
//! hunk needed ([`ApplyReport::adjusted_hunks`] lists the hunks not applied exactly):
//!
//! 1. **exact**: every context and removed line at the hunk's stated line. The whole patch is
//!    first given to libgit2's apply, which does exactly this (as before); only when it refuses
//!    do the tiers below run, on the whole patch. A patch that deletes a file skips libgit2
//!    (which deletes a file without comparing it with the removed lines): a deleted file must
//!    hold exactly the lines its hunks remove, or be empty when it has none, as `git apply`
//!    requires. So does a patch with a line without a newline (libgit2 joins it to the next
//!    line of the file when the hunk is not at the end; the tiers give it a newline, as GNU
//!    patch does).
//! 2. **offset**, as `git apply`: all of the hunk's context and removed lines, at the nearest
//!    line to the stated one (searching outward, the later line first at equal distance). A
//!    hunk stated at line 0 or 1 must match at the top of the file, a hunk without trailing
//!    context at its end. Failing that, GNU patch's fuzz-0 search, which is looser: it starts
//!    from the stated line plus the previous hunk's offset, and anchors a hunk only when its
//!    context is lopsided (less before than after, stated at line 0 or 1: the top; less after
//!    than before: the end). A hunk without context or removed lines (`-U0`) goes at its
//!    stated line moved by the previous hunk's offset, as GNU patch puts it.
//! 3. **fuzz**, as GNU `patch --fuzz=N` (default [`DEFAULT_MAX_FUZZ`] = 5, like the harness):
//!    at fuzz F = 1, 2, … up to N and to the hunk's context length, up to F context lines are
//!    ignored at each end of the hunk (on a side with less context, correspondingly fewer), and
//!    the rest is searched for as in tier 2. Removed lines and the context between changes are
//!    always compared; the file keeps its own lines where context was ignored. As with
//!    `patch --forward`, a file whose first hunk is found already applied is refused (unlike
//!    GNU patch, only when the lines found include the hunk's added lines, not context alone).
//!
//! Lines match only byte for byte (a CRLF line matches a CRLF line; "\ No newline at end of
//! file" is honoured), with no gitattributes conversion in tiers 2 and 3. A file's hunks are
//! placed in order against its original content: a hunk is only looked for after the changed
//! lines of the hunk before it (it may share that hunk's trailing context), so hunks never
//! overlap. The search is deterministic. A new file may replace an empty file (as GNU patch
//! allows), no other existing file.
//!
//! The whole patch is atomic: every file is computed in memory first, and if any hunk of any
//! file fails at every tier, nothing is written and [`PatchError::HunkRejected`] names the file,
//! the hunk (1-based within its file), its header and its stated line. New, deleted, renamed
//! and copied files and mode changes are handled. A path that is, or passes through, a symlink
//! in the worktree is refused ([`PatchError::UnsafePath`]) before anything is applied, as are
//! paths that leave the repository. [`check_patch`] writes nothing.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use git2::{
    ApplyLocation, ApplyOptions, Delta, Diff, DiffLineType, DiffOptions, FileMode, Oid, Patch,
};
use serde::Serialize;

use super::edit::normalize_rel_path;
use super::junk::is_junk_path;

mod headers;
mod hunks;

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
    let repo = super::no_freshen::open(worktree).map_err(|e| PatchError::NotARepository {
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

/// Which tier placed a hunk (the module documentation describes them); ordered from the
/// strictest to the loosest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyMethod {
    /// At the stated line with all of its context.
    #[default]
    Exact,
    /// All of its context, at another line.
    Offset,
    /// Some outer context lines ignored (GNU `patch --fuzz`).
    Fuzz,
}

impl ApplyMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplyMethod::Exact => "exact",
            ApplyMethod::Offset => "offset",
            ApplyMethod::Fuzz => "fuzz",
        }
    }
}

impl std::fmt::Display for ApplyMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fuzz [`apply_patch`] allows, as the SWE-bench harness's `patch --fuzz=5`.
pub const DEFAULT_MAX_FUZZ: usize = 5;

/// A hunk that was not applied at its stated line with all of its context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdjustedHunk {
    pub file: String,
    /// 1-based within its file.
    pub hunk: usize,
    /// The old start line of its header.
    pub line: u32,
    /// Where it was applied, in the same convention (in the file before the patch).
    pub applied_line: u32,
    /// `applied_line - line`.
    pub offset: i64,
    /// The fuzz level that found it (0 for [`ApplyMethod::Offset`]).
    pub fuzz: usize,
    pub method: ApplyMethod,
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
    /// The loosest tier any hunk needed ([`ApplyMethod::Exact`] when all applied as stated).
    pub method: ApplyMethod,
    /// The hunks applied with an offset or fuzz, in patch order (empty when `method` is exact).
    pub adjusted_hunks: Vec<AdjustedHunk>,
}

/// How [`apply_patch_with`] applies a patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchApplyOptions {
    /// Only check; write nothing.
    pub check_only: bool,
    /// The loosest tier allowed.
    pub max_method: ApplyMethod,
    /// The most context lines the fuzz tier ignores at either end of a hunk.
    pub max_fuzz: usize,
}

impl Default for PatchApplyOptions {
    fn default() -> Self {
        PatchApplyOptions {
            check_only: false,
            max_method: ApplyMethod::Fuzz,
            max_fuzz: DEFAULT_MAX_FUZZ,
        }
    }
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
/// without a `diff --git` header one, add the `a/` and `b/` prefixes, and cut timestamps; and
/// give `git diff`'s sections creating or deleting an empty file the `---`/`+++` lines libgit2
/// needs ([`headers`]).
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
    headers::complete_empty_file_headers(&out)
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

/// Apply `diff_text` to the files of `worktree`: exactly, else with line offsets, else with
/// fuzz up to [`DEFAULT_MAX_FUZZ`] (see the module documentation). All or nothing.
pub fn apply_patch(worktree: &Path, diff_text: &str) -> Result<ApplyReport, PatchError> {
    apply_patch_with(worktree, diff_text, &PatchApplyOptions::default())
}

/// Check that `diff_text` applies to `worktree` (as [`apply_patch`] would) without changing
/// anything.
pub fn check_patch(worktree: &Path, diff_text: &str) -> Result<ApplyReport, PatchError> {
    apply_patch_with(
        worktree,
        diff_text,
        &PatchApplyOptions {
            check_only: true,
            ..PatchApplyOptions::default()
        },
    )
}

/// [`apply_patch`] or [`check_patch`] with the tiers limited by `options`.
pub fn apply_patch_with(
    worktree: &Path,
    diff_text: &str,
    options: &PatchApplyOptions,
) -> Result<ApplyReport, PatchError> {
    let (diff, mut report) = parse_patch(diff_text)?;
    // Read the hunks before libgit2's apply runs: it trims lines of the parsed patch in place.
    let changes = file_changes(&diff)?;
    let repo = super::no_freshen::open(worktree).map_err(|e| PatchError::NotARepository {
        path: worktree.to_path_buf(),
        message: e.message().to_string(),
    })?;
    let root = repo
        .workdir()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| worktree.to_path_buf());
    for change in &changes {
        for path in change.old_path.iter().chain(&change.new_path) {
            refuse_symlinks(&root, path)?;
        }
    }
    let check = options.check_only;
    report.checked_only = check;

    // Tier 1: libgit2 applies the whole patch exactly, or nothing. It deletes a file without
    // comparing its content with the patch's removed lines, and joins a hunk's last line
    // without a newline ("\ No newline at end of file") to the file's next line when the hunk
    // is not at the end; such patches are placed by the tiers below, which do neither.
    let deletes = changes.iter().any(|c| c.new_path.is_none());
    let no_newline = changes.iter().any(|c| {
        c.hunks
            .iter()
            .any(|h| h.pre.iter().chain(&h.post).any(|l| !l.ends_with(b"\n")))
    });
    let mut git_options = ApplyOptions::new();
    git_options.check(check);
    let exact = if deletes || no_newline {
        Err(git2::Error::from_str(
            "the patch deletes a file or has a line without a newline",
        ))
    } else {
        repo.apply(&diff, ApplyLocation::WorkDir, Some(&mut git_options))
    };
    drop(git_options);
    match exact {
        Ok(()) => {
            tracing::info!(
                files = report.files.len(),
                hunks = report.hunks,
                check,
                method = "exact",
                "patch applied"
            );
            return Ok(report);
        }
        Err(e) => {
            tracing::debug!(error = %e.message(), "exact apply refused; trying offsets and fuzz")
        }
    }

    // Tiers 2 and 3: every file computed in memory, written only if all of it applies.
    let limits = hunks::Limits {
        max_method: options.max_method,
        max_fuzz: options.max_fuzz,
    };
    let mut tree = Overlay::new(&root);
    for change in &changes {
        apply_change(&mut tree, change, limits, &mut report)?;
    }
    if !check {
        tree.write()?;
    }
    tracing::info!(
        files = report.files.len(),
        hunks = report.hunks,
        check,
        method = %report.method,
        adjusted = report.adjusted_hunks.len(),
        "patch applied"
    );
    for h in &report.adjusted_hunks {
        tracing::debug!(
            file = %h.file,
            hunk = h.hunk,
            line = h.line,
            offset = h.offset,
            fuzz = h.fuzz,
            method = %h.method,
            "hunk adjusted"
        );
    }
    Ok(report)
}

/// One file of a parsed patch, with its hunks.
struct FileChange {
    /// The path reports name (the new path, or the old one of a deletion).
    path: String,
    status: Delta,
    /// Normalized old path (absent for an added file).
    old_path: Option<String>,
    /// Normalized new path (absent for a deleted file).
    new_path: Option<String>,
    old_mode: FileMode,
    new_mode: FileMode,
    hunks: Vec<hunks::Hunk>,
}

fn malformed(e: git2::Error) -> PatchError {
    PatchError::Malformed {
        message: e.message().to_string(),
    }
}

fn file_changes(diff: &Diff<'_>) -> Result<Vec<FileChange>, PatchError> {
    let mut changes = Vec::new();
    for idx in 0..diff.deltas().len() {
        let Some(patch) = Patch::from_diff(diff, idx).map_err(malformed)? else {
            continue;
        };
        let delta = patch.delta();
        let normalized = |file: git2::DiffFile<'_>| -> Result<Option<String>, PatchError> {
            file.path()
                .map(|p| {
                    let p = p.to_string_lossy();
                    normalize_rel_path(&p).map_err(|reason| PatchError::UnsafePath {
                        path: p.to_string(),
                        reason,
                    })
                })
                .transpose()
        };
        let status = delta.status();
        let mut old_path = normalized(delta.old_file())?;
        let mut new_path = normalized(delta.new_file())?;
        match status {
            Delta::Added | Delta::Untracked => old_path = None,
            Delta::Deleted => new_path = None,
            _ => {}
        }
        if old_path.is_none() && new_path.is_none() {
            continue;
        }
        let mut file_hunks = Vec::with_capacity(patch.num_hunks());
        for h in 0..patch.num_hunks() {
            let (hunk, count) = patch.hunk(h).map_err(malformed)?;
            let mut lines: Vec<(hunks::LineKind, Vec<u8>)> = Vec::with_capacity(count);
            for l in 0..count {
                let line = patch.line_in_hunk(h, l).map_err(malformed)?;
                let kind = match line.origin_value() {
                    DiffLineType::Context => hunks::LineKind::Context,
                    DiffLineType::Addition => hunks::LineKind::Added,
                    DiffLineType::Deletion => hunks::LineKind::Removed,
                    DiffLineType::ContextEOFNL
                    | DiffLineType::AddEOFNL
                    | DiffLineType::DeleteEOFNL => {
                        // "\ No newline at end of file": the line before has no newline.
                        if let Some((_, text)) = lines.last_mut() {
                            if text.ends_with(b"\n") {
                                text.pop();
                            }
                        }
                        continue;
                    }
                    _ => continue,
                };
                lines.push((kind, line.content().to_vec()));
            }
            file_hunks.push(hunks::Hunk::new(
                String::from_utf8_lossy(hunk.header()).trim().to_string(),
                hunk.old_start(),
                hunk.new_start(),
                lines,
            ));
        }
        changes.push(FileChange {
            path: path_of(&delta),
            status,
            old_path,
            new_path,
            old_mode: delta.old_file().mode(),
            new_mode: delta.new_file().mode(),
            hunks: file_hunks,
        });
    }
    Ok(changes)
}

/// Refuse `rel` when it, or a directory on its way, is a symlink in the worktree.
fn refuse_symlinks(root: &Path, rel: &str) -> Result<(), PatchError> {
    let mut current = root.to_path_buf();
    let mut walked = Vec::new();
    for part in rel.split('/') {
        current.push(part);
        walked.push(part);
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(PatchError::UnsafePath {
                    path: rel.to_string(),
                    reason: if walked.len() == rel.split('/').count() {
                        "is a symlink in the worktree".to_string()
                    } else {
                        format!(
                            "passes through the symlink `{}` in the worktree",
                            walked.join("/")
                        )
                    },
                });
            }
            Ok(_) => {}
            // Nothing below a missing part exists.
            Err(_) => break,
        }
    }
    Ok(())
}

/// A file as the patch leaves it, next to what is on disk.
struct Entry {
    /// On disk before the patch (`None`: no file).
    disk: Option<Vec<u8>>,
    /// Permission bits on disk.
    disk_mode: Option<u32>,
    /// After the patch (`None`: no file).
    content: Option<Vec<u8>>,
    /// Permission bits to give it (`None`: keep, or 0o644 for a new file).
    mode: Option<u32>,
}

/// The worktree's files the patch touches, changed in memory.
struct Overlay<'a> {
    root: &'a Path,
    files: BTreeMap<String, Entry>,
}

impl<'a> Overlay<'a> {
    fn new(root: &'a Path) -> Self {
        Overlay {
            root,
            files: BTreeMap::new(),
        }
    }

    fn entry(&mut self, path: &str) -> Result<&mut Entry, PatchError> {
        if !self.files.contains_key(path) {
            let full = self.root.join(path);
            let (disk, disk_mode) = match std::fs::symlink_metadata(&full) {
                Err(_) => (None, None),
                Ok(meta) if meta.is_file() => {
                    let bytes = std::fs::read(&full).map_err(|e| PatchError::FileRejected {
                        file: path.to_string(),
                        message: format!("cannot read it: {e}"),
                    })?;
                    (Some(bytes), Some(permission_bits(&meta)))
                }
                Ok(_) => {
                    return Err(PatchError::FileRejected {
                        file: path.to_string(),
                        message: "is not a regular file in the worktree".into(),
                    })
                }
            };
            self.files.insert(
                path.to_string(),
                Entry {
                    content: disk.clone(),
                    mode: None,
                    disk,
                    disk_mode,
                },
            );
        }
        Ok(self.files.get_mut(path).expect("inserted above"))
    }

    /// Current content and permission bits of `path` (`None`: no such file).
    fn read(&mut self, path: &str) -> Result<Option<(Vec<u8>, Option<u32>)>, PatchError> {
        let e = self.entry(path)?;
        Ok(e.content.clone().map(|c| (c, e.mode.or(e.disk_mode))))
    }

    fn set(
        &mut self,
        path: &str,
        content: Option<Vec<u8>>,
        mode: Option<u32>,
    ) -> Result<(), PatchError> {
        let e = self.entry(path)?;
        e.content = content;
        e.mode = mode;
        Ok(())
    }

    /// Write the changed files: removals first (with directories they leave empty), then the
    /// new contents, each through a temporary file renamed into place.
    fn write(&self) -> Result<(), PatchError> {
        let failed = |path: &str, what: &str, e: std::io::Error| PatchError::FileRejected {
            file: path.to_string(),
            message: format!("{what}: {e}"),
        };
        for (path, e) in &self.files {
            if e.content.is_none() && e.disk.is_some() {
                let full = self.root.join(path);
                std::fs::remove_file(&full).map_err(|err| failed(path, "removing it", err))?;
                let mut dir = full.parent();
                while let Some(d) = dir {
                    if d == self.root || std::fs::remove_dir(d).is_err() {
                        break;
                    }
                    dir = d.parent();
                }
            }
        }
        for (path, e) in &self.files {
            let Some(content) = &e.content else { continue };
            if e.disk.as_ref() == Some(content) && (e.mode.is_none() || e.mode == e.disk_mode) {
                continue;
            }
            let full = self.root.join(path);
            let parent = full.parent().unwrap_or(self.root);
            std::fs::create_dir_all(parent)
                .map_err(|err| failed(path, "creating its directory", err))?;
            let mut tmp = tempfile::Builder::new()
                .prefix(".codeswarm-patch")
                .tempfile_in(parent)
                .map_err(|err| failed(path, "creating a temporary file", err))?;
            tmp.write_all(content)
                .map_err(|err| failed(path, "writing it", err))?;
            let mode = e.mode.or(e.disk_mode).unwrap_or(0o644);
            set_permission_bits(tmp.as_file(), mode)
                .map_err(|err| failed(path, "setting its mode", err))?;
            tmp.persist(&full)
                .map_err(|err| failed(path, "moving it into place", err.error))?;
        }
        Ok(())
    }
}

#[cfg(unix)]
fn permission_bits(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn permission_bits(meta: &std::fs::Metadata) -> u32 {
    if meta.permissions().readonly() {
        0o444
    } else {
        0o644
    }
}

#[cfg(unix)]
fn set_permission_bits(file: &std::fs::File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_permission_bits(_file: &std::fs::File, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// Permission bits for a patch's new mode, when the patch sets one.
fn mode_bits(change: &FileChange) -> Result<Option<u32>, PatchError> {
    let set = change.new_path.is_some()
        && (change.old_path.is_none() || change.old_mode != change.new_mode);
    match change.new_mode {
        FileMode::BlobExecutable if set => Ok(Some(0o755)),
        FileMode::Blob | FileMode::BlobGroupWritable if set => Ok(Some(0o644)),
        FileMode::Link | FileMode::Commit => Err(PatchError::FileRejected {
            file: change.path.clone(),
            message: "the patch makes it a symlink or submodule; only regular files are patched"
                .into(),
        }),
        _ => Ok(None),
    }
}

/// Apply one file of the patch to the overlay, placing its hunks with the tiers.
fn apply_change(
    tree: &mut Overlay<'_>,
    change: &FileChange,
    limits: hunks::Limits,
    report: &mut ApplyReport,
) -> Result<(), PatchError> {
    let rejected = |message: String| PatchError::FileRejected {
        file: change.path.clone(),
        message,
    };
    if matches!(change.status, Delta::Typechange) {
        return Err(rejected(
            "the patch changes the file's type; only regular files are patched".into(),
        ));
    }
    let mode = mode_bits(change)?;
    let (before, source_mode) = match &change.old_path {
        Some(old) => tree.read(old)?.ok_or_else(|| {
            rejected("the file the patch changes does not exist in the worktree".into())
        })?,
        None => (Vec::new(), None),
    };
    if let Some(new) = &change.new_path {
        let moved = change.old_path.as_deref() != Some(new.as_str());
        if moved {
            if let Some((existing, _)) = tree.read(new)? {
                // A new file may replace an empty one (as GNU patch allows); nothing else.
                if change.old_path.is_some() || !existing.is_empty() {
                    return Err(rejected(
                        "the file the patch creates already exists in the worktree".into(),
                    ));
                }
            }
        }
    }
    let after = if change.hunks.is_empty() {
        before
    } else {
        let (after, placed) =
            hunks::apply_hunks(&before, &change.hunks, limits).map_err(|(idx, failure)| {
                let hunk = &change.hunks[idx];
                PatchError::HunkRejected {
                    file: change.path.clone(),
                    hunk: idx + 1,
                    header: hunk.header.clone(),
                    line: hunk.old_start,
                    message: failure_message(hunk, &failure, limits),
                }
            })?;
        for (idx, (hunk, place)) in change.hunks.iter().zip(&placed).enumerate() {
            report.method = report.method.max(place.method);
            if place.method != ApplyMethod::Exact {
                report.adjusted_hunks.push(AdjustedHunk {
                    file: change.path.clone(),
                    hunk: idx + 1,
                    line: hunk.old_start,
                    applied_line: place.line(hunk) as u32,
                    offset: place.at as i64 - hunk.stated() as i64,
                    fuzz: place.fuzz,
                    method: place.method,
                });
            }
        }
        after
    };
    match (&change.old_path, &change.new_path) {
        (Some(old), None) => {
            // A deletion without hunks is the deletion of an empty file.
            if !after.is_empty() {
                return Err(rejected(
                    "the file has lines the patch's deletion does not remove; it differs from the \
                     patch's version"
                        .into(),
                ));
            }
            tree.set(old, None, None)?;
        }
        (old, Some(new)) => {
            let moved = old.as_deref().is_some_and(|o| o != new);
            tree.set(new, Some(after), mode.or(source_mode))?;
            if moved && !matches!(change.status, Delta::Copied) {
                tree.set(old.as_deref().expect("moved"), None, None)?;
            }
        }
        (None, None) => {}
    }
    Ok(())
}

fn failure_message(hunk: &hunks::Hunk, failure: &hunks::Failure, limits: hunks::Limits) -> String {
    match failure {
        hunks::Failure::AlreadyApplied { line } => format!(
            "the patch looks applied already: the hunk's result is in the file at line {line}"
        ),
        hunks::Failure::NotFound {
            closest,
            fuzz_tried,
        } => {
            let mut message = match limits.max_method {
                ApplyMethod::Exact => format!("not found at line {}", hunk.old_start),
                _ if *fuzz_tried == 0 => "not found at any line".to_string(),
                _ => format!(
                    "not found at any line, even with fuzz {fuzz_tried} (that many outer context \
                     lines ignored)"
                ),
            };
            match closest {
                Some(c) => {
                    message.push_str(&format!(
                        "; closest at line {} ({} of its {} context and removed lines equal)",
                        c.line, c.matching, c.of
                    ));
                    for (line, actual, expected) in &c.differences {
                        match actual {
                            Some(actual) => message.push_str(&format!(
                                "; line {line} is `{actual}` where the hunk has `{expected}`"
                            )),
                            None => message.push_str(&format!(
                                "; the file ends before line {line}, where the hunk has `{expected}`"
                            )),
                        }
                    }
                }
                None if hunk.pre.is_empty() => {}
                None => message.push_str("; none of its context and removed lines is in the file"),
            }
            message
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use git2::{Repository, Signature, Time};

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

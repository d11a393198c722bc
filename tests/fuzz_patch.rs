//! Differential fuzzing of the patch parser and applier (`codeswarm::repo::patch::apply_patch`)
//! against the tools the SWE-bench harness uses: `git apply`, then GNU
//! `patch --batch --forward --fuzz=5 -p1`.
//!
//! Each case builds a small random repository, edits it, takes the real `git diff` of the edit,
//! then (mostly) disturbs things: the target the patch is applied to drifts from the base
//! (lines inserted, changed, deleted: offsets and fuzz), the patch text is mutated (shifted
//! hunk headers, altered or dropped context lines, CRLF, a missing last newline, truncation,
//! garbage lines, escaping paths, removed "\ No newline" markers), or the patch is applied
//! a second time. The same patch then goes to codeswarm, `git apply` and GNU patch, each on
//! its own copy of the target, and the outcomes are compared:
//!
//! - whatever `git apply` accepts, codeswarm accepts with the same resulting files;
//! - else whatever GNU patch accepts, codeswarm accepts with the same resulting files;
//! - whatever both refuse, codeswarm refuses, and leaves the worktree as it was.
//!
//! Where codeswarm differs on purpose, [`explain`] names the documented rule (docs/fuzzing.md
//! lists them); any other difference fails the test with the case (proptest shrinks it).
//! Every case is tallied; `--nocapture` prints the tally.

mod fuzz_common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use codeswarm::repo::patch::{apply_patch, PatchError};
use fuzz_common::{config, Tally};
use git2::{IndexAddOption, Repository, Signature, Time};
use proptest::prelude::*;

static TALLY: Tally = Tally::new();

/// The default number of cases (the test takes about 10 s at this count on 2 cores).
const DEFAULT_CASES: u32 = 64;

// ---------------------------------------------------------------------------------------------
// The generated case.

const NAMES: [&str; 5] = ["a.py", "pkg/b.py", "pkg/sub/c.txt", "d.txt", "pkg/e.py"];

/// A line of a generated file: a few lines recur often (so hunks have look-alike places to go
/// and fuzz has choices), the rest are distinct.
fn line_text(token: u8) -> String {
    const COMMON: [&str; 7] = [
        "",
        "    pass",
        "    return x",
        "}",
        "# --",
        "else:",
        "    x += 1",
    ];
    let t = token % 40;
    match COMMON.get(t as usize) {
        Some(s) => s.to_string(),
        None => format!("v{t} = {t}"),
    }
}

#[derive(Debug, Clone)]
struct FileSpec {
    name: usize,
    lines: Vec<u8>,
    no_eol: bool,
    crlf: bool,
}

impl FileSpec {
    fn render(&self) -> Vec<u8> {
        render(&self.lines, self.no_eol, self.crlf)
    }
}

fn render(lines: &[u8], no_eol: bool, crlf: bool) -> Vec<u8> {
    let eol = if crlf { "\r\n" } else { "\n" };
    let mut out = String::new();
    for (i, t) in lines.iter().enumerate() {
        out.push_str(&line_text(*t));
        if !(no_eol && i + 1 == lines.len()) {
            out.push_str(eol);
        }
    }
    out.into_bytes()
}

/// A change to the lines of a file (positions are taken modulo the file's length).
#[derive(Debug, Clone)]
enum LineOp {
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Replace(usize, usize, Vec<u8>),
}

fn apply_ops(lines: &mut Vec<u8>, ops: &[LineOp]) {
    for op in ops {
        let len = lines.len();
        match op {
            LineOp::Insert(at, new) => {
                let at = at % (len + 1);
                lines.splice(at..at, new.iter().copied());
            }
            LineOp::Delete(at, n) | LineOp::Replace(at, n, _) if len == 0 => {
                let _ = (at, n);
            }
            LineOp::Delete(at, n) => {
                let at = at % len;
                let end = (at + n).min(len);
                lines.drain(at..end);
            }
            LineOp::Replace(at, n, new) => {
                let at = at % len;
                let end = (at + n).min(len);
                lines.splice(at..end, new.iter().copied());
            }
        }
    }
}

#[derive(Debug, Clone)]
enum FileEdit {
    Modify(usize, Vec<LineOp>),
    Delete(usize),
    ToggleEol(usize),
}

/// How the target the patch is applied to differs from the base it was made against.
#[derive(Debug, Clone)]
enum Drift {
    /// Lines of a file changed.
    Lines(usize, Vec<LineOp>),
    /// The patch was applied already.
    AlreadyApplied,
    /// A directory the patch writes into is a symlink to another directory of the target.
    SymlinkedDir,
}

/// A change to the patch text.
#[derive(Debug, Clone)]
enum Mutation {
    /// Add `delta` to the old and new start line of a hunk header.
    ShiftHeader(usize, i8),
    /// Change the text of a context line.
    AlterContext(usize),
    /// Drop a context line and fix its hunk's line counts.
    DropContext(usize),
    /// Every line of the patch ends in `\r\n`.
    Crlf,
    /// The patch's last newline is missing.
    NoFinalNewline,
    /// The patch ends after this many lines.
    Truncate(usize),
    /// A line of garbage inserted before this line.
    Garbage(usize, u8),
    /// A file's paths leave the repository (`a/../x`).
    EscapePath(usize),
    /// A `\ No newline at end of file` marker removed.
    DropNoEolMarker(usize),
}

#[derive(Debug, Clone)]
struct Case {
    files: Vec<FileSpec>,
    edits: Vec<FileEdit>,
    added: Vec<FileSpec>,
    context: u8,
    renames: bool,
    drift: Vec<Drift>,
    mutations: Vec<Mutation>,
}

fn tokens(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn file_spec() -> impl Strategy<Value = FileSpec> {
    (
        0..NAMES.len(),
        tokens(28),
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.08),
    )
        .prop_map(|(name, lines, no_eol, crlf)| FileSpec {
            name,
            lines,
            no_eol,
            crlf,
        })
}

fn line_op() -> impl Strategy<Value = LineOp> {
    prop_oneof![
        (any::<usize>(), tokens(4)).prop_map(|(a, t)| LineOp::Insert(a, t)),
        (any::<usize>(), 1..4usize).prop_map(|(a, n)| LineOp::Delete(a, n)),
        (any::<usize>(), 1..3usize, tokens(3)).prop_map(|(a, n, t)| LineOp::Replace(a, n, t)),
    ]
}

fn file_edit() -> impl Strategy<Value = FileEdit> {
    prop_oneof![
        8 => (any::<usize>(), prop::collection::vec(line_op(), 1..4))
            .prop_map(|(f, ops)| FileEdit::Modify(f, ops)),
        1 => any::<usize>().prop_map(FileEdit::Delete),
        1 => any::<usize>().prop_map(FileEdit::ToggleEol),
    ]
}

fn drift() -> impl Strategy<Value = Drift> {
    prop_oneof![
        10 => (any::<usize>(), prop::collection::vec(line_op(), 1..3))
            .prop_map(|(f, ops)| Drift::Lines(f, ops)),
        1 => Just(Drift::AlreadyApplied),
        1 => Just(Drift::SymlinkedDir),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), -6i8..=6).prop_map(|(h, d)| Mutation::ShiftHeader(h, d)),
        4 => any::<usize>().prop_map(Mutation::AlterContext),
        3 => any::<usize>().prop_map(Mutation::DropContext),
        1 => Just(Mutation::Crlf),
        1 => Just(Mutation::NoFinalNewline),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(l, g)| Mutation::Garbage(l, g)),
        1 => any::<usize>().prop_map(Mutation::EscapePath),
        1 => any::<usize>().prop_map(Mutation::DropNoEolMarker),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(file_spec(), 1..4),
        prop::collection::vec(file_edit(), 1..4),
        prop::collection::vec(file_spec(), 0..2),
        prop_oneof![Just(3u8), Just(3), Just(1), Just(0), Just(2), Just(5)],
        prop::bool::weighted(0.2),
        // A third of the cases apply the patch as made, the others disturb it.
        prop_oneof![
            1 => Just(Vec::new()),
            2 => prop::collection::vec(drift(), 0..3),
        ],
        prop_oneof![
            1 => Just(Vec::new()),
            2 => prop::collection::vec(mutation(), 0..3),
        ],
    )
        .prop_map(
            |(files, edits, added, context, renames, drift, mutations)| Case {
                files,
                edits,
                added,
                context,
                renames,
                drift,
                mutations,
            },
        )
}

// ---------------------------------------------------------------------------------------------
// Building the repositories and the patch.

type Tree = BTreeMap<String, Entry>;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    File(Vec<u8>),
    Link(String),
}

fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("git")
        .args(["-c", "core.autocrlf=false", "-c", "core.safecrlf=false"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", dir)
        .env("LC_ALL", "C")
        .output()
        .expect("the fuzz tests need the git command-line tool on PATH")
}

fn write_tree(dir: &Path, tree: &Tree) {
    for (path, entry) in tree {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        match entry {
            Entry::File(bytes) => std::fs::write(&full, bytes).unwrap(),
            Entry::Link(target) => std::os::unix::fs::symlink(target, &full).unwrap(),
        }
    }
}

/// Commit everything in `dir` (a repository is created when there is none).
fn commit_all(dir: &Path) {
    let repo = Repository::open(dir)
        .or_else(|_| Repository::init(dir))
        .unwrap();
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], IndexAddOption::DEFAULT | IndexAddOption::FORCE, None)
        .unwrap();
    index.update_all(["*"], None).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = Signature::new("t", "t@example.invalid", &Time::new(1_700_000_000, 0)).unwrap();
    let parents: Vec<git2::Commit<'_>> = repo
        .head()
        .ok()
        .and_then(|h| h.peel_to_commit().ok())
        .into_iter()
        .collect();
    let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, "c", &tree, &parents)
        .unwrap();
}

/// Every file and link under `dir` but `.git` and the backup and reject files of GNU patch.
fn read_tree(dir: &Path) -> Tree {
    fn walk(root: &Path, dir: &Path, out: &mut Tree) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if rel == ".git" || rel.ends_with(".orig") || rel.ends_with(".rej") {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.insert(rel, Entry::Link(target.to_string_lossy().into_owned()));
            } else if meta.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(rel, Entry::File(std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Tree::new();
    walk(dir, dir, &mut out);
    out
}

struct Built {
    /// The edited files the patch was made from.
    new: Tree,
    target: Tree,
    /// The patch as `git diff` wrote it.
    made: String,
    /// The patch after the mutations.
    patch: String,
}

fn build(case: &Case, root: &Path) -> Option<Built> {
    // The base files (later specs of the same name win).
    let mut specs: BTreeMap<usize, FileSpec> = BTreeMap::new();
    for f in &case.files {
        specs.insert(f.name, f.clone());
    }
    let base: Tree = specs
        .values()
        .map(|f| (NAMES[f.name].to_string(), Entry::File(f.render())))
        .collect();
    // The edited files.
    let keys: Vec<usize> = specs.keys().copied().collect();
    let mut new_specs = specs.clone();
    for edit in &case.edits {
        let pick = |i: &usize| keys[i % keys.len()];
        match edit {
            FileEdit::Modify(i, ops) => {
                if let Some(f) = new_specs.get_mut(&pick(i)) {
                    apply_ops(&mut f.lines, ops);
                }
            }
            FileEdit::Delete(i) => {
                new_specs.remove(&pick(i));
            }
            FileEdit::ToggleEol(i) => {
                if let Some(f) = new_specs.get_mut(&pick(i)) {
                    f.no_eol = !f.no_eol;
                }
            }
        }
    }
    for f in &case.added {
        new_specs.insert(f.name, f.clone());
    }
    let new: Tree = new_specs
        .values()
        .map(|f| (NAMES[f.name].to_string(), Entry::File(f.render())))
        .collect();
    if new == base {
        return None;
    }

    let made_dir = root.join("made");
    write_tree(&made_dir, &base);
    commit_all(&made_dir);
    for path in base.keys() {
        std::fs::remove_file(made_dir.join(path)).unwrap();
    }
    write_tree(&made_dir, &new);
    let repo = Repository::open(&made_dir).unwrap();
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], IndexAddOption::DEFAULT | IndexAddOption::FORCE, None)
        .unwrap();
    index.update_all(["*"], None).unwrap();
    index.write().unwrap();
    let unified = format!("-U{}", case.context);
    let mut args = vec!["diff", "--cached", "--no-color", "--no-ext-diff", &unified];
    args.push(if case.renames { "-M" } else { "--no-renames" });
    let out = git(&made_dir, &args);
    assert!(out.status.success(), "git diff: {out:?}");
    let made = String::from_utf8(out.stdout).unwrap();
    if made.is_empty() {
        return None;
    }

    // The target.
    let mut target = base.clone();
    // The symlinked directory comes last, after the lines of its files drifted.
    let mut drift: Vec<&Drift> = case.drift.iter().collect();
    drift.sort_by_key(|d| matches!(d, Drift::SymlinkedDir));
    for d in drift {
        match d {
            Drift::Lines(i, ops) => {
                let f = &specs[&keys[i % keys.len()]];
                let mut lines = f.lines.clone();
                apply_ops(&mut lines, ops);
                target.insert(
                    NAMES[f.name].to_string(),
                    Entry::File(render(&lines, f.no_eol, f.crlf)),
                );
            }
            Drift::AlreadyApplied => target = new.clone(),
            Drift::SymlinkedDir => {
                // `pkg` becomes a link to `real`, which holds what `pkg` held.
                let moved: Vec<String> = target
                    .keys()
                    .filter(|p| p.starts_with("pkg/"))
                    .cloned()
                    .collect();
                if moved.is_empty() {
                    continue;
                }
                for p in moved {
                    let e = target.remove(&p).unwrap();
                    target.insert(format!("real/{}", &p[4..]), e);
                }
                target.insert("pkg".into(), Entry::Link("real".into()));
            }
        }
    }

    let patch = mutate(&made, &case.mutations);
    Some(Built {
        new,
        target,
        made,
        patch,
    })
}

// ---------------------------------------------------------------------------------------------
// Mutating patch text.

fn is_hunk_header(l: &str) -> bool {
    l.starts_with("@@ -")
}

/// `@@ -a,b +c,d @@ rest` → (a, b, c, d, rest).
fn parse_header(l: &str) -> Option<(i64, i64, i64, i64, String)> {
    let rest = l.strip_prefix("@@ -")?;
    let (ranges, tail) = rest.split_once(" @@")?;
    let (old, new) = ranges.split_once(" +")?;
    let range = |r: &str| -> Option<(i64, i64)> {
        match r.split_once(',') {
            Some((s, n)) => Some((s.parse().ok()?, n.parse().ok()?)),
            None => Some((r.parse().ok()?, 1)),
        }
    };
    let (a, b) = range(old)?;
    let (c, d) = range(new)?;
    Some((a, b, c, d, tail.to_string()))
}

fn header(a: i64, b: i64, c: i64, d: i64, tail: &str) -> String {
    format!("@@ -{a},{b} +{c},{d} @@{tail}")
}

/// Indexes of the lines inside hunks that are context lines (not headers, not file headers).
fn context_lines(lines: &[String]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut in_hunk = false;
    for (i, l) in lines.iter().enumerate() {
        if is_hunk_header(l) {
            in_hunk = true;
        } else if l.starts_with("diff --git ") {
            in_hunk = false;
        } else if in_hunk && l.starts_with(' ') {
            out.push(i);
        }
    }
    out
}

fn owning_header(lines: &[String], at: usize) -> Option<usize> {
    (0..at).rev().find(|&i| is_hunk_header(&lines[i]))
}

fn mutate(made: &str, mutations: &[Mutation]) -> String {
    // Split at `\n` only: a CRLF file's lines keep their `\r` in the patch.
    let mut lines: Vec<String> = made
        .strip_suffix('\n')
        .unwrap_or(made)
        .split('\n')
        .map(str::to_string)
        .collect();
    if made.is_empty() {
        lines.clear();
    }
    let mut crlf = false;
    let mut no_final_newline = false;
    for m in mutations {
        match m {
            Mutation::ShiftHeader(h, delta) => {
                let headers: Vec<usize> = (0..lines.len())
                    .filter(|&i| is_hunk_header(&lines[i]))
                    .collect();
                if headers.is_empty() {
                    continue;
                }
                let i = headers[h % headers.len()];
                if let Some((a, b, c, d, tail)) = parse_header(&lines[i]) {
                    let delta = *delta as i64;
                    if a == 0 || a + delta < 1 || c + delta < 1 {
                        continue;
                    }
                    lines[i] = header(a + delta, b, c + delta, d, &tail);
                }
            }
            Mutation::AlterContext(i) => {
                let ctx = context_lines(&lines);
                if let Some(&at) = ctx.get(i % ctx.len().max(1)) {
                    lines[at] = format!(" altered{}", &lines[at][1..]);
                }
            }
            Mutation::DropContext(i) => {
                let ctx = context_lines(&lines);
                if let Some(&at) = ctx.get(i % ctx.len().max(1)) {
                    let Some(h) = owning_header(&lines, at) else {
                        continue;
                    };
                    let Some((a, b, c, d, tail)) = parse_header(&lines[h]) else {
                        continue;
                    };
                    lines.remove(at);
                    lines[h] = header(a, b - 1, c, d - 1, &tail);
                }
            }
            Mutation::Crlf => crlf = true,
            Mutation::NoFinalNewline => no_final_newline = true,
            Mutation::Truncate(n) => {
                let keep = 1 + n % lines.len().max(1);
                lines.truncate(keep);
            }
            Mutation::Garbage(at, kind) => {
                const GARBAGE: [&str; 6] = [
                    "I fixed the bug, here is the patch:",
                    "diff --git a/only-one-path",
                    "index zzzzzzz..yyyyyyy 100644",
                    "@@ garbage @@",
                    "+++ b/",
                    "--- ",
                ];
                let at = at % (lines.len() + 1);
                lines.insert(at, GARBAGE[*kind as usize % GARBAGE.len()].to_string());
            }
            Mutation::EscapePath(i) => {
                let files: Vec<usize> = (0..lines.len())
                    .filter(|&j| lines[j].starts_with("diff --git "))
                    .collect();
                if files.is_empty() {
                    continue;
                }
                let start = files[i % files.len()];
                let end = files
                    .iter()
                    .copied()
                    .find(|&j| j > start)
                    .unwrap_or(lines.len());
                for l in &mut lines[start..end] {
                    if l.starts_with("diff --git ")
                        || l.starts_with("--- a/")
                        || l.starts_with("+++ b/")
                    {
                        *l = l
                            .replace(" a/", " a/../escaped/")
                            .replace(" b/", " b/../escaped/");
                    }
                }
            }
            Mutation::DropNoEolMarker(i) => {
                let markers: Vec<usize> = (0..lines.len())
                    .filter(|&j| lines[j].starts_with("\\ No newline"))
                    .collect();
                if let Some(&at) = markers.get(i % markers.len().max(1)) {
                    lines.remove(at);
                }
            }
        }
    }
    let eol = if crlf { "\r\n" } else { "\n" };
    let mut text = lines.join(eol);
    if !no_final_newline && !lines.is_empty() {
        text.push_str(eol);
    }
    text
}

// ---------------------------------------------------------------------------------------------
// Running the three tools.

/// What a tool did with the patch: the files it left, or why it refused.
#[derive(Debug, Clone)]
enum Outcome {
    Applied(Tree),
    Refused(String),
}

impl Outcome {
    fn tree(&self) -> Option<&Tree> {
        match self {
            Outcome::Applied(t) => Some(t),
            Outcome::Refused(_) => None,
        }
    }
}

/// A copy of the target; codeswarm needs a repository (without a commit: it applies to the
/// files), `git apply` and GNU patch a plain directory.
fn fresh_target(root: &Path, name: &str, target: &Tree, repository: bool) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    write_tree(&dir, target);
    if repository {
        Repository::init(&dir).unwrap();
    }
    dir
}

fn run_tool(dir: &Path, program: &str, args: &[&str]) -> Outcome {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("LC_ALL", "C")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    if out.status.success() {
        Outcome::Applied(read_tree(dir))
    } else {
        let mut why = String::from_utf8_lossy(&out.stderr).into_owned();
        why.push_str(&String::from_utf8_lossy(&out.stdout));
        Outcome::Refused(why.trim().to_string())
    }
}

fn gnu_patch_available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        Command::new("patch")
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("GNU patch"))
            .unwrap_or(false)
    })
}

struct Results {
    codeswarm: Result<Tree, PatchError>,
    git: Outcome,
    /// `None` when GNU patch is not installed.
    gnu: Option<Outcome>,
}

/// What `git apply` and GNU patch (when installed) make of `patch` on copies of `target`
/// (`tag` names the copies under `root`).
fn harness(root: &Path, tag: &str, target: &Tree, patch: &str) -> (Outcome, Option<Outcome>) {
    let patch_file = root.join(format!("{tag}.diff"));
    std::fs::write(&patch_file, patch).unwrap();
    let patch_arg = patch_file.to_str().unwrap();
    let dir = fresh_target(root, &format!("{tag}-git"), target, false);
    let git = run_tool(&dir, "git", &["apply", patch_arg]);
    let gnu = gnu_patch_available().then(|| {
        let dir = fresh_target(root, &format!("{tag}-gnu"), target, false);
        run_tool(
            &dir,
            "patch",
            &[
                "--batch",
                "--forward",
                "--fuzz=5",
                "-p1",
                "--no-backup-if-mismatch",
                "--reject-file=-",
                "--quiet",
                "-i",
                patch_arg,
            ],
        )
    });
    (git, gnu)
}

/// The harness's result: `git apply`'s, else GNU patch's.
fn harness_tree<'a>(
    git: &'a Outcome,
    gnu: &'a Option<Outcome>,
) -> Option<(&'static str, &'a Tree)> {
    match (git, gnu) {
        (Outcome::Applied(t), _) => Some(("git apply", t)),
        (_, Some(Outcome::Applied(t))) => Some(("GNU patch", t)),
        _ => None,
    }
}

/// codeswarm's result for `patch` on a copy of `target` (`tag` names the copy under `root`).
fn codeswarm(root: &Path, tag: &str, target: &Tree, patch: &str) -> Result<Tree, PatchError> {
    let dir = fresh_target(root, &format!("{tag}-codeswarm"), target, true);
    match apply_patch(&dir, patch) {
        Ok(_) => Ok(read_tree(&dir)),
        Err(e) => {
            // All or nothing: a refused patch changes no file.
            let after = read_tree(&dir);
            assert_eq!(
                &after, target,
                "codeswarm refused the patch ({e}) but changed the worktree\npatch:\n{patch}"
            );
            Err(e)
        }
    }
}

fn run_all(root: &Path, built: &Built) -> Results {
    let codeswarm = codeswarm(root, "t", &built.target, &built.patch);
    let (git, gnu) = harness(root, "t", &built.target, &built.patch);
    Results {
        codeswarm,
        git,
        gnu,
    }
}

// ---------------------------------------------------------------------------------------------
// Comparing.

/// The verdict on one case.
#[derive(Debug)]
enum Verdict {
    Agree(&'static str),
    /// A documented difference, by rule name.
    Explained(&'static str),
    Unexplained(String),
}

/// Compare codeswarm with the harness (git apply, else GNU patch) and name the rule behind any
/// difference.
fn explain(root: &Path, case: &Case, built: &Built, r: &Results) -> Verdict {
    match (&r.codeswarm, harness_tree(&r.git, &r.gnu)) {
        (Ok(ours), Some((tool, theirs))) if ours == theirs => {
            Verdict::Agree(if tool == "git apply" {
                "applied, same files as git apply"
            } else {
                "applied, same files as GNU patch"
            })
        }
        (Err(_), None) => Verdict::Agree("refused by all"),
        (ours, theirs) => {
            if let Some(rule) = documented_difference(root, case, built, r) {
                return Verdict::Explained(rule);
            }
            Verdict::Unexplained(format!(
                "codeswarm: {}\nharness: {}\ngit apply: {}\nGNU patch: {}",
                match ours {
                    Ok(t) => format!("applied {}", show(t)),
                    Err(e) => format!("refused: {e}"),
                },
                match theirs {
                    Some((tool, _)) => format!("{tool} applied"),
                    None => "refused".into(),
                },
                short(&r.git),
                r.gnu.as_ref().map_or("not installed".into(), short),
            ))
        }
    }
}

/// A tree as readable text: each file's path, then its content with line endings shown.
fn show(tree: &Tree) -> String {
    let mut out = String::new();
    for (path, e) in tree {
        match e {
            Entry::File(bytes) => {
                let text = String::from_utf8_lossy(bytes)
                    .replace('\r', "\\r")
                    .replace('\n', "\\n\n      ");
                out.push_str(&format!("\n    {path}:\n      {text}"));
            }
            Entry::Link(to) => out.push_str(&format!("\n    {path} -> {to}")),
        }
    }
    out
}

fn short(o: &Outcome) -> String {
    match o {
        Outcome::Applied(t) => format!("applied {}", show(t)),
        Outcome::Refused(why) => format!("refused: {}", why.chars().take(600).collect::<String>()),
    }
}

/// The documented rules under which codeswarm's result may differ from the harness's.
fn documented_difference(
    root: &Path,
    case: &Case,
    built: &Built,
    r: &Results,
) -> Option<&'static str> {
    let ours = r.codeswarm.as_ref().ok();
    // What the harness makes of the patch changed as codeswarm reads it.
    let harness_on = |tag: &str, patch: &str| -> Option<Tree> {
        let (git, gnu) = harness(root, tag, &built.target, patch);
        harness_tree(&git, &gnu).map(|(_, t)| t.clone())
    };
    // R1. A patch whose last line has no newline: libgit2 reads that line as if it had one
    // (GNU patch does too, for a line with text after its prefix); `git apply` calls the patch
    // corrupt.
    if !built.patch.is_empty() && !built.patch.ends_with('\n') {
        if let Some(ours) = ours {
            if harness_on("r1", &format!("{}\n", built.patch)).as_ref() == Some(ours) {
                return Some("R1 missing final newline read as present");
            }
        }
    }
    // R2. A path through a symlink in the worktree: codeswarm refuses it, as `git apply` does
    // ("beyond a symbolic link"); GNU patch follows the link.
    if case.drift.iter().any(|d| matches!(d, Drift::SymlinkedDir)) {
        if let (Err(PatchError::UnsafePath { reason, .. }), Outcome::Refused(why)) =
            (&r.codeswarm, &r.git)
        {
            if reason.contains("symlink") && why.contains("beyond a symbolic link") {
                return Some("R2 path through a symlink refused, as git apply does");
            }
        }
    }
    // R3. A patch whose own lines end in CRLF: GNU patch strips the CRs ("Stripping trailing
    // CRs from patch"); codeswarm compares lines byte for byte, as `git apply` does, and ends
    // as `git apply` does.
    let crlf_headers = built
        .patch
        .split_inclusive('\n')
        .any(|l| (l.starts_with("diff --git ") || l.starts_with("@@ ")) && l.ends_with("\r\n"));
    if crlf_headers && same_outcome(&r.codeswarm, &r.git) {
        return Some("R3 CRLF patch read byte for byte, as git apply does");
    }
    // R4. A malformed patch (a garbage line, or the text cut off inside a file's header):
    // codeswarm refuses the whole patch as malformed, naming the line, as `git apply` does,
    // where GNU patch applies the part it can read. Where `git apply` skips the garbage line
    // instead, the same case without the garbage must be agreed on or explained.
    let garbled = case
        .mutations
        .iter()
        .any(|m| matches!(m, Mutation::Garbage(..) | Mutation::Truncate(..)));
    if garbled
        && matches!(
            r.codeswarm,
            Err(PatchError::Malformed { .. } | PatchError::Empty)
        )
    {
        if matches!(r.git, Outcome::Refused(_)) {
            return Some("R4 malformed patch refused whole, as git apply does");
        }
        let mut clean_case = case.clone();
        clean_case
            .mutations
            .retain(|m| !matches!(m, Mutation::Garbage(..)));
        if clean_case.mutations.len() < case.mutations.len() {
            let clean = Built {
                new: built.new.clone(),
                target: built.target.clone(),
                made: built.made.clone(),
                patch: mutate(&built.made, &clean_case.mutations),
            };
            let clean_root = root.join("r4");
            std::fs::create_dir_all(&clean_root).unwrap();
            let results = run_all(&clean_root, &clean);
            if !matches!(
                explain(&clean_root, &clean_case, &clean, &results),
                Verdict::Unexplained(_)
            ) {
                return Some("R4 garbage line that git apply skips refused as malformed");
            }
        }
    }
    // R5. A `-U0` patch (hunks without context): codeswarm places its hunks as
    // `git apply --unidiff-zero` does, by their stated lines. Plain `git apply` anchors a hunk
    // without trailing context at the end of the file (a context-free insertion lands there)
    // or refuses; GNU patch places a context-free hunk by its old line plus the previous
    // hunk's offset, which differs when the old and new start lines disagree.
    if let Some(ours) = ours {
        if case.context == 0 {
            let patch_file = root.join("r5.diff");
            std::fs::write(&patch_file, &built.patch).unwrap();
            let dir = fresh_target(root, "r5-git", &built.target, false);
            let git = run_tool(
                &dir,
                "git",
                &["apply", "--unidiff-zero", patch_file.to_str().unwrap()],
            );
            if git.tree() == Some(ours) {
                return Some("R5 -U0 hunks placed as git apply --unidiff-zero places them");
            }
        }
    }
    // R6. A patch that changes nothing (a file header without hunks, the rest cut off): GNU
    // patch exits 0 having done nothing; codeswarm refuses it, as `git apply` does.
    if let (Err(_), Some((_, theirs))) = (&r.codeswarm, harness_tree(&r.git, &r.gnu)) {
        if theirs == &built.target {
            return Some("R6 a patch that changes nothing refused");
        }
    }
    None
}

/// Did codeswarm end as the tool did (both refused, or the same files)?
fn same_outcome(ours: &Result<Tree, PatchError>, theirs: &Outcome) -> bool {
    match (ours, theirs) {
        (Ok(a), Outcome::Applied(b)) => a == b,
        (Err(_), Outcome::Refused(_)) => true,
        _ => false,
    }
}

fn check_case(case: &Case) -> Result<(), TestCaseError> {
    let root = tempfile::tempdir().unwrap();
    let Some(built) = build(case, root.path()) else {
        TALLY.add("skipped: the edit changed nothing");
        return Ok(());
    };
    let results = run_all(root.path(), &built);
    if r_unmutated(case) {
        // A patch exactly as `git diff` made it, on its own base: everyone applies it, the same.
        TALLY.add("info: unmutated patches on their base");
        let ours = results.codeswarm.as_ref().map_err(|e| {
            TestCaseError::fail(format!(
                "codeswarm refused an unmutated patch: {e}\n{}",
                built.made
            ))
        })?;
        prop_assert_eq!(ours, &built.new, "codeswarm's result is not the edit");
        // `git apply` refuses hunks without context (`-U0`) unless told `--unidiff-zero`.
        if case.context > 0 {
            prop_assert_eq!(
                results.git.tree(),
                Some(&built.new),
                "git apply: {:?}",
                results.git
            );
        }
        if let Some(gnu) = &results.gnu {
            prop_assert_eq!(gnu.tree(), Some(&built.new), "GNU patch: {:?}", gnu);
        }
    }
    match explain(root.path(), case, &built, &results) {
        Verdict::Agree(what) => TALLY.add(format!("case: agree: {what}")),
        Verdict::Explained(rule) => TALLY.add(format!("case: explained: {rule}")),
        Verdict::Unexplained(what) => {
            TALLY.add("case: UNEXPLAINED");
            let message = format!(
                "codeswarm and the harness disagree\n{what}\npatch:\n{}\ntarget: {}\ncase: {case:?}",
                built.patch.replace('\r', "\\r"), show(&built.target)
            );
            if survey() {
                eprintln!("---- UNEXPLAINED\n{message}");
                return Ok(());
            }
            return Err(TestCaseError::fail(message));
        }
    }
    Ok(())
}

/// `CODESWARM_FUZZ_SURVEY=1`: print every unexplained disagreement and go on (the test still
/// fails at the end), instead of stopping at the first one and shrinking it.
fn survey() -> bool {
    std::env::var_os("CODESWARM_FUZZ_SURVEY").is_some_and(|v| v == "1")
}

fn r_unmutated(case: &Case) -> bool {
    case.drift.is_empty() && case.mutations.is_empty()
}

#[test]
fn patch_applier_agrees_with_git_apply_and_gnu_patch() {
    if !gnu_patch_available() {
        eprintln!(
            "note: GNU patch is not installed (scripts/setup.sh installs it); comparing with \
             git apply only"
        );
    }
    let mut runner = proptest::test_runner::TestRunner::new(config(DEFAULT_CASES));
    let result = runner.run(&case(), |c| check_case(&c));
    TALLY.print("patch_applier_agrees_with_git_apply_and_gnu_patch");
    if let Err(e) = result {
        panic!("{e}");
    }
    assert_eq!(TALLY.get("case: UNEXPLAINED"), 0);
}

// ---------------------------------------------------------------------------------------------
// Regressions the fuzzing found (each failed before its fix).

fn one_file_target(content: &str) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let mut tree = Tree::new();
    tree.insert("a.py".into(), Entry::File(content.as_bytes().to_vec()));
    let dir = fresh_target(root.path(), "t", &tree, true);
    (root, dir)
}

/// libgit2's apply deleted a file whatever it held; `git apply` and GNU patch refuse.
#[test]
fn a_deletion_patch_refuses_a_file_that_differs_from_it() {
    let patch = "diff --git a/a.py b/a.py\ndeleted file mode 100644\nindex 1111111..0000000\n\
                 --- a/a.py\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-x = 1\n-y = 2\n";
    for content in [
        "x = 1\ny = 3\n",
        "x = 1\ny = 2\nz = 3\n",
        "z = 0\nx = 1\ny = 2\n",
    ] {
        let (_root, dir) = one_file_target(content);
        let e = apply_patch(&dir, patch).unwrap_err();
        assert!(
            matches!(
                e,
                PatchError::HunkRejected { .. } | PatchError::FileRejected { .. }
            ),
            "{content:?}: {e}"
        );
        assert_eq!(std::fs::read_to_string(dir.join("a.py")).unwrap(), content);
    }
    // A deletion without hunks (of an empty file) does not delete a file with content.
    let empty = "diff --git a/a.py b/a.py\ndeleted file mode 100644\nindex e69de29..0000000\n";
    let with_headers = format!("{empty}--- a/a.py\n+++ /dev/null\n");
    let (_root, dir) = one_file_target("x = 1\n");
    assert!(matches!(
        apply_patch(&dir, &with_headers),
        Err(PatchError::FileRejected { .. })
    ));
    assert!(dir.join("a.py").exists());
    let (_root, dir) = one_file_target("x = 1\n");
    assert!(matches!(
        apply_patch(&dir, empty),
        Err(PatchError::FileRejected { .. })
    ));
    assert!(dir.join("a.py").exists());
    // The file the patch was made from is deleted, with or without hunks.
    let (_root, dir) = one_file_target("x = 1\ny = 2\n");
    apply_patch(&dir, patch).unwrap();
    assert!(!dir.join("a.py").exists());
    let (_root, dir) = one_file_target("");
    apply_patch(&dir, empty).unwrap();
    assert!(!dir.join("a.py").exists());
}

/// A `-U0` insertion stayed at its stated line when the hunk before it had moved.
#[test]
fn a_context_free_insertion_moves_with_the_hunk_before_it() {
    let content: String = (0..=10).map(|i| format!("l{i}\n")).collect();
    let patch = "diff --git a/a.py b/a.py\nindex 1111111..2222222 100644\n--- a/a.py\n+++ b/a.py\n\
                 @@ -3 +2,0 @@\n-l3\n@@ -6,0 +6 @@\n+new\n";
    // The patch was made without the first line `l0`.
    let (_root, dir) = one_file_target(&content);
    apply_patch(&dir, patch).unwrap();
    let expected = "l0\nl1\nl2\nl4\nl5\nl6\nnew\nl7\nl8\nl9\nl10\n";
    assert_eq!(std::fs::read_to_string(dir.join("a.py")).unwrap(), expected);
    if gnu_patch_available() {
        let root = tempfile::tempdir().unwrap();
        let mut tree = Tree::new();
        tree.insert("a.py".into(), Entry::File(content.into_bytes()));
        let (_, gnu) = harness(root.path(), "h", &tree, patch);
        let gnu = gnu.unwrap();
        assert_eq!(
            gnu.tree().and_then(|t| t.get("a.py")),
            Some(&Entry::File(expected.as_bytes().to_vec())),
            "{gnu:?}"
        );
    }
}

/// `git diff`'s creation and deletion of an empty file (no `---`/`+++` lines) were refused as
/// malformed: libgit2's parser needs those lines.
#[test]
fn empty_files_are_created_and_deleted_as_git_writes_it() {
    let root = tempfile::tempdir().unwrap();
    let mut tree = Tree::new();
    tree.insert("gone.py".into(), Entry::File(Vec::new()));
    tree.insert("b.py".into(), Entry::File(b"b\n".to_vec()));
    let patch = "diff --git a/b.py b/b.py\nindex 1111111..2222222 100644\n--- a/b.py\n+++ b/b.py\n\
                 @@ -1 +1 @@\n-b\n+c\n\
                 diff --git a/gone.py b/gone.py\ndeleted file mode 100644\nindex e69de29..0000000\n\
                 diff --git a/pkg/__init__.py b/pkg/__init__.py\nnew file mode 100644\n\
                 index 0000000..e69de29\n";
    let dir = fresh_target(root.path(), "t", &tree, true);
    apply_patch(&dir, patch).unwrap();
    let mut expected = Tree::new();
    expected.insert("b.py".into(), Entry::File(b"c\n".to_vec()));
    expected.insert("pkg/__init__.py".into(), Entry::File(Vec::new()));
    assert_eq!(read_tree(&dir), expected);
    let (git, _) = harness(root.path(), "h", &tree, patch);
    assert_eq!(git.tree(), Some(&expected), "git apply agrees");
}

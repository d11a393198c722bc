//! The generated cases of tests/fuzz_patch.rs: a small repository, an edit of it, the real
//! `git diff` of the edit, how the target drifts from the base, and the mutations of the patch
//! text; and the file trees the tools are compared on.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use git2::{IndexAddOption, Repository, Signature, Time};
use proptest::prelude::*;

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
pub struct FileSpec {
    pub name: usize,
    pub lines: Vec<u8>,
    pub no_eol: bool,
    pub crlf: bool,
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
pub enum LineOp {
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
pub enum FileEdit {
    Modify(usize, Vec<LineOp>),
    Delete(usize),
    ToggleEol(usize),
}

/// How the target the patch is applied to differs from the base it was made against.
#[derive(Debug, Clone)]
pub enum Drift {
    /// Lines of a file changed.
    Lines(usize, Vec<LineOp>),
    /// The patch was applied already.
    AlreadyApplied,
    /// A directory the patch writes into is a symlink to another directory of the target.
    SymlinkedDir,
}

/// A change to the patch text.
#[derive(Debug, Clone)]
pub enum Mutation {
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
pub struct Case {
    pub files: Vec<FileSpec>,
    pub edits: Vec<FileEdit>,
    pub added: Vec<FileSpec>,
    pub context: u8,
    pub renames: bool,
    pub drift: Vec<Drift>,
    pub mutations: Vec<Mutation>,
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

pub fn case() -> impl Strategy<Value = Case> {
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

pub type Tree = BTreeMap<String, Entry>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
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

pub fn write_tree(dir: &Path, tree: &Tree) {
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
pub fn read_tree(dir: &Path) -> Tree {
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

pub struct Built {
    /// The edited files the patch was made from.
    pub new: Tree,
    pub target: Tree,
    /// The patch as `git diff` wrote it.
    pub made: String,
    /// The patch after the mutations.
    pub patch: String,
}

pub fn build(case: &Case, root: &Path) -> Option<Built> {
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

pub fn mutate(made: &str, mutations: &[Mutation]) -> String {
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

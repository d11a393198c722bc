//! Search/replace edits from model output, Aider-style:
//!
//! ````text
//! path/to/file.py
//! ```python
//! <<<<<<< SEARCH
//! old lines
//! =======
//! new lines
//! >>>>>>> REPLACE
//! ```
//! ````
//!
//! The path may also sit on the fence line (```` ```python path/to/file.py ````) or, when a
//! block has none, be taken from the block before. [`parse_edits`] extracts the blocks;
//! [`apply_edits`] applies them to an in-memory file map: exactly, else ignoring trailing
//! whitespace, else with a uniform indentation shift (re-indenting the replacement). A block that
//! cannot be applied yields a precise [`EditError`] (no match, with the closest lines of the file
//! and their line numbers; several matches, with their line numbers) meant to be shown to the
//! model. An empty SEARCH creates a file that does not exist. Every edited `.py` file is
//! re-checked with [`crate::syntax::check_python`]. [`apply_edits_to_dir`] does the same on a
//! worktree, keeping every path inside it.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use regex::Regex;
use serde::Serialize;

use crate::syntax::{check_python, format_issues, SyntaxIssue};

/// The format, as shown to a model in prompts and error messages.
pub const FORMAT_EXAMPLE: &str = "path/to/file.py\n<<<<<<< SEARCH\nexact lines from the file\n=======\nnew lines\n>>>>>>> REPLACE";

/// One search/replace block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EditBlock {
    /// The path as the model wrote it (cleaned of quotes and markup, not yet validated).
    pub path: String,
    /// Lines to find, each ending in `\n`; empty to create a file.
    pub search: String,
    /// Lines to put in their place, each ending in `\n`.
    pub replace: String,
    /// 1-based block number, as used in error messages.
    pub number: usize,
    /// 1-based line of the `<<<<<<< SEARCH` marker in the model output.
    pub line: usize,
}

/// Why model output could not be parsed into blocks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("no SEARCH/REPLACE blocks found; write each change as:\n{FORMAT_EXAMPLE}")]
    NoBlocks,
    #[error(
        "block {block} (line {line}): no file path before `<<<<<<< SEARCH`; put the file path alone on \
         the line above the block"
    )]
    MissingPath { block: usize, line: usize },
    #[error("block {block} (line {line}): `<<<<<<< SEARCH` has no `=======` divider; end the SEARCH part with `=======`")]
    MissingDivider { block: usize, line: usize },
    #[error("block {block} (line {line}): the block has no `>>>>>>> REPLACE` line; end every block with `>>>>>>> REPLACE`")]
    MissingEnd { block: usize, line: usize },
}

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("static regex"))
}

fn is_search_marker(line: &str) -> bool {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, r"^\s*<{5,9}\s*SEARCH\s*$").is_match(line)
}

fn is_divider(line: &str) -> bool {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, r"^\s*={5,9}\s*$").is_match(line)
}

fn is_replace_marker(line: &str) -> bool {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, r"^\s*>{5,9}\s*REPLACE\s*$").is_match(line)
}

/// A path-like token: no spaces, and a `.` or `/` in it.
fn path_token(s: &str) -> Option<String> {
    static R: OnceLock<Regex> = OnceLock::new();
    let cleaned = s
        .trim()
        .trim_start_matches(['#', '*', '>', '-'])
        .trim()
        .trim_start_matches("File:")
        .trim_start_matches("file:")
        .trim_start_matches("Path:")
        .trim_start_matches("path:")
        .trim()
        .trim_matches(['`', '*', '"', '\''])
        .trim_end_matches(':')
        .trim_matches(['`', '*', '"', '\'']);
    (re(&R, r"^[\w./\\-]+$").is_match(cleaned) && (cleaned.contains('.') || cleaned.contains('/')))
        .then(|| cleaned.to_string())
}

/// The path on a fence line (```` ```python pkg/x.py ```` or ```` ```pkg/x.py ````), if any;
/// `Some(None)` for a fence without one, `None` for a non-fence line.
fn fence_path(line: &str) -> Option<Option<String>> {
    let rest = line.trim().strip_prefix("```")?;
    let path = rest.split_whitespace().rev().find_map(|t| {
        let t = t.trim_matches('`');
        if t.contains('/') || t.contains('.') {
            path_token(t)
        } else {
            None
        }
    });
    Some(path)
}

/// Look back from the SEARCH marker at `idx` for the block's path.
fn path_before(lines: &[&str], idx: usize) -> Option<String> {
    let mut i = idx;
    let mut looked = 0;
    while i > 0 && looked < 4 {
        i -= 1;
        let line = lines[i];
        if line.trim().is_empty() {
            continue;
        }
        looked += 1;
        if is_replace_marker(line) || is_divider(line) || is_search_marker(line) {
            return None;
        }
        match fence_path(line) {
            Some(Some(path)) => return Some(path),
            Some(None) => continue,
            None => return path_token(line),
        }
    }
    None
}

fn join_lines(lines: &[&str]) -> String {
    lines
        .iter()
        .map(|l| format!("{}\n", l.trim_end_matches('\r')))
        .collect()
}

/// Parse every SEARCH/REPLACE block of `text`.
pub fn parse_edits(text: &str) -> Result<Vec<EditBlock>, ParseError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks: Vec<EditBlock> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !is_search_marker(lines[i]) {
            i += 1;
            continue;
        }
        let number = blocks.len() + 1;
        let line = i + 1;
        let path = path_before(&lines, i)
            .or_else(|| blocks.last().map(|b| b.path.clone()))
            .ok_or(ParseError::MissingPath {
                block: number,
                line,
            })?;
        let search_start = i + 1;
        let mut j = search_start;
        while j < lines.len() && !is_divider(lines[j]) {
            if is_search_marker(lines[j]) || is_replace_marker(lines[j]) {
                return Err(ParseError::MissingDivider {
                    block: number,
                    line,
                });
            }
            j += 1;
        }
        if j >= lines.len() {
            return Err(ParseError::MissingDivider {
                block: number,
                line,
            });
        }
        let divider = j;
        let mut k = divider + 1;
        while k < lines.len() && !is_replace_marker(lines[k]) {
            if is_search_marker(lines[k]) || is_divider(lines[k]) {
                return Err(ParseError::MissingEnd {
                    block: number,
                    line,
                });
            }
            k += 1;
        }
        if k >= lines.len() {
            return Err(ParseError::MissingEnd {
                block: number,
                line,
            });
        }
        blocks.push(EditBlock {
            path,
            search: join_lines(&lines[search_start..divider]),
            replace: join_lines(&lines[divider + 1..k]),
            number,
            line,
        });
        i = k + 1;
    }
    if blocks.is_empty() {
        return Err(ParseError::NoBlocks);
    }
    tracing::debug!(blocks = blocks.len(), "parsed edit blocks");
    Ok(blocks)
}

/// How a block's SEARCH text was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    Exact,
    /// Equal once trailing whitespace is ignored.
    IgnoringTrailingWhitespace,
    /// Equal up to a uniform indentation shift; the replacement was re-indented.
    Reindented,
    /// An empty SEARCH created (or filled an empty) file.
    NewFile,
}

/// The lines of a file nearest to a SEARCH text that matched nowhere.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Closest {
    /// 1-based line of `lines[0]`.
    pub start_line: usize,
    pub lines: Vec<String>,
    /// 0..1 similarity to the SEARCH text.
    pub similarity: f32,
}

fn no_match_message(block: usize, path: &str, closest: &Option<Closest>) -> String {
    let mut msg = format!(
        "block {block}: the SEARCH text does not match any lines of {path}; SEARCH must repeat lines of the file exactly"
    );
    if let Some(c) = closest {
        msg.push_str(&format!(
            ". The closest lines ({:.0}% similar) are {path} lines {}-{}:\n",
            c.similarity * 100.0,
            c.start_line,
            c.start_line + c.lines.len().saturating_sub(1)
        ));
        for (i, l) in c.lines.iter().enumerate() {
            msg.push_str(&format!("{:>5}| {l}\n", c.start_line + i));
        }
        msg.push_str("Copy the lines to change from the file as shown (without the line numbers)");
    }
    msg
}

/// Why one block (or the edited result) was rejected; the message is meant for the model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EditError {
    #[error("block {block}: path `{path}` {reason}; use a path relative to the repository root, like `pkg/module.py`")]
    UnsafePath {
        block: usize,
        path: String,
        reason: String,
    },
    #[error("block {block}: {path} does not exist; to create it use an empty SEARCH part, otherwise check the path")]
    FileNotFound { block: usize, path: String },
    #[error("block {block}: SEARCH is empty but {path} already exists and is not empty; quote the exact lines to replace")]
    EmptySearchOnExistingFile { block: usize, path: String },
    #[error("{}", no_match_message(*block, path, closest))]
    NoMatch {
        block: usize,
        path: String,
        closest: Option<Closest>,
    },
    #[error(
        "block {block}: the SEARCH text matches {path} in {} places (lines {}); include more surrounding lines so it matches once",
        lines.len(),
        lines.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(", ")
    )]
    MultipleMatches {
        block: usize,
        path: String,
        lines: Vec<usize>,
    },
    #[error(
        "{path} has syntax errors after the edit:\n{}",
        format_issues(path, issues)
    )]
    Syntax {
        path: String,
        issues: Vec<SyntaxIssue>,
    },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}

/// One applied block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub block: usize,
    pub path: String,
    pub kind: MatchKind,
    /// 1-based first line replaced (1 for new files).
    pub line: usize,
}

/// The result of applying blocks: new contents of every file a block changed, what applied,
/// and every error (failed blocks, then syntax errors in edited Python files).
#[derive(Debug, Clone, Default)]
pub struct EditOutcome {
    /// Path → new content, for each file changed by at least one applied block.
    pub files: BTreeMap<String, String>,
    /// Files that did not exist before.
    pub created: Vec<String>,
    pub applied: Vec<Applied>,
    pub errors: Vec<EditError>,
    /// Files written to disk ([`apply_edits_to_dir`] only).
    pub written: Vec<String>,
    /// Paths a block named that did not exist, and the one existing file they were taken to
    /// mean (same trailing path, unique in the worktree; [`apply_edits_to_dir`] only).
    pub remapped: Vec<(String, String)>,
}

impl EditOutcome {
    /// True when every block applied and every edited Python file parses.
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }

    /// All error messages, one paragraph each, for re-prompting the model.
    pub fn error_report(&self) -> String {
        self.errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n\n")
    }
}

/// Validate and normalize a repository-relative path: no absolute paths, no `..`, nothing in
/// `.git`; `\` becomes `/` and `./` is dropped.
pub fn normalize_rel_path(path: &str) -> Result<String, String> {
    let p = path.trim().replace('\\', "/");
    if p.is_empty() {
        return Err("is empty".into());
    }
    if p.chars().any(|c| c.is_control()) {
        return Err("contains control characters".into());
    }
    let bytes = p.as_bytes();
    if p.starts_with('/')
        || (bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':')
    {
        return Err("is absolute".into());
    }
    let mut parts = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err("leaves the repository (`..`)".into()),
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return Err("names no file".into());
    }
    if parts[0] == ".git" {
        return Err("is inside .git".into());
    }
    Ok(parts.join("/"))
}

/// Join a normalized relative path to `root`, refusing paths that resolve outside `root`
/// through symlinks (checked on the deepest part that exists).
pub fn safe_join(root: &Path, rel: &str) -> Result<PathBuf, String> {
    let rel = normalize_rel_path(rel)?;
    let root_canon = root
        .canonicalize()
        .map_err(|e| format!("cannot resolve the repository root: {e}"))?;
    let full = root_canon.join(&rel);
    let mut existing = full.as_path();
    while existing.symlink_metadata().is_err() {
        match existing.parent() {
            Some(parent) => existing = parent,
            None => break,
        }
    }
    let resolved = existing
        .canonicalize()
        .map_err(|e| format!("cannot be resolved: {e}"))?;
    if !resolved.starts_with(&root_canon) {
        return Err("resolves outside the repository through a symlink".into());
    }
    if full.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err("leaves the repository (`..`)".into());
    }
    Ok(full)
}

struct FileLines<'a> {
    lines: Vec<&'a str>,
    eol: &'static str,
    final_newline: bool,
}

impl<'a> FileLines<'a> {
    fn new(content: &'a str) -> Self {
        let eol = if content.contains("\r\n") {
            "\r\n"
        } else {
            "\n"
        };
        let lines = content.lines().collect();
        FileLines {
            lines,
            eol,
            final_newline: content.is_empty() || content.ends_with('\n'),
        }
    }
}

fn leading_ws(s: &str) -> &str {
    &s[..s.len() - s.trim_start().len()]
}

/// Every start index where `pred(file_line, search_line)` holds for the whole window.
fn find_all(file: &[&str], search: &[&str], pred: impl Fn(&str, &str) -> bool) -> Vec<usize> {
    if search.is_empty() || search.len() > file.len() {
        return Vec::new();
    }
    (0..=file.len() - search.len())
        .filter(|&i| search.iter().enumerate().all(|(k, s)| pred(file[i + k], s)))
        .collect()
}

/// Matches up to a uniform indentation shift: returns (start, file_indent, search_indent).
fn find_reindented(file: &[&str], search: &[&str]) -> Vec<(usize, String, String)> {
    let Some(first) = search.iter().position(|l| !l.trim().is_empty()) else {
        return Vec::new();
    };
    if search.len() > file.len() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for i in 0..=file.len() - search.len() {
        let f0 = file[i + first];
        let s0 = search[first];
        if f0.trim() != s0.trim() {
            continue;
        }
        let (fi, si) = (leading_ws(f0), leading_ws(s0));
        let ok = search.iter().enumerate().all(|(k, s)| {
            let f = file[i + k];
            if s.trim().is_empty() {
                return f.trim().is_empty();
            }
            match (f.trim_end().strip_prefix(fi), s.trim_end().strip_prefix(si)) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            }
        });
        if ok {
            out.push((i, fi.to_string(), si.to_string()));
        }
    }
    out
}

fn reindent(line: &str, file_indent: &str, search_indent: &str) -> String {
    if line.trim().is_empty() {
        return String::new();
    }
    if let Some(rest) = line.strip_prefix(search_indent) {
        return format!("{file_indent}{rest}");
    }
    // Less indented than the SEARCH text's first line.
    if let Some(extra) = file_indent.strip_suffix(search_indent) {
        return format!("{extra}{line}");
    }
    format!("{file_indent}{}", line.trim_start())
}

fn similarity(a: &str, b: &str) -> f32 {
    let (a, b) = (a.trim(), b.trim());
    if a == b {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    similar::TextDiff::from_chars(a, b).ratio()
}

/// The window of the file most similar to the SEARCH lines (line by line, by characters).
pub fn closest_lines(content: &str, search: &str) -> Option<Closest> {
    let file: Vec<&str> = content.lines().collect();
    let search: Vec<&str> = search.lines().collect();
    let first = search.iter().position(|l| !l.trim().is_empty())?;
    let last = search.iter().rposition(|l| !l.trim().is_empty())?;
    let search = &search[first..=last];
    if file.is_empty() {
        return None;
    }
    let n = search.len().min(file.len());
    let search_trimmed: Vec<&str> = search.iter().map(|s| s.trim()).collect();
    let mut best: Option<(usize, f32)> = None;
    for start in 0..=file.len() - n {
        // Upper bound from lengths alone, to skip hopeless windows cheaply.
        let bound: f32 = (0..n)
            .map(|k| {
                let (a, b) = (
                    file[start + k].trim().len() as f32,
                    search_trimmed[k].len() as f32,
                );
                if a + b == 0.0 {
                    1.0
                } else {
                    2.0 * a.min(b) / (a + b)
                }
            })
            .sum::<f32>()
            / search.len() as f32;
        if best.is_some_and(|(_, s)| bound <= s) {
            continue;
        }
        let score = (0..n)
            .map(|k| similarity(file[start + k], search_trimmed[k]))
            .sum::<f32>()
            / search.len() as f32;
        if best.is_none_or(|(_, s)| score > s) {
            best = Some((start, score));
        }
    }
    let (start, score) = best?;
    (score > 0.0).then(|| Closest {
        start_line: start + 1,
        lines: file[start..start + n]
            .iter()
            .take(40)
            .map(|l| l.to_string())
            .collect(),
        similarity: score,
    })
}

/// Apply one block to a file's content (`None`: the file does not exist). Returns the new
/// content, how the SEARCH text matched and the 1-based first line replaced.
pub fn apply_block(
    content: Option<&str>,
    block: &EditBlock,
    path: &str,
) -> Result<(String, MatchKind, usize), EditError> {
    let result = apply_block_as_written(content, block, path);
    if let Err(EditError::NoMatch { .. }) = &result {
        // A model may copy `NNNN| ` line-number prefixes from a numbered listing.
        if let Some(search) = strip_line_numbers(&block.search, true) {
            let replace =
                strip_line_numbers(&block.replace, false).unwrap_or_else(|| block.replace.clone());
            let cleaned = EditBlock {
                search,
                replace,
                ..block.clone()
            };
            if let Ok(ok) = apply_block_as_written(content, &cleaned, path) {
                return Ok(ok);
            }
        }
    }
    result
}

/// `text` without `NNNN| ` prefixes ([`super::map::source_of`] style). With `all`, every
/// non-blank line must carry one (else `None`); otherwise only prefixed lines are changed.
fn strip_line_numbers(text: &str, all: bool) -> Option<String> {
    static R: OnceLock<Regex> = OnceLock::new();
    let prefix = re(&R, r"^\s*\d+ ?\| ?");
    let mut any = false;
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        match prefix.find(line) {
            Some(m) => {
                any = true;
                out.push_str(&line[m.end()..]);
            }
            None if all && !line.trim().is_empty() => return None,
            None => out.push_str(line),
        }
        out.push('\n');
    }
    any.then_some(out)
}

fn apply_block_as_written(
    content: Option<&str>,
    block: &EditBlock,
    path: &str,
) -> Result<(String, MatchKind, usize), EditError> {
    let number = block.number;
    if block.search.trim().is_empty() {
        return match content {
            Some(c) if !c.trim().is_empty() => Err(EditError::EmptySearchOnExistingFile {
                block: number,
                path: path.to_string(),
            }),
            _ => Ok((block.replace.clone(), MatchKind::NewFile, 1)),
        };
    }
    let Some(content) = content else {
        return Err(EditError::FileNotFound {
            block: number,
            path: path.to_string(),
        });
    };
    let file = FileLines::new(content);
    let search_all: Vec<&str> = block.search.lines().collect();
    let replace_all: Vec<&str> = block.replace.lines().collect();

    // SEARCH with blank edge lines trimmed is tried second.
    let first = search_all
        .iter()
        .position(|l| !l.trim().is_empty())
        .unwrap_or(0);
    let last = search_all
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .map(|l| l + 1)
        .unwrap_or(search_all.len());
    let variants: Vec<&[&str]> = if first == 0 && last == search_all.len() {
        vec![&search_all]
    } else {
        vec![&search_all, &search_all[first..last]]
    };

    let multiple = |starts: Vec<usize>| EditError::MultipleMatches {
        block: number,
        path: path.to_string(),
        lines: starts.into_iter().map(|s| s + 1).collect(),
    };
    for search in &variants {
        for (kind, exact) in [
            (MatchKind::Exact, true),
            (MatchKind::IgnoringTrailingWhitespace, false),
        ] {
            let starts = if exact {
                find_all(&file.lines, search, |f, s| f == s)
            } else {
                find_all(&file.lines, search, |f, s| f.trim_end() == s.trim_end())
            };
            match starts.len() {
                0 => {}
                1 => {
                    let replacement: Vec<String> =
                        replace_all.iter().map(|l| l.to_string()).collect();
                    return Ok((
                        splice(&file, starts[0], search.len(), &replacement),
                        kind,
                        starts[0] + 1,
                    ));
                }
                _ => return Err(multiple(starts)),
            }
        }
    }
    for search in &variants {
        let found = find_reindented(&file.lines, search);
        match found.len() {
            0 => {}
            1 => {
                let (start, fi, si) = &found[0];
                let replacement: Vec<String> =
                    replace_all.iter().map(|l| reindent(l, fi, si)).collect();
                return Ok((
                    splice(&file, *start, search.len(), &replacement),
                    MatchKind::Reindented,
                    start + 1,
                ));
            }
            _ => return Err(multiple(found.into_iter().map(|f| f.0).collect())),
        }
    }
    Err(EditError::NoMatch {
        block: number,
        path: path.to_string(),
        closest: closest_lines(content, &block.search),
    })
}

fn splice(file: &FileLines<'_>, start: usize, len: usize, replacement: &[String]) -> String {
    let mut out: Vec<String> = file.lines[..start].iter().map(|l| l.to_string()).collect();
    out.extend(
        replacement
            .iter()
            .map(|l| l.trim_end_matches('\r').to_string()),
    );
    out.extend(file.lines[start + len..].iter().map(|l| l.to_string()));
    let mut text = out.join(file.eol);
    // Keep the file's final-newline convention.
    if !out.is_empty() && file.final_newline {
        text.push_str(file.eol);
    }
    text
}

/// Apply `blocks` in order to `files` (path → content; a missing path is a missing file).
/// Blocks that fail are skipped and reported; later blocks see earlier blocks' results.
pub fn apply_edits(files: &BTreeMap<String, String>, blocks: &[EditBlock]) -> EditOutcome {
    let mut outcome = EditOutcome::default();
    let mut current: BTreeMap<String, Option<String>> = BTreeMap::new();
    for block in blocks {
        let path = match normalize_rel_path(&block.path) {
            Ok(p) => p,
            Err(reason) => {
                outcome.errors.push(EditError::UnsafePath {
                    block: block.number,
                    path: block.path.clone(),
                    reason,
                });
                continue;
            }
        };
        let content = current
            .entry(path.clone())
            .or_insert_with(|| files.get(&path).cloned());
        match apply_block(content.as_deref(), block, &path) {
            Ok((new, kind, line)) => {
                if kind == MatchKind::NewFile
                    && !files.contains_key(&path)
                    && !outcome.created.contains(&path)
                {
                    outcome.created.push(path.clone());
                }
                *content = Some(new.clone());
                outcome.files.insert(path.clone(), new);
                outcome.applied.push(Applied {
                    block: block.number,
                    path,
                    kind,
                    line,
                });
            }
            Err(e) => outcome.errors.push(e),
        }
    }
    for (path, new) in &outcome.files {
        if !path.ends_with(".py") {
            continue;
        }
        let issues = check_python(new);
        let was_clean = files
            .get(path)
            .is_none_or(|old| check_python(old).is_empty());
        if !issues.is_empty() && was_clean {
            outcome.errors.push(EditError::Syntax {
                path: path.clone(),
                issues,
            });
        }
    }
    tracing::debug!(
        applied = outcome.applied.len(),
        errors = outcome.errors.len(),
        "edits applied in memory"
    );
    outcome
}

/// The one file of `files` that `rel` denotes when it has a directory too many or too few.
fn unique_suffix_match(files: &[String], rel: &str) -> Option<String> {
    let candidates: Vec<&String> = files
        .iter()
        .filter(|f| f.ends_with(&format!("/{rel}")) || rel.ends_with(&format!("/{f}")))
        .collect();
    match candidates.as_slice() {
        [one] => Some((*one).clone()),
        _ => None,
    }
}

/// What [`apply_edits_to_dir`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritePolicy {
    /// Write nothing unless every block applied and every edited Python file parses.
    AllOrNothing,
    /// Write every file that at least one block changed, even with errors elsewhere.
    Partial,
    /// Write nothing: the outcome's `files` are the new contents (a candidate as a value).
    Nothing,
}

/// Apply `blocks` to the files under `root` (a worktree) and write the results per `policy`.
/// Paths must stay inside `root`: absolute paths, `..`, `.git` and symlinks leading outside are
/// rejected per block. Errors writing files are returned in the outcome as [`EditError::Io`].
pub fn apply_edits_to_dir(root: &Path, blocks: &[EditBlock], policy: WritePolicy) -> EditOutcome {
    let mut files = BTreeMap::new();
    let mut early_errors = Vec::new();
    let mut safe_blocks = Vec::new();
    let mut remapped = Vec::new();
    let mut listing: Option<Vec<String>> = None;
    for block in blocks {
        let mut block = block.clone();
        match safe_join(root, &block.path) {
            Ok(mut full) => {
                let mut rel =
                    normalize_rel_path(&block.path).unwrap_or_else(|_| block.path.clone());
                if !full.exists() && !block.search.trim().is_empty() {
                    let all = listing
                        .get_or_insert_with(|| super::junk::list_files(root).unwrap_or_default());
                    if let Some(found) = unique_suffix_match(all, &rel) {
                        tracing::info!(given = %rel, used = %found, "edit path taken to mean an existing file");
                        remapped.push((rel.clone(), found.clone()));
                        full = root.join(&found);
                        rel = found;
                        block.path = rel.clone();
                    }
                }
                if full.is_file() && !files.contains_key(&rel) {
                    match std::fs::read(&full) {
                        Ok(bytes) => match String::from_utf8(bytes) {
                            Ok(text) => {
                                files.insert(rel, text);
                            }
                            Err(_) => {
                                early_errors.push(EditError::Io {
                                    path: rel,
                                    message: "is not UTF-8 text; it cannot be edited".into(),
                                });
                                continue;
                            }
                        },
                        Err(e) => {
                            early_errors.push(EditError::Io {
                                path: rel,
                                message: e.to_string(),
                            });
                            continue;
                        }
                    }
                } else if full.is_dir() {
                    early_errors.push(EditError::Io {
                        path: rel,
                        message: "is a directory, not a file".into(),
                    });
                    continue;
                }
                safe_blocks.push(block);
            }
            Err(reason) => early_errors.push(EditError::UnsafePath {
                block: block.number,
                path: block.path.clone(),
                reason,
            }),
        }
    }
    let mut outcome = apply_edits(&files, &safe_blocks);
    outcome.remapped = remapped;
    early_errors.append(&mut outcome.errors);
    outcome.errors = early_errors;
    if policy == WritePolicy::Nothing
        || (policy == WritePolicy::AllOrNothing && !outcome.is_clean())
    {
        return outcome;
    }
    let mut write_errors = Vec::new();
    for (rel, text) in &outcome.files {
        let full = root.join(rel);
        let result = full
            .parent()
            .map(std::fs::create_dir_all)
            .unwrap_or(Ok(()))
            .and_then(|_| std::fs::write(&full, text));
        match result {
            Ok(()) => outcome.written.push(rel.clone()),
            Err(e) => write_errors.push(EditError::Io {
                path: rel.clone(),
                message: e.to_string(),
            }),
        }
    }
    outcome.errors.extend(write_errors);
    tracing::info!(root = %root.display(), written = outcome.written.len(), errors = outcome.errors.len(), "edits applied");
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect()
    }

    fn block(path: &str, search: &str, replace: &str) -> EditBlock {
        EditBlock {
            path: path.into(),
            search: search.into(),
            replace: replace.into(),
            number: 1,
            line: 1,
        }
    }

    const SRC: &str = "def area(w, h):\n    return w * h\n\n\nclass Box:\n    def volume(self):\n        return self.w * self.h\n";

    #[test]
    fn parses_plain_fenced_and_fence_line_paths() {
        let text = "Here is the fix.\n\npkg/geo.py\n```python\n<<<<<<< SEARCH\n    return w * h\n=======\n    return w * h * 1\n>>>>>>> REPLACE\n```\n\n```python pkg/other.py\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n```\n`pkg/third.py`:\n<<<<<<< SEARCH\n=======\nx = 1\n>>>>>>> REPLACE\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n";
        let blocks = parse_edits(text).unwrap();
        let paths: Vec<&str> = blocks.iter().map(|b| b.path.as_str()).collect();
        assert_eq!(
            paths,
            ["pkg/geo.py", "pkg/other.py", "pkg/third.py", "pkg/third.py"]
        );
        assert_eq!(blocks[0].search, "    return w * h\n");
        assert_eq!(blocks[0].replace, "    return w * h * 1\n");
        assert_eq!(blocks[0].line, 5);
        assert_eq!(blocks[2].search, "");
        assert_eq!(blocks[3].number, 4);
    }

    #[test]
    fn parse_errors_are_precise() {
        assert_eq!(parse_edits("just prose"), Err(ParseError::NoBlocks));
        assert_eq!(
            parse_edits("<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n"),
            Err(ParseError::MissingPath { block: 1, line: 1 })
        );
        assert_eq!(
            parse_edits("x.py\n<<<<<<< SEARCH\na\n"),
            Err(ParseError::MissingDivider { block: 1, line: 2 })
        );
        assert_eq!(
            parse_edits("x.py\n<<<<<<< SEARCH\na\n=======\nb\n"),
            Err(ParseError::MissingEnd { block: 1, line: 2 })
        );
        assert!(ParseError::NoBlocks.to_string().contains(">>>>>>> REPLACE"));
    }

    #[test]
    fn exact_edit() {
        let out = apply_edits(
            &files(&[("geo.py", SRC)]),
            &[block(
                "geo.py",
                "    return w * h\n",
                "    return abs(w * h)\n",
            )],
        );
        assert!(out.is_clean(), "{}", out.error_report());
        assert_eq!(out.applied[0].kind, MatchKind::Exact);
        assert_eq!(out.applied[0].line, 2);
        assert_eq!(
            out.files["geo.py"],
            SRC.replace("return w * h\n", "return abs(w * h)\n")
        );
    }

    #[test]
    fn trailing_whitespace_is_tolerated() {
        let out = apply_edits(
            &files(&[("geo.py", SRC)]),
            &[block(
                "geo.py",
                "def area(w, h):   \n    return w * h\t\n",
                "def area(w, h):\n    return 0\n",
            )],
        );
        assert!(out.is_clean(), "{}", out.error_report());
        assert_eq!(out.applied[0].kind, MatchKind::IgnoringTrailingWhitespace);
        assert!(out.files["geo.py"].starts_with("def area(w, h):\n    return 0\n\n\nclass Box:"));
    }

    #[test]
    fn indentation_shift_reindents_the_replacement() {
        // The model dropped the class indentation.
        let search = "def volume(self):\n    return self.w * self.h\n";
        let replace = "def volume(self):\n    if self.w < 0:\n        raise ValueError('w')\n    return self.w * self.h\n";
        let out = apply_edits(
            &files(&[("geo.py", SRC)]),
            &[block("geo.py", search, replace)],
        );
        assert!(out.is_clean(), "{}", out.error_report());
        assert_eq!(out.applied[0].kind, MatchKind::Reindented);
        assert!(out.files["geo.py"].ends_with(
            "class Box:\n    def volume(self):\n        if self.w < 0:\n            raise ValueError('w')\n        return self.w * self.h\n"
        ), "{}", out.files["geo.py"]);
    }

    #[test]
    fn blank_edge_lines_in_search_are_tolerated() {
        let out = apply_edits(
            &files(&[("geo.py", SRC)]),
            &[block(
                "geo.py",
                "\n        return self.w * self.h\n\n",
                "        return 0\n",
            )],
        );
        assert!(out.is_clean(), "{}", out.error_report());
        assert!(out.files["geo.py"].ends_with("    def volume(self):\n        return 0\n"));
    }

    #[test]
    fn no_match_reports_the_closest_lines() {
        let out = apply_edits(
            &files(&[("geo.py", SRC)]),
            &[block(
                "geo.py",
                "def volume(self):\n    return self.width * self.h\n",
                "x\n",
            )],
        );
        assert!(out.files.is_empty());
        let EditError::NoMatch {
            closest: Some(c), ..
        } = &out.errors[0]
        else {
            panic!("{:?}", out.errors)
        };
        assert_eq!(c.start_line, 6);
        assert_eq!(
            c.lines,
            ["    def volume(self):", "        return self.w * self.h"]
        );
        let msg = out.errors[0].to_string();
        assert!(
            msg.contains("geo.py lines 6-7") && msg.contains("    6|     def volume(self):"),
            "{msg}"
        );
    }

    #[test]
    fn copied_line_numbers_are_tolerated() {
        let search = "   6|     def volume(self):\n   7|         return self.w * self.h\n";
        let replace = "   6|     def volume(self):\n   7|         return 0\n";
        let out = apply_edits(
            &files(&[("geo.py", SRC)]),
            &[block("geo.py", search, replace)],
        );
        assert!(out.is_clean(), "{}", out.error_report());
        assert!(
            out.files["geo.py"].ends_with("    def volume(self):\n        return 0\n"),
            "{}",
            out.files["geo.py"]
        );
    }

    #[test]
    fn multiple_matches_are_listed() {
        let src = "x = 1\ny = 2\nx = 1\n";
        let out = apply_edits(
            &files(&[("a.py", src)]),
            &[block("a.py", "x = 1\n", "x = 3\n")],
        );
        assert_eq!(
            out.errors,
            [EditError::MultipleMatches {
                block: 1,
                path: "a.py".into(),
                lines: vec![1, 3]
            }]
        );
        assert!(out.errors[0].to_string().contains("lines 1, 3"));
    }

    #[test]
    fn empty_search_creates_a_file_but_not_over_an_existing_one() {
        let out = apply_edits(
            &files(&[]),
            &[block("pkg/new.py", "", "def f():\n    return 1\n")],
        );
        assert!(out.is_clean());
        assert_eq!(out.created, ["pkg/new.py"]);
        assert_eq!(out.files["pkg/new.py"], "def f():\n    return 1\n");
        let out = apply_edits(
            &files(&[("geo.py", SRC)]),
            &[block("geo.py", "", "x = 1\n")],
        );
        assert!(matches!(
            out.errors[0],
            EditError::EmptySearchOnExistingFile { .. }
        ));
        let out = apply_edits(&files(&[]), &[block("missing.py", "a\n", "b\n")]);
        assert!(matches!(out.errors[0], EditError::FileNotFound { .. }));
    }

    #[test]
    fn escaping_paths_are_rejected() {
        for bad in [
            "../x.py",
            "/etc/passwd",
            "a/../../x.py",
            ".git/config",
            "C:\\x.py",
        ] {
            let out = apply_edits(&files(&[]), &[block(bad, "", "x\n")]);
            assert!(
                matches!(out.errors[0], EditError::UnsafePath { .. }),
                "{bad}: {:?}",
                out.errors
            );
            assert!(out.files.is_empty());
        }
        assert_eq!(normalize_rel_path("./pkg//a.py").unwrap(), "pkg/a.py");
    }

    #[test]
    fn syntax_errors_after_an_edit_are_reported_with_location() {
        let out = apply_edits(
            &files(&[("geo.py", SRC)]),
            &[block("geo.py", "def area(w, h):\n", "def area(w, h)\n")],
        );
        assert_eq!(out.applied.len(), 1);
        let EditError::Syntax { path, issues } = &out.errors[0] else {
            panic!("{:?}", out.errors)
        };
        assert_eq!(path, "geo.py");
        assert_eq!(issues[0].line, 1);
        assert!(
            out.errors[0].to_string().contains("geo.py:1:"),
            "{}",
            out.errors[0]
        );
    }

    #[test]
    fn later_blocks_see_earlier_results_and_crlf_is_kept() {
        let src = "a = 1\r\nb = 2\r\n";
        let blocks = [
            block("c.py", "a = 1\n", "a = 10\n"),
            EditBlock {
                number: 2,
                ..block("c.py", "a = 10\n", "a = 100\n")
            },
        ];
        let out = apply_edits(&files(&[("c.py", src)]), &blocks);
        assert!(out.is_clean(), "{}", out.error_report());
        assert_eq!(out.files["c.py"], "a = 100\r\nb = 2\r\n");
    }

    #[test]
    fn no_final_newline_is_preserved() {
        let out = apply_edits(
            &files(&[("d.py", "a = 1\nb = 2")]),
            &[block("d.py", "a = 1\n", "a = 3\n")],
        );
        assert_eq!(out.files["d.py"], "a = 3\nb = 2");
    }

    #[test]
    fn dir_application_writes_and_guards_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("geo.py"), SRC).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        let blocks = parse_edits("geo.py\n<<<<<<< SEARCH\n    return w * h\n=======\n    return w * h + 0\n>>>>>>> REPLACE\n\nnew/mod.py\n<<<<<<< SEARCH\n=======\nX = 1\n>>>>>>> REPLACE\n").unwrap();
        let out = apply_edits_to_dir(dir.path(), &blocks, WritePolicy::AllOrNothing);
        assert!(out.is_clean(), "{}", out.error_report());
        assert_eq!(out.written, ["geo.py", "new/mod.py"]);
        assert!(std::fs::read_to_string(dir.path().join("geo.py"))
            .unwrap()
            .contains("w * h + 0"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("new/mod.py")).unwrap(),
            "X = 1\n"
        );

        #[cfg(unix)]
        {
            let blocks = [block("link/evil.py", "", "x = 1\n")];
            let out = apply_edits_to_dir(dir.path(), &blocks, WritePolicy::Partial);
            assert!(
                matches!(out.errors[0], EditError::UnsafePath { .. }),
                "{:?}",
                out.errors
            );
            assert!(!outside.path().join("evil.py").exists());
        }

        // A path with a directory missing is taken to mean the one file it can denote.
        std::fs::create_dir_all(dir.path().join("pkg")).unwrap();
        std::fs::write(dir.path().join("pkg/util.py"), "u = 1\n").unwrap();
        let out = apply_edits_to_dir(
            dir.path(),
            &[block("util.py", "u = 1\n", "u = 2\n")],
            WritePolicy::AllOrNothing,
        );
        assert!(out.is_clean(), "{}", out.error_report());
        assert_eq!(
            out.remapped,
            [("util.py".to_string(), "pkg/util.py".to_string())]
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("pkg/util.py")).unwrap(),
            "u = 2\n"
        );
        assert!(!dir.path().join("util.py").exists());

        // All-or-nothing writes nothing when one block fails.
        let blocks = [
            block("geo.py", "def area(w, h):\n", "def area(w, h, d):\n"),
            EditBlock {
                number: 2,
                ..block("geo.py", "nope\n", "x\n")
            },
        ];
        let out = apply_edits_to_dir(dir.path(), &blocks, WritePolicy::AllOrNothing);
        assert!(!out.is_clean() && out.written.is_empty());
        assert!(!std::fs::read_to_string(dir.path().join("geo.py"))
            .unwrap()
            .contains("h, d"));
        let out = apply_edits_to_dir(dir.path(), &blocks, WritePolicy::Partial);
        assert_eq!(out.written, ["geo.py"]);
        assert!(std::fs::read_to_string(dir.path().join("geo.py"))
            .unwrap()
            .contains("h, d"));
    }
}

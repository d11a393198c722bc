//! Error messages the issue shows, found as string literals in the repository: the message of
//! its traceback, `SomeError: message` lines anywhere in it (doctest output, pytest `E` lines)
//! and quoted (`> `) lines of its prose. A message that occurs in one or two non-test files
//! names the definition around it (the function that raises it).

use std::collections::HashSet;
use std::sync::OnceLock;

use regex::Regex;

use super::{Collector, Index, NameSource};
use crate::fix::issue::IssueText;
use crate::repo::map::FileMap;
use crate::repo::rank::is_test_path;

/// Shorter message fragments say too little to search for.
const MIN_FRAGMENT_CHARS: usize = 16;
/// At most this many messages are searched.
const MAX_MESSAGES: usize = 8;
/// A fragment found in more files than this is generic, not a name.
const MAX_FILES: usize = 2;

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("static regex"))
}

/// The messages the issue shows, most specific first (its traceback's, then exception lines,
/// then quotes), deduplicated.
fn messages(issue: &IssueText) -> Vec<String> {
    static EXC_LINE: OnceLock<Regex> = OnceLock::new();
    static QUOTE: OnceLock<Regex> = OnceLock::new();
    let exc_line = regex(
        &EXC_LINE,
        r"(?m)^(?:E\s+|\w+>\s*)?(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Warning): (.+)$",
    );
    let quote = regex(&QUOTE, r"^\s*>\s?([^>].*)$");
    let mut out: Vec<String> = Vec::new();
    if let Some(tb) = &issue.traceback {
        out.push(tb.message.clone());
    }
    for c in exc_line.captures_iter(&issue.text) {
        if let Some(m) = c.get(1) {
            out.push(m.as_str().to_string());
        }
    }
    for line in issue.prose_lines() {
        if let Some(m) = quote.captures(&line).and_then(|c| c.get(1)) {
            out.push(m.as_str().to_string());
        }
    }
    let mut seen = HashSet::new();
    out.retain(|m| !m.trim().is_empty() && seen.insert(m.trim().to_string()));
    out.truncate(MAX_MESSAGES);
    out
}

/// The literal runs of a message: split where formatted values usually go (quotes, braces,
/// backticks, angle brackets), each at least [`MIN_FRAGMENT_CHARS`] long.
fn fragments(message: &str) -> Vec<&str> {
    message
        .split(['\'', '"', '`', '{', '}', '<', '>', '%'])
        .map(str::trim)
        .filter(|f| f.chars().count() >= MIN_FRAGMENT_CHARS)
        .collect()
}

/// Where `needle` occurs inside a string literal (a quote before it on its line) of the
/// non-test files: (file, 1-based line).
fn occurrences<'a>(index: &Index<'a>, needle: &str) -> Vec<(&'a FileMap, usize)> {
    let mut out = Vec::new();
    for f in index.map.files.iter().filter(|f| !is_test_path(&f.path)) {
        for (pos, _) in f.source.match_indices(needle) {
            let line_start = f.source[..pos].rfind('\n').map_or(0, |p| p + 1);
            let before = &f.source[line_start..pos];
            if before.contains(['"', '\'']) {
                out.push((f, f.source[..pos].matches('\n').count() + 1));
            }
        }
    }
    out
}

/// The longest word prefix (at least [`MIN_FRAGMENT_CHARS`]) of `fragment` found in the
/// repository's string literals; values formatted into the message's tail are cut off.
fn find_fragment<'a>(index: &Index<'a>, fragment: &str) -> Vec<(&'a FileMap, usize)> {
    let words: Vec<&str> = fragment.split_whitespace().collect();
    for k in (1..=words.len()).rev() {
        let prefix = words[..k].join(" ");
        if prefix.chars().count() < MIN_FRAGMENT_CHARS {
            break;
        }
        let found = occurrences(index, &prefix);
        if !found.is_empty() {
            return found;
        }
    }
    Vec::new()
}

pub(super) fn from_messages(index: &Index<'_>, issue: &IssueText, out: &mut Collector) {
    for message in messages(issue) {
        for fragment in fragments(&message) {
            let found = find_fragment(index, fragment);
            let files: HashSet<&str> = found.iter().map(|(f, _)| f.path.as_str()).collect();
            if files.is_empty() || files.len() > MAX_FILES {
                continue;
            }
            for (file, line) in found {
                if let Some(sym) = file.innermost_at(line) {
                    out.push(file, sym, NameSource::Message, fragment);
                }
            }
        }
    }
}

//! What an issue's text states, parsed once: its code blocks (fenced and indented), its
//! interactive sessions (`>>>` doctest and IPython `In [1]:` prompts) as statements with the
//! output the issue shows after them, its traceback (frames, exception type and message), and
//! the expectations its prose states ("should raise ValueError", "should return []").
//!
//! Everything here is pure text processing: nothing runs. [`IssueText::script`] assembles the
//! issue's runnable Python for the reproduction stage to run at the base commit. Expectations
//! are conservative: a sentence describing the bug as observed ("it raises ValueError") is not
//! an expectation; only expected-behaviour wording is.

use std::sync::OnceLock;

use regex::Regex;
use serde::Serialize;

use crate::repo::rank::{extract_mentions, Frame};

/// One code block of the issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeBlock {
    /// The block's text, dedented, without fences.
    pub code: String,
    /// The fence's info string (first word, lower-cased); `None` for an unlabelled or indented
    /// block.
    pub lang: Option<String>,
    /// tree-sitter-python finds no syntax error in `code`.
    pub parses: bool,
}

/// One interactive statement and the output the issue shows right after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoctestStep {
    /// The statement without prompts (`>>> `, `... `, `In [1]: `, `...: `).
    pub source: String,
    /// The output shown after it (a traceback included; `Out[1]: ` removed); may be empty.
    pub shown: String,
}

/// The issue's (last) traceback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Traceback {
    /// Outermost first, as Python prints them.
    pub frames: Vec<Frame>,
    /// The exception type's last dotted component, e.g. `ValueError`; empty when the issue
    /// shows frames but cuts the traceback before its exception line.
    pub exception: String,
    /// The first line of the message after `Type: ` (may be empty).
    pub message: String,
}

/// A behaviour the issue's prose says is expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Expectation {
    /// The code should raise this exception type.
    Raises { exception: String },
    /// The code should not raise this exception type (the bug is that it does).
    NoException { exception: String },
    /// An expression (when stated) should evaluate to `value` (Python source as written).
    Value {
        expression: Option<String>,
        value: String,
    },
}

/// What an issue's text states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssueText {
    pub text: String,
    pub code_blocks: Vec<CodeBlock>,
    pub doctest: Vec<DoctestStep>,
    pub traceback: Option<Traceback>,
    pub expectations: Vec<Expectation>,
}

/// Fence languages whose blocks may be Python.
const PYTHON_LANGS: &[&str] = &[
    "python", "py", "python3", "py3", "pycon", "ipython", "ipython3", "pytb", "pyi",
];

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("static regex"))
}

/// Parse an issue's text.
pub fn parse(text: &str) -> IssueText {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let segments = segments(&text);
    let mut code_blocks = Vec::new();
    let mut doctest = Vec::new();
    for seg in &segments {
        doctest.extend(sessions(&seg.lines, seg.kind == SegmentKind::Prose));
        if let SegmentKind::Code { lang } = &seg.kind {
            let code = dedent(&seg.lines.join("\n"));
            let code = code.trim_matches('\n').to_string();
            if code.trim().is_empty() {
                continue;
            }
            let parses = crate::syntax::check_python(&code).is_empty();
            code_blocks.push(CodeBlock {
                code,
                lang: lang.clone(),
                parses,
            });
        }
    }
    let traceback = traceback(&text);
    let expectations = expect::expectations(&segments, traceback.as_ref());
    IssueText {
        text,
        code_blocks,
        doctest,
        traceback,
        expectations,
    }
}

impl CodeBlock {
    /// Whether the block is Python to run: it parses, is labelled Python or not at all, and is
    /// not a session (`>>>`, `In [1]:`), a traceback, a shell session or program output (a
    /// block of bare literals or names).
    pub fn is_script(&self) -> bool {
        if !self.parses {
            return false;
        }
        if let Some(lang) = &self.lang {
            if !PYTHON_LANGS.contains(&lang.as_str()) || lang == "pytb" {
                return false;
            }
        }
        let first = self.code.trim_start();
        if self.code.contains("Traceback (most recent call last)")
            || first.starts_with("$ ")
            || first.starts_with(">>>")
            || is_ipython_prompt(first)
        {
            return false;
        }
        has_code_statement(&self.code)
    }
}

impl IssueText {
    /// Runnable Python of the issue: the code blocks that parse as Python and are not
    /// tracebacks, program output or shell sessions ([`CodeBlock::is_script`]), then the
    /// session statements in order (their shown outputs left out). `None` when nothing is
    /// runnable.
    pub fn script(&self) -> Option<String> {
        let mut parts: Vec<String> = self
            .code_blocks
            .iter()
            .filter(|b| b.is_script())
            .map(|b| b.code.trim_end().to_string())
            .collect();
        let steps: Vec<&str> = self
            .doctest
            .iter()
            .map(|s| s.source.as_str())
            .filter(|s| !s.trim().is_empty() && crate::syntax::check_python(s).is_empty())
            .collect();
        if !steps.is_empty() {
            parts.push(steps.join("\n"));
        }
        if parts.is_empty() {
            None
        } else {
            Some(format!("{}\n", parts.join("\n\n")))
        }
    }

    /// Exception types named by [`Expectation::Raises`].
    pub fn expected_raises(&self) -> Vec<&str> {
        self.expectations
            .iter()
            .filter_map(|e| match e {
                Expectation::Raises { exception } => Some(exception.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The prose of the issue: its text with code blocks removed, one string per line.
    pub fn prose_lines(&self) -> Vec<String> {
        segments(&self.text)
            .into_iter()
            .filter(|s| s.kind == SegmentKind::Prose)
            .flat_map(|s| s.lines.into_iter().map(str::to_string))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum SegmentKind {
    Prose,
    /// A fenced block (with its language) or an indented block (`None`).
    Code {
        lang: Option<String>,
    },
}

#[derive(Debug, Clone)]
struct Segment<'a> {
    kind: SegmentKind,
    lines: Vec<&'a str>,
}

/// Split markdown into prose and code segments: fenced blocks (``` or ~~~, any indentation,
/// unclosed ones run to the end) and indented blocks (4+ spaces after a blank line).
fn segments(text: &str) -> Vec<Segment<'_>> {
    static FENCE: OnceLock<Regex> = OnceLock::new();
    let fence_re = regex(&FENCE, r"^(\s*)(`{3,}|~{3,})\s*([^`\s]*)");
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out: Vec<Segment<'_>> = Vec::new();
    let mut prose: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(c) = fence_re.captures(line) {
            let indent = c.get(1).map_or(0, |m| m.as_str().len());
            let fence = c.get(2).map_or("```", |m| m.as_str());
            let lang = c
                .get(3)
                .map(|m| m.as_str().trim_start_matches('{').to_lowercase())
                .filter(|l| !l.is_empty());
            let fence_char = fence.chars().next().unwrap_or('`');
            let mut body = Vec::new();
            i += 1;
            while i < lines.len() {
                let t = lines[i].trim();
                if t.len() >= fence.len()
                    && t.chars().all(|ch| ch == fence_char)
                    && t.starts_with(fence)
                {
                    break;
                }
                body.push(strip_indent(lines[i], indent));
                i += 1;
            }
            i += 1;
            flush(&mut prose, &mut out);
            out.push(Segment {
                kind: SegmentKind::Code { lang },
                lines: body,
            });
            continue;
        }
        let after_blank = i == 0 || lines[i - 1].trim().is_empty();
        if after_blank && indented4(line) && !line.trim().is_empty() && !in_list(&prose) {
            let mut body = Vec::new();
            while i < lines.len() && (lines[i].trim().is_empty() || indented4(lines[i])) {
                if fence_re.is_match(lines[i]) {
                    break;
                }
                body.push(lines[i]);
                i += 1;
            }
            while body.last().is_some_and(|l| l.trim().is_empty()) {
                body.pop();
            }
            flush(&mut prose, &mut out);
            out.push(Segment {
                kind: SegmentKind::Code { lang: None },
                lines: body,
            });
            continue;
        }
        prose.push(line);
        i += 1;
    }
    flush(&mut prose, &mut out);
    out
}

fn flush<'a>(prose: &mut Vec<&'a str>, out: &mut Vec<Segment<'a>>) {
    if !prose.is_empty() {
        out.push(Segment {
            kind: SegmentKind::Prose,
            lines: std::mem::take(prose),
        });
    }
}

fn indented4(line: &str) -> bool {
    line.starts_with("    ") || line.starts_with('\t')
}

/// Whether the last non-blank prose line is a list item (then indented lines continue it).
fn in_list(prose: &[&str]) -> bool {
    static ITEM: OnceLock<Regex> = OnceLock::new();
    let item = regex(&ITEM, r"^\s*(?:[-*+]|\d+[.)])\s");
    prose
        .iter()
        .rev()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| item.is_match(l))
}

/// Remove up to `n` leading spaces.
fn strip_indent(line: &str, n: usize) -> &str {
    let spaces = line.len() - line.trim_start_matches(' ').len();
    &line[spaces.min(n)..]
}

/// Remove the common leading whitespace of non-blank lines.
fn dedent(text: &str) -> String {
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    text.lines()
        .map(|l| {
            if l.len() >= indent {
                &l[indent..]
            } else {
                l.trim_start()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ipython_prompt(line: &str) -> bool {
    static IN: OnceLock<Regex> = OnceLock::new();
    regex(&IN, r"^\s*In \[\d*\]:").is_match(line)
}

/// Interactive statements in `lines`: `>>>`/`...` doctest prompts and IPython `In [n]:` /
/// `...:` prompts. Doctest output runs to a blank line or the next prompt; IPython output to
/// the next `In [n]:` prompt (or, in prose, a blank line).
fn sessions(lines: &[&str], prose: bool) -> Vec<DoctestStep> {
    static PS1: OnceLock<Regex> = OnceLock::new();
    static PS2: OnceLock<Regex> = OnceLock::new();
    static IN: OnceLock<Regex> = OnceLock::new();
    static CONT: OnceLock<Regex> = OnceLock::new();
    static OUT: OnceLock<Regex> = OnceLock::new();
    let ps1 = regex(&PS1, r"^(\s*)>>>(?: (.*)|$)");
    let ps2 = regex(&PS2, r"^\s*\.\.\.(?: (.*)|$)");
    let in_re = regex(&IN, r"^(\s*)In \[\d*\]: ?(.*)$");
    let cont_re = regex(&CONT, r"^\s*\.\.\.+: ?(.*)$");
    let out_re = regex(&OUT, r"^\s*Out\[\d*\]: ?(.*)$");

    let mut steps = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if let Some(c) = ps1.captures(lines[i]) {
            let indent = c.get(1).map_or(0, |m| m.as_str().len());
            let mut source = vec![c.get(2).map_or("", |m| m.as_str())];
            i += 1;
            while i < lines.len() {
                match ps2.captures(lines[i]) {
                    Some(c) => source.push(c.get(1).map_or("", |m| m.as_str())),
                    None => break,
                }
                i += 1;
            }
            let mut shown = Vec::new();
            while i < lines.len()
                && !lines[i].trim().is_empty()
                && !ps1.is_match(lines[i])
                && !in_re.is_match(lines[i])
            {
                shown.push(strip_indent(lines[i], indent));
                i += 1;
            }
            steps.push(DoctestStep {
                source: source.join("\n").trim_end().to_string(),
                shown: shown.join("\n"),
            });
            continue;
        }
        if let Some(c) = in_re.captures(lines[i]) {
            let indent = c.get(1).map_or(0, |m| m.as_str().len());
            let mut source = vec![c.get(2).map_or("", |m| m.as_str())];
            i += 1;
            while i < lines.len() {
                match cont_re.captures(lines[i]) {
                    Some(c) => source.push(c.get(1).map_or("", |m| m.as_str())),
                    None => break,
                }
                i += 1;
            }
            let mut shown = Vec::new();
            while i < lines.len() && !in_re.is_match(lines[i]) && !ps1.is_match(lines[i]) {
                // In prose a blank line after some output ends the session.
                if prose && lines[i].trim().is_empty() && !shown.is_empty() {
                    break;
                }
                let line = strip_indent(lines[i], indent);
                match out_re.captures(line) {
                    Some(c) => shown.push(c.get(1).map_or("", |m| m.as_str())),
                    None => shown.push(line),
                }
                i += 1;
            }
            while shown.last().is_some_and(|l| l.trim().is_empty()) {
                shown.pop();
            }
            while shown.first().is_some_and(|l| l.trim().is_empty()) {
                shown.remove(0);
            }
            steps.push(DoctestStep {
                source: dedent(source.join("\n").trim_end()),
                shown: shown.join("\n"),
            });
            continue;
        }
        i += 1;
    }
    steps
}

/// Whether parsed Python does something: an import, definition, assignment, call, or a
/// compound or simple statement other than a bare expression of literals and names (which is
/// program output, not code).
fn has_code_statement(code: &str) -> bool {
    let tree = crate::syntax::parse_python(code);
    let root = tree.root_node();
    let mut cursor = root.walk();
    let found = root.named_children(&mut cursor).any(|stmt| {
        if stmt.kind() == "comment" {
            return false;
        }
        if stmt.kind() != "expression_statement" {
            return true;
        }
        contains_kind(
            stmt,
            &["call", "assignment", "augmented_assignment", "await"],
        )
    });
    found
}

fn contains_kind(node: tree_sitter::Node<'_>, kinds: &[&str]) -> bool {
    if kinds.contains(&node.kind()) {
        return true;
    }
    let mut cursor = node.walk();
    let found = node
        .named_children(&mut cursor)
        .any(|c| contains_kind(c, kinds));
    found
}

/// The last `Traceback (most recent call last):` block of the text (frames, and the exception
/// line after them; IPython's `ValueError   Traceback (most recent call last)` form too), else
/// a pytest-style failure (`path.py:12: in func` frames, `E   Type: msg`).
fn traceback(text: &str) -> Option<Traceback> {
    static HEAD: OnceLock<Regex> = OnceLock::new();
    static IPY_FRAME: OnceLock<Regex> = OnceLock::new();
    let head = regex(&HEAD, r"Traceback \(most recent call last\):?");
    let ipy_frame = regex(
        &IPY_FRAME,
        r"(?m)^\s*File ([^\s,]+\.py):(\d+)(?:, in ([A-Za-z_]\w*))?",
    );
    let Some(m) = head.find_iter(text).last() else {
        return pytest_failure(text);
    };
    let line_start = text[..m.start()].rfind('\n').map_or(0, |p| p + 1);
    let prefix = &text[line_start..m.start()];
    // Whitespace or a log prefix (`INTERNALERROR> `) repeated on every line of the traceback;
    // IPython's exception name before the header is not one.
    let indent = if exception_of(prefix.trim()).is_none() {
        prefix
    } else {
        ""
    };
    let body = &text[m.end()..];
    let mut end = body.len();
    let mut exception = None;
    let mut offset = 0;
    for (n, line) in body.split_inclusive('\n').enumerate() {
        if n > MAX_TRACEBACK_LINES {
            end = offset;
            break;
        }
        let l = line.strip_prefix(indent).unwrap_or(line).trim_end();
        if n > 0 && !l.is_empty() && !l.starts_with(char::is_whitespace) {
            if let Some(e) = exception_of(l) {
                exception = Some(e);
                end = offset;
                break;
            }
            if l.starts_with("```") {
                end = offset;
                break;
            }
        }
        offset += line.len();
    }
    let section = &body[..end];
    let mut frames = extract_mentions(section).frames;
    if frames.is_empty() {
        frames = ipy_frame
            .captures_iter(section)
            .map(|c| Frame {
                path: c.get(1).map_or("", |m| m.as_str()).to_string(),
                line: c.get(2).and_then(|m| m.as_str().parse().ok()).unwrap_or(0),
                function: c.get(3).map(|m| m.as_str().to_string()),
            })
            .collect();
    }
    let exception = exception
        .or_else(|| exception_of(prefix.trim()))
        .or_else(|| django_exception(body));
    if exception.is_none() && frames.is_empty() {
        return pytest_failure(text);
    }
    let (exception, message) = exception.unwrap_or_default();
    Some(Traceback {
        frames,
        exception,
        message,
    })
}

/// Django's debug page: `Exception Type: TypeError at /path/` and `Exception Value: msg`.
fn django_exception(body: &str) -> Option<(String, String)> {
    static TYPE: OnceLock<Regex> = OnceLock::new();
    static VALUE: OnceLock<Regex> = OnceLock::new();
    let ty = regex(&TYPE, r"(?m)^\s*Exception Type: ([A-Za-z_][\w.]*)");
    let value = regex(&VALUE, r"(?m)^\s*Exception Value: ?(.*)$");
    let name = ty.captures(body)?.get(1)?.as_str();
    let name = name.rsplit('.').next().unwrap_or(name).to_string();
    let message = value
        .captures(body)
        .and_then(|c| c.get(1))
        .map_or(String::new(), |m| m.as_str().trim().to_string());
    Some((name, message))
}

/// Lines after a traceback header searched for its exception line.
const MAX_TRACEBACK_LINES: usize = 400;

/// `pkg.mod.SomeError: message` → (`SomeError`, `message`).
fn exception_of(line: &str) -> Option<(String, String)> {
    static EXC: OnceLock<Regex> = OnceLock::new();
    let re = regex(
        &EXC,
        r"^((?:[A-Za-z_][A-Za-z0-9_]*\.)*([A-Z][A-Za-z0-9_]*))(?::\s?(.*))?$",
    );
    let c = re.captures(line.trim())?;
    let name = c.get(2)?.as_str();
    let looks_like_exception = ["Error", "Exception", "Warning", "Exit", "Interrupt"]
        .iter()
        .any(|s| name.ends_with(s))
        || ["StopIteration", "KeyboardInterrupt", "Failed", "Skipped"].contains(&name);
    if !looks_like_exception {
        return None;
    }
    let message = c.get(3).map_or("", |m| m.as_str()).trim().to_string();
    Some((name.to_string(), message))
}

/// A pytest failure report: `path.py:12: in func` frames, then `path.py:40: ValueError` and an
/// `E   ValueError: msg` line.
fn pytest_failure(text: &str) -> Option<Traceback> {
    static LOC: OnceLock<Regex> = OnceLock::new();
    static ELINE: OnceLock<Regex> = OnceLock::new();
    let loc = regex(
        &LOC,
        r"(?m)^\s*([A-Za-z0-9_.\-/\\:]*?[A-Za-z0-9_\-]+\.py):(\d+): (?:in (\S+)|((?:[A-Za-z_]\w*\.)*[A-Z]\w*))\s*$",
    );
    let eline = regex(&ELINE, r"(?m)^E\s+(.+)$");
    let mut frames = Vec::new();
    let mut final_exc = None;
    for c in loc.captures_iter(text) {
        let path = c.get(1).map_or("", |m| m.as_str()).replace('\\', "/");
        let line = c.get(2).and_then(|m| m.as_str().parse().ok()).unwrap_or(0);
        if let Some(func) = c.get(3) {
            frames.push(Frame {
                path,
                line,
                function: Some(func.as_str().to_string()).filter(|f| !f.starts_with('<')),
            });
        } else if let Some(exc) = c.get(4) {
            frames.push(Frame {
                path,
                line,
                function: None,
            });
            let name = exc.as_str().rsplit('.').next().unwrap_or("").to_string();
            final_exc = Some(name);
        }
    }
    let exc = final_exc?;
    let message = eline
        .captures_iter(text)
        .filter_map(|c| exception_of(c.get(1)?.as_str()))
        .find(|(name, _)| *name == exc)
        .map(|(_, m)| m)
        .unwrap_or_default();
    Some(Traceback {
        frames,
        exception: exc,
        message,
    })
}

mod expect;
#[cfg(test)]
mod tests;

//! Localization from what the issue names, resolved to definitions through the repo map
//! before any ranking or model pick: the frames of its traceback that point into the
//! repository, error messages it shows that the repository's string literals hold, the names
//! its snippets import, the functions, classes and methods its snippets call, dotted paths and
//! backticked names in its prose. Each location records which source named it and the text
//! that did, for the fixer's report.
//!
//! Strength order (best first): [`NameSource::Traceback`] (innermost repository frame first),
//! [`NameSource::Message`], [`NameSource::Import`], [`NameSource::Call`],
//! [`NameSource::Dotted`], [`NameSource::Mention`]. A name resolves only when it is
//! unambiguous (one non-test definition, or one in a module the snippet imports); test files
//! are never locations.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::issue::IssueText;
use crate::repo::map::{FileMap, RepoMap, Symbol, SymbolKind};
use crate::repo::rank::{extract_mentions, is_test_path, Frame};
use code::{absolute_module, calls, imports, snippets, Scope, BUILTINS};

/// At most this many locations by default.
pub const MAX_LOCATIONS: usize = 8;

/// What named a location.
#[derive(Serialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum NameSource {
    /// A traceback frame pointing into a repository file.
    Traceback,
    /// An error message the issue shows, found in a string literal of the repository.
    Message,
    /// `from pkg.mod import Name` in the issue's code.
    Import,
    /// A function, class or method called in the issue's code.
    Call,
    /// A dotted path in the prose (`flask.helpers.send_file`, `Class.method`).
    Dotted,
    /// A name in backticks in the prose (`` `cached_eval` ``) with one non-test definition, or
    /// one in a file the prose names by path.
    Mention,
}

/// One definition the issue names.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct NamedLocation {
    /// Repository-relative path.
    pub path: String,
    /// Qualified name within the file (`Class.method`).
    pub qualname: String,
    pub source: NameSource,
    /// The text that named it (a frame line, an import, a call, a dotted path).
    pub evidence: String,
}

/// The definitions the issue names, best first, deduplicated, never in test files, at most
/// [`MAX_LOCATIONS`].
pub fn resolve(map: &RepoMap, issue: &IssueText) -> Vec<NamedLocation> {
    resolve_limited(map, issue, MAX_LOCATIONS)
}

/// [`resolve`] with another cap.
pub fn resolve_limited(map: &RepoMap, issue: &IssueText, limit: usize) -> Vec<NamedLocation> {
    let index = Index::new(map);
    let mut out = Collector {
        seen: HashSet::new(),
        found: Vec::new(),
        limit,
    };
    from_traceback(&index, issue, &mut out);
    message::from_messages(&index, issue, &mut out);
    let snippets = snippets(issue);
    let trees: Vec<(tree_sitter::Tree, &str)> = snippets
        .iter()
        .map(|s| (crate::syntax::parse_python(s), s.as_str()))
        .collect();
    let mut scope = Scope::default();
    for (tree, src) in &trees {
        scope.add_imports(&index, tree.root_node(), src, &mut out);
    }
    for (tree, src) in &trees {
        scope.add_definitions(&index, tree.root_node(), src);
    }
    for (tree, src) in &trees {
        calls(&index, &scope, tree.root_node(), src, &mut out);
    }
    from_prose(&index, issue, &mut out);
    from_mentions(&index, issue, &mut out);
    out.found
}

struct Collector {
    seen: HashSet<(String, String)>,
    found: Vec<NamedLocation>,
    limit: usize,
}

impl Collector {
    fn push(&mut self, file: &FileMap, sym: &Symbol, source: NameSource, evidence: &str) {
        if self.found.len() >= self.limit
            || is_test_path(&file.path)
            || sym.kind == SymbolKind::Variable
        {
            return;
        }
        if self.seen.insert((file.path.clone(), sym.qualname.clone())) {
            self.found.push(NamedLocation {
                path: file.path.clone(),
                qualname: sym.qualname.clone(),
                source,
                evidence: one_line(evidence),
            });
        }
    }
}

fn one_line(s: &str) -> String {
    let line = s
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.chars().count() > 160 {
        let mut t: String = line.chars().take(160).collect();
        t.push('…');
        t
    } else {
        line.to_string()
    }
}

/// The repository's non-test modules by dotted name.
struct Index<'a> {
    map: &'a RepoMap,
    modules: HashMap<String, &'a FileMap>,
}

impl<'a> Index<'a> {
    fn new(map: &'a RepoMap) -> Index<'a> {
        let mut modules = HashMap::new();
        for f in map.files.iter().filter(|f| !is_test_path(&f.path)) {
            modules.entry(f.module_name()).or_insert(f);
        }
        Index { map, modules }
    }

    fn module(&self, name: &str) -> Option<&'a FileMap> {
        self.modules.get(name).copied()
    }

    /// Whether `top` is a package or module of the repository.
    fn is_repo_package(&self, top: &str) -> bool {
        let prefix = format!("{top}.");
        self.modules
            .keys()
            .any(|m| m == top || m.starts_with(&prefix))
    }

    /// `name` defined in `file`, or re-exported there by `from .x import name` (followed
    /// `depth` levels).
    fn find_in_module(
        &self,
        file: &'a FileMap,
        name: &str,
        depth: usize,
    ) -> Option<(&'a FileMap, &'a Symbol)> {
        if let Some(sym) = file.find(name).filter(|s| s.kind != SymbolKind::Variable) {
            return Some((file, sym));
        }
        let first = name.split('.').next().unwrap_or(name);
        if depth == 0 {
            return None;
        }
        let tree = crate::syntax::parse_python(&file.source);
        let here = file.module_name();
        let is_package = file.path.ends_with("__init__.py");
        for imp in imports(tree.root_node(), &file.source) {
            if !imp.from {
                continue;
            }
            let Some(module) = absolute_module(&imp, &here, is_package) else {
                continue;
            };
            for (orig, alias) in &imp.names {
                if alias != first {
                    continue;
                }
                let rest = &name[first.len()..];
                let target = format!("{orig}{rest}");
                if let Some(m) = self.module(&module) {
                    if let Some(hit) = self.find_in_module(m, &target, depth - 1) {
                        return Some(hit);
                    }
                }
                // `from . import sub` re-exports a submodule.
                if let Some(m) = self.module(&format!("{module}.{orig}")) {
                    let inner = rest.trim_start_matches('.');
                    if !inner.is_empty() {
                        if let Some(hit) = self.find_in_module(m, inner, depth - 1) {
                            return Some(hit);
                        }
                    }
                }
            }
        }
        None
    }

    /// A dotted path `pkg.mod.Class.meth`: the longest module prefix, the rest a qualified
    /// name in it (possibly re-exported).
    fn resolve_dotted(&self, dotted: &str) -> Option<(&'a FileMap, &'a Symbol)> {
        let parts: Vec<&str> = dotted.split('.').collect();
        for k in (1..parts.len()).rev() {
            if let Some(file) = self.module(&parts[..k].join(".")) {
                return self.find_in_module(file, &parts[k..].join("."), 2);
            }
        }
        None
    }

    /// The one non-test definition (class or top-level function) named `name`, or the one
    /// among `modules`.
    fn unique_definition(
        &self,
        name: &str,
        modules: &[&'a FileMap],
    ) -> Option<(&'a FileMap, &'a Symbol)> {
        let defs: Vec<(&FileMap, &Symbol)> = self
            .map
            .definitions_of(name)
            .into_iter()
            .filter(|(f, s)| {
                !is_test_path(&f.path)
                    && matches!(s.kind, SymbolKind::Function | SymbolKind::Class)
                    && s.qualname == name
            })
            .collect();
        if defs.len() == 1 {
            return Some(defs[0]);
        }
        let imported: Vec<_> = defs
            .into_iter()
            .filter(|(f, _)| modules.iter().any(|m| m.path == f.path))
            .collect();
        (imported.len() == 1).then(|| imported[0])
    }

    /// The one non-test method named `name` in any class.
    fn unique_method(&self, name: &str) -> Option<(&'a FileMap, &'a Symbol)> {
        let defs: Vec<_> = self
            .map
            .definitions_of(name)
            .into_iter()
            .filter(|(f, s)| !is_test_path(&f.path) && s.kind == SymbolKind::Method)
            .collect();
        (defs.len() == 1).then(|| defs[0])
    }

    /// Method `meth` of the class `class` in `file`, or of one of its bases (two levels,
    /// bases resolved as unique definitions).
    fn method_of(
        &self,
        file: &'a FileMap,
        class: &'a Symbol,
        meth: &str,
        depth: usize,
    ) -> Option<(&'a FileMap, &'a Symbol)> {
        if let Some(m) = class.children.iter().find(|c| c.name == meth) {
            return Some((file, m));
        }
        if depth == 0 {
            return None;
        }
        for base in class_bases(&class.signature) {
            if let Some((bf, bs)) = self.unique_definition(base, &[file]) {
                if bs.kind == SymbolKind::Class {
                    if let Some(hit) = self.method_of(bf, bs, meth, depth - 1) {
                        return Some(hit);
                    }
                }
            }
        }
        None
    }
}

/// Base class names (last dotted component) of `class Name(A, b.B, metaclass=M)`.
fn class_bases(signature: &str) -> Vec<&str> {
    let Some(open) = signature.find('(') else {
        return Vec::new();
    };
    let inner = signature[open + 1..].trim_end_matches(')');
    inner
        .split(',')
        .map(str::trim)
        .filter(|b| !b.contains('=') && !b.is_empty())
        .filter_map(|b| b.rsplit('.').next())
        .filter(|b| b.chars().all(|c| c.is_alphanumeric() || c == '_'))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Traceback frames

fn from_traceback(index: &Index<'_>, issue: &IssueText, out: &mut Collector) {
    let mut frames: Vec<Frame> = Vec::new();
    if let Some(tb) = &issue.traceback {
        frames.extend(tb.frames.iter().rev().cloned());
    }
    for f in extract_mentions(&issue.text).frames.into_iter().rev() {
        if !frames.contains(&f) {
            frames.push(f);
        }
    }
    for frame in &frames {
        let Some(file) = file_of_frame(index.map, &frame.path) else {
            continue;
        };
        let Some(sym) = symbol_of_frame(file, frame) else {
            continue;
        };
        let evidence = match &frame.function {
            Some(f) => format!("File \"{}\", line {}, in {f}", frame.path, frame.line),
            None => format!("File \"{}\", line {}", frame.path, frame.line),
        };
        out.push(file, sym, NameSource::Traceback, &evidence);
    }
}

/// How many trailing path components two paths share.
fn common_suffix(a: &str, b: &str) -> usize {
    a.rsplit('/')
        .zip(b.rsplit('/'))
        .take_while(|(x, y)| x == y)
        .count()
}

/// The repository file a frame's (host) path denotes: the unique file sharing the longest
/// path suffix with it, at least two components (`flask/app.py`), or the whole path when the
/// frame names a bare file. `None` when that file is a test file or the match is ambiguous.
fn file_of_frame<'a>(map: &'a RepoMap, path: &str) -> Option<&'a FileMap> {
    let path = path.replace('\\', "/");
    let path = path.trim_start_matches("./");
    if path.starts_with('<') || !path.ends_with(".py") {
        return None;
    }
    let frame_parts = path.trim_start_matches('/').split('/').count();
    let mut best: Option<&FileMap> = None;
    let mut best_len = 0;
    let mut tie = false;
    for f in &map.files {
        let c = common_suffix(path, &f.path);
        let file_parts = f.path.split('/').count();
        let accepted = c >= 2 || (c == 1 && file_parts == 1 && frame_parts == 1);
        if !accepted {
            continue;
        }
        if c > best_len {
            best = Some(f);
            best_len = c;
            tie = false;
        } else if c == best_len {
            tie = true;
        }
    }
    let file = best.filter(|_| !tie)?;
    (!is_test_path(&file.path)).then_some(file)
}

/// The definition a frame is in: the innermost one at its line when its name matches the
/// frame's function (or the frame names none), else the one definition of that name in the
/// file (the line is off when the issue's version differs).
fn symbol_of_frame<'a>(file: &'a FileMap, frame: &Frame) -> Option<&'a Symbol> {
    let inner = file.innermost_at(frame.line);
    let Some(func) = &frame.function else {
        return inner;
    };
    if let Some(s) = inner.filter(|s| &s.name == func) {
        return Some(s);
    }
    let named: Vec<&Symbol> = file
        .walk()
        .into_iter()
        .filter(|s| &s.name == func && s.kind != SymbolKind::Variable)
        .collect();
    match named.len() {
        1 => Some(named[0]),
        _ => named.into_iter().find(|s| s.contains_line(frame.line)),
    }
}

// ---------------------------------------------------------------------------------------------
// Dotted paths in prose

fn from_prose(index: &Index<'_>, issue: &IssueText, out: &mut Collector) {
    let prose = issue.prose_lines().join("\n");
    for dotted in extract_mentions(&prose).modules {
        let parts: Vec<&str> = dotted.split('.').collect();
        if parts.len() < 2 || parts.iter().any(|p| p.is_empty()) {
            continue;
        }
        if let Some((f, s)) = index.resolve_dotted(&dotted) {
            out.push(f, s, NameSource::Dotted, &dotted);
            continue;
        }
        // `Class.method` without a module: the one non-test file defining it.
        if !parts[0].chars().next().is_some_and(char::is_uppercase) {
            continue;
        }
        let hits: Vec<(&FileMap, &Symbol)> = index
            .map
            .files
            .iter()
            .filter(|f| !is_test_path(&f.path))
            .filter_map(|f| f.find(&dotted).map(|s| (f, s)))
            .collect();
        if hits.len() == 1 {
            out.push(hits[0].0, hits[0].1, NameSource::Dotted, &dotted);
        }
    }
}

/// Names in backticks in the prose: defined in a file the prose names by path, else with
/// exactly one non-test definition (a function, class or method).
fn from_mentions(index: &Index<'_>, issue: &IssueText, out: &mut Collector) {
    let prose = issue.prose_lines().join("\n");
    let named_files: Vec<&FileMap> = extract_mentions(&prose)
        .paths
        .iter()
        .filter_map(|p| file_of_frame(index.map, p))
        .collect();
    let mut seen = HashSet::new();
    for span in prose.split('`').skip(1).step_by(2) {
        let name = span.trim().trim_end_matches("()");
        if name.len() < 3
            || !name.chars().all(|c| c.is_alphanumeric() || c == '_')
            || name.starts_with(|c: char| c.is_ascii_digit())
            || BUILTINS.contains(&name)
            || !seen.insert(name.to_string())
        {
            continue;
        }
        let defs: Vec<(&FileMap, &Symbol)> = index
            .map
            .definitions_of(name)
            .into_iter()
            .filter(|(f, s)| !is_test_path(&f.path) && s.kind != SymbolKind::Variable)
            .collect();
        let in_named: Vec<_> = defs
            .iter()
            .filter(|(f, _)| named_files.iter().any(|n| n.path == f.path))
            .collect();
        let hit = match (in_named.len(), defs.len()) {
            (1, _) => Some(*in_named[0]),
            (0, 1) => Some(defs[0]),
            _ => None,
        };
        if let Some((f, s)) = hit {
            out.push(f, s, NameSource::Mention, &format!("`{span}`"));
        }
    }
}

mod code;
#[cfg(test)]
mod measure;
mod message;
#[cfg(test)]
mod tests;

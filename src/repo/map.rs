//! The repo map: for every Python file, its classes, functions and methods (with signatures,
//! first docstring lines, decorators and line spans) and module-level names, parsed with
//! tree-sitter-python; and compact renderings of it for prompts.
//!
//! Renderings:
//! - [`skeleton`]: a file with bodies elided (`def f(x): ...`), which is still valid Python.
//! - [`skeleton_of`]: only some symbols of a file (with their enclosing class headers).
//! - [`source_of`]: the full source of one symbol.
//! - [`render_skeletons`] and [`render_focus`]: several files or symbols within a token budget
//!   measured by a caller-supplied counter (the model's own tokenizer), degrading detail before
//!   dropping content.

use std::path::{Path, PathBuf};

use serde::Serialize;
use tree_sitter::Node;

/// Python files larger than this are skipped (generated code, vendored bundles).
pub const MAX_FILE_BYTES: u64 = 1_000_000;

/// Why a repository could not be mapped.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    #[error("{} is not a directory; pass the root of a checked-out repository", path.display())]
    NotADirectory { path: PathBuf },
    #[error("reading {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What a symbol is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SymbolKind {
    Class,
    Function,
    Method,
    /// A module-level or class-level assignment.
    Variable,
}

/// One class, function, method or variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Symbol {
    pub kind: SymbolKind,
    pub name: String,
    /// Dotted name within the module, e.g. `Parser.parse`.
    pub qualname: String,
    /// `def name(params) -> ret`, `async def …`, `class Name(Base)` or `NAME = value`, on one
    /// line, without the trailing colon.
    pub signature: String,
    /// Decorator lines, e.g. `@property`.
    pub decorators: Vec<String>,
    /// The first line of the docstring.
    pub doc: Option<String>,
    /// 1-based first line (decorators included).
    pub start_line: usize,
    /// 1-based last line.
    pub end_line: usize,
    /// Methods, nested classes and class attributes.
    pub children: Vec<Symbol>,
}

impl Symbol {
    pub fn contains_line(&self, line: usize) -> bool {
        self.start_line <= line && line <= self.end_line
    }
}

/// The map of one Python file.
#[derive(Debug, Clone, Serialize)]
pub struct FileMap {
    /// Repository-relative path with `/` separators.
    pub path: String,
    /// The first line of the module docstring.
    pub doc: Option<String>,
    pub symbols: Vec<Symbol>,
    pub line_count: usize,
    /// False when tree-sitter found syntax errors (the map is then best effort).
    pub syntax_ok: bool,
    #[serde(skip)]
    pub source: String,
}

impl FileMap {
    /// Parse one file.
    pub fn parse(path: &str, source: &str) -> FileMap {
        let tree = crate::syntax::parse_python(source);
        let root = tree.root_node();
        let src = source.as_bytes();
        let mut symbols = Vec::new();
        collect_symbols(root, src, "", false, &mut symbols);
        FileMap {
            path: path.to_string(),
            doc: docstring(root, src),
            symbols,
            line_count: source.lines().count(),
            syntax_ok: !root.has_error(),
            source: source.to_string(),
        }
    }

    /// All symbols, depth first.
    pub fn walk(&self) -> Vec<&Symbol> {
        fn go<'a>(symbols: &'a [Symbol], out: &mut Vec<&'a Symbol>) {
            for s in symbols {
                out.push(s);
                go(&s.children, out);
            }
        }
        let mut out = Vec::new();
        go(&self.symbols, &mut out);
        out
    }

    /// The symbol with this qualified name.
    pub fn find(&self, qualname: &str) -> Option<&Symbol> {
        self.walk().into_iter().find(|s| s.qualname == qualname)
    }

    /// The innermost class or function containing `line` (1-based).
    pub fn innermost_at(&self, line: usize) -> Option<&Symbol> {
        self.walk()
            .into_iter()
            .filter(|s| s.kind != SymbolKind::Variable && s.contains_line(line))
            .min_by_key(|s| s.end_line - s.start_line)
    }

    /// The dotted module name (`pkg/sub/mod.py` → `pkg.sub.mod`, `pkg/__init__.py` → `pkg`),
    /// with a leading `src.` or `lib.` layout directory removed.
    pub fn module_name(&self) -> String {
        module_name(&self.path)
    }

    /// Lines `start..=end` (1-based) of the source.
    pub fn lines(&self, start: usize, end: usize) -> String {
        let mut out = String::new();
        for line in self
            .source
            .lines()
            .skip(start.saturating_sub(1))
            .take((end + 1).saturating_sub(start.max(1)))
        {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// Dotted module name of a repository-relative `.py` path.
pub fn module_name(path: &str) -> String {
    let p = path.strip_suffix(".py").unwrap_or(path);
    let p = p.strip_suffix("/__init__").unwrap_or(p);
    let p = p
        .strip_prefix("src/")
        .or_else(|| p.strip_prefix("lib/"))
        .unwrap_or(p);
    p.replace('/', ".")
}

fn text<'a>(node: Node<'_>, src: &'a [u8]) -> &'a str {
    node.utf8_text(src).unwrap_or("")
}

/// Collapse a possibly multi-line header to one line.
fn one_line(s: &str) -> String {
    let joined: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    joined
        .join(" ")
        .replace("( ", "(")
        .replace(" )", ")")
        .replace(",)", ")")
}

fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

/// First docstring line of a module, class or function node.
fn docstring(node: Node<'_>, src: &[u8]) -> Option<String> {
    let body = if node.kind() == "module" {
        node
    } else {
        node.child_by_field_name("body")?
    };
    let mut cursor = body.walk();
    let first = body
        .named_children(&mut cursor)
        .find(|c| c.kind() != "comment")?;
    if first.kind() != "expression_statement" {
        return None;
    }
    let string = first.named_child(0)?;
    if string.kind() != "string" {
        return None;
    }
    let raw = text(string, src);
    let body = raw.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let body = ["\"\"\"", "'''", "\"", "'"]
        .iter()
        .find_map(|q| body.strip_prefix(q).and_then(|b| b.strip_suffix(q)))
        .unwrap_or(body);
    body.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| truncate_chars(l, 120))
}

/// Header text of a class or function definition: from its start to the `:` before the body.
fn header(def: Node<'_>, src: &[u8]) -> String {
    let body_start = def
        .child_by_field_name("body")
        .map(|b| b.start_byte())
        .unwrap_or(def.end_byte());
    let mut end = body_start;
    let mut cursor = def.walk();
    for child in def.children(&mut cursor) {
        if child.kind() == ":" && child.start_byte() < body_start {
            end = child.start_byte();
        }
    }
    let raw = std::str::from_utf8(&src[def.start_byte()..end]).unwrap_or("");
    one_line(raw)
}

fn collect_symbols(
    node: Node<'_>,
    src: &[u8],
    prefix: &str,
    in_class: bool,
    out: &mut Vec<Symbol>,
) {
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        match child.kind() {
            "function_definition" | "class_definition" => {
                if let Some(sym) = definition(child, child, src, prefix, in_class) {
                    out.push(sym);
                }
            }
            "decorated_definition" => {
                if let Some(def) = child.child_by_field_name("definition") {
                    if let Some(sym) = definition(child, def, src, prefix, in_class) {
                        out.push(sym);
                    }
                }
            }
            "expression_statement" => {
                if let Some(sym) = variable(child, src, prefix) {
                    out.push(sym);
                }
            }
            // Definitions inside module-level `if`, `try`, `with` blocks still count.
            "if_statement" | "try_statement" | "with_statement" | "block" | "else_clause"
            | "elif_clause" | "except_clause" | "finally_clause" => {
                collect_symbols(child, src, prefix, in_class, out)
            }
            _ => {}
        }
    }
}

fn definition(
    outer: Node<'_>,
    def: Node<'_>,
    src: &[u8],
    prefix: &str,
    in_class: bool,
) -> Option<Symbol> {
    let name = text(def.child_by_field_name("name")?, src).to_string();
    let qualname = if prefix.is_empty() {
        name.clone()
    } else {
        format!("{prefix}.{name}")
    };
    let mut decorators = Vec::new();
    if outer.kind() == "decorated_definition" {
        let mut cursor = outer.walk();
        for c in outer.named_children(&mut cursor) {
            if c.kind() == "decorator" {
                decorators.push(one_line(text(c, src)));
            }
        }
    }
    let is_class = def.kind() == "class_definition";
    let mut children = Vec::new();
    if is_class {
        if let Some(body) = def.child_by_field_name("body") {
            collect_symbols(body, src, &qualname, true, &mut children);
        }
    }
    let kind = if is_class {
        SymbolKind::Class
    } else if in_class {
        SymbolKind::Method
    } else {
        SymbolKind::Function
    };
    Some(Symbol {
        kind,
        name,
        qualname,
        signature: header(def, src),
        decorators,
        doc: docstring(def, src),
        start_line: outer.start_position().row + 1,
        end_line: outer.end_position().row + 1,
        children,
    })
}

fn variable(stmt: Node<'_>, src: &[u8], prefix: &str) -> Option<Symbol> {
    let assignment = stmt.named_child(0)?;
    if assignment.kind() != "assignment" {
        return None;
    }
    let left = assignment.child_by_field_name("left")?;
    if left.kind() != "identifier" {
        return None;
    }
    let name = text(left, src).to_string();
    let first_line = text(assignment, src)
        .lines()
        .next()
        .unwrap_or("")
        .trim_end()
        .to_string();
    Some(Symbol {
        kind: SymbolKind::Variable,
        qualname: if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        },
        name,
        signature: truncate_chars(&first_line, 100),
        decorators: Vec::new(),
        doc: None,
        start_line: stmt.start_position().row + 1,
        end_line: stmt.end_position().row + 1,
        children: Vec::new(),
    })
}

/// The map of all Python files of a repository, sorted by path.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RepoMap {
    pub files: Vec<FileMap>,
}

impl RepoMap {
    /// Map every `.py` file under `root`, skipping junk directories ([`super::junk`]), symlinks
    /// and files over [`MAX_FILE_BYTES`].
    pub fn from_dir(root: &Path) -> Result<RepoMap, MapError> {
        if !root.is_dir() {
            return Err(MapError::NotADirectory {
                path: root.to_path_buf(),
            });
        }
        let mut files = Vec::new();
        for rel in python_files(root)? {
            let path = root.join(&rel);
            let bytes = std::fs::read(&path).map_err(|source| MapError::Io {
                path: path.clone(),
                source,
            })?;
            let source = String::from_utf8_lossy(&bytes);
            files.push(FileMap::parse(&rel, &source));
        }
        tracing::debug!(root = %root.display(), files = files.len(), "repo map built");
        Ok(RepoMap { files })
    }

    /// Map in-memory files (`path`, `source`); non-`.py` paths are ignored.
    pub fn from_sources<'a>(sources: impl IntoIterator<Item = (&'a str, &'a str)>) -> RepoMap {
        let mut files: Vec<FileMap> = sources
            .into_iter()
            .filter(|(p, _)| p.ends_with(".py"))
            .map(|(p, s)| FileMap::parse(p, s))
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        RepoMap { files }
    }

    pub fn file(&self, path: &str) -> Option<&FileMap> {
        self.files.iter().find(|f| f.path == path)
    }

    /// Every (file, symbol) whose simple name is `name`.
    pub fn definitions_of(&self, name: &str) -> Vec<(&FileMap, &Symbol)> {
        self.files
            .iter()
            .flat_map(|f| {
                f.walk()
                    .into_iter()
                    .filter(|s| s.name == name)
                    .map(move |s| (f, s))
            })
            .collect()
    }
}

/// Repository-relative paths (with `/`) of the `.py` files under `root` up to
/// [`MAX_FILE_BYTES`], sorted.
pub fn python_files(root: &Path) -> Result<Vec<String>, MapError> {
    let all = super::junk::list_files(root).map_err(|source| MapError::Io {
        path: root.to_path_buf(),
        source,
    })?;
    Ok(all
        .into_iter()
        .filter(|rel| rel.ends_with(".py"))
        .filter(|rel| {
            let size = std::fs::metadata(root.join(rel))
                .map(|m| m.len())
                .unwrap_or(0);
            if size > MAX_FILE_BYTES {
                tracing::debug!(file = %rel, size, "skipping large Python file");
            }
            size <= MAX_FILE_BYTES
        })
        .collect())
}

/// How much detail a skeleton shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SkeletonStyle {
    /// First docstring lines.
    pub docstrings: bool,
    /// Methods and class attributes inside classes.
    pub members: bool,
    /// Module-level and class-level assignments.
    pub variables: bool,
    /// A `# Lstart-end` comment after each definition header.
    pub line_numbers: bool,
}

impl Default for SkeletonStyle {
    fn default() -> Self {
        SkeletonStyle {
            docstrings: true,
            members: true,
            variables: true,
            line_numbers: false,
        }
    }
}

impl SkeletonStyle {
    /// Signatures only: no docstrings, no variables.
    pub fn compact() -> Self {
        SkeletonStyle {
            docstrings: false,
            members: true,
            variables: false,
            line_numbers: false,
        }
    }

    /// Top-level names only.
    pub fn outline() -> Self {
        SkeletonStyle {
            docstrings: false,
            members: false,
            variables: false,
            line_numbers: false,
        }
    }
}

/// The header line that starts each file in renderings.
pub fn file_header(path: &str) -> String {
    format!("# {path}\n")
}

/// A file's skeleton: header line, module docstring, then every definition with its body
/// elided.
pub fn skeleton(file: &FileMap, style: SkeletonStyle) -> String {
    let mut out = file_header(&file.path);
    if style.docstrings {
        if let Some(doc) = &file.doc {
            out.push_str(&format!("{}\n", quote_doc(doc)));
        }
    }
    for sym in &file.symbols {
        render_symbol(sym, 0, style, None, &mut out);
    }
    out
}

/// A skeleton of only the symbols named by `qualnames` (and the classes enclosing them).
pub fn skeleton_of(file: &FileMap, qualnames: &[&str], style: SkeletonStyle) -> String {
    let mut out = file_header(&file.path);
    for sym in &file.symbols {
        render_symbol(sym, 0, style, Some(qualnames), &mut out);
    }
    out
}

/// A docstring line as a valid `"""…"""` literal.
fn quote_doc(doc: &str) -> String {
    let doc = doc.replace('\\', "\\\\").replace("\"\"\"", "'''");
    let pad = if doc.ends_with('"') { " " } else { "" };
    format!("\"\"\"{doc}{pad}\"\"\"")
}

fn selected(sym: &Symbol, only: Option<&[&str]>) -> bool {
    match only {
        None => true,
        Some(names) => names
            .iter()
            .any(|q| *q == sym.qualname || q.starts_with(&format!("{}.", sym.qualname))),
    }
}

fn render_symbol(
    sym: &Symbol,
    indent: usize,
    style: SkeletonStyle,
    only: Option<&[&str]>,
    out: &mut String,
) {
    if !selected(sym, only) {
        return;
    }
    let pad = " ".repeat(indent);
    if sym.kind == SymbolKind::Variable {
        if style.variables || only.is_some() {
            out.push_str(&format!("{pad}{}\n", sym.signature));
        }
        return;
    }
    for d in &sym.decorators {
        out.push_str(&format!("{pad}{d}\n"));
    }
    let lines = if style.line_numbers {
        format!("  # L{}-{}", sym.start_line, sym.end_line)
    } else {
        String::new()
    };
    // When a whole class is selected, show all of it.
    let child_filter = match only {
        Some(names) if names.contains(&sym.qualname.as_str()) => None,
        other => other,
    };
    let mut body = String::new();
    if style.docstrings {
        if let Some(doc) = &sym.doc {
            body.push_str(&format!("{pad}    {}\n", quote_doc(doc)));
        }
    }
    if sym.kind == SymbolKind::Class && (style.members || child_filter.is_some()) {
        for child in &sym.children {
            render_symbol(child, indent + 4, style, child_filter, &mut body);
        }
    }
    if body.is_empty() {
        out.push_str(&format!("{pad}{}: ...{lines}\n", sym.signature));
    } else {
        out.push_str(&format!("{pad}{}:{lines}\n", sym.signature));
        out.push_str(&body);
        if sym.kind != SymbolKind::Class {
            out.push_str(&format!("{pad}    ...\n"));
        }
    }
}

/// The full source of one symbol (decorators included), optionally with `NNN| ` line numbers.
pub fn source_of(file: &FileMap, qualname: &str, line_numbers: bool) -> Option<String> {
    let sym = file.find(qualname)?;
    let text = file.lines(sym.start_line, sym.end_line);
    if !line_numbers {
        return Some(text);
    }
    Some(
        text.lines()
            .enumerate()
            .map(|(i, l)| format!("{:>4}| {l}\n", sym.start_line + i))
            .collect(),
    )
}

/// A caller-supplied token counter and limit.
#[derive(Clone, Copy)]
pub struct Budget<'a> {
    pub count: &'a dyn Fn(&str) -> usize,
    pub max_tokens: usize,
}

impl std::fmt::Debug for Budget<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budget")
            .field("max_tokens", &self.max_tokens)
            .finish()
    }
}

/// How much of one item made it into a rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Detail {
    /// Full source (focus) or full skeleton (skeletons).
    Full,
    /// Skeleton without docstrings and variables (skeletons), or a skeleton (focus).
    Reduced,
    /// Top-level names only.
    Outline,
    /// Just the path.
    PathOnly,
}

/// A rendering that fits a budget.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Rendered {
    pub text: String,
    /// Tokens of `text` by the caller's counter.
    pub tokens: usize,
    /// What was included (path or `path::qualname`) and at which detail.
    pub included: Vec<(String, Detail)>,
    /// What did not fit.
    pub omitted: Vec<String>,
}

impl Rendered {
    /// Append the first alternative that fits; false when none does.
    fn push_first_fitting(
        &mut self,
        name: &str,
        alternatives: Vec<(Detail, String)>,
        budget: &Budget<'_>,
    ) -> bool {
        for (detail, text) in alternatives {
            let cost = (budget.count)(&text);
            if self.tokens + cost <= budget.max_tokens {
                self.text.push_str(&text);
                self.tokens += cost;
                self.included.push((name.to_string(), detail));
                return true;
            }
        }
        self.omitted.push(name.to_string());
        false
    }
}

/// Skeletons of `paths` in priority order within `budget`. Each file gets the most detail that
/// still fits (full skeleton, then compact, then outline, then just its path); once not even
/// a path fits, the remaining files are omitted. Unknown paths are omitted.
pub fn render_skeletons(map: &RepoMap, paths: &[&str], budget: &Budget<'_>) -> Rendered {
    let mut out = Rendered::default();
    let mut full = false;
    for path in paths {
        let Some(file) = map.file(path) else {
            out.omitted.push(path.to_string());
            continue;
        };
        if full {
            out.omitted.push(path.to_string());
            continue;
        }
        let alternatives = vec![
            (Detail::Full, skeleton(file, SkeletonStyle::default())),
            (Detail::Reduced, skeleton(file, SkeletonStyle::compact())),
            (Detail::Outline, skeleton(file, SkeletonStyle::outline())),
            (Detail::PathOnly, file_header(&file.path)),
        ];
        full = !out.push_first_fitting(path, alternatives, budget);
    }
    out
}

/// Symbols in priority order (`path`, `qualname`) within `budget`: the full source of each while
/// it fits, else its skeleton, else its signature. Consecutive symbols of one file share a
/// header line.
pub fn render_focus(map: &RepoMap, targets: &[(&str, &str)], budget: &Budget<'_>) -> Rendered {
    let mut out = Rendered::default();
    let mut last_file: Option<&str> = None;
    for (path, qualname) in targets {
        let name = format!("{path}::{qualname}");
        let Some(file) = map.file(path) else {
            out.omitted.push(name);
            continue;
        };
        let Some(sym) = file.find(qualname) else {
            out.omitted.push(name);
            continue;
        };
        let header = if last_file == Some(*path) {
            String::new()
        } else {
            file_header(path)
        };
        let full = format!("{header}{}", file.lines(sym.start_line, sym.end_line));
        let reduced = format!(
            "{header}{}",
            skeleton_of(file, &[qualname], SkeletonStyle::default())
                .trim_start_matches(&file_header(path))
        );
        let outline = format!("{header}{}: ...\n", sym.signature);
        let alternatives = vec![
            (Detail::Full, full),
            (Detail::Reduced, reduced),
            (Detail::Outline, outline),
        ];
        if out.push_first_fitting(&name, alternatives, budget) {
            last_file = Some(path);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#""""String helpers.

More text.
"""
import os

DEFAULT_WIDTH = 80


def shout(text: str,
          times: int = 1) -> str:  # trailing comment
    """Upper-case TEXT.

    Details.
    """
    return text.upper() * times


class Wrapper(Base):
    """Wraps lines."""

    width = 10

    @property
    def size(self):
        return self.width

    async def run(self, x):
        def inner():
            return 1
        return inner()


if True:
    def conditional():
        pass
"#;

    fn words(s: &str) -> usize {
        s.split_whitespace().count()
    }

    #[test]
    fn symbols_signatures_docs_and_spans() {
        let f = FileMap::parse("pkg/strings.py", SRC);
        assert!(f.syntax_ok);
        assert_eq!(f.doc.as_deref(), Some("String helpers."));
        let names: Vec<&str> = f.walk().iter().map(|s| s.qualname.as_str()).collect();
        assert_eq!(
            names,
            [
                "DEFAULT_WIDTH",
                "shout",
                "Wrapper",
                "Wrapper.width",
                "Wrapper.size",
                "Wrapper.run",
                "conditional"
            ]
        );
        let shout = f.find("shout").unwrap();
        assert_eq!(shout.kind, SymbolKind::Function);
        assert_eq!(
            shout.signature,
            "def shout(text: str, times: int = 1) -> str"
        );
        assert_eq!(shout.doc.as_deref(), Some("Upper-case TEXT."));
        assert_eq!((shout.start_line, shout.end_line), (10, 16));
        let size = f.find("Wrapper.size").unwrap();
        assert_eq!(size.kind, SymbolKind::Method);
        assert_eq!(size.decorators, ["@property"]);
        assert_eq!(size.start_line, 24, "decorator line starts the span");
        assert_eq!(
            f.find("Wrapper.run").unwrap().signature,
            "async def run(self, x)"
        );
        assert_eq!(f.find("Wrapper").unwrap().signature, "class Wrapper(Base)");
        assert!(
            f.find("inner").is_none() && f.find("Wrapper.run.inner").is_none(),
            "function bodies are not mapped"
        );
        assert_eq!(f.innermost_at(30).unwrap().qualname, "Wrapper.run");
        assert_eq!(f.innermost_at(20).unwrap().qualname, "Wrapper");
        assert!(f.innermost_at(5).is_none());
        assert_eq!(f.module_name(), "pkg.strings");
        assert_eq!(module_name("src/pkg/__init__.py"), "pkg");
    }

    #[test]
    fn skeleton_elides_bodies_and_stays_python() {
        let f = FileMap::parse("pkg/strings.py", SRC);
        let s = skeleton(&f, SkeletonStyle::default());
        assert!(
            s.starts_with("# pkg/strings.py\n\"\"\"String helpers.\"\"\"\n"),
            "{s}"
        );
        assert!(s.contains("DEFAULT_WIDTH = 80\n"));
        assert!(s.contains("def shout(text: str, times: int = 1) -> str:\n    \"\"\"Upper-case TEXT.\"\"\"\n    ...\n"), "{s}");
        assert!(s.contains("class Wrapper(Base):\n    \"\"\"Wraps lines.\"\"\"\n    width = 10\n    @property\n    def size(self): ...\n"), "{s}");
        assert!(!s.contains("return"), "bodies must be elided: {s}");
        assert!(
            crate::syntax::check_python(&s).is_empty(),
            "skeleton should parse: {s}"
        );
        let compact = skeleton(&f, SkeletonStyle::compact());
        assert!(!compact.contains("Upper-case") && !compact.contains("DEFAULT_WIDTH"));
        let outline = skeleton(&f, SkeletonStyle::outline());
        assert!(
            outline.contains("class Wrapper(Base): ...") && !outline.contains("def size"),
            "{outline}"
        );
        let numbered = skeleton(
            &f,
            SkeletonStyle {
                line_numbers: true,
                ..SkeletonStyle::default()
            },
        );
        assert!(numbered.contains("# L10-16"), "{numbered}");
    }

    #[test]
    fn skeleton_of_selected_symbols_keeps_enclosing_class() {
        let f = FileMap::parse("pkg/strings.py", SRC);
        let s = skeleton_of(&f, &["Wrapper.run"], SkeletonStyle::default());
        assert!(
            s.contains("class Wrapper(Base):") && s.contains("async def run(self, x): ..."),
            "{s}"
        );
        assert!(!s.contains("def size") && !s.contains("def shout"), "{s}");
        let src = source_of(&f, "Wrapper.size", true).unwrap();
        assert_eq!(src.lines().next().unwrap(), "  24|     @property");
    }

    #[test]
    fn budget_degrades_detail_then_omits() {
        let map = RepoMap::from_sources([("a.py", SRC), ("b.py", "def only(): pass\n")]);
        let full = render_skeletons(
            &map,
            &["a.py", "b.py"],
            &Budget {
                count: &words,
                max_tokens: 10_000,
            },
        );
        assert_eq!(
            full.included,
            vec![
                ("a.py".to_string(), Detail::Full),
                ("b.py".to_string(), Detail::Full)
            ]
        );
        assert_eq!(full.tokens, words(&full.text));
        let outline_cost = words(&skeleton(
            map.file("a.py").unwrap(),
            SkeletonStyle::outline(),
        ));
        let tight = render_skeletons(
            &map,
            &["a.py", "b.py", "missing.py"],
            &Budget {
                count: &words,
                max_tokens: outline_cost,
            },
        );
        assert_eq!(tight.included, vec![("a.py".to_string(), Detail::Outline)]);
        assert_eq!(tight.omitted, ["b.py", "missing.py"]);
        assert!(tight.tokens <= outline_cost);
    }

    #[test]
    fn focus_renders_full_source_while_it_fits() {
        let map = RepoMap::from_sources([("a.py", SRC)]);
        let r = render_focus(
            &map,
            &[("a.py", "shout"), ("a.py", "Wrapper.size")],
            &Budget {
                count: &words,
                max_tokens: 1000,
            },
        );
        assert!(r.text.contains("return text.upper() * times"), "{}", r.text);
        assert_eq!(
            r.text.matches("# a.py").count(),
            1,
            "one header per file run"
        );
        let shout_cost = words(&format!(
            "# a.py\n{}",
            map.file("a.py").unwrap().lines(10, 16)
        ));
        let r = render_focus(
            &map,
            &[("a.py", "shout"), ("a.py", "Wrapper.size")],
            &Budget {
                count: &words,
                max_tokens: shout_cost + 3,
            },
        );
        assert_eq!(r.included[0].1, Detail::Full);
        assert!(
            r.included.len() == 1 || r.included[1].1 != Detail::Full,
            "{:?}",
            r.included
        );
    }

    #[test]
    fn broken_files_are_mapped_best_effort() {
        let f = FileMap::parse(
            "x.py",
            "def ok(a):\n    return a\n\ndef broken(:\n    pass\n",
        );
        assert!(!f.syntax_ok);
        assert!(f.find("ok").is_some());
    }

    #[test]
    fn from_dir_skips_junk() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("pkg/__pycache__")).unwrap();
        std::fs::create_dir_all(dir.path().join(".venv/lib")).unwrap();
        std::fs::write(dir.path().join("pkg/mod.py"), "def f(): pass\n").unwrap();
        std::fs::write(dir.path().join("pkg/__pycache__/mod.py"), "x = 1\n").unwrap();
        std::fs::write(dir.path().join(".venv/lib/site.py"), "x = 1\n").unwrap();
        std::fs::write(dir.path().join("README.md"), "# hi\n").unwrap();
        let map = RepoMap::from_dir(dir.path()).unwrap();
        let paths: Vec<&str> = map.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["pkg/mod.py"]);
        assert!(matches!(
            RepoMap::from_dir(&dir.path().join("nope")),
            Err(MapError::NotADirectory { .. })
        ));
    }
}

//! The issue's code as the localizer reads it: its snippets parsed with tree-sitter, the
//! names they import (bound to repository modules and definitions, or to foreign ones), the
//! names they define themselves, and the repository definitions their calls denote.

use std::collections::{HashMap, HashSet};

use tree_sitter::Node;

use super::{Collector, Index, NameSource};
use crate::fix::issue::IssueText;
use crate::repo::map::{FileMap, Symbol, SymbolKind};

/// The issue's code as separately parsed snippets: runnable blocks, other Python-labelled
/// blocks (parsed best effort), the session statements together, and inline code spans of the
/// prose that contain a call.
pub(super) fn snippets(issue: &IssueText) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for b in &issue.code_blocks {
        let python_label = b
            .lang
            .as_deref()
            .is_some_and(|l| matches!(l, "python" | "py" | "python3" | "py3"));
        if b.is_script() || (python_label && !b.code.contains(">>>")) {
            out.push(b.code.clone());
        }
    }
    let session: Vec<&str> = issue.doctest.iter().map(|s| s.source.as_str()).collect();
    if !session.is_empty() {
        out.push(session.join("\n"));
    }
    for line in issue.prose_lines() {
        for span in line.split('`').skip(1).step_by(2) {
            let span = span.trim();
            if span.contains('(') && crate::syntax::check_python(span).is_empty() {
                out.push(span.to_string());
            }
        }
    }
    out
}

/// One `import` or `from … import` statement.
#[derive(Debug)]
pub(super) struct Import {
    pub(super) from: bool,
    /// Leading dots of a relative import.
    pub(super) level: usize,
    /// The module after `from` (empty for `from . import x`), or empty for `import`.
    pub(super) module: String,
    /// (name as imported, bound alias): `import a.b` → ("a.b", "a"), `import a.b as c` →
    /// ("a.b", "c"), `from m import x as y` → ("x", "y").
    pub(super) names: Vec<(String, String)>,
    pub(super) wildcard: bool,
    pub(super) text: String,
}

pub(super) fn text<'s>(node: Node<'_>, src: &'s str) -> &'s str {
    node.utf8_text(src.as_bytes()).unwrap_or("")
}

/// All import statements under `node` (function bodies included).
pub(super) fn imports(node: Node<'_>, src: &str) -> Vec<Import> {
    let mut out = Vec::new();
    visit(node, &mut |n| match n.kind() {
        "import_statement" => {
            let mut names = Vec::new();
            let mut cursor = n.walk();
            for c in n.children_by_field_name("name", &mut cursor) {
                match c.kind() {
                    "dotted_name" => {
                        let full = text(c, src).to_string();
                        let head = full.split('.').next().unwrap_or("").to_string();
                        names.push((full, head));
                    }
                    "aliased_import" => {
                        let name = c.child_by_field_name("name").map(|x| text(x, src));
                        let alias = c.child_by_field_name("alias").map(|x| text(x, src));
                        if let (Some(name), Some(alias)) = (name, alias) {
                            names.push((name.to_string(), alias.to_string()));
                        }
                    }
                    _ => {}
                }
            }
            out.push(Import {
                from: false,
                level: 0,
                module: String::new(),
                names,
                wildcard: false,
                text: text(n, src).to_string(),
            });
        }
        "import_from_statement" => {
            let Some(m) = n.child_by_field_name("module_name") else {
                return;
            };
            let (level, module) = if m.kind() == "relative_import" {
                let raw = text(m, src);
                let dots = raw.chars().take_while(|c| *c == '.').count();
                (dots, raw[dots..].trim().to_string())
            } else {
                (0, text(m, src).to_string())
            };
            let mut names = Vec::new();
            let mut cursor = n.walk();
            for c in n.children_by_field_name("name", &mut cursor) {
                match c.kind() {
                    "dotted_name" => {
                        let name = text(c, src).to_string();
                        names.push((name.clone(), name));
                    }
                    "aliased_import" => {
                        let name = c.child_by_field_name("name").map(|x| text(x, src));
                        let alias = c.child_by_field_name("alias").map(|x| text(x, src));
                        if let (Some(name), Some(alias)) = (name, alias) {
                            names.push((name.to_string(), alias.to_string()));
                        }
                    }
                    _ => {}
                }
            }
            let mut cursor = n.walk();
            let wildcard = n
                .children(&mut cursor)
                .any(|c| c.kind() == "wildcard_import");
            out.push(Import {
                from: true,
                level,
                module,
                names,
                wildcard,
                text: text(n, src).to_string(),
            });
        }
        _ => {}
    });
    out
}

/// The absolute module of a `from` import in module `here` (a package when `is_package`).
pub(super) fn absolute_module(imp: &Import, here: &str, is_package: bool) -> Option<String> {
    if imp.level == 0 {
        return Some(imp.module.clone());
    }
    let mut parts: Vec<&str> = here.split('.').collect();
    if !is_package {
        parts.pop();
    }
    for _ in 1..imp.level {
        parts.pop()?;
    }
    if !imp.module.is_empty() {
        parts.push(&imp.module);
    }
    (!parts.is_empty()).then(|| parts.join("."))
}

/// Pre-order walk.
pub(super) fn visit<'t>(node: Node<'t>, f: &mut dyn FnMut(Node<'t>)) {
    f(node);
    let mut cursor = node.walk();
    for c in node.named_children(&mut cursor) {
        visit(c, f);
    }
}

/// What a name in the snippets is bound to.
#[derive(Debug, Clone)]
pub(super) enum Binding {
    /// A module (of the repository) by dotted name.
    Module(String),
    /// A definition of the repository: (path, qualname).
    Symbol(String, String),
    /// Something outside the repository.
    Foreign,
}

#[derive(Default)]
pub(super) struct Scope {
    bindings: HashMap<String, Binding>,
    /// Modules the snippets import (for choosing among same-named definitions), by path.
    imported: Vec<String>,
    /// Names the snippets define themselves (functions, classes, assignment targets).
    defined: HashSet<String>,
    /// `x = Class(...)`: x → (path, class qualname).
    instances: HashMap<String, (String, String)>,
}

impl Scope {
    pub(super) fn add_imports(
        &mut self,
        index: &Index<'_>,
        root: Node<'_>,
        src: &str,
        out: &mut Collector,
    ) {
        for imp in imports(root, src) {
            if !imp.from {
                for (full, alias) in &imp.names {
                    let head = full.split('.').next().unwrap_or("");
                    if let Some(f) = index.module(full) {
                        self.imported.push(f.path.clone());
                    }
                    // `import a.b` binds `a`; `import a.b as c` binds `c` to `a.b`.
                    let binding = if !index.is_repo_package(head) {
                        Binding::Foreign
                    } else if alias == head {
                        Binding::Module(head.to_string())
                    } else {
                        Binding::Module(full.clone())
                    };
                    self.bindings.insert(alias.clone(), binding);
                }
                continue;
            }
            if imp.level > 0 {
                continue;
            }
            let module_file = index.module(&imp.module);
            if let Some(f) = module_file {
                self.imported.push(f.path.clone());
            }
            let repo = index.is_repo_package(imp.module.split('.').next().unwrap_or(""));
            for (name, alias) in &imp.names {
                let sub = format!("{}.{name}", imp.module);
                let binding = if !repo {
                    Binding::Foreign
                } else if let Some((f, s)) =
                    module_file.and_then(|m| index.find_in_module(m, name, 2))
                {
                    out.push(f, s, NameSource::Import, &imp.text);
                    Binding::Symbol(f.path.clone(), s.qualname.clone())
                } else if index.is_repo_package(&sub) {
                    if let Some(f) = index.module(&sub) {
                        self.imported.push(f.path.clone());
                    }
                    Binding::Module(sub)
                } else {
                    Binding::Foreign
                };
                self.bindings.insert(alias.clone(), binding);
            }
            if imp.wildcard {
                if let Some(f) = module_file {
                    self.imported.push(f.path.clone());
                }
            }
        }
    }

    /// Definitions and assignments of the snippets; `x = Class(...)` records an instance.
    pub(super) fn add_definitions(&mut self, index: &Index<'_>, root: Node<'_>, src: &str) {
        let mut assignments = Vec::new();
        visit(root, &mut |n| match n.kind() {
            "function_definition" | "class_definition" => {
                if let Some(name) = n.child_by_field_name("name") {
                    self.defined.insert(text(name, src).to_string());
                }
            }
            "assignment" => {
                assignments.push(n);
                if let Some(left) = n.child_by_field_name("left") {
                    self.define_all(left, src);
                }
            }
            "parameters" | "lambda_parameters" | "as_pattern_target" => self.define_all(n, src),
            "for_statement" | "for_in_clause" => {
                if let Some(left) = n.child_by_field_name("left") {
                    self.define_all(left, src);
                }
            }
            _ => {}
        });
        for n in assignments {
            let (Some(left), Some(right)) = (
                n.child_by_field_name("left"),
                n.child_by_field_name("right"),
            ) else {
                continue;
            };
            if left.kind() != "identifier" {
                continue;
            }
            let name = text(left, src).to_string();
            if right.kind() == "call" {
                if let Some(func) = right.child_by_field_name("function") {
                    if let Some((f, s)) = self.callee(index, func, src) {
                        if s.kind == SymbolKind::Class {
                            self.instances
                                .insert(name.clone(), (f.path.clone(), s.qualname.clone()));
                        }
                    }
                }
            }
            if !self.bindings.contains_key(&name) {
                self.defined.insert(name);
            }
        }
    }

    /// Every identifier under `node` counts as defined by the snippet (unless imported).
    fn define_all(&mut self, node: Node<'_>, src: &str) {
        let mut names = Vec::new();
        visit(node, &mut |n| {
            if n.kind() == "identifier" {
                names.push(text(n, src).to_string());
            }
        });
        for name in names {
            if !self.bindings.contains_key(&name) {
                self.defined.insert(name);
            }
        }
    }

    fn imported_files<'a>(&self, index: &Index<'a>) -> Vec<&'a FileMap> {
        self.imported
            .iter()
            .filter_map(|p| index.map.file(p))
            .collect()
    }

    /// The repository definition a call's function expression denotes, if unambiguous.
    fn callee<'a>(
        &self,
        index: &Index<'a>,
        func: Node<'_>,
        src: &str,
    ) -> Option<(&'a FileMap, &'a Symbol)> {
        match func.kind() {
            "identifier" => {
                let name = text(func, src);
                match self.bindings.get(name) {
                    Some(Binding::Symbol(path, qualname)) => {
                        let f = index.map.file(path)?;
                        Some((f, f.find(qualname)?))
                    }
                    Some(_) => None,
                    None if BUILTINS.contains(&name) || self.defined.contains(name) => None,
                    None => index.unique_definition(name, &self.imported_files(index)),
                }
            }
            "attribute" => {
                let object = func.child_by_field_name("object")?;
                let meth = text(func.child_by_field_name("attribute")?, src);
                if let Some(chain) = dotted_chain(func, src) {
                    let head = chain.split('.').next().unwrap_or("");
                    let rest = &chain[head.len()..];
                    match self.bindings.get(head) {
                        Some(Binding::Module(m)) => {
                            return index.resolve_dotted(&format!("{m}{rest}"));
                        }
                        Some(Binding::Symbol(path, qualname)) => {
                            let f = index.map.file(path)?;
                            let class = f.find(qualname)?;
                            if class.kind != SymbolKind::Class || rest.matches('.').count() != 1 {
                                return None;
                            }
                            return index.method_of(f, class, meth, 2);
                        }
                        Some(Binding::Foreign) => return None,
                        None => {}
                    }
                    if let Some((path, qualname)) = self.instances.get(head) {
                        if rest.matches('.').count() == 1 {
                            let f = index.map.file(path)?;
                            let class = f.find(qualname)?;
                            return index.method_of(f, class, meth, 2);
                        }
                    }
                    if matches!(head, "self" | "cls" | "super") {
                        return None;
                    }
                    // `tomllib.load(...)` with `tomllib` bound nowhere reads as a module
                    // function outside the repository, not as a method call.
                    if !rest[1..].contains('.') && !self.defined.contains(head) {
                        return None;
                    }
                }
                if LITERAL_KINDS.contains(&object.kind())
                    || COMMON_METHODS.contains(&meth)
                    || (meth.starts_with("__") && meth.ends_with("__"))
                {
                    return None;
                }
                index.unique_method(meth)
            }
            _ => None,
        }
    }
}

/// `a.b.c` for an attribute chain of plain names.
pub(super) fn dotted_chain(node: Node<'_>, src: &str) -> Option<String> {
    match node.kind() {
        "identifier" => Some(text(node, src).to_string()),
        "attribute" => {
            let object = dotted_chain(node.child_by_field_name("object")?, src)?;
            let attr = text(node.child_by_field_name("attribute")?, src);
            Some(format!("{object}.{attr}"))
        }
        _ => None,
    }
}

pub(super) fn calls(
    index: &Index<'_>,
    scope: &Scope,
    root: Node<'_>,
    src: &str,
    out: &mut Collector,
) {
    let mut found = Vec::new();
    visit(root, &mut |n| {
        if n.kind() == "call" {
            if let Some(func) = n.child_by_field_name("function") {
                if let Some((f, s)) = scope.callee(index, func, src) {
                    found.push((f, s, text(n, src).to_string()));
                }
            }
        }
    });
    for (f, s, evidence) in found {
        out.push(f, s, NameSource::Call, &evidence);
    }
}

/// tree-sitter node kinds of literals (their methods are the builtin types').
pub(super) const LITERAL_KINDS: &[&str] = &[
    "string",
    "concatenated_string",
    "integer",
    "float",
    "list",
    "dictionary",
    "set",
    "tuple",
    "list_comprehension",
    "dictionary_comprehension",
    "set_comprehension",
    "true",
    "false",
    "none",
];

/// Methods of builtin types and common library objects: a call `x.append(…)` says nothing
/// about the repository even when one repository class defines `append`.
pub(super) const COMMON_METHODS: &[&str] = &[
    "append",
    "extend",
    "insert",
    "remove",
    "pop",
    "clear",
    "copy",
    "count",
    "index",
    "sort",
    "reverse",
    "get",
    "items",
    "keys",
    "values",
    "update",
    "setdefault",
    "add",
    "discard",
    "split",
    "rsplit",
    "join",
    "strip",
    "lstrip",
    "rstrip",
    "replace",
    "format",
    "startswith",
    "endswith",
    "lower",
    "upper",
    "encode",
    "decode",
    "find",
    "read",
    "write",
    "close",
    "open",
    "readlines",
    "readline",
    "seek",
    "exists",
    "mkdir",
    "glob",
    "resolve",
    "isoformat",
    "assertEqual",
    "assertTrue",
    "assertRaises",
    "group",
    "match",
    "search",
    "sub",
];

pub(super) use crate::syntax::BUILTINS;

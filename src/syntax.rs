//! Python syntax checking with tree-sitter-python: every generated or edited Python file goes
//! through [`check_python`] before it is used, and the problems come back with line, column and
//! the offending line so a model can be told precisely what to fix.

use serde::Serialize;
use tree_sitter::{Node, Parser, Tree};

/// One syntax problem, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyntaxIssue {
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The source line the problem is on (without its newline).
    pub line_text: String,
}

impl std::fmt::Display for SyntaxIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

/// Parse Python source into a tree-sitter tree.
pub fn parse_python(source: &str) -> Tree {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .expect("tree-sitter-python grammar matches the tree-sitter version");
    parser
        .parse(source, None)
        .expect("parsing without a timeout or cancellation flag always yields a tree")
}

/// Check Python source. An empty list means tree-sitter found no ERROR or MISSING node.
/// Problems are reported outermost-first, at most five of them.
pub fn check_python(source: &str) -> Vec<SyntaxIssue> {
    let tree = parse_python(source);
    let mut issues = Vec::new();
    collect(tree.root_node(), source, &mut issues);
    issues.truncate(5);
    issues
}

/// Render issues as `file:line:col: message` lines.
pub fn format_issues(file: &str, issues: &[SyntaxIssue]) -> String {
    issues
        .iter()
        .map(|i| {
            format!(
                "{file}:{}:{}: {}\n    {}",
                i.line,
                i.column,
                i.message,
                i.line_text.trim_end()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn collect(node: Node<'_>, source: &str, out: &mut Vec<SyntaxIssue>) {
    // tree-sitter accepts a compound statement whose block is empty (`def f():` at the end of
    // the file); Python does not.
    if node.kind() == "block" && node.named_child_count() == 0 {
        out.push(issue(node, source, "expected an indented block".into()));
        return;
    }
    if !node.has_error() && !node.is_missing() {
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            if child.kind() == "block" || child.child_count() > 0 {
                collect(child, source, out);
            }
        }
        return;
    }
    if node.is_missing() {
        out.push(issue(node, source, format!("missing `{}`", node.kind())));
        return;
    }
    if node.is_error() {
        let snippet: String = node
            .utf8_text(source.as_bytes())
            .unwrap_or("")
            .chars()
            .take(40)
            .collect();
        let snippet = snippet.lines().next().unwrap_or("").trim().to_string();
        let message = if snippet.is_empty() {
            "invalid syntax".to_string()
        } else {
            format!("invalid syntax near `{snippet}`")
        };
        out.push(issue(node, source, message));
        return;
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        collect(child, source, out);
    }
}

fn issue(node: Node<'_>, source: &str, message: String) -> SyntaxIssue {
    let pos = node.start_position();
    let line_text = source.lines().nth(pos.row).unwrap_or("").to_string();
    SyntaxIssue {
        line: pos.row + 1,
        column: pos.column + 1,
        message,
        line_text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_code_has_no_issues() {
        assert!(check_python("def f(x):\n    return x + 1\n").is_empty());
        assert!(check_python("").is_empty());
    }

    #[test]
    fn missing_colon_is_reported_with_position() {
        let issues = check_python("def f(x)\n    return x\n");
        assert!(!issues.is_empty());
        assert_eq!(issues[0].line, 1, "{issues:?}");
        assert!(issues[0].line_text.starts_with("def f(x)"));
    }

    #[test]
    fn empty_block_at_the_end_is_an_error() {
        let issues = check_python("def test_b():\n");
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert!(issues[0].message.contains("indented block"));
        assert!(check_python("class A:\n    def f(self):\n        pass\n").is_empty());
    }

    #[test]
    fn unbalanced_paren_is_reported() {
        let issues = check_python("x = (1, 2\ny = 3\n");
        assert!(!issues.is_empty(), "unclosed paren must be an error");
    }

    #[test]
    fn error_in_later_line_points_there() {
        let src = "import os\n\ndef ok():\n    return 1\n\ndef bad(:\n    pass\n";
        let issues = check_python(src);
        assert!(!issues.is_empty());
        assert_eq!(issues[0].line, 6, "{issues:?}");
        let formatted = format_issues("solution.py", &issues);
        assert!(formatted.starts_with("solution.py:6:"), "{formatted}");
    }
}

/// The longest prefix of `source`, cut at a line boundary, that parses and still contains
/// `must_contain` (used to keep the complete part of a reply cut off mid-way: whole tests, or
/// the complete assertions of a test).
pub fn complete_prefix(source: &str, must_contain: &str) -> Option<String> {
    let lines: Vec<&str> = source.lines().collect();
    for cut in (1..lines.len()).rev() {
        let next = lines[cut].trim_start();
        // Cutting before a continuation line would leave an open statement.
        if next.is_empty()
            || next.starts_with(')')
            || next.starts_with(']')
            || next.starts_with('}')
        {
            continue;
        }
        let candidate = format!("{}\n", lines[..cut].join("\n").trim_end());
        if candidate.contains(must_contain) && check_python(&candidate).is_empty() {
            return Some(candidate);
        }
    }
    None
}

/// The header lines (`def f(a, b):`, `class C:`) of top-level functions and classes, and of
/// methods one level inside classes, for telling a test writer what a solution defines.
pub fn signatures(source: &str) -> Vec<String> {
    let tree = parse_python(source);
    let mut out = vec![];
    let root = tree.root_node();
    let mut cursor = root.walk();
    for node in root.children(&mut cursor) {
        let node = if node.kind() == "decorated_definition" {
            node.child_by_field_name("definition").unwrap_or(node)
        } else {
            node
        };
        match node.kind() {
            "function_definition" => out.push(header(node, source)),
            "class_definition" => {
                out.push(header(node, source));
                if let Some(body) = node.child_by_field_name("body") {
                    let mut c = body.walk();
                    for m in body.children(&mut c) {
                        let m = if m.kind() == "decorated_definition" {
                            m.child_by_field_name("definition").unwrap_or(m)
                        } else {
                            m
                        };
                        if m.kind() == "function_definition" {
                            out.push(format!("    {}", header(m, source)));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Names of top-level functions and classes.
pub fn defined_names(source: &str) -> Vec<String> {
    let tree = parse_python(source);
    let root = tree.root_node();
    let mut cursor = root.walk();
    let mut out = vec![];
    for node in root.children(&mut cursor) {
        let node = if node.kind() == "decorated_definition" {
            node.child_by_field_name("definition").unwrap_or(node)
        } else {
            node
        };
        if matches!(node.kind(), "function_definition" | "class_definition") {
            if let Some(n) = node
                .child_by_field_name("name")
                .and_then(|n| n.utf8_text(source.as_bytes()).ok())
            {
                out.push(n.to_string());
            }
        }
    }
    out
}

fn header(node: Node<'_>, source: &str) -> String {
    let end = node
        .child_by_field_name("body")
        .map(|b| b.start_byte())
        .unwrap_or(node.end_byte());
    let text = &source[node.start_byte()..end];
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.trim_end().to_string()
}

#[cfg(test)]
mod signature_tests {
    use super::*;

    #[test]
    fn complete_prefix_drops_a_cut_off_tail() {
        let src = "from solution import *\n\ndef test_a():\n    assert f(1) == 1\n\ndef test_b():\n    assert f(2) == [1,\n";
        assert_eq!(
            complete_prefix(src, "def test").unwrap(),
            "from solution import *\n\ndef test_a():\n    assert f(1) == 1\n"
        );
        assert_eq!(complete_prefix("def test_a(:\n", "def test"), None);
        let one_test =
            "def test_all():\n    assert f(1) == 1\n    assert f(2) == 2\n    assert f(3) == [3,\n";
        assert_eq!(
            complete_prefix(one_test, "def test").unwrap(),
            "def test_all():\n    assert f(1) == 1\n    assert f(2) == 2\n"
        );
    }

    #[test]
    fn signatures_list_functions_classes_and_methods() {
        let src = "import os\n\ndef add(a: int,\n        b: int) -> int:\n    return a + b\n\n@dataclass\nclass Stack:\n    def push(self, x):\n        pass\n\nX = 1\n";
        let s = signatures(src);
        assert_eq!(
            s,
            vec![
                "def add(a: int, b: int) -> int:",
                "class Stack:",
                "    def push(self, x):"
            ]
        );
        assert_eq!(defined_names(src), vec!["add", "Stack"]);
    }
}

/// Python's builtins (functions, constants, common exceptions): names code may use without
/// defining them, and never repository definitions when called bare.
pub const BUILTINS: &[&str] = &[
    "abs",
    "aiter",
    "all",
    "anext",
    "any",
    "ascii",
    "bin",
    "bool",
    "breakpoint",
    "bytearray",
    "bytes",
    "callable",
    "chr",
    "classmethod",
    "compile",
    "complex",
    "delattr",
    "dict",
    "dir",
    "divmod",
    "enumerate",
    "eval",
    "exec",
    "filter",
    "float",
    "format",
    "frozenset",
    "getattr",
    "globals",
    "hasattr",
    "hash",
    "help",
    "hex",
    "id",
    "input",
    "int",
    "isinstance",
    "issubclass",
    "iter",
    "len",
    "list",
    "locals",
    "map",
    "max",
    "memoryview",
    "min",
    "next",
    "object",
    "oct",
    "open",
    "ord",
    "pow",
    "print",
    "property",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "setattr",
    "slice",
    "sorted",
    "staticmethod",
    "str",
    "sum",
    "super",
    "tuple",
    "type",
    "vars",
    "zip",
    "__import__",
    "NotImplemented",
    "Ellipsis",
    "Exception",
    "ValueError",
    "TypeError",
    "KeyError",
    "IndexError",
    "RuntimeError",
    "AttributeError",
    "NotImplementedError",
    "AssertionError",
    "LookupError",
    "OSError",
    "StopIteration",
];

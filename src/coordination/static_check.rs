//! Cheap static checks that run before any test, with precise feedback: a function or class
//! the task asks for is missing, its signature takes a different number of parameters than
//! the task's, the code calls a name that nothing defines (`Node(...)` with no `Node`), or a
//! method uses an attribute of `self` its class never defines ([`super::self_attrs`]).

use std::collections::BTreeSet;

use tree_sitter::Node;

use super::judge::Example;
use crate::syntax::parse_python;

use crate::syntax::BUILTINS;

/// Whether `name` is one of Python's builtins.
pub fn is_builtin(name: &str) -> bool {
    BUILTINS.contains(&name)
}

/// A name the task defines with `def name(params)`, and how many parameters it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub name: String,
    /// Parameter count without `self`, `*args`, `**kwargs`; `None` when only called in an example.
    pub params: Option<usize>,
}

/// What the task asks the solution to define: its `def` lines and its examples' calls.
pub fn wanted(task: &str, examples: &[Example]) -> Vec<Wanted> {
    let mut out: Vec<Wanted> = vec![];
    let src = code_of(task);
    let tree = parse_python(&src);
    let root = tree.root_node();
    let mut cursor = root.walk();
    for node in root.children(&mut cursor) {
        let node = unwrap_decorated(node);
        if node.kind() == "function_definition" {
            if let Some(name) = field_text(node, "name", &src) {
                let params = node
                    .child_by_field_name("parameters")
                    .map(|p| count_params(p, &src));
                out.push(Wanted {
                    name: name.to_string(),
                    params,
                });
            }
        }
    }
    for e in examples {
        let head = e.expr.split('(').next().unwrap_or("").trim();
        if !head.is_empty()
            && !head.contains('.')
            && !BUILTINS.contains(&head)
            && !out.iter().any(|w| w.name == head)
        {
            out.push(Wanted {
                name: head.to_string(),
                params: None,
            });
        }
    }
    out
}

/// Required and at most (`None` with `*args`) arguments of a call.
pub type Arity = (usize, Option<usize>);

/// Problems found in `code`, each a sentence the CodeGenerator can act on.
pub fn check(code: &str, wanted: &[Wanted]) -> Vec<String> {
    let tree = parse_python(code);
    let root = tree.root_node();
    let mut problems = vec![];
    let mut defined_top: Vec<(String, Option<Arity>)> = vec![];
    let mut cursor = root.walk();
    for node in root.children(&mut cursor) {
        let node = unwrap_decorated(node);
        match node.kind() {
            "function_definition" => {
                if let Some(n) = field_text(node, "name", code) {
                    let p = node
                        .child_by_field_name("parameters")
                        .map(|p| param_range(p, code));
                    defined_top.push((n.to_string(), p));
                }
            }
            "class_definition" => {
                if let Some(n) = field_text(node, "name", code) {
                    defined_top.push((n.to_string(), None));
                }
            }
            _ => {}
        }
    }
    let mut bound = BTreeSet::new();
    let mut called = vec![];
    walk(root, code, &mut bound, &mut called);
    for w in wanted {
        match defined_top.iter().find(|(n, _)| *n == w.name) {
            None if !bound.contains(&w.name) => problems.push(format!(
                "the task asks for `{}`, but solution.py does not define it",
                w.name
            )),
            Some((_, Some((required, total)))) => {
                if let Some(want) = w.params {
                    if want < *required || total.is_some_and(|t| want > t) {
                        let have = match total {
                            Some(t) if *t == *required => t.to_string(),
                            Some(t) => format!("{required} to {t}"),
                            None => format!("{required} or more"),
                        };
                        problems.push(format!(
                            "`{}` takes {have} parameter(s); the task's signature takes {want}",
                            w.name
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    let mut reported = BTreeSet::new();
    for (name, line) in called {
        if !bound.contains(&name)
            && !BUILTINS.contains(&name.as_str())
            && !is_exception(&name)
            && reported.insert(name.clone())
        {
            problems.push(format!(
                "line {line} calls `{name}`, but nothing in solution.py defines or imports it"
            ));
        }
    }
    problems.extend(super::self_attrs::undefined(root, code));
    problems
}

/// How many arguments a call of top-level `name` in `code` takes (required, and at most;
/// `None` with `*args`): a function's parameters, or a class's `__init__` without `self`.
pub fn arity(code: &str, name: &str) -> Option<Arity> {
    let tree = parse_python(code);
    let root = tree.root_node();
    let mut cursor = root.walk();
    let found = root.children(&mut cursor).map(unwrap_decorated).find(|n| {
        matches!(n.kind(), "function_definition" | "class_definition")
            && field_text(*n, "name", code) == Some(name)
    })?;
    if found.kind() == "function_definition" {
        return found
            .child_by_field_name("parameters")
            .map(|p| param_range(p, code));
    }
    let body = found.child_by_field_name("body")?;
    let mut c = body.walk();
    let init = body.children(&mut c).map(unwrap_decorated).find(|m| {
        m.kind() == "function_definition" && field_text(*m, "name", code) == Some("__init__")
    });
    match init {
        Some(m) => m
            .child_by_field_name("parameters")
            .map(|p| param_range(p, code)),
        None => Some((0, Some(0))),
    }
}

/// The annotations of top-level function `name`'s parameters in `code`, in order, without
/// `self`/`cls` and `*args`/`**kwargs` (`None` for a parameter without one); empty when there
/// is no such function.
pub fn annotations(code: &str, name: &str) -> Vec<Option<String>> {
    let tree = parse_python(code);
    let root = tree.root_node();
    let mut cursor = root.walk();
    let Some(f) = root
        .children(&mut cursor)
        .map(unwrap_decorated)
        .find(|n| n.kind() == "function_definition" && field_text(*n, "name", code) == Some(name))
    else {
        return vec![];
    };
    let Some(params) = f.child_by_field_name("parameters") else {
        return vec![];
    };
    let mut out = vec![];
    let mut c = params.walk();
    for p in params.named_children(&mut c) {
        let annotation = match p.kind() {
            "identifier" => None,
            "typed_parameter" | "typed_default_parameter" | "default_parameter" => p
                .child_by_field_name("type")
                .and_then(|t| t.utf8_text(code.as_bytes()).ok())
                .map(str::to_string),
            _ => continue,
        };
        let text = p.utf8_text(code.as_bytes()).unwrap_or("");
        let pname = text.split([':', '=']).next().unwrap_or("").trim();
        if pname == "self" || pname == "cls" {
            continue;
        }
        out.push(annotation);
    }
    out
}

/// Builtin exception and warning classes (`ValueError`, `StopIteration`, `UserWarning`).
fn is_exception(name: &str) -> bool {
    name.ends_with("Error")
        && [
            "ArithmeticError",
            "AssertionError",
            "AttributeError",
            "BufferError",
            "EOFError",
            "ImportError",
            "IndexError",
            "KeyError",
            "LookupError",
            "MemoryError",
            "NameError",
            "NotImplementedError",
            "OSError",
            "OverflowError",
            "RecursionError",
            "ReferenceError",
            "RuntimeError",
            "SyntaxError",
            "SystemError",
            "TypeError",
            "UnboundLocalError",
            "UnicodeError",
            "ValueError",
            "ZeroDivisionError",
            "FileNotFoundError",
            "PermissionError",
            "TimeoutError",
            "ModuleNotFoundError",
            "UnicodeDecodeError",
            "UnicodeEncodeError",
            "IndentationError",
            "ConnectionError",
        ]
        .contains(&name)
        || [
            "Exception",
            "BaseException",
            "StopIteration",
            "StopAsyncIteration",
            "KeyboardInterrupt",
            "SystemExit",
            "GeneratorExit",
            "Warning",
            "UserWarning",
            "DeprecationWarning",
            "RuntimeWarning",
        ]
        .contains(&name)
}

/// Collect every name bound anywhere (definitions, parameters, assignments, imports, loop and
/// `with`/`except` targets, comprehension variables, globals) and every plain-name call.
fn walk(
    node: Node<'_>,
    src: &str,
    bound: &mut BTreeSet<String>,
    called: &mut Vec<(String, usize)>,
) {
    let text = |n: Node<'_>| n.utf8_text(src.as_bytes()).unwrap_or("").to_string();
    match node.kind() {
        "function_definition" | "class_definition" => {
            if let Some(n) = node.child_by_field_name("name") {
                bound.insert(text(n));
            }
        }
        "parameters" | "lambda_parameters" => identifiers(node, src, bound),
        "assignment" | "augmented_assignment" | "for_statement" | "for_in_clause" => {
            if let Some(left) = node.child_by_field_name("left") {
                identifiers(left, src, bound);
            }
        }
        "named_expression" => {
            if let Some(n) = node.child_by_field_name("name") {
                bound.insert(text(n));
            }
        }
        "as_pattern" | "with_item" | "except_clause" => {
            // `with x as y`, `except E as e`: the alias is the last identifier.
            if let Some(alias) = node.child_by_field_name("alias") {
                identifiers(alias, src, bound);
            } else {
                let mut c = node.walk();
                for ch in node.children(&mut c) {
                    if ch.kind() == "as_pattern_target" {
                        identifiers(ch, src, bound);
                    }
                }
            }
        }
        "import_statement" | "import_from_statement" | "future_import_statement" => {
            let mut c = node.walk();
            for ch in node.named_children(&mut c) {
                match ch.kind() {
                    "dotted_name" => {
                        if let Some(first) = ch.named_child(0) {
                            bound.insert(text(first));
                        }
                    }
                    "aliased_import" => {
                        if let Some(a) = ch.child_by_field_name("alias") {
                            bound.insert(text(a));
                        }
                    }
                    "wildcard_import" => {
                        // `from x import *` can bind anything: no undefined-name findings.
                        bound.insert("*".into());
                    }
                    _ => {}
                }
            }
        }
        "global_statement" | "nonlocal_statement" => identifiers(node, src, bound),
        "call" => {
            if let Some(f) = node.child_by_field_name("function") {
                if f.kind() == "identifier" {
                    called.push((text(f), f.start_position().row + 1));
                }
            }
        }
        _ => {}
    }
    let mut c = node.walk();
    for ch in node.children(&mut c) {
        walk(ch, src, bound, called);
    }
    if bound.contains("*") {
        called.clear();
    }
}

/// Every identifier under `node` (targets of an assignment, a parameter list).
fn identifiers(node: Node<'_>, src: &str, bound: &mut BTreeSet<String>) {
    if node.kind() == "identifier" {
        bound.insert(node.utf8_text(src.as_bytes()).unwrap_or("").to_string());
        return;
    }
    // Defaults and annotations are expressions, not bindings; `a.b = 1` binds nothing new.
    if matches!(node.kind(), "attribute" | "subscript" | "type") {
        return;
    }
    let mut c = node.walk();
    for ch in node.children(&mut c) {
        if let Some(field) = node.field_name_for_child(ch.id() as u32) {
            if field == "value" || field == "type" {
                continue;
            }
        }
        identifiers(ch, src, bound);
    }
}

fn count_params(params: Node<'_>, src: &str) -> usize {
    param_range(params, src).1.unwrap_or(usize::MAX)
}

/// Parameters without `self`/`cls`: how many are required, and how many may be given (`None`
/// with `*args`).
fn param_range(params: Node<'_>, src: &str) -> (usize, Option<usize>) {
    let mut c = params.walk();
    let mut required = 0;
    let mut total = 0;
    let mut open = false;
    for p in params.named_children(&mut c) {
        match p.kind() {
            "list_splat_pattern" | "dictionary_splat_pattern" => open = true,
            "keyword_separator" | "positional_separator" => {}
            "default_parameter" | "typed_default_parameter" => total += 1,
            _ => {
                let t = p.utf8_text(src.as_bytes()).unwrap_or("");
                let name = t.split(':').next().unwrap_or("").trim();
                if name != "self" && name != "cls" {
                    required += 1;
                    total += 1;
                }
            }
        }
    }
    (required, (!open).then_some(total))
}

fn unwrap_decorated(node: Node<'_>) -> Node<'_> {
    if node.kind() == "decorated_definition" {
        node.child_by_field_name("definition").unwrap_or(node)
    } else {
        node
    }
}

fn field_text<'s>(node: Node<'_>, field: &str, src: &'s str) -> Option<&'s str> {
    node.child_by_field_name(field)
        .and_then(|n| n.utf8_text(src.as_bytes()).ok())
}

/// The Python in a task: its fenced blocks, or the whole text when it has none.
fn code_of(task: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    let mut any = false;
    for line in task.lines() {
        if line.trim_start().starts_with("```") {
            inside = !inside;
            any = true;
            continue;
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    if any {
        out
    } else {
        task.lines()
            .filter(|l| l.trim_start().starts_with("def ") && l.trim_end().ends_with(':'))
            .map(|l| format!("{}\n    pass\n", l.trim()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undefined_calls_missing_names_and_arity_are_found() {
        let task = "Complete this.\n```python\ndef build(items, key):\n    \"\"\"doc\"\"\"\n```";
        let w = wanted(task, &[]);
        assert_eq!(
            w,
            vec![Wanted {
                name: "build".into(),
                params: Some(2)
            }]
        );
        let code = "class Tree:\n    def __init__(self, items):\n        self.root = Node(items[0])\n\ndef build(items):\n    return Tree(items)\n";
        let p = check(code, &w);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("`build` takes 1 parameter(s); the task's signature takes 2"));
        assert!(p[1].contains("line 3 calls `Node`"), "{p:?}");
        let missing = check("def other():\n    pass\n", &w);
        assert!(missing[0].contains("does not define it"), "{missing:?}");
    }

    #[test]
    fn bound_names_builtins_and_imports_are_not_findings() {
        let code = "import math\nfrom collections import deque as dq\n\ndef f(xs, *args, key=None, **kw):\n    total = sum(math.floor(x) for x in xs)\n    q = dq()\n    g = lambda y: abs(y)\n    for i, v in enumerate(xs):\n        helper(v)\n    try:\n        pass\n    except ValueError as e:\n        raise TypeError(str(e))\n    return g(total)\n\ndef helper(v):\n    return sorted([v])\n";
        let w = vec![Wanted {
            name: "f".into(),
            params: Some(1),
        }];
        let p = check(code, &w);
        assert_eq!(p, Vec::<String>::new());
    }

    #[test]
    fn example_calls_are_wanted_names() {
        let ex = vec![Example {
            expr: "fib(5)".into(),
            expected: "5".into(),
        }];
        let w = wanted("Write fib(n). fib(5) == 5", &ex);
        assert_eq!(w[0].name, "fib");
        assert!(check("def fibonacci(n):\n    return n\n", &w)[0].contains("`fib`"));
    }
}

//! Attributes and methods used on `self` that the class never defines: `self.helper()` in a
//! class with no `helper` method, class attribute or `self.helper = ...` assignment. A static
//! finding ([`super::static_check`]), found before any test runs. Classes with base classes
//! (anything may be inherited) or dynamic attributes (`__getattr__`, `setattr`, `__dict__`,
//! `__slots__`) are left alone.

use std::collections::BTreeSet;

use tree_sitter::Node;

/// One finding per undefined attribute per class, each a sentence the CodeGenerator can act on.
pub fn undefined(root: Node<'_>, src: &str) -> Vec<String> {
    let mut out = vec![];
    let mut c = root.walk();
    for node in root.children(&mut c) {
        let node = if node.kind() == "decorated_definition" {
            node.child_by_field_name("definition").unwrap_or(node)
        } else {
            node
        };
        if node.kind() == "class_definition" {
            class(node, src, &mut out);
        }
    }
    out
}

fn text<'s>(n: Node<'_>, src: &'s str) -> &'s str {
    n.utf8_text(src.as_bytes()).unwrap_or("")
}

fn class(node: Node<'_>, src: &str, out: &mut Vec<String>) {
    let name = node
        .child_by_field_name("name")
        .map(|n| text(n, src))
        .unwrap_or("?");
    if let Some(bases) = node.child_by_field_name("superclasses") {
        let mut c = bases.walk();
        let only_object = bases
            .named_children(&mut c)
            .all(|b| text(b, src) == "object");
        if !only_object {
            return;
        }
    }
    let Some(body) = node.child_by_field_name("body") else {
        return;
    };
    let body_text = text(body, src);
    if [
        "__getattr__",
        "__getattribute__",
        "setattr(",
        "__dict__",
        "__slots__",
    ]
    .iter()
    .any(|d| body_text.contains(d))
    {
        return;
    }
    let mut defined = BTreeSet::new();
    let mut c = body.walk();
    for item in body.children(&mut c) {
        let item = if item.kind() == "decorated_definition" {
            item.child_by_field_name("definition").unwrap_or(item)
        } else {
            item
        };
        match item.kind() {
            "function_definition" | "class_definition" => {
                if let Some(n) = item.child_by_field_name("name") {
                    defined.insert(text(n, src).to_string());
                }
            }
            "expression_statement" => {
                let mut c2 = item.walk();
                for a in item.named_children(&mut c2) {
                    if a.kind() == "assignment" {
                        if let Some(left) = a.child_by_field_name("left") {
                            class_targets(left, src, &mut defined);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let mut used: Vec<(String, usize)> = vec![];
    walk(body, src, &mut defined, &mut used);
    let mut reported = BTreeSet::new();
    for (attr, line) in used {
        if defined.contains(&attr) || attr.starts_with("__") || !reported.insert(attr.clone()) {
            continue;
        }
        out.push(format!(
            "line {line} uses `self.{attr}`, but class `{name}` never defines `{attr}` (no method, class attribute or `self.{attr} = ...`)"
        ));
    }
}

/// Names a class-level assignment binds (`count = 0`, `a, b = 1, 2`, `x: int`).
fn class_targets(n: Node<'_>, src: &str, defined: &mut BTreeSet<String>) {
    if n.kind() == "identifier" {
        defined.insert(text(n, src).to_string());
        return;
    }
    let mut c = n.walk();
    for ch in n.named_children(&mut c) {
        class_targets(ch, src, defined);
    }
}

/// `self.<name>` as an attribute node.
fn self_attr(n: Node<'_>, src: &str) -> Option<String> {
    if n.kind() != "attribute" {
        return None;
    }
    let object = n.child_by_field_name("object")?;
    if object.kind() != "identifier" || text(object, src) != "self" {
        return None;
    }
    Some(text(n.child_by_field_name("attribute")?, src).to_string())
}

/// Every `self.x` bound anywhere in the class (assignment, augmented assignment, `for`,
/// `with ... as`) goes to `defined`; every other `self.x` read goes to `used`.
fn walk(n: Node<'_>, src: &str, defined: &mut BTreeSet<String>, used: &mut Vec<(String, usize)>) {
    match n.kind() {
        "assignment" | "augmented_assignment" | "for_statement" | "for_in_clause" => {
            if let Some(left) = n.child_by_field_name("left") {
                bind(left, src, defined);
            }
        }
        "as_pattern_target" => bind(n, src, defined),
        _ => {}
    }
    if let Some(a) = self_attr(n, src) {
        used.push((a, n.start_position().row + 1));
    }
    let mut c = n.walk();
    for ch in n.children(&mut c) {
        walk(ch, src, defined, used);
    }
}

/// The `self.x` targets under an assignment's left side.
fn bind(n: Node<'_>, src: &str, defined: &mut BTreeSet<String>) {
    if let Some(a) = self_attr(n, src) {
        defined.insert(a);
        return;
    }
    if matches!(n.kind(), "subscript" | "attribute") {
        return;
    }
    let mut c = n.walk();
    for ch in n.named_children(&mut c) {
        bind(ch, src, defined);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse_python;

    fn findings(code: &str) -> Vec<String> {
        let tree = parse_python(code);
        undefined(tree.root_node(), code)
    }

    #[test]
    fn a_method_or_attribute_never_defined_is_a_finding() {
        let code = "class Counter:\n    limit = 10\n\n    def __init__(self):\n        self.n = 0\n        self.a, self.b = 1, 2\n\n    def add(self):\n        self.n += 1\n        if self.n > self.limit:\n            self.reset()\n        return self.helper(self.a + self.b) + self.helper(0) + self.total\n\n    def reset(self):\n        self.n = 0\n\n    @property\n    def total(self):\n        return self.n\n";
        let f = findings(code);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].starts_with(
                "line 12 uses `self.helper`, but class `Counter` never defines `helper`"
            ),
            "{f:?}"
        );
    }

    #[test]
    fn inherited_dynamic_and_later_bound_attributes_are_not_findings() {
        assert!(findings("class A(Base):\n    def f(self):\n        return self.g()\n").is_empty());
        assert!(findings(
            "class A:\n    def __getattr__(self, k):\n        return 1\n    def f(self):\n        return self.g\n"
        )
        .is_empty());
        assert!(findings(
            "class A:\n    def f(self):\n        return self.cache\n    def g(self):\n        for self.cache in range(2):\n            pass\n"
        )
        .is_empty());
        let dataclass =
            "@dataclass\nclass P:\n    x: int\n    def f(self):\n        return self.x + self.y\n";
        let f = findings(dataclass);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].contains("`self.y`"), "{f:?}");
    }
}

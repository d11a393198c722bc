//! Deterministic clean-up of model-written Python before it is run: small models append example
//! usage, `if __name__ == "__main__":` blocks and calls to their own test functions, and test
//! files often redefine the function under test (so the tests would test their own copy).
//! Removing those top-level statements changes no definition the task asked for. Solutions
//! also lose `import pytest`, imports of `solution` itself and the comments trailing after their last statement (left over
//! when a reply's test part is dropped), and [`same_program`] tells a real revision from one
//! that only moved comments and spacing.

use crate::syntax::parse_python;

/// What was removed, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cleaned {
    pub source: String,
    pub removed: Vec<String>,
}

fn is_main_guard(node: tree_sitter::Node<'_>, src: &str) -> bool {
    node.kind() == "if_statement"
        && node
            .child_by_field_name("condition")
            .and_then(|c| c.utf8_text(src.as_bytes()).ok())
            .map(|t| t.contains("__name__") && t.contains("__main__"))
            .unwrap_or(false)
}

/// A top-level expression statement that calls something (`print(...)`, `main()`,
/// `test_x()`, `unittest.main()`), or a top-level `assert`.
fn is_top_level_call_or_assert(node: tree_sitter::Node<'_>) -> bool {
    match node.kind() {
        "assert_statement" => true,
        "expression_statement" => node
            .named_child(0)
            .map(|e| e.kind() == "call" || e.kind() == "await")
            .unwrap_or(false),
        _ => false,
    }
}

fn defined_name(node: tree_sitter::Node<'_>, src: &str) -> Option<String> {
    let def = if node.kind() == "decorated_definition" {
        node.child_by_field_name("definition")?
    } else {
        node
    };
    if !matches!(def.kind(), "function_definition" | "class_definition") {
        return None;
    }
    def.child_by_field_name("name")?
        .utf8_text(src.as_bytes())
        .ok()
        .map(String::from)
}

/// A model-written self-test left in a solution: a top-level function without parameters
/// whose body asserts, and that nothing else in the file refers to (`def check_chunk(): assert
/// chunk([1], 1) == ...`). It is never called by the solution and its assertions are
/// unchecked guesses, so it does not ship.
fn is_self_check(node: tree_sitter::Node<'_>, name: &str, src: &str) -> bool {
    if node.kind() != "function_definition" {
        return false;
    }
    let no_params = node
        .child_by_field_name("parameters")
        .map(|p| p.named_child_count() == 0)
        .unwrap_or(false);
    fn asserts(n: tree_sitter::Node<'_>) -> bool {
        n.kind() == "assert_statement" || n.named_children(&mut n.walk()).any(asserts)
    }
    let body_asserts = node
        .child_by_field_name("body")
        .map(asserts)
        .unwrap_or(false);
    let outside = [&src[..node.start_byte()], &src[node.end_byte()..]];
    let referenced = outside.iter().any(|part| {
        part.match_indices(name).any(|(i, _)| {
            let before = part[..i].chars().next_back();
            let after = part[i + name.len()..].chars().next();
            let word =
                |c: Option<char>| c.map(|c| c.is_alphanumeric() || c == '_').unwrap_or(false);
            !word(before) && !word(after)
        })
    });
    no_params && body_asserts && !referenced
}

fn rebuild(src: &str, drop: &[(usize, usize)]) -> String {
    let mut out = String::new();
    let mut at = 0;
    for &(s, e) in drop {
        out.push_str(&src[at..s]);
        at = e;
    }
    out.push_str(&src[at..]);
    // Collapse the blank lines left behind.
    let mut cleaned = String::new();
    let mut blank = 0;
    for line in out.lines() {
        if line.trim().is_empty() {
            blank += 1;
            if blank > 2 {
                continue;
            }
        } else {
            blank = 0;
        }
        cleaned.push_str(line);
        cleaned.push('\n');
    }
    format!("{}\n", cleaned.trim_end())
}

/// `import pytest`, `from pytest import …` or an import of `solution` itself: never needed by
/// a solution (they come with a test part the model appended).
fn is_junk_import(node: tree_sitter::Node<'_>, src: &str) -> bool {
    matches!(node.kind(), "import_statement" | "import_from_statement")
        && node
            .child_by_field_name(if node.kind() == "import_statement" {
                "name"
            } else {
                "module_name"
            })
            .and_then(|n| n.utf8_text(src.as_bytes()).ok())
            .map(|t| t == "pytest" || t.starts_with("pytest.") || t == "solution")
            .unwrap_or(false)
}

fn clean(src: &str, drop_def: &dyn Fn(&str) -> bool, solution: bool) -> Cleaned {
    let tree = parse_python(src);
    let root = tree.root_node();
    if root.has_error() {
        return Cleaned {
            source: src.to_string(),
            removed: vec![],
        };
    }
    let mut drop = vec![];
    let mut removed = vec![];
    let mut cursor = root.walk();
    for node in root.children(&mut cursor) {
        let text = || {
            node.utf8_text(src.as_bytes())
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        };
        let gone = if is_main_guard(node, src)
            || is_top_level_call_or_assert(node)
            || (solution && is_junk_import(node, src))
        {
            true
        } else if let Some(name) = defined_name(node, src) {
            drop_def(&name) || (solution && is_self_check(node, &name, src))
        } else {
            false
        };
        if gone {
            removed.push(text());
            drop.push((node.start_byte(), node.end_byte()));
        }
    }
    if solution {
        // Comments after the last statement kept ("# Test the function", "# Run tests").
        let kept_end = root
            .children(&mut root.walk())
            .filter(|n| n.kind() != "comment")
            .filter(|n| !drop.iter().any(|&(s, _)| s == n.start_byte()))
            .map(|n| n.end_byte())
            .max()
            .unwrap_or(0);
        for node in root.children(&mut root.walk()) {
            if node.kind() == "comment" && node.start_byte() >= kept_end {
                drop.push((node.start_byte(), node.end_byte()));
            }
        }
        drop.sort_unstable();
    }
    if drop.is_empty() {
        return Cleaned {
            source: src.to_string(),
            removed,
        };
    }
    Cleaned {
        source: rebuild(src, &drop),
        removed,
    }
}

/// Clean solution code: drop example usage, main guards, top-level asserts and test functions.
pub fn clean_solution(src: &str) -> Cleaned {
    clean(src, &|name| name.starts_with("test_"), true)
}

/// Clean a test file: drop module-level calls and main guards, and redefinitions of anything
/// `solution_names` holds (the tests must exercise the solution, not a copy).
pub fn clean_tests(src: &str, solution_names: &[String]) -> Cleaned {
    clean(
        src,
        &|name| {
            !name.starts_with("test")
                && !name.starts_with("Test")
                && solution_names.iter().any(|n| n == name)
        },
        false,
    )
}

/// The tokens of a program with their nesting depth, comments left out.
fn token_signature(src: &str) -> Option<Vec<(usize, String)>> {
    let tree = parse_python(src);
    if tree.root_node().has_error() {
        return None;
    }
    let mut out = vec![];
    let mut stack = vec![(tree.root_node(), 0usize)];
    while let Some((node, depth)) = stack.pop() {
        if node.kind() == "comment" {
            continue;
        }
        if node.child_count() == 0 {
            out.push((
                depth,
                node.utf8_text(src.as_bytes()).unwrap_or("").to_string(),
            ));
            continue;
        }
        let mut cursor = node.walk();
        let children: Vec<_> = node.children(&mut cursor).collect();
        for child in children.into_iter().rev() {
            stack.push((child, depth + 1));
        }
    }
    Some(out)
}

/// Whether two sources are the same program: equal but for comments, blank lines and spacing.
/// Unparseable sources are compared as text.
pub fn same_program(a: &str, b: &str) -> bool {
    match (token_signature(a), token_signature(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solution_loses_usage_and_main_guard_but_keeps_definitions() {
        let src = "import math\n\nLIMIT = 10\n\ndef f(x):\n    return x\n\nprint(f(3))\nassert f(1) == 1\n\nif __name__ == '__main__':\n    print(f(2))\n\ndef test_f():\n    assert f(1) == 1\n";
        let c = clean_solution(src);
        assert_eq!(
            c.source,
            "import math\n\nLIMIT = 10\n\ndef f(x):\n    return x\n"
        );
        assert_eq!(c.removed.len(), 4, "{:?}", c.removed);
        assert!(crate::syntax::check_python(&c.source).is_empty());
    }

    #[test]
    fn tests_lose_copies_of_the_solution_and_module_level_calls() {
        let src = "from solution import *\nimport pytest\n\ndef fizzbuzz(n):\n    return str(n)\n\ndef helper():\n    return 1\n\ndef test_a():\n    assert fizzbuzz(3) == 'Fizz'\n\ntest_a()\n";
        let c = clean_tests(src, &["fizzbuzz".to_string()]);
        assert_eq!(c.source, "from solution import *\nimport pytest\n\n\ndef helper():\n    return 1\n\ndef test_a():\n    assert fizzbuzz(3) == 'Fizz'\n");
        assert_eq!(c.removed, vec!["def fizzbuzz(n):", "test_a()"]);
    }

    #[test]
    fn solution_loses_pytest_imports_and_trailing_comments_left_by_a_dropped_test_part() {
        let src = "import math\n# helper below\ndef f(x):\n    return math.floor(x)\n\n# Test_solution.py\nfrom solution import *\nimport pytest\n\ndef test_f():\n    assert f(1.5) == 1\n\n# Run tests\n";
        let c = clean_solution(src);
        assert_eq!(
            c.source,
            "import math\n# helper below\ndef f(x):\n    return math.floor(x)\n"
        );
        assert!(
            c.removed.contains(&"import pytest".to_string()),
            "{:?}",
            c.removed
        );
        assert!(
            c.removed.contains(&"from solution import *".to_string()),
            "{:?}",
            c.removed
        );
        // Tests keep their pytest import.
        let t = clean_tests("import pytest\n\ndef test_a():\n    assert 1\n# end\n", &[]);
        assert!(t.source.contains("import pytest") && t.source.contains("# end"));
    }

    #[test]
    fn solution_loses_uncalled_self_checks_but_keeps_asked_functions() {
        let src = "def chunk(items, size):\n    assert size > 0\n    return [items[i:i + size] for i in range(0, len(items), size)]\n\n# Check function\ndef check_chunk():\n    assert chunk([1, 2], 1) == [[1, 2]], 'wrong'\n    print('ok')\n\ndef check_password(pw):\n    assert pw\n    return True\n\ndef helper():\n    assert True\n\ndef uses():\n    return helper()\n";
        let c = clean_solution(src);
        assert!(!c.source.contains("check_chunk"), "{}", c.source);
        assert!(c.removed.iter().any(|r| r.starts_with("def check_chunk")));
        // Parameters, or a caller, mean it is part of the solution.
        for kept in [
            "def chunk(",
            "def check_password(pw)",
            "def helper():",
            "def uses():",
        ] {
            assert!(c.source.contains(kept), "{kept} missing from {}", c.source);
        }
    }

    #[test]
    fn same_program_ignores_comments_and_spacing_but_not_code() {
        let a = "def f(x):\n    return x + 1\n";
        assert!(same_program(
            a,
            "# fixed\ndef f(x):\n\n    return x+1  # now right\n"
        ));
        assert!(!same_program(a, "def f(x):\n    return x + 2\n"));
        // Same tokens, different nesting: a different program.
        assert!(!same_program(
            "if a:\n    b()\n    c()\n",
            "if a:\n    b()\nc()\n"
        ));
    }

    #[test]
    fn clean_code_is_returned_unchanged() {
        let src = "def f():\n    return 1\n";
        assert_eq!(
            clean_solution(src),
            Cleaned {
                source: src.into(),
                removed: vec![]
            }
        );
        // Unparseable input is left alone (the syntax check reports it).
        assert_eq!(clean_solution("def f(:\n").source, "def f(:\n");
    }
}

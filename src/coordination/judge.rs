//! The task's own examples turned into a test file the agents cannot edit. The test results
//! the Coordinator judges by ([`crate::testing::TestRun`]) and the failure report the Debugger
//! reads live in [`crate::testing`].

pub use crate::testing::results::EXAMPLES_FILE;

/// An example stated in a task: an expression and the literal it should equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub expr: String,
    pub expected: String,
}

/// Examples in a task: doctest lines (`>>> expr` then the expected output), `assert expr ==
/// value` lines, and `expr == value` / `expr -> value` / `expr returns value` phrases, kept only
/// when the expression is a call and the expected value is a Python literal.
pub fn extract_examples(task: &str) -> Vec<Example> {
    let mut out: Vec<Example> = vec![];
    let lines: Vec<&str> = task.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim();
        if let Some(expr) = t.strip_prefix(">>> ") {
            let mut expected = vec![];
            let mut j = i + 1;
            while j < lines.len() {
                let n = lines[j].trim();
                if n.is_empty()
                    || n.starts_with(">>>")
                    || n.starts_with("\"\"\"")
                    || n.starts_with("'''")
                {
                    break;
                }
                expected.push(n);
                j += 1;
            }
            if expected.len() == 1 {
                push(&mut out, expr.trim(), expected[0]);
            }
            i = j;
            continue;
        }
        i += 1;
    }
    for (expr, value) in prose_examples(task) {
        push(&mut out, &expr, &value);
    }
    out
}

/// `call(args) OP value` phrases in prose, where OP is `==`, `->`, `=>`, `returns`,
/// `should return` or `should be`; the value runs to the end of the sentence or clause, with
/// brackets balanced so `[1, 2]` stays whole.
fn prose_examples(text: &str) -> Vec<(String, String)> {
    let b = text.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'.';
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        // The start of a dotted name not preceded by a name character.
        if !(b[i].is_ascii_alphabetic() || b[i] == b'_') || (i > 0 && ident(b[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && ident(b[i]) {
            i += 1;
        }
        if i >= b.len() || b[i] != b'(' {
            continue;
        }
        let Some(close) = balanced_end(b, i) else {
            continue;
        };
        let expr = &text[start..close];
        let rest = &text[close..];
        let trimmed = rest.trim_start();
        let ops = ["==", "->", "=>", "should return", "returns", "should be"];
        let Some(op) = ops.iter().find(|op| trimmed.starts_with(**op)) else {
            i = start + 1;
            continue;
        };
        let vstart = close + (rest.len() - trimmed.len()) + op.len();
        let vtext = &text[vstart..];
        let vtrim = vtext.trim_start();
        let voff = vstart + (vtext.len() - vtrim.len());
        let vend = value_end(text.as_bytes(), voff);
        let value = text[voff..vend]
            .trim()
            .trim_end_matches(['.', ',', ';'])
            .trim();
        out.push((expr.to_string(), value.to_string()));
        i = vend.max(start + 1);
    }
    out
}

/// Index just past the bracket that closes the one at `open`.
fn balanced_end(b: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0i32;
    let mut quote: Option<u8> = None;
    for (j, &c) in b.iter().enumerate().skip(open) {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' => quote = Some(c),
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(j + 1);
                    }
                }
                b'\n' => return None,
                _ => {}
            },
        }
    }
    None
}

/// End of a value: a newline, a backtick, or `,`/`;`/`.` followed by a space or the end, at
/// bracket depth zero and outside quotes.
fn value_end(b: &[u8], from: usize) -> usize {
    let mut depth = 0i32;
    let mut quote: Option<u8> = None;
    let mut j = from;
    while j < b.len() {
        let c = b[j];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' => quote = Some(c),
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => depth -= 1,
                b'\n' | b'`' => return j,
                // `f(0) == 0 and f(1) == 1`: a conjunction ends the value.
                b' ' if depth <= 0
                    && (b[j..].starts_with(b" and ")
                        || b[j..].starts_with(b" or ")
                        || b[j..].starts_with(b" but ")
                        || b[j..].starts_with(b" while ")) =>
                {
                    return j
                }
                b',' | b';' | b'.'
                    if depth <= 0 && (j + 1 >= b.len() || b[j + 1].is_ascii_whitespace()) =>
                {
                    return j
                }
                _ => {}
            },
        }
        if depth < 0 {
            return j;
        }
        j += 1;
    }
    j
}

fn push(out: &mut Vec<Example>, expr: &str, expected: &str) {
    let is_call = {
        let t = crate::syntax::parse_python(expr);
        let root = t.root_node();
        !root.has_error()
            && root.named_child_count() == 1
            && root
                .named_child(0)
                .and_then(|s| s.named_child(0))
                .map(|e| e.kind() == "call")
                .unwrap_or(false)
    };
    let e = Example {
        expr: expr.to_string(),
        expected: expected.to_string(),
    };
    // print() shows str(), not the value: such an example cannot be compared as a value.
    if expr.starts_with("print(") {
        return;
    }
    if is_call && is_literal(expected) && !out.contains(&e) {
        out.push(e);
    }
}

/// Whether `src` is a Python literal (numbers, strings, True/False/None, and lists, tuples,
/// sets and dicts of literals).
pub fn is_literal(src: &str) -> bool {
    let tree = crate::syntax::parse_python(src);
    let root = tree.root_node();
    if root.has_error() || root.named_child_count() != 1 {
        return false;
    }
    let Some(stmt) = root.named_child(0) else {
        return false;
    };
    if stmt.kind() != "expression_statement" || stmt.named_child_count() != 1 {
        return false;
    }
    fn lit(n: tree_sitter::Node<'_>) -> bool {
        match n.kind() {
            "integer" | "float" | "string" | "concatenated_string" | "true" | "false" | "none" => {
                true
            }
            "unary_operator" => n.named_child(0).map(lit).unwrap_or(false),
            "list" | "tuple" | "set" | "parenthesized_expression" | "dictionary" | "pair" => {
                let mut c = n.walk();
                let all = n.named_children(&mut c).all(lit);
                all
            }
            _ => false,
        }
    }
    stmt.named_child(0).map(lit).unwrap_or(false)
}

/// A pytest file checking the examples against `solution.py`; `None` when there are none.
pub fn examples_test_file(examples: &[Example]) -> Option<String> {
    if examples.is_empty() {
        return None;
    }
    let mut s = String::from(
        "# The examples stated in the task. Generated by codeswarm; agents never edit this file.\nfrom solution import *\n\n\ndef _same(got, expected):\n    if isinstance(got, float) or isinstance(expected, float):\n        try:\n            return abs(got - expected) <= 1e-6 * max(1.0, abs(expected))\n        except TypeError:\n            return False\n    return got == expected\n",
    );
    for (i, e) in examples.iter().enumerate() {
        s += &format!(
            "\n\ndef test_example_{n}():\n    got = {expr}\n    expected = {exp}\n    assert _same(got, expected), f\"{{got!r}} != {{expected!r}} for {q}\"\n",
            n = i + 1,
            expr = e.expr,
            exp = e.expected,
            q = e.expr.replace('\\', "\\\\").replace('"', "\\\"").replace('{', "{{").replace('}', "}}"),
        );
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::results::{CaseOutcome, TestCase, TestRun};

    #[test]
    fn doctest_examples_are_extracted() {
        let task = "def add(a, b):\n    \"\"\"Add.\n    >>> add(1, 2)\n    3\n    >>> add('a', 'b')\n    'ab'\n    >>> print(add(1, 1))\n    2\n    \"\"\"\n";
        let ex = extract_examples(task);
        assert_eq!(
            ex,
            vec![
                Example {
                    expr: "add(1, 2)".into(),
                    expected: "3".into()
                },
                Example {
                    expr: "add('a', 'b')".into(),
                    expected: "'ab'".into()
                }
            ]
        );
    }

    #[test]
    fn clauses_separated_by_commas_each_count() {
        let ex = extract_examples("Example: fizzbuzz(15) == 'FizzBuzz', fizzbuzz(7) == '7'. Also pair(1) -> [1, (2, 3)], done.");
        let got: Vec<_> = ex
            .iter()
            .map(|e| (e.expr.as_str(), e.expected.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("fizzbuzz(15)", "'FizzBuzz'"),
                ("fizzbuzz(7)", "'7'"),
                ("pair(1)", "[1, (2, 3)]")
            ]
        );
    }

    #[test]
    fn prose_examples_need_a_call_and_a_literal() {
        let ex = extract_examples("Write fib(n). For example fib(10) == 55, and fib(1) returns 1. fib(n) is the sum of two numbers.");
        assert_eq!(ex.len(), 2, "{ex:?}");
        assert_eq!(
            ex[0],
            Example {
                expr: "fib(10)".into(),
                expected: "55".into()
            }
        );
        assert_eq!(
            ex[1],
            Example {
                expr: "fib(1)".into(),
                expected: "1".into()
            }
        );
        assert!(extract_examples("Write a fibonacci function").is_empty());
        assert!(extract_examples("sort(x) should be fast").is_empty());
    }

    #[test]
    fn examples_joined_by_and_each_count() {
        let ex = extract_examples("Write fib(n), fib(0) == 0 and fib(1) == 1.");
        let got: Vec<(&str, &str)> = ex
            .iter()
            .map(|e| (e.expr.as_str(), e.expected.as_str()))
            .collect();
        assert_eq!(got, vec![("fib(0)", "0"), ("fib(1)", "1")]);
    }

    #[test]
    fn literal_detection() {
        for l in [
            "1",
            "-2.5",
            "'a'",
            "[1, (2, 'x')]",
            "{'a': [1]}",
            "None",
            "True",
            "(1,)",
        ] {
            assert!(is_literal(l), "{l}");
        }
        for l in ["x", "f(1)", "1 + 2", "the sum", "[x]"] {
            assert!(!is_literal(l), "{l}");
        }
    }

    #[test]
    fn examples_file_parses_and_escapes_quotes() {
        let f = examples_test_file(&[Example {
            expr: "f(\"a{b}\")".into(),
            expected: "'x'".into(),
        }])
        .unwrap();
        assert!(crate::syntax::check_python(&f).is_empty(), "{f}");
        assert!(f.contains("def test_example_1"));
        assert!(examples_test_file(&[]).is_none());
    }

    #[test]
    fn run_accounting() {
        let case = |id: &str, o| TestCase {
            id: id.into(),
            outcome: o,
            message: "assert 1 == 2".into(),
            details: "E   assert 1 == 2".into(),
        };
        let run = TestRun {
            exit_code: Some(1),
            status: "exited(1)".into(),
            cases: vec![
                case("test_solution.py::test_a", CaseOutcome::Passed),
                case("test_solution.py::test_b", CaseOutcome::Failed),
                case("test_task_examples.py::test_example_1", CaseOutcome::Passed),
            ],
            ..Default::default()
        };
        assert_eq!(run.passed(), 2);
        assert_eq!(run.failed(), 1);
        assert!(!run.all_passed());
        assert_eq!(run.examples(), (1, 1));
        assert_eq!(run.score(), (1, 2, -1));
        let rep = run.failure_report(10_000);
        assert!(
            rep.contains("FAILED test_solution.py::test_b - assert 1 == 2"),
            "{rep}"
        );
        assert!(!rep.contains("test_a"));
        assert!(run.failure_report(40).len() < 80);
    }
}

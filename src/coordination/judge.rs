//! The task's own examples turned into a test file the agents cannot edit. The test results
//! the Coordinator judges by ([`crate::testing::TestRun`]) and the failure report the Debugger
//! reads live in [`crate::testing`].

pub use crate::testing::results::EXAMPLES_FILE;

use super::io_examples::strip_comment;

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
    let defs = super::io_examples::def_names(task);
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
                push(&mut out, &defs, strip_comment(expr).trim(), expected[0]);
            }
            i = j;
            continue;
        }
        i += 1;
    }
    for (expr, value) in prose_examples(task) {
        push(&mut out, &defs, &expr, &value);
    }
    for (expr, value) in super::io_examples::examples(task) {
        push(&mut out, &defs, &expr, &value);
    }
    for (expr, value) in super::io_examples::bare_examples(task) {
        push(&mut out, &defs, &expr, &value);
    }
    drop_definitions(out)
}

/// A task that defines a sequence before asking for a list of it (`tri(1) = 3` ... then
/// `tri(3) = [1, 3, 2, 8]`) states values of two kinds for one name: numbers are the
/// definition, the later collection is what the function returns. When one function's stated
/// values mix numbers and collections, only the kind stated last is kept.
fn drop_definitions(examples: Vec<Example>) -> Vec<Example> {
    #[derive(PartialEq, Clone, Copy)]
    enum Kind {
        Number,
        Collection,
        Other,
    }
    let kind = |v: &str| match v.trim_start().as_bytes().first() {
        Some(b'[' | b'(' | b'{') => Kind::Collection,
        Some(c) if c.is_ascii_digit() || *c == b'-' || *c == b'.' => Kind::Number,
        _ => Kind::Other,
    };
    let head = |e: &Example| e.expr.split('(').next().unwrap_or("").trim().to_string();
    examples
        .iter()
        .filter(|e| {
            let k = kind(&e.expected);
            if k == Kind::Other {
                return true;
            }
            let same: Vec<Kind> = examples
                .iter()
                .filter(|o| head(o) == head(e))
                .map(|o| kind(&o.expected))
                .filter(|k| *k != Kind::Other)
                .collect();
            let mixed = same.contains(&Kind::Number) && same.contains(&Kind::Collection);
            !mixed || same.last() == Some(&k)
        })
        .cloned()
        .collect()
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
        let Some(close) = super::scan::close_of(b, i, true) else {
            continue;
        };
        let expr = &text[start..close];
        // `` `f(x)` returns 3 ``: the call in backticks, the operator after them.
        let after = if text[close..].starts_with('`') && start > 0 && b[start - 1] == b'`' {
            close + 1
        } else {
            close
        };
        let rest = &text[after..];
        let trimmed = rest.trim_start();
        // `f(x)  # returns 3`: an operator in a comment counts too.
        let (trimmed, hash) = match trimmed.strip_prefix('#') {
            Some(t) => (t.trim_start(), trimmed.len() - t.trim_start().len()),
            None => (trimmed, 0),
        };
        let Some(op) = OPS.iter().find(|op| trimmed.starts_with(**op)) else {
            i = start + 1;
            continue;
        };
        if *op == "=" && trimmed.starts_with("==") {
            i = start + 1;
            continue;
        }
        let vstart = after + (rest.len() - rest.trim_start().len()) + hash + op.len();
        let vtext = &text[vstart..];
        let vtrim = vtext.trim_start();
        let (voff, vend) = value_span(text, vstart + (vtext.len() - vtrim.len()));
        let raw = text[voff..vend].trim();
        // `f(x) -> 19 - 5 - 6 = 8`: a worked derivation ends in the value.
        let value = super::io_examples::result(raw).or_else(|| {
            raw.rsplit_once('=')
                .filter(|(head, _)| !head.ends_with(['=', '<', '>', '!']))
                .and_then(|(_, last)| super::io_examples::result(last))
        });
        if let Some(value) = value {
            out.push((expr.to_string(), value));
        }
        i = vend.max(start + 1);
    }
    out
}

/// What may stand between a call and its stated value, longest first so `==>` is not read as
/// `==` and `>`: `f(1) == 2`, `f(1) ==> 2`, `f(1) ➞ 2`, `f(1) => true`, `f(1) = 2`, ...
const OPS: [&str; 10] = [
    "==>",
    "==",
    "->",
    "=>",
    "\u{279e}",
    "\u{2192}",
    "should return",
    "returns",
    "should be",
    "=",
];

/// Where a stated value starting at `from` lies: `` `[1, 2]` `` in backticks runs to the
/// closing one, otherwise to [`value_end`].
pub(super) fn value_span(text: &str, from: usize) -> (usize, usize) {
    if text.as_bytes().get(from) == Some(&b'`') {
        let start = from + 1;
        return (start, text[start..].find('`').map_or(start, |k| start + k));
    }
    (from, value_end(text.as_bytes(), from))
}

/// End of a value: a newline, a backtick, or `,`/`;`/`.` followed by a space or the end, at
/// bracket depth zero and outside quotes.
fn value_end(b: &[u8], from: usize) -> usize {
    for (j, c, depth) in super::scan::outside_quotes(b, from) {
        let end = match c {
            b'\n' | b'`' => true,
            // `f(0) == 0 and f(1) == 1`: a conjunction ends the value.
            b' ' => {
                depth <= 0
                    && [" and ", " or ", " but ", " while "]
                        .iter()
                        .any(|w| b[j..].starts_with(w.as_bytes()))
            }
            b',' | b';' | b'.' => {
                depth <= 0 && (j + 1 >= b.len() || b[j + 1].is_ascii_whitespace())
            }
            // A bracket closing one opened before the value.
            b')' | b']' | b'}' => depth <= 0,
            _ => false,
        };
        if end {
            return j;
        }
    }
    b.len().max(from)
}

/// Keep `expr == expected` when `expr` is a call of a function the task asks for (one of its
/// `def` names when it has any, otherwise any name that is not a Python builtin), with no free
/// names in its arguments (`is_happy(a)` quotes a string without quotes), and `expected` is a
/// literal.
fn push(out: &mut Vec<Example>, defs: &[String], expr: &str, expected: &str) {
    // print() shows str(), not the value: such an example cannot be compared as a value.
    if expr.starts_with("print(") || !is_literal(expected) {
        return;
    }
    let t = crate::syntax::parse_python(expr);
    let root = t.root_node();
    let call = root
        .named_child(0)
        .filter(|s| s.kind() == "expression_statement" && root.named_child_count() == 1)
        .and_then(|s| s.named_child(0))
        .filter(|e| e.kind() == "call");
    let Some(call) = call else { return };
    if root.has_error() {
        return;
    }
    let (mut called, mut free) = (vec![], false);
    names(call, expr.as_bytes(), &mut called, &mut free);
    let asked = |n: &&str| {
        if defs.is_empty() {
            !super::static_check::is_builtin(n)
        } else {
            defs.iter().any(|d| d == n)
        }
    };
    if free || !called.iter().any(asked) {
        return;
    }
    let e = Example {
        expr: expr.to_string(),
        expected: expected.to_string(),
    };
    if !out.contains(&e) {
        out.push(e);
    }
}

/// The names `node` calls, and whether it uses any other name (a variable the examples file
/// would not define). Keyword names and attributes are neither.
fn names<'a>(
    node: tree_sitter::Node<'_>,
    src: &'a [u8],
    called: &mut Vec<&'a str>,
    free: &mut bool,
) {
    match node.kind() {
        "identifier" => {
            *free = true;
            return;
        }
        "call" => {
            if let Some(f) = node.child_by_field_name("function") {
                // `f(...)` and `Cls.method(...)` call `f` and `Cls`; `Cls().m()` recurses.
                let mut head = f;
                while head.kind() == "attribute" {
                    match head.child_by_field_name("object") {
                        Some(o) => head = o,
                        None => break,
                    }
                }
                match head.kind() {
                    "identifier" => {
                        called.push(std::str::from_utf8(&src[head.byte_range()]).unwrap_or(""))
                    }
                    _ => names(head, src, called, free),
                }
            }
            if let Some(a) = node.child_by_field_name("arguments") {
                names(a, src, called, free);
            }
            return;
        }
        "keyword_argument" => {
            if let Some(v) = node.child_by_field_name("value") {
                names(v, src, called, free);
            }
            return;
        }
        "attribute" => {
            if let Some(o) = node.child_by_field_name("object") {
                names(o, src, called, free);
            }
            return;
        }
        _ => {}
    }
    let mut c = node.walk();
    for child in node.named_children(&mut c) {
        names(child, src, called, free);
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
    fn a_call_in_backticks_with_its_value_after_them_is_an_example() {
        let task = "Write `parse(text: str) -> int`. For example `parse(\"1h30m\")` returns 5400 and `parse(\"2h\")` returns `7200`; `split(\"a b\")` returns `['a', 'b']`.";
        let got: Vec<(String, String)> = extract_examples(task)
            .into_iter()
            .map(|e| (e.expr, e.expected))
            .collect();
        assert_eq!(
            got,
            vec![
                ("parse(\"1h30m\")".to_string(), "5400".to_string()),
                ("parse(\"2h\")".to_string(), "7200".to_string()),
                ("split(\"a b\")".to_string(), "['a', 'b']".to_string()),
            ]
        );
    }

    #[test]
    fn arrows_comments_single_equals_and_lowercase_booleans() {
        let task = "def f(x, y):\n    '''\n    f(1, 2) ==> True\n    f(2, 2) \u{279e} 'x'\n    f(3, 1) => true\n    f(4, 4)   # returns \"ab\"\n    f(5, 0) = -1\n    f(6, 0) -> 19 - 5 - 6 = 8\n    f(7, 0) = 7 + x\n    '''\n";
        let got: Vec<(String, String)> = extract_examples(task)
            .into_iter()
            .map(|e| (e.expr, e.expected))
            .collect();
        let want: Vec<(String, String)> = [
            ("f(1, 2)", "True"),
            ("f(2, 2)", "'x'"),
            ("f(3, 1)", "True"),
            ("f(4, 4)", "\"ab\""),
            ("f(5, 0)", "-1"),
            ("f(6, 0)", "8"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn only_calls_of_asked_functions_with_literal_arguments_count() {
        // Free names, a misspelt function, and a builtin the task merely mentions.
        let task = "def is_happy(s):\n    '''\n    is_happy(a) => False\n    happy('aa') => False\n    ord('a') = 0\n    is_happy('abc') => True\n    >>> round(is_happy('x') + 0.5, 1)  # a comment\n    0.5\n    '''\n";
        let got: Vec<String> = extract_examples(task).into_iter().map(|e| e.expr).collect();
        assert_eq!(
            got,
            vec!["round(is_happy('x') + 0.5, 1)", "is_happy('abc')"]
        );
        // A class the task defines counts as asked for.
        let task = "class Counter:\n    def total(xs): ...\n\nCounter.total([1, 2]) == 3\n";
        assert_eq!(extract_examples(task).len(), 1);
        // Without `def` lines any non-builtin call is the asked function.
        assert_eq!(
            extract_examples("sorted([2, 1]) == [1, 2]; g(1) == 2").len(),
            1
        );
    }

    #[test]
    fn a_sequence_definition_gives_way_to_the_list_the_function_returns() {
        let task = "def tri(n):\n    '''\n    tri(1) = 3\n    tri(4) = 3\n    Examples: tri(3) = [1, 3, 2, 8]\n    '''\n";
        let got: Vec<String> = extract_examples(task)
            .into_iter()
            .map(|e| format!("{} == {}", e.expr, e.expected))
            .collect();
        assert_eq!(got, vec!["tri(3) == [1, 3, 2, 8]"]);
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

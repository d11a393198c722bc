//! Whether an input is well-typed for the task's stated signature: one call of a function the
//! task asks for, with the number of arguments its definition takes, and only literal
//! arguments (numbers, strings, containers of them, or a standard-library constructor such as
//! `datetime.date(2024, 3, 1)` with literal arguments). When every candidate raises the same
//! internal error on such an input, the input cannot be at fault: it is a bug they share, not
//! a bad input to drop.

use tree_sitter::Node;

use super::judge::Example;
use super::static_check;
use crate::syntax::parse_python;

/// Whether `input` calls only a function the task asks for (`asked`, or a `name(` the task's
/// text writes) with literal arguments the definition in `code` accepts, none of a type other
/// than the one the parameter's annotation or a stated example's argument gives.
pub fn well_typed(
    input: &str,
    asked: &[String],
    task: &str,
    code: &str,
    examples: &[Example],
) -> bool {
    literal_call(input, asked, task, code).is_some_and(|(name, args)| {
        types(&name, &args, code, examples)
            .iter()
            .all(|t| *t != Some(false))
    })
}

/// Whether every candidate raising `error` on `input` is a bug they share: the input is
/// well-typed, and for the errors a wrongly typed argument also raises (`TypeError`,
/// `AttributeError`) every argument's type is known (annotation or stated example) and right.
/// A `RecursionError` never is (the input may just be too large, like one that hangs).
pub fn shared_bug(
    input: &str,
    error: &str,
    asked: &[String],
    task: &str,
    code: &str,
    examples: &[Example],
) -> bool {
    // Too deep a recursion is the input's size, not a reading of it: like a hang, not judged.
    if error == "RecursionError" {
        return false;
    }
    let Some((name, args)) = literal_call(input, asked, task, code) else {
        return false;
    };
    let t = types(&name, &args, code, examples);
    if matches!(error, "TypeError" | "AttributeError") {
        t.iter().all(|t| *t == Some(true))
    } else {
        t.iter().all(|t| *t != Some(false))
    }
}

/// The function called and its positional arguments, when `input` is one call of an asked
/// function with literal arguments and a count its definition in `code` takes.
fn literal_call(
    input: &str,
    asked: &[String],
    task: &str,
    code: &str,
) -> Option<(String, Vec<String>)> {
    let tree = parse_python(input);
    let root = tree.root_node();
    if root.has_error() || root.named_child_count() != 1 {
        return None;
    }
    let stmt = root.named_child(0)?;
    if stmt.kind() != "expression_statement" || stmt.named_child_count() != 1 {
        return None;
    }
    let call = stmt.named_child(0)?;
    if call.kind() != "call" {
        return None;
    }
    let text = |n: Node<'_>| n.utf8_text(input.as_bytes()).unwrap_or("").to_string();
    let f = call.child_by_field_name("function")?;
    if f.kind() != "identifier" {
        return None;
    }
    let name = text(f);
    if !asked.contains(&name) && !task.contains(&format!("{name}(")) {
        return None;
    }
    let args = call.child_by_field_name("arguments")?;
    let mut positional = vec![];
    let mut keywords = false;
    let mut c = args.walk();
    for a in args.named_children(&mut c) {
        match a.kind() {
            "keyword_argument" => {
                if !a.child_by_field_name("value").is_some_and(|v| literal(v)) {
                    return None;
                }
                keywords = true;
            }
            "comment" => {}
            _ if literal(a) => positional.push(text(a)),
            _ => return None,
        }
    }
    let (required, total) = static_check::arity(code, &name)?;
    let n = positional.len();
    (n <= total.unwrap_or(usize::MAX) && (n >= required || keywords)).then_some((name, positional))
}

/// Per positional argument: `Some(true)` when its type is known (the parameter's annotation in
/// `code`, or the stated example's argument at that place) and the literal has it,
/// `Some(false)` when known and different, `None` when not known.
fn types(name: &str, args: &[String], code: &str, examples: &[Example]) -> Vec<Option<bool>> {
    let annotations = static_check::annotations(code, name);
    let stated: Vec<String> = examples
        .iter()
        .find(|e| e.expr.starts_with(&format!("{name}(")) && e.expr.ends_with(')'))
        .map(|e| {
            super::scan::split_top(&e.expr[name.len() + 1..e.expr.len() - 1])
                .into_iter()
                .map(|a| a.trim().to_string())
                .collect()
        })
        .unwrap_or_default();
    args.iter()
        .enumerate()
        .map(|(i, a)| {
            let got = kind_of_literal(a)?;
            let want = annotations
                .get(i)
                .and_then(|t| t.as_deref())
                .and_then(kind_of_annotation)
                .or_else(|| stated.get(i).and_then(|s| kind_of_literal(s)))?;
            Some(
                got == want
                    || (want == "float" && got == "int")
                    || (want == "seq" && matches!(got, "list" | "tuple" | "str" | "set"))
                    || want == "any",
            )
        })
        .collect()
}

/// The type of a literal argument's text: `int`, `float`, `str`, `list`, `tuple`, `dict`,
/// `set`, `bool`, `none`, or the constructor called (`datetime.date`).
fn kind_of_literal(a: &str) -> Option<&'static str> {
    let a = a.trim();
    let first = a.chars().next()?;
    Some(match first {
        '[' => "list",
        '(' if a.contains(',') || a == "()" => "tuple",
        '{' if a == "{}" || a.contains(':') => "dict",
        '{' => "set",
        '\'' | '"' => "str",
        _ if a == "True" || a == "False" => "bool",
        _ if a == "None" => "none",
        _ if a.trim_start_matches('-').parse::<i64>().is_ok() => "int",
        _ if a.trim_start_matches('-').parse::<f64>().is_ok() => "float",
        _ if a.len() > 1 && (a.starts_with("b'") || a.starts_with("b\"")) => "bytes",
        _ => return None,
    })
}

/// The literal type an annotation asks for; `any` for an optional or union one, `seq` for a
/// sequence or iterable; `None` when unknown (a class, a type variable).
fn kind_of_annotation(t: &str) -> Option<&'static str> {
    let t = t.trim().to_lowercase();
    let t = t.trim_start_matches("typing.");
    if t.contains("optional") || t.contains('|') || t.starts_with("union") || t == "any" {
        return Some("any");
    }
    let head = t.split('[').next().unwrap_or("").trim();
    Some(match head {
        "int" => "int",
        "float" => "float",
        "str" => "str",
        "bool" => "bool",
        "list" => "list",
        "tuple" => "tuple",
        "dict" | "mapping" => "dict",
        "set" | "frozenset" => "set",
        "bytes" => "bytes",
        "sequence" | "iterable" | "collection" => "seq",
        _ => return None,
    })
}

/// A literal, a container of literals, or `module.Name(literals)` (a standard-library value
/// such as `datetime.date(2024, 3, 1)` or `decimal.Decimal('1.5')`).
fn literal(n: Node<'_>) -> bool {
    match n.kind() {
        "integer" | "float" | "string" | "concatenated_string" | "true" | "false" | "none" => true,
        "unary_operator" => n.named_child(0).is_some_and(|c| literal(c)),
        "list" | "tuple" | "set" | "parenthesized_expression" | "dictionary" | "pair" => {
            let mut c = n.walk();
            let all = n.named_children(&mut c).all(|c| literal(c));
            all
        }
        "call" => {
            let dotted = n.child_by_field_name("function").is_some_and(|f| {
                f.kind() == "attribute"
                    && f.child_by_field_name("object")
                        .is_some_and(|o| o.kind() == "identifier")
            });
            dotted
                && n.child_by_field_name("arguments").is_some_and(|a| {
                    let mut c = a.walk();
                    let all = a.named_children(&mut c).all(|x| match x.kind() {
                        "keyword_argument" => {
                            x.child_by_field_name("value").is_some_and(|v| literal(v))
                        }
                        _ => literal(x),
                    });
                    all
                })
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str = "import datetime\n\ndef to_x(n, scale=1):\n    return n * scale\n\ndef shift(d, days: int):\n    return d\n";

    fn ok(input: &str, asked: &[&str], task: &str) -> bool {
        let asked: Vec<String> = asked.iter().map(|a| a.to_string()).collect();
        well_typed(input, &asked, task, CODE, &[])
    }

    #[test]
    fn a_literal_call_of_the_asked_function_with_its_arity_is_well_typed() {
        assert!(ok("to_x(3)", &["to_x"], ""));
        assert!(ok("to_x(-3, scale=2)", &["to_x"], ""));
        assert!(ok("to_x([1, (2, 'a')], 2)", &["to_x"], ""));
        assert!(!ok("to_x(3, 1, 2)", &["to_x"], ""), "too many");
        assert!(!ok("to_x()", &["to_x"], ""), "too few");
        assert!(!ok("f(3)", &["to_x"], ""), "not asked");
        assert!(!ok("to_x(y)", &["to_x"], ""), "not a literal");
        assert!(!ok("x = 1; to_x(x)", &["to_x"], ""), "set-up");
        assert!(!ok("to_x(3) + 1", &["to_x"], ""), "not one call");
    }

    #[test]
    fn the_task_s_prose_names_the_function_and_stdlib_values_are_literals() {
        let task = "Write shift(d, days) that moves a datetime.date by days.";
        assert!(ok("shift(datetime.date(2024, 3, 1), 1)", &[], task));
        assert!(!ok("shift(make(1), 1)", &[], task));
        assert!(!ok("to_x(1)", &[], task), "the task never names it");
        assert!(
            !ok("shift(datetime.date(2024, 3, 1), 'x')", &[], task),
            "annotated int"
        );
        assert!(!well_typed(
            "shift(1, 2)",
            &[],
            task,
            "def other(): pass\n",
            &[]
        ));
    }

    #[test]
    fn a_type_error_is_shared_only_where_every_argument_type_is_known() {
        let asked = vec!["to_x".to_string()];
        let ex = vec![Example {
            expr: "to_x(2)".into(),
            expected: "4".into(),
        }];
        // The stated example gives `n` an int: a TypeError on an int is the code's.
        assert!(shared_bug("to_x(5)", "TypeError", &asked, "", CODE, &ex));
        assert!(!shared_bug("to_x('a')", "TypeError", &asked, "", CODE, &ex));
        // Without a known type, a TypeError may be the argument's fault; a NameError is not.
        assert!(!shared_bug("to_x(5)", "TypeError", &asked, "", CODE, &[]));
        assert!(shared_bug("to_x(5)", "NameError", &asked, "", CODE, &[]));
        assert!(!shared_bug(
            "to_x(5, 1, 1)",
            "NameError",
            &asked,
            "",
            CODE,
            &[]
        ));
    }
}

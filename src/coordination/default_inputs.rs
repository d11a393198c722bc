//! Inputs when the InputWriter gives none (small models often answer with code instead of
//! calls): edge values for each parameter of the requested functions, typed from the
//! annotation, the stated examples' arguments, or the parameter's name. Only behaviour is
//! compared on them, so a value outside what the task allows just joins the evidence as an
//! exception every candidate may raise (then the input is dropped as unusable).

use tree_sitter::Node;

use super::judge::Example;
use crate::syntax::parse_python;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Int,
    Float,
    Str,
    List,
    StrList,
    Dict,
    Bool,
}

fn pool(t: Ty) -> &'static [&'static str] {
    match t {
        Ty::Int => &["0", "1", "2", "5", "10", "-1", "3"],
        Ty::Float => &["0.0", "1.5", "-2.5", "10.0"],
        Ty::Str => &[
            "''",
            "'a'",
            "'abc'",
            "'Hello World'",
            "'racecar'",
            "'a b  c'",
        ],
        Ty::List => &["[]", "[1]", "[3, 1, 2]", "[1, 2, 2, 3]", "[-5, 0, 5]"],
        Ty::StrList => &["[]", "['a']", "['b', 'a', 'c']", "['x', 'x']"],
        Ty::Dict => &["{}", "{'a': 1}", "{'a': 1, 'b': 2}"],
        Ty::Bool => &["True", "False"],
    }
}

/// Up to `max` calls of the functions in `code` named in `names` (or all public top-level
/// functions when `names` is empty).
pub fn inputs(code: &str, names: &[String], examples: &[Example], max: usize) -> Vec<String> {
    let tree = parse_python(code);
    let root = tree.root_node();
    let mut out = vec![];
    let mut cursor = root.walk();
    let funcs: Vec<Node<'_>> = root
        .children(&mut cursor)
        .map(|n| {
            if n.kind() == "decorated_definition" {
                n.child_by_field_name("definition").unwrap_or(n)
            } else {
                n
            }
        })
        .filter(|n| n.kind() == "function_definition")
        .collect();
    let text = |n: Node<'_>| n.utf8_text(code.as_bytes()).unwrap_or("").to_string();
    let chosen: Vec<Node<'_>> = funcs
        .iter()
        .copied()
        .filter(|f| {
            let name = f.child_by_field_name("name").map(text).unwrap_or_default();
            if names.is_empty() {
                !name.starts_with('_')
            } else {
                names.contains(&name)
            }
        })
        .collect();
    let per = (max / chosen.len().max(1)).max(1);
    for f in chosen {
        let name = f.child_by_field_name("name").map(text).unwrap_or_default();
        let Some(params) = f.child_by_field_name("parameters") else {
            continue;
        };
        let example_args = examples
            .iter()
            .find(|e| e.expr.starts_with(&format!("{name}(")))
            .map(|e| {
                super::scan::split_top(&e.expr[name.len() + 1..e.expr.len().saturating_sub(1)])
                    .into_iter()
                    .map(|a| a.trim().to_string())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let mut types = vec![];
        let mut c = params.walk();
        for (i, p) in params.named_children(&mut c).enumerate() {
            let (pname, annot, has_default) = match p.kind() {
                "identifier" => (text(p), String::new(), false),
                "typed_parameter" => (
                    p.named_child(0).map(text).unwrap_or_default(),
                    p.child_by_field_name("type").map(text).unwrap_or_default(),
                    false,
                ),
                "default_parameter" | "typed_default_parameter" => (
                    p.child_by_field_name("name").map(text).unwrap_or_default(),
                    p.child_by_field_name("type").map(text).unwrap_or_default(),
                    true,
                ),
                _ => continue,
            };
            if pname == "self" || pname == "cls" || has_default {
                continue;
            }
            let from_example = example_args.get(i).and_then(|a| literal_type(a));
            types.push(
                type_of_annotation(&annot)
                    .or(from_example)
                    .unwrap_or_else(|| type_of_name(&pname)),
            );
        }
        if types.is_empty() {
            out.push(format!("{name}()"));
            continue;
        }
        let rows = types
            .iter()
            .map(|t| pool(*t).len())
            .max()
            .unwrap_or(1)
            .min(per);
        for r in 0..rows {
            let args: Vec<&str> = types
                .iter()
                .enumerate()
                .map(|(k, t)| {
                    let p = pool(*t);
                    // Shift each parameter differently so pairs vary.
                    p[(r + k) % p.len()]
                })
                .collect();
            let call = format!("{name}({})", args.join(", "));
            if !out.contains(&call) {
                out.push(call);
            }
        }
    }
    out.truncate(max);
    out
}

fn type_of_annotation(a: &str) -> Option<Ty> {
    let a = a.trim().to_lowercase();
    if a.is_empty() {
        return None;
    }
    Some(match a.as_str() {
        "int" => Ty::Int,
        "float" => Ty::Float,
        "str" => Ty::Str,
        "bool" => Ty::Bool,
        _ if a.starts_with("list[str") => Ty::StrList,
        _ if a.starts_with("list") || a.starts_with("sequence") || a.starts_with("iterable") => {
            Ty::List
        }
        _ if a.starts_with("dict") || a.starts_with("mapping") => Ty::Dict,
        _ => return None,
    })
}

fn literal_type(a: &str) -> Option<Ty> {
    let a = a.trim();
    if a.starts_with('[') {
        return Some(if a.contains('\'') || a.contains('"') {
            Ty::StrList
        } else {
            Ty::List
        });
    }
    if a.starts_with('\'') || a.starts_with('"') {
        return Some(Ty::Str);
    }
    if a.starts_with('{') {
        return Some(Ty::Dict);
    }
    if a == "True" || a == "False" {
        return Some(Ty::Bool);
    }
    if a.parse::<i64>().is_ok() {
        return Some(Ty::Int);
    }
    if a.parse::<f64>().is_ok() {
        return Some(Ty::Float);
    }
    None
}

fn type_of_name(n: &str) -> Ty {
    let n = n.to_lowercase();
    const STR: [&str; 14] = [
        "s", "text", "string", "word", "name", "sentence", "line", "char", "c", "pattern",
        "prefix", "suffix", "sep", "txt",
    ];
    const STR_LIST: [&str; 3] = ["words", "strings", "names"];
    const LIST: [&str; 14] = [
        "xs", "lst", "arr", "array", "nums", "numbers", "items", "values", "data", "l", "seq",
        "sequence", "elements", "ints",
    ];
    if STR.contains(&n.as_str()) || n.ends_with("_str") || n.ends_with("string") {
        Ty::Str
    } else if STR_LIST.contains(&n.as_str()) {
        Ty::StrList
    } else if LIST.contains(&n.as_str()) || n.ends_with("_list") || n.ends_with("list") {
        Ty::List
    } else if n == "d" || n.contains("dict") || n == "mapping" {
        Ty::Dict
    } else if n == "flag" || n.starts_with("is_") {
        Ty::Bool
    } else {
        Ty::Int
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_typed_from_annotations_examples_and_names() {
        let code = "def f(n: int, words: list[str], key=None):\n    pass\n\ndef g(text, xs):\n    pass\n\ndef _helper(a):\n    pass\n";
        let got = inputs(code, &[], &[], 4);
        assert_eq!(
            got,
            vec![
                "f(0, ['a'])",
                "f(1, ['b', 'a', 'c'])",
                "g('', [1])",
                "g('a', [3, 1, 2])"
            ]
        );
        let ex = vec![Example {
            expr: "h('ab', 2)".into(),
            expected: "'abab'".into(),
        }];
        let got = inputs("def h(a, b):\n    return a * b\n", &["h".into()], &ex, 3);
        assert_eq!(got, vec!["h('', 1)", "h('a', 2)", "h('abc', 5)"]);
    }

    #[test]
    fn a_function_without_parameters_is_called_once() {
        assert_eq!(
            inputs("def now():\n    return 1\n", &[], &[], 5),
            vec!["now()"]
        );
    }
}

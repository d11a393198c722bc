//! Inputs when the InputWriter gives none (small models often answer with code instead of
//! calls): edge values for each parameter of the requested functions, typed from the
//! annotation, the stated examples' arguments, or the parameter's name; for a requested class,
//! call sequences (construct, then its methods). Only behaviour is
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
/// functions when `names` is empty), and for each class named (or, when no function is
/// chosen, each public class) call sequences: construct it, then call its public methods.
pub fn inputs(code: &str, names: &[String], examples: &[Example], max: usize) -> Vec<String> {
    let tree = parse_python(code);
    let root = tree.root_node();
    let mut cursor = root.walk();
    let defs: Vec<Node<'_>> = root
        .children(&mut cursor)
        .map(definition)
        .filter(|n| matches!(n.kind(), "function_definition" | "class_definition"))
        .collect();
    let text = |n: Node<'_>| n.utf8_text(code.as_bytes()).unwrap_or("").to_string();
    let name_of = |n: Node<'_>| n.child_by_field_name("name").map(text).unwrap_or_default();
    let wanted = |n: Node<'_>| {
        let name = name_of(n);
        if names.is_empty() {
            !name.starts_with('_')
        } else {
            names.contains(&name)
        }
    };
    let funcs: Vec<Node<'_>> = defs
        .iter()
        .copied()
        .filter(|n| n.kind() == "function_definition" && wanted(*n))
        .collect();
    let classes: Vec<Node<'_>> = defs
        .iter()
        .copied()
        .filter(|n| {
            n.kind() == "class_definition" && wanted(*n) && (!names.is_empty() || funcs.is_empty())
        })
        .collect();
    let per = (max / (funcs.len() + classes.len()).max(1)).max(1);
    let mut out = vec![];
    for f in funcs {
        let name = name_of(f);
        let types = param_types(f, &example_args(examples, &name), code);
        for args in rows(&types, per) {
            let call = format!("{name}({args})");
            if !out.contains(&call) {
                out.push(call);
            }
        }
    }
    for c in classes {
        for seq in sequences(c, &name_of(c), examples, code, per) {
            if !out.contains(&seq) {
                out.push(seq);
            }
        }
    }
    out.truncate(max);
    out
}

fn definition(n: Node<'_>) -> Node<'_> {
    if n.kind() == "decorated_definition" {
        n.child_by_field_name("definition").unwrap_or(n)
    } else {
        n
    }
}

/// A stated example's arguments for a call of `name`, as written.
fn example_args(examples: &[Example], name: &str) -> Vec<String> {
    examples
        .iter()
        .find(|e| e.expr.starts_with(&format!("{name}(")))
        .map(|e| {
            super::scan::split_top(&e.expr[name.len() + 1..e.expr.len().saturating_sub(1)])
                .into_iter()
                .map(|a| a.trim().to_string())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
}

/// The types of a function's required parameters (`self`/`cls` and defaulted ones left out).
fn param_types(f: Node<'_>, example_args: &[String], code: &str) -> Vec<Ty> {
    let text = |n: Node<'_>| n.utf8_text(code.as_bytes()).unwrap_or("").to_string();
    let Some(params) = f.child_by_field_name("parameters") else {
        return vec![];
    };
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
    types
}

/// Up to `per` argument lists for `types`, each parameter shifted differently so pairs vary.
fn rows(types: &[Ty], per: usize) -> Vec<String> {
    if types.is_empty() {
        return vec![String::new()];
    }
    let n = types
        .iter()
        .map(|t| pool(*t).len())
        .max()
        .unwrap_or(1)
        .min(per);
    (0..n)
        .map(|r| {
            types
                .iter()
                .enumerate()
                .map(|(k, t)| {
                    let p = pool(*t);
                    p[(r + k) % p.len()]
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect()
}

/// Call sequences for a class: construct it (edge values for `__init__`), then one public
/// method (each in turn), and one sequence through all of them; a property is read, not
/// called. Every step's result is observed (the probe compares sequences step by step).
fn sequences(
    class: Node<'_>,
    name: &str,
    examples: &[Example],
    code: &str,
    per: usize,
) -> Vec<String> {
    let text = |n: Node<'_>| n.utf8_text(code.as_bytes()).unwrap_or("").to_string();
    let Some(body) = class.child_by_field_name("body") else {
        return vec![];
    };
    let mut init = vec![];
    let mut methods: Vec<(String, Vec<Ty>, bool)> = vec![];
    let mut c = body.walk();
    for item in body.named_children(&mut c) {
        let def = definition(item);
        if def.kind() != "function_definition" {
            continue;
        }
        let mname = def
            .child_by_field_name("name")
            .map(text)
            .unwrap_or_default();
        let decorators = if item.kind() == "decorated_definition" {
            text(item)
        } else {
            String::new()
        };
        if decorators.contains("@staticmethod") || decorators.contains("@classmethod") {
            continue;
        }
        if mname == "__init__" {
            init = param_types(def, &example_args(examples, name), code);
        } else if !mname.starts_with('_') {
            let property = decorators.contains("@property");
            methods.push((mname, param_types(def, &[], code), property));
        }
    }
    let step = |(m, types, property): &(String, Vec<Ty>, bool), r: usize| -> String {
        if *property {
            return format!("obj.{m}");
        }
        let args = rows(types, r + 1);
        format!(
            "obj.{m}({})",
            args.get(r).or(args.last()).cloned().unwrap_or_default()
        )
    };
    let inits = rows(&init, per.max(2));
    let mut out = vec![];
    for r in 0..per {
        let construct = format!("obj = {name}({})", inits[r % inits.len()]);
        if methods.is_empty() {
            out.push(format!("{construct}; obj"));
            continue;
        }
        // First the whole tour, then each method alone, cycling with the row.
        if r == 0 {
            let tour: Vec<String> = methods.iter().take(5).map(|m| step(m, 1)).collect();
            out.push(format!("{construct}; {}", tour.join("; ")));
        } else {
            let m = &methods[(r - 1) % methods.len()];
            out.push(format!("{construct}; {}", step(m, r)));
        }
    }
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
    fn a_class_gets_call_sequences_through_its_methods() {
        let code = "class Stack:\n    def __init__(self, capacity: int):\n        self.items = []\n    def push(self, item):\n        self.items.append(item)\n    def pop(self):\n        return self.items.pop()\n    @property\n    def size(self):\n        return len(self.items)\n    def _check(self):\n        pass\n";
        let got = inputs(code, &["Stack".into()], &[], 4);
        assert_eq!(
            got,
            vec![
                "obj = Stack(0); obj.push(1); obj.pop(); obj.size",
                "obj = Stack(1); obj.push(1)",
                "obj = Stack(2); obj.pop()",
                "obj = Stack(5); obj.size",
            ]
        );
        for seq in &got {
            assert!(
                crate::syntax::check_python(&seq.replace("; ", "\n")).is_empty(),
                "{seq}"
            );
        }
        // A function task keeps its calls; its helper class is not probed.
        let mixed =
            "class _Node:\n    pass\n\nclass Helper:\n    pass\n\ndef f(n: int):\n    return n\n";
        assert!(inputs(mixed, &[], &[], 3)
            .iter()
            .all(|c| c.starts_with("f(")));
    }

    #[test]
    fn a_function_without_parameters_is_called_once() {
        assert_eq!(
            inputs("def now():\n    return 1\n", &[], &[], 5),
            vec!["now()"]
        );
    }
}

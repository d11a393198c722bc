//! Examples stated as arguments and a result rather than as a call: `Input: arr = [4, 2], k = 1`
//! then `Output: [4]`, `Input: 12` then `Output: (4, 6)`, or `For lst = [1, 2] the output
//! should be 5`. Each becomes a call of the function whose `def` line precedes it in the task,
//! with the arguments in that function's parameter order; anything that does not map cleanly
//! (an unknown name, a missing parameter, a value that is not a literal) is left out.

use super::judge::is_literal;
use super::scan::{close_of, split_top};

/// `(call, expected)` pairs, in task order.
pub fn examples(task: &str) -> Vec<(String, String)> {
    let defs = defs(task);
    let lines: Vec<&str> = task.lines().collect();
    let mut offsets = Vec::with_capacity(lines.len());
    let mut at = 0;
    for l in &lines {
        offsets.push(at);
        at += l.len() + 1;
    }
    let mut out = vec![];
    let mut i = 0;
    while i < lines.len() {
        let Some(def) = defs.iter().rev().find(|d| d.at <= offsets[i]) else {
            i += 1;
            continue;
        };
        let t = lines[i].trim();
        if let Some(rest) = strip_label(t, "input") {
            // The arguments: this line, or the lines up to `Output:`.
            let mut args = vec![rest.trim().to_string()];
            let mut j = i + 1;
            while j < lines.len() && j <= i + 12 {
                if strip_label(lines[j].trim(), "output").is_some() {
                    break;
                }
                if !lines[j].trim().is_empty() {
                    args.push(lines[j].trim().to_string());
                }
                j += 1;
            }
            let Some(output) = lines.get(j).and_then(|l| strip_label(l.trim(), "output")) else {
                i += 1;
                continue;
            };
            let mut value = output.trim().to_string();
            if value.is_empty() {
                value = lines
                    .get(j + 1)
                    .map(|l| l.trim().to_string())
                    .unwrap_or_default();
            }
            let args: Vec<String> = args.into_iter().filter(|a| !a.is_empty()).collect();
            if let (Some(call), Some(value)) = (call(def, &args.join(", ")), result(&value)) {
                out.push((call, value));
            }
            i = j + 1;
            continue;
        }
        if let Some((args, value)) = for_phrase(t) {
            if let (Some(call), Some(value)) = (call(def, args), result(value)) {
                out.push((call, value));
            }
        }
        i += 1;
    }
    out
}

/// `["Ann", "Bob"] gives "Ann and Bob"`, `0 returns "00:00:00"`: a bare argument and the value
/// it gives, when the task asks for exactly one function and it takes exactly one required
/// argument (from a `def` line, or a signature in backticks such as
/// `` `join_names(names: list[str]) -> str` ``). The argument must stand alone (not inside a
/// call or after `=`), and both it and the value must be literals.
pub fn bare_examples(task: &str) -> Vec<(String, String)> {
    // A function with a `def` line and a signature in backticks is one function.
    let mut sigs: Vec<Def> = defs(task);
    for t in ticked_signatures(task) {
        if !sigs.iter().any(|d| d.name == t.name) {
            sigs.push(t);
        }
    }
    let [sig] = sigs.as_slice() else {
        return vec![];
    };
    if sig.params.iter().filter(|(_, default)| !default).count() != 1 {
        return vec![];
    }
    let b = task.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let alone = i == 0 || matches!(b[i - 1], b' ' | b'\n' | b'\t' | b'`');
        let starts = matches!(c, b'[' | b'{' | b'(' | b'"' | b'\'')
            || c.is_ascii_digit()
            || (c == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit));
        if !alone || !starts {
            i += 1;
            continue;
        }
        let end = match c {
            b'[' | b'{' | b'(' => close_of(b, i, true),
            b'"' | b'\'' => task[i + 1..].find(c as char).map(|k| i + k + 2),
            _ => Some(
                i + 1
                    + b[i + 1..]
                        .iter()
                        .take_while(|d| d.is_ascii_digit() || **d == b'.')
                        .count(),
            ),
        };
        let Some(end) = end else {
            i += 1;
            continue;
        };
        let arg = &task[i..end];
        let mut rest = &task[end..];
        if i > 0 && b[i - 1] == b'`' {
            rest = rest.strip_prefix('`').unwrap_or(rest);
        }
        let trimmed = rest.trim_start();
        let verb = [
            "should return",
            "should give",
            "returns",
            "gives",
            "->",
            "\u{2192}",
            "=>",
        ]
        .into_iter()
        .find(|v| trimmed.starts_with(v));
        let (Some(verb), true) = (verb, is_literal(arg)) else {
            i = end.max(i + 1);
            continue;
        };
        let vstart = task.len() - trimmed.len() + verb.len();
        let vtext = &task[vstart..];
        let (voff, vend) =
            super::judge::value_span(task, vstart + (vtext.len() - vtext.trim_start().len()));
        if let Some(value) = result(&task[voff..vend]) {
            out.push((format!("{}({arg})", sig.name), value));
        }
        i = vend.max(end);
    }
    out
}

/// Signatures in backticks: `` `name(a: int, b=2) -> str` `` (identifiers as parameters, so a
/// call with literal arguments is not one).
fn ticked_signatures(task: &str) -> Vec<Def> {
    let mut out = vec![];
    for (k, span) in task.split('`').enumerate() {
        if k % 2 == 0 {
            continue;
        }
        let span = span.trim();
        let span = span.strip_prefix("def ").unwrap_or(span);
        let Some(open) = span.find('(') else { continue };
        let name = span[..open].trim();
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let Some(close) = close_of(span.as_bytes(), open, false) else {
            continue;
        };
        let tail = span[close..].trim();
        if !(tail.is_empty() || tail.starts_with("->") || tail == ":") {
            continue;
        }
        let params = params(&span[open + 1..close - 1]);
        let identifiers = params.iter().all(|(p, _)| {
            p.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
                && p.chars().all(|c| c.is_alphanumeric() || c == '_')
        });
        // `f(x)` with no annotation and no return type may be a call in prose: only a
        // signature that says so counts.
        let typed = span[open..].contains(':') || tail.starts_with("->");
        if identifiers && typed && !params.is_empty() {
            out.push(Def {
                at: 0,
                name: name.to_string(),
                params,
            });
        }
    }
    out
}

/// The names of the task's `def` and `class` lines.
pub fn def_names(task: &str) -> Vec<String> {
    let mut names: Vec<String> = defs(task).into_iter().map(|d| d.name).collect();
    for line in task.lines() {
        if let Some(rest) = line.trim_start().strip_prefix("class ") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.push(name);
            }
        }
    }
    names
}

/// A `def name(params)` line in the task: where it starts and its parameters.
struct Def {
    at: usize,
    name: String,
    /// Parameter names in order, each with whether it has a default.
    params: Vec<(String, bool)>,
}

fn defs(task: &str) -> Vec<Def> {
    let mut out = vec![];
    let mut at = 0;
    for line in task.lines() {
        let t = line.trim_start();
        let t = t.strip_prefix("async ").unwrap_or(t);
        if let Some(rest) = t.strip_prefix("def ") {
            if let Some(open) = rest.find('(') {
                let name = rest[..open].trim();
                let b = rest.as_bytes();
                if let Some(close) = close_of(b, open, false) {
                    if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                        out.push(Def {
                            at,
                            name: name.to_string(),
                            params: params(&rest[open + 1..close - 1]),
                        });
                    }
                }
            }
        }
        at += line.len() + 1;
    }
    out
}

fn params(text: &str) -> Vec<(String, bool)> {
    split_top(text)
        .into_iter()
        .filter_map(|p| {
            let p = p.trim();
            if p.is_empty() || p == "self" || p == "cls" || p.starts_with('*') || p == "/" {
                return None;
            }
            let has_default = p.contains('=');
            let name = p.split([':', '=']).next().unwrap_or("").trim();
            Some((name.to_string(), has_default))
        })
        .collect()
}

/// The text after `label:` at the start of a line (case-insensitive).
fn strip_label<'a>(line: &'a str, label: &str) -> Option<&'a str> {
    let head = line.get(..label.len())?;
    if !head.eq_ignore_ascii_case(label) {
        return None;
    }
    line[label.len()..].trim_start().strip_prefix(':')
}

/// `For a = 1, b = "x" the output should be 3.` -> (`a = 1, b = "x"`, `3`).
fn for_phrase(line: &str) -> Option<(&str, &str)> {
    let head = line.get(..4)?;
    if !head.eq_ignore_ascii_case("for ") {
        return None;
    }
    let at = line.rfind("should be ")?;
    Some((&line[4..at], &line[at + "should be ".len()..]))
}

/// The call of `def` with `args`: `name = value` pairs (`=` or `:`) mapped onto the parameters,
/// or bare literals in parameter order.
fn call(def: &Def, args: &str) -> Option<String> {
    let named = assignments(args);
    let values: Vec<String> = if !named.is_empty() {
        let unknown = named
            .iter()
            .any(|(n, _)| !def.params.iter().any(|(p, _)| p == n));
        if unknown {
            // `bucket_capacity : 1` for `capacity`: only as one value per parameter, in order.
            if named.len() != def.params.len() {
                return None;
            }
            named.into_iter().map(|(_, v)| v).collect()
        } else {
            let mut values = vec![];
            for (name, has_default) in &def.params {
                match named.iter().find(|(n, _)| n == name) {
                    Some((_, v)) => values.push(v.clone()),
                    None if *has_default => break,
                    None => return None,
                }
            }
            if values.len() != named.len() {
                return None;
            }
            values
        }
    } else {
        let bare = args.trim().trim_end_matches(['.', ',']).trim();
        let parts: Vec<String> = if def.params.len() == 1 {
            vec![bare.to_string()]
        } else {
            split_top(bare)
                .into_iter()
                .map(|p| p.trim().to_string())
                .collect()
        };
        let required = def.params.iter().filter(|(_, d)| !d).count();
        if parts.len() < required || parts.len() > def.params.len() {
            return None;
        }
        parts
    };
    if values.iter().any(|v| !is_literal(v)) {
        return None;
    }
    Some(format!("{}({})", def.name, values.join(", ")))
}

/// Leading `name = literal` pairs separated by commas; stops at the first text that is not one
/// (`For N = 1000, the sum of digits will be 1 the output ...` gives `N = 1000`).
fn assignments(text: &str) -> Vec<(String, String)> {
    let b = text.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    loop {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b',') {
            i += 1;
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        if i == start || b[start].is_ascii_digit() {
            return out;
        }
        let name = &text[start..i];
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        if i >= b.len() || !(b[i] == b'=' || b[i] == b':') || b.get(i + 1) == Some(&b'=') {
            return out;
        }
        i += 1;
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        let vstart = i;
        i = match b.get(i) {
            Some(b'[' | b'(' | b'{') => match close_of(b, i, false) {
                Some(end) => end,
                None => return out,
            },
            Some(&q @ (b'"' | b'\'')) => {
                let mut j = i + 1;
                while j < b.len() && b[j] != q {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                if j >= b.len() {
                    return out;
                }
                j + 1
            }
            Some(_) => {
                let mut j = i;
                while j < b.len() && !(b[j] == b',' || b[j].is_ascii_whitespace()) {
                    j += 1;
                }
                j
            }
            None => return out,
        };
        let value = text[vstart..i].trim();
        if !is_literal(value) {
            return out;
        }
        out.push((name.to_string(), value.to_string()));
    }
}

/// The expected value: comments and a closing full stop dropped, `true`/`false` as Python's.
pub fn result(text: &str) -> Option<String> {
    let v = strip_comment(text)
        .trim()
        .trim_end_matches(['.', ',', ';'])
        .trim();
    let v = match v {
        "true" => "True",
        "false" => "False",
        v => v,
    };
    is_literal(v).then(|| v.to_string())
}

/// `text` up to a `#` outside quotes.
pub fn strip_comment(text: &str) -> &str {
    let mut quote: Option<char> = None;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' => return &text[..i],
            None => {}
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_arguments_and_their_values_call_the_one_function_asked() {
        let task = "Write a Python function `join_names(names: list[str]) -> str`.\nThe names are joined: [\"Ann\", \"Bob\", \"Cid\"] gives \"Ann, Bob and Cid\" and [\"Ann\", \"Bob\"] gives \"Ann and Bob\".\n0 returns `''`; f(x=[1]) gives 3.";
        assert_eq!(
            bare_examples(task),
            vec![
                (
                    "join_names([\"Ann\", \"Bob\", \"Cid\"])".to_string(),
                    "\"Ann, Bob and Cid\"".to_string()
                ),
                (
                    "join_names([\"Ann\", \"Bob\"])".to_string(),
                    "\"Ann and Bob\"".to_string()
                ),
                ("join_names(0)".to_string(), "''".to_string()),
            ]
        );
        // Two parameters, two functions, or no signature: nothing is guessed.
        assert!(bare_examples("Write `f(a: int, b: int) -> int`. 3 gives 4.").is_empty());
        assert!(bare_examples("Write `f(a: int)` and `g(b: int)`. 3 gives 4.").is_empty());
        assert!(bare_examples("Write f(a). 3 gives 4.").is_empty());
    }

    #[test]
    fn input_output_blocks_become_calls_in_parameter_order() {
        let task = "def maximum(arr, k):\n    \"\"\"Top k.\n\n    Example 1:\n        Input: k = 1, arr = [-3, 2, 1]\n        Output: [2]\n\n    Example 2:\n        Input:\n            arr : [4, -4, 4]\n            k : 2\n        Output: [4, 4] # both fours\n    \"\"\"\n";
        assert_eq!(
            examples(task),
            vec![
                ("maximum([-3, 2, 1], 1)".to_string(), "[2]".to_string()),
                ("maximum([4, -4, 4], 2)".to_string(), "[4, 4]".to_string()),
            ]
        );
    }

    #[test]
    fn a_bare_input_fits_a_one_parameter_function() {
        let task = "def helper(a, b):\n    pass\n\ndef pluck(arr):\n    \"\"\"\n    Input: [4,2,3]\n    Output: [2, 1]\n    Input: 12\n    Output: (4, 6)\n    \"\"\"\n";
        assert_eq!(
            examples(task),
            vec![
                ("pluck([4,2,3])".to_string(), "[2, 1]".to_string()),
                ("pluck(12)".to_string(), "(4, 6)".to_string()),
            ]
        );
    }

    #[test]
    fn for_phrases_name_the_arguments() {
        let task = "def solve(N, base=2):\n    \"\"\"\n    For N = 1000, the sum of digits will be 1 the output should be \"1\".\n    For N = 150 the output should be true\n    For M = 3 the output should be 1\n    For N = x the output should be 1\n    \"\"\"\n";
        assert_eq!(
            examples(task),
            vec![
                ("solve(1000)".to_string(), "\"1\"".to_string()),
                ("solve(150)".to_string(), "True".to_string()),
            ]
        );
    }

    #[test]
    fn other_names_count_in_order_when_there_is_one_per_parameter() {
        let task = "def max_fill(grid, capacity):\n    \"\"\"\n    Input:\n        grid : [[0,1], [1,1]]\n        bucket_capacity : 1\n    Output: 3\n    Input: grid = [[1]], size = 2, extra = 3\n    Output: 1\n    \"\"\"\n";
        assert_eq!(
            examples(task),
            vec![("max_fill([[0,1], [1,1]], 1)".to_string(), "3".to_string())]
        );
    }

    #[test]
    fn nothing_without_a_def_or_with_prose_values() {
        assert!(examples("Input: [1, 2]\nOutput: 3\n").is_empty());
        let task = "def f(a, b):\n    \"\"\"\n    Input: a = 1\n    Output: 2\n    Input: a = 1, b = 2\n    Output: the sum\n    \"\"\"\n";
        assert!(examples(task).is_empty(), "{:?}", examples(task));
    }
}

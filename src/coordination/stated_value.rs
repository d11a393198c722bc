//! The value a task's sentence states for a case: "an empty list returns `[]`", "if n is 0,
//! return an empty string", "return None when the key is missing". Conservative: a wrong
//! expected value is worse than none, so the sentence must state a condition (the case) and
//! exactly one value, and the value must be a literal or a plain phrase for one ("an empty
//! list", "zero"). "Return the sum of xs" states no value.
//!
//! A call the model writes for the case must fit its condition where the words make that
//! checkable ([`call_fits`]): "empty" needs an empty literal among the arguments, "zero" a 0,
//! "negative" a negative number, "None" a None.

use std::sync::OnceLock;

use regex::Regex;

/// Literal values in prose: backticked code, brackets, quoted strings, numbers, constants.
const VALUE: &str = r#"(`[^`\n]+`|\[\]|\{\}|\(\)|'[^'\n]*'|"[^"\n]*"|-?\d+(?:\.\d+)?|None|True|False|none|true|false|zero|(?:an?\s+)?empty\s+(?:list|string|str|dict(?:ionary)?|tuple|set))"#;

/// Words that make a sentence state a case (the condition the call must meet).
const CONDITION: [&str; 10] = [
    "if ", "when ", "for ", "empty", "given ", "no ", "without ", "zero", "negative", "missing",
];

fn returns_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(&format!(
            r"(?i)\b(?:returns?|returned|returning|gives|yields|evaluates? to)\s+(?:back\s+|just\s+|simply\s+)?{VALUE}(?:\s*$|\s*[.,;:!?)]|\s+(?:if|when|for|in|on|instead|and|as|whenever|unless)\b)"
        ))
        .expect("a valid regex")
    })
}

/// The Python source of the one value `sentence` states for its case, if it states one.
pub fn stated_value(sentence: &str) -> Option<String> {
    let lower = sentence.to_lowercase();
    if !CONDITION.iter().any(|w| lower.contains(w)) || lower.contains("otherwise") {
        return None;
    }
    // A worked example (`f([1, 2], 2)` returns `[[1, 2]]`) is a stated example, read as one
    // with its own arguments; its value is no case's.
    if ["for example", "for instance", "e.g.", "such as"]
        .iter()
        .any(|w| lower.contains(w))
        || has_call(sentence)
    {
        return None;
    }
    // "Return 1 if x > 0 and 0 if it is empty": two cases in one sentence.
    if lower.matches("if ").count() + lower.matches("when ").count() > 1 {
        return None;
    }
    // "does not return", "never returns": a negation states no value.
    if lower.contains("not return")
        || lower.contains("never return")
        || lower.contains("n't return")
    {
        return None;
    }
    let mut values: Vec<String> = returns_re()
        .captures_iter(sentence)
        .filter_map(|c| c.get(1).and_then(|m| as_python(m.as_str())))
        .collect();
    values.dedup();
    match values.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// A call written in the sentence: a name directly followed by `(`.
fn has_call(sentence: &str) -> bool {
    let b = sentence.as_bytes();
    (1..b.len()).any(|i| b[i] == b'(' && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
}

/// A value phrase as Python source; a backtick span must be one literal expression.
fn as_python(raw: &str) -> Option<String> {
    let v = raw.trim();
    let lower = v.to_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    if words.contains(&"empty") {
        return Some(
            match *words.last()? {
                "list" => "[]",
                "string" | "str" => "''",
                "dict" | "dictionary" => "{}",
                "tuple" => "()",
                "set" => "set()",
                _ => return None,
            }
            .into(),
        );
    }
    match lower.as_str() {
        "none" => return Some("None".into()),
        "true" => return Some("True".into()),
        "false" => return Some("False".into()),
        "zero" => return Some("0".into()),
        _ => {}
    }
    let v = match v.strip_prefix('`').and_then(|s| s.strip_suffix('`')) {
        Some(inner) => inner.trim(),
        None => v,
    };
    super::judge::is_literal(v).then(|| v.to_string())
}

/// Whether a written call can meet the case `quote` states, where its words make that
/// checkable: an empty case needs an empty literal, a zero case a `0`, a negative case a
/// negative number, a None case a `None`. Other cases are taken as written.
pub fn call_fits(quote: &str, call: &str) -> bool {
    call_meets(quote, call).unwrap_or(true)
}

/// [`call_fits`] where the case's words make it checkable (`Some(fits)`); `None` when they
/// name nothing checkable.
pub fn call_meets(quote: &str, call: &str) -> Option<bool> {
    let lower = quote.to_lowercase();
    let case = case_words(&lower);
    let squeezed: String = call.chars().filter(|c| !c.is_whitespace()).collect();
    Some(if case.contains("empty") {
        let empties = [
            "[]", "''", "\"\"", "{}", "()", "set()", "dict()", "list()", "str()", "tuple()",
        ];
        empties.iter().any(|e| {
            // `()` of a call with no arguments (`Stack()`) is not an empty argument.
            squeezed
                .match_indices(e)
                .any(|(i, _)| *e != "()" || squeezed[..i].ends_with(['(', ',', '=', '[', ' ']))
        })
    } else if case.contains("zero") || case.contains(" 0") {
        squeezed.match_indices('0').any(|(i, _)| {
            let before = squeezed[..i].chars().last();
            let after = squeezed[i + 1..].chars().next();
            !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
                && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        })
    } else if case.contains("negative") {
        squeezed.match_indices('-').any(|(i, _)| {
            squeezed[i + 1..].starts_with(|c: char| c.is_ascii_digit())
                && squeezed[..i].ends_with(['(', ',', '[', '=', ':', '{'])
        })
    } else if case.contains("none") {
        call.contains("None")
    } else {
        return None;
    })
}

/// The words of the case: the sentence without its stated result ("returns []").
fn case_words(lower: &str) -> String {
    match returns_re().find(lower) {
        Some(m) => format!("{} {}", &lower[..m.start()], &lower[m.end()..]),
        None => lower.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_stated_for_a_case_are_read_as_python() {
        let cases = [
            ("An empty list returns `[]`.", Some("[]")),
            ("If n is 0, return an empty string.", Some("''")),
            ("Return None when the key is missing.", Some("None")),
            ("For an empty input, the function returns 0.", Some("0")),
            ("If the word is not found, return -1.", Some("-1")),
            (
                "An empty dictionary returns an empty dictionary.",
                Some("{}"),
            ),
            ("If both are empty, return True.", Some("True")),
            (
                "Given no items, return `{'total': 0}`.",
                Some("{'total': 0}"),
            ),
            // No condition, no literal, two values, a negation, an expression.
            ("Return the sum of the list.", None),
            (
                "Return the list sorted in ascending order if it is short.",
                None,
            ),
            ("Return 1 if x is positive and 0 if it is empty.", None),
            ("If the list is empty, do not return None.", None),
            ("If the list is empty, return `len(xs)`.", None),
            ("Return 0 if empty, otherwise the mean.", None),
            ("If nothing matches, it returns none of the items.", None),
            // Worked examples are examples, not cases.
            (
                "For example `chunk([1, 2, 3], 2)` returns `[[1, 2], [3]]`.",
                None,
            ),
            ("If the input is chunk([], 2) it returns [].", None),
        ];
        for (s, want) in cases {
            assert_eq!(stated_value(s).as_deref(), want, "{s}");
        }
    }

    #[test]
    fn a_call_must_fit_the_words_of_its_case() {
        let empty = "An empty list returns `[]`.";
        assert!(call_fits(empty, "f([])"));
        assert!(call_fits(empty, "s = Stack(); s.items_of('')"));
        assert!(!call_fits(empty, "f([1, 2])"));
        assert!(!call_fits(empty, "s = Stack(); s.top()"));
        let zero = "If n is zero, return an empty string.";
        assert!(call_fits(zero, "f(0)"));
        assert!(!call_fits(zero, "f(10)") && !call_fits(zero, "f(1.05)"));
        let neg = "For a negative count, return None.";
        assert!(call_fits(neg, "f(-3)") && !call_fits(neg, "f(3 - 1)"));
        assert!(call_fits(
            "If the name is unknown, return False.",
            "f('zed')"
        ));
    }
}

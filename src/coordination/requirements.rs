//! Requirements, not roles: the task's stated behaviours, error cases, edge cases and examples,
//! each quoted from the task, numbered `R1`, `R2`, ... Every specialist is shown the list, the
//! written inputs name the requirement they exercise, and the report says which hold.

use serde::Serialize;

use super::judge::Example;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Example,
    Error,
    Edge,
    Behaviour,
}

#[derive(Debug, Clone, Serialize)]
pub struct Requirement {
    /// `R1`, `R2`, ...
    pub id: String,
    pub kind: Kind,
    /// The words of the task (an example as `expr == value`).
    pub quote: String,
    /// The exception the task names for this case, if any (`ValueError`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raises: Option<String>,
    /// The value the task states for this case, as Python (`[]` for "an empty list returns
    /// []"): checked like a stated example on calls that meet the case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub returns: Option<String>,
    /// `holds`, `fails`, `exercised` (inputs ran; agreement judged them) or `not exercised`
    /// (no input tied to it ran on every candidate).
    pub status: String,
    /// What the chosen solution did on the inputs that exercise it, each with its outcome.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// Why it was not exercised, when that keeps the verdict from `passed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

const ERROR_WORDS: [&str; 6] = ["raise", "error", "exception", "invalid", "throw", "reject"];
const EDGE_WORDS: [&str; 14] = [
    "empty",
    "zero",
    "negative",
    "none",
    "null",
    "edge",
    "single",
    "no ",
    "duplicate",
    "case-insensitive",
    "whitespace",
    "at least",
    "at most",
    "if ",
];
const BEHAVIOUR_WORDS: [&str; 9] = [
    "return", "should", "must", "sorted", "order", "only", "each", "ignore", "given",
];

/// The task's requirements: each stated example, then sentences that state an error case, an
/// edge case or a behaviour, in task order, at most `max` in all.
pub fn extract(task: &str, examples: &[Example], max: usize) -> Vec<Requirement> {
    let mut out: Vec<(Kind, String, Option<String>)> = examples
        .iter()
        .map(|e| (Kind::Example, format!("{} == {}", e.expr, e.expected), None))
        .collect();
    for sentence in sentences(task) {
        let lower = sentence.to_lowercase();
        let kind = if ERROR_WORDS.iter().any(|w| lower.contains(w)) {
            Kind::Error
        } else if EDGE_WORDS.iter().any(|w| lower.contains(w)) {
            Kind::Edge
        } else if BEHAVIOUR_WORDS.iter().any(|w| lower.contains(w)) {
            Kind::Behaviour
        } else {
            continue;
        };
        if out.iter().any(|(_, q, _)| q == &sentence) {
            continue;
        }
        out.push((kind, sentence.clone(), exception_named(&sentence)));
    }
    out.truncate(max);
    out.into_iter()
        .enumerate()
        .map(|(i, (kind, quote, raises))| Requirement {
            id: format!("R{}", i + 1),
            returns: (raises.is_none() && matches!(kind, Kind::Edge | Kind::Behaviour))
                .then(|| super::stated_value::stated_value(&quote))
                .flatten(),
            kind,
            quote,
            raises,
            status: "not exercised".into(),
            evidence: vec![],
            note: None,
        })
        .collect()
}

impl Requirement {
    /// The task states this case's outcome: a value it returns, or the exception an error case
    /// raises (a check, like a stated example).
    pub fn states_outcome(&self) -> bool {
        self.returns.is_some() || (self.kind == Kind::Error && self.raises.is_some())
    }
}

/// Whether `r` describes what one of `names` (the functions and classes the solution defines)
/// does as a whole — a behaviour sentence that names it (`Write area(w, h) returning ...`,
/// "the class `Stack` keeps ...") — so that every usable call exercises it. An edge or error
/// case, or a sentence that names nothing defined, needs calls of its own.
pub fn describes(r: &Requirement, names: &[String]) -> bool {
    r.kind == Kind::Behaviour
        && names.iter().any(|n| {
            let named = |pat: &str| {
                r.quote.match_indices(pat).any(|(i, _)| {
                    !r.quote[..i]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_alphanumeric() || c == '_')
                })
            };
            named(&format!("{n}(")) || named(&format!("`{n}`")) || named(&format!("class {n}"))
        })
}

/// Whether the sentence `quote` is where the stated example `call` → `expected` was read from:
/// it holds the expected value and every argument of the call ("0 returns \"00:00:00\"" for
/// `format_hms(0) == "00:00:00"`), so that example exercises it.
pub fn states_example(quote: &str, call: &str, expected: &str) -> bool {
    let (Some(open), Some(close)) = (call.find('('), call.rfind(')')) else {
        return false;
    };
    if close < open || expected.trim().is_empty() {
        return false;
    }
    let has = |text: &str| {
        let t = text.trim();
        quote.contains(t)
            || quote.contains(&t.replace('\'', "\""))
            || quote.contains(&t.replace('"', "'"))
    };
    let args = super::scan::split_top(&call[open + 1..close]);
    has(expected) && args.iter().all(|a| has(a))
}

/// The checklist as the agents see it, one requirement per line.
pub fn checklist(reqs: &[Requirement]) -> String {
    reqs.iter()
        .map(|r| format!("{} ({}): {}", r.id, r.kind.label(), r.quote))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Example => "example",
            Kind::Error => "error case",
            Kind::Edge => "edge case",
            Kind::Behaviour => "behaviour",
        }
    }
}

/// A CamelCase name ending in `Error` or `Exception` (`ValueError`, `KeyError`).
fn exception_named(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '_')
        .find(|w| {
            (w.ends_with("Error") || w.ends_with("Exception"))
                && w.chars().next().is_some_and(char::is_uppercase)
        })
        .map(str::to_string)
}

/// Sentences of prose: code lines (inside fences but outside docstrings) and doctest lines are
/// left out; bullets and sentence ends split.
fn sentences(task: &str) -> Vec<String> {
    let mut prose = String::new();
    let mut in_fence = false;
    let mut in_doc = false;
    let mut doctest_output = false;
    for line in task.lines() {
        let t = line.trim();
        if t.starts_with("```") {
            in_fence = !in_fence;
            prose.push('\n');
            continue;
        }
        let quotes = t.matches("\"\"\"").count() + t.matches("'''").count();
        let was_doc = in_doc;
        if in_fence && quotes % 2 == 1 {
            in_doc = !in_doc;
        }
        let code = in_fence && !was_doc && !in_doc && quotes == 0;
        // A doctest's expected output follows its `>>>` line, up to a blank line.
        if t.starts_with(">>>") {
            doctest_output = true;
            prose.push('\n');
            continue;
        }
        if t.is_empty() || quotes > 0 {
            doctest_output = false;
        }
        if code || doctest_output {
            prose.push('\n');
            continue;
        }
        let t = t
            .trim_start_matches("\"\"\"")
            .trim_start_matches("'''")
            .trim_end_matches("\"\"\"")
            .trim_end_matches("'''");
        let t = t.trim_start_matches(['-', '*', '•']).trim();
        if t.is_empty() {
            prose.push('\n');
        } else {
            prose.push_str(t);
            prose.push(' ');
        }
        if line.trim_start().starts_with(['-', '*', '•']) {
            prose.push('\n');
        }
    }
    let mut out = vec![];
    for block in prose.split('\n') {
        let mut start = 0;
        let b = block.as_bytes();
        for i in 0..b.len() {
            let end = (b[i] == b'.' || b[i] == b'!' || b[i] == b'?' || b[i] == b';')
                && (i + 1 == b.len() || b[i + 1] == b' ');
            if end {
                push_sentence(&mut out, &block[start..=i]);
                start = i + 1;
            }
        }
        push_sentence(&mut out, &block[start..]);
    }
    out
}

fn push_sentence(out: &mut Vec<String>, s: &str) {
    let s = s.trim();
    if s.len() < 8 || s.len() > 300 {
        return;
    }
    out.push(s.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sentence_an_example_was_read_from_states_it() {
        let q = "0 returns \"00:00:00\".";
        assert!(states_example(q, "format_hms(0)", "\"00:00:00\""));
        assert!(states_example(q, "format_hms(0)", "'00:00:00'"));
        assert!(!states_example(q, "format_hms(1)", "\"00:00:00\""));
        assert!(!states_example(q, "format_hms(0)", "\"00:00:01\""));
        assert!(states_example(
            "For example `caesar(\"abc\", 1)` returns \"bcd\".",
            "caesar(\"abc\", 1)",
            "\"bcd\""
        ));
    }

    #[test]
    fn a_behaviour_sentence_naming_a_defined_function_describes_it() {
        let names = vec!["area".to_string(), "Stack".to_string()];
        let reqs = extract(
            "Write area(w, h) returning the area. A negative side must return 0. \
             Write a class Stack that keeps its items in order. Results are sorted.",
            &[],
            8,
        );
        let by = |q: &str| reqs.iter().find(|r| r.quote.contains(q)).unwrap();
        assert!(describes(by("Write area"), &names));
        assert!(describes(by("class Stack"), &names));
        // An edge case, and a sentence naming nothing defined, need calls of their own.
        assert!(!describes(by("negative side"), &names));
        assert!(!describes(by("sorted"), &names));
        // `subarea(` is not `area(`.
        let sub = extract("Write subarea(x) returning x.", &[], 8);
        assert!(!describes(&sub[0], &names));
    }

    #[test]
    fn examples_errors_edges_and_behaviours_are_quoted_in_order() {
        let task = "Write parse_age(text) that returns the age as an int.\n\
                    - Raise ValueError if the text is not a number.\n\
                    - An empty string returns None.\n\
                    Nice to have.\n\
                    parse_age('42') == 42";
        let ex = super::super::judge::extract_examples(task);
        let r = extract(task, &ex, 10);
        let kinds: Vec<Kind> = r.iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            vec![Kind::Example, Kind::Behaviour, Kind::Error, Kind::Edge],
            "{r:?}"
        );
        assert_eq!(r[0].quote, "parse_age('42') == 42");
        assert_eq!(r[2].quote, "Raise ValueError if the text is not a number.");
        assert_eq!(r[2].raises.as_deref(), Some("ValueError"));
        assert_eq!(r[3].id, "R4");
        assert_eq!(r[3].returns.as_deref(), Some("None"));
        assert_eq!(r[1].returns, None);
        assert!(checklist(&r).contains("R3 (error case): Raise ValueError"));
    }

    #[test]
    fn code_in_fences_is_not_a_requirement_but_its_docstring_is() {
        let task = "Complete the function.\n\n```python\ndef f(xs):\n    \"\"\" Return the sorted unique items of xs.\n    >>> f([2, 1, 2])\n    [1, 2]\n    \"\"\"\n```";
        let r = extract(task, &[], 10);
        let quotes: Vec<&str> = r.iter().map(|r| r.quote.as_str()).collect();
        assert_eq!(
            quotes,
            vec!["Return the sorted unique items of xs."],
            "{r:?}"
        );
    }
}

//! InputWriter (the TestWriter's role, a different job): writes *calls* that exercise the
//! task's requirements, without expected values, and answers small questions about which of
//! two behaviours the task requires for one input.

use minijinja::context;
use serde::Serialize;

use super::extract;
use super::{AgentError, Crew};
use crate::models::{AgentRole, Finish};
use crate::syntax;

/// One written input and the requirement it names (`R3`), if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WrittenInput {
    pub code: String,
    pub requirement: Option<String>,
}

/// Ask for at most `max` inputs.
pub fn write(
    crew: &mut Crew<'_>,
    task: &str,
    checklist: &str,
    code: &str,
    example: &[String],
    max: usize,
) -> Result<(Vec<WrittenInput>, Vec<String>), AgentError> {
    let sigs = syntax::signatures(code);
    let signatures = if sigs.is_empty() {
        "(nothing yet)".to_string()
    } else {
        sigs.join("\n")
    };
    let example = if example.is_empty() {
        "f(0)\nf(-1)".to_string()
    } else {
        example.join("\n")
    };
    let messages = crew.opening(
        "input_writer",
        context! { task, checklist, signatures, max, example },
    )?;
    // One call, no syntax retries: the reply is read line by line and a line that does not
    // parse is dropped, so a cut-off or partly wrong reply still gives its good calls.
    let cap = crew.config.limits.input_writer_max_tokens;
    let g = crew.with_max_tokens(cap, |crew| crew.chat(AgentRole::TestWriter, &messages))?;
    let mut problems = vec![];
    if g.finish == Finish::Length {
        problems.push(format!(
            "cut off at {cap} tokens (limits.input_writer_max_tokens); kept its complete lines"
        ));
    }
    let mut text = extract::python_code(&g.text).unwrap_or_else(|| {
        problems.push("no Python code in the reply".into());
        String::new()
    });
    if g.finish == Finish::Length {
        // The last line may be cut mid-call (`f(12` of `f(123)`): only whole lines count.
        let whole = text.trim_end_matches('\n').rfind('\n').map_or(0, |i| i + 1);
        text.truncate(whole);
    }
    Ok((parse(&text, max), problems))
}

/// A stated case: the requirement's id, its words, and the outcome the task states for it.
#[derive(Debug, Clone, Serialize)]
pub struct StatedCase {
    pub id: String,
    pub quote: String,
    /// As the prompt says it: `raise ValueError`, `return []`.
    pub outcome: String,
}

/// Ask for calls that meet each stated case's condition (an error case that must raise, an
/// edge case with a stated value; at most `per` per case), each tagged with its case's id.
/// The expected outcome is the task's, never the model's: the reply gives calls only.
pub fn write_stated_calls(
    crew: &mut Crew<'_>,
    task: &str,
    cases: &[StatedCase],
    code: &str,
    example: &str,
    per: usize,
) -> Result<(Vec<WrittenInput>, Vec<String>), AgentError> {
    if cases.is_empty() || per == 0 {
        return Ok((vec![], vec![]));
    }
    let sigs = syntax::signatures(code);
    let signatures = if sigs.is_empty() {
        "(nothing yet)".to_string()
    } else {
        sigs.join("\n")
    };
    let example = format!("{example}  # {}", cases[0].id);
    let messages = crew.opening(
        "stated_inputs",
        context! { task, cases, signatures, per, example },
    )?;
    let cap = crew.config.limits.input_writer_max_tokens;
    let g = crew.with_max_tokens(cap, |crew| crew.chat(AgentRole::TestWriter, &messages))?;
    let mut problems = vec![];
    let mut text = extract::python_code(&g.text).unwrap_or_else(|| {
        problems.push("stated cases: no Python code in the reply".into());
        String::new()
    });
    if g.finish == Finish::Length {
        let whole = text.trim_end_matches('\n').rfind('\n').map_or(0, |i| i + 1);
        text.truncate(whole);
    }
    Ok((stated_calls(&text, cases, per), problems))
}

/// The calls of a stated-case reply: `with pytest.raises(...):` and `try:` wrappers taken
/// off, each call tied to the case its comment names (or to the only case), at most `per` a
/// case; a call naming no stated case is dropped.
pub fn stated_calls(text: &str, cases: &[StatedCase], per: usize) -> Vec<WrittenInput> {
    let unwrapped: String = text
        .lines()
        .map(|l| {
            let t = l.trim();
            match t.strip_prefix("with ").and_then(|r| r.split_once("):")) {
                Some((_, rest)) => rest.trim().to_string(),
                None => t.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out: Vec<WrittenInput> = vec![];
    for mut w in parse(&unwrapped, usize::MAX) {
        if w.requirement.is_none() && cases.len() == 1 {
            w.requirement = Some(cases[0].id.clone());
        }
        let Some(id) = w.requirement.clone() else {
            continue;
        };
        if !cases.iter().any(|c| c.id == id) {
            continue;
        }
        if out
            .iter()
            .filter(|o| o.requirement.as_deref() == Some(id.as_str()))
            .count()
            >= per
        {
            continue;
        }
        out.push(w);
    }
    out
}

/// The inputs in a reply: one per line, `# R<n>` comments kept as the requirement, `assert`,
/// `print(...)` and `== value` stripped (an expected value written anyway is not used), lines
/// that are not a valid expression-ending snippet with a call dropped, duplicates dropped.
pub fn parse(text: &str, max: usize) -> Vec<WrittenInput> {
    let mut out: Vec<WrittenInput> = vec![];
    // Inside a `def` or `class` the model wrote (code instead of calls): its body is not calls.
    let mut in_definition = false;
    for line in text.lines() {
        if !line.trim().is_empty() && !line.starts_with([' ', '\t']) {
            in_definition = line.starts_with("def ") || line.starts_with("class ");
        } else if in_definition {
            continue;
        }
        let (code, comment) = match line.find("  #").or_else(|| line.find(" # ")) {
            Some(i) => (&line[..i], Some(&line[i..])),
            None => (line, None),
        };
        let mut code = code.trim().trim_end_matches(';').trim().to_string();
        if code.is_empty()
            || code.starts_with('#')
            || code.starts_with("from ")
            || code.starts_with("import ")
            || code.starts_with("def ")
            || code.starts_with("raise ")
            || code.starts_with("return ")
        {
            continue;
        }
        if let Some(rest) = code.strip_prefix("assert ") {
            code = rest.to_string();
        }
        if let Some(inner) = code
            .strip_prefix("print(")
            .and_then(|r| r.strip_suffix(')'))
        {
            code = inner.to_string();
        }
        // `f(x) == 3`: keep the call; the value is not evidence here.
        if let Some((left, _)) = split_top_level_eq(&code) {
            code = left;
        }
        if !code.contains('(') || !syntax::check_python(&code).is_empty() {
            continue;
        }
        let last = code.rsplit("; ").next().unwrap_or(&code).trim();
        if last.contains(" = ") && !last.contains("==") {
            continue;
        }
        let requirement = comment.and_then(|c| {
            c.split(|ch: char| !ch.is_alphanumeric())
                .find(|w| {
                    w.len() > 1 && w.starts_with('R') && w[1..].chars().all(|d| d.is_ascii_digit())
                })
                .map(str::to_string)
        });
        if out.iter().any(|i| i.code == code) {
            continue;
        }
        out.push(WrittenInput { code, requirement });
        if out.len() >= max {
            break;
        }
    }
    out
}

/// `left == right` at bracket depth 0, outside strings, in the last statement.
fn split_top_level_eq(code: &str) -> Option<(String, String)> {
    let b = code.as_bytes();
    let last_start = code.rfind("; ").map(|i| i + 2).unwrap_or(0);
    let mut depth = 0i32;
    let mut quote: Option<u8> = None;
    let mut i = last_start;
    while i + 1 < b.len() {
        let c = b[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' => quote = Some(c),
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => depth -= 1,
                b'=' if depth == 0 && b[i + 1] == b'=' && i > 0 && b[i - 1] != b'!' => {
                    return Some((
                        code[..i].trim().to_string(),
                        code[i + 2..].trim().to_string(),
                    ));
                }
                _ => {}
            },
        }
        i += 1;
    }
    None
}

/// A question about one input and the model's answer.
#[derive(Debug, Clone, Serialize)]
pub struct Question {
    pub input: String,
    /// The two behaviours, in the order first asked.
    pub options: [String; 2],
    /// Each ask's answer (`A`, `B` or `unclear`), the second with the options swapped.
    pub answers: Vec<String>,
    /// The task sentence the model quoted, from the first ask.
    pub quote: String,
    /// 0 or 1 when both asks chose the same behaviour; `None` when unsettled.
    pub chosen: Option<usize>,
}

/// Ask which of two behaviours the task requires for one input, twice with the options
/// swapped (a small model favours a position); only an answer that survives the swap counts.
pub fn ask(
    crew: &mut Crew<'_>,
    task: &str,
    input: &str,
    options: [String; 2],
) -> Result<Question, AgentError> {
    let mut answers = vec![];
    let mut quote = String::new();
    let mut picks = vec![];
    for swap in [false, true] {
        let (a, b) = if swap {
            (&options[1], &options[0])
        } else {
            (&options[0], &options[1])
        };
        let messages = crew.opening("question", context! { task, input, a, b })?;
        let g = crew.chat(AgentRole::Coordinator, &messages)?;
        let answer = answer_of(&g.text);
        if !swap {
            quote = g
                .text
                .lines()
                .find(|l| !l.trim().is_empty() && !l.contains("ANSWER"))
                .unwrap_or("")
                .trim()
                .chars()
                .take(300)
                .collect();
        }
        picks.push(match (answer.as_str(), swap) {
            ("A", false) | ("B", true) => Some(0),
            ("B", false) | ("A", true) => Some(1),
            _ => None,
        });
        answers.push(answer);
    }
    let chosen = match (picks[0], picks[1]) {
        (Some(x), Some(y)) if x == y => Some(x),
        _ => None,
    };
    Ok(Question {
        input: input.to_string(),
        options,
        answers,
        quote,
        chosen,
    })
}

/// `A`, `B` or `unclear` from the reply's `ANSWER:` line (the last one wins).
fn answer_of(reply: &str) -> String {
    reply
        .lines()
        .rev()
        .find_map(|l| {
            let l = l.trim().trim_matches(['`', '*']);
            let i = l.to_uppercase().find("ANSWER:")?;
            let rest = l[i + 7..].trim().trim_matches(['`', '*', '.', ')']).trim();
            Some(match rest.chars().next() {
                Some('A') | Some('a')
                    if rest.len() == 1 || !rest[1..].starts_with(char::is_alphabetic) =>
                {
                    "A".to_string()
                }
                Some('B') | Some('b')
                    if rest.len() == 1 || !rest[1..].starts_with(char::is_alphabetic) =>
                {
                    "B".to_string()
                }
                _ => "unclear".to_string(),
            })
        })
        .unwrap_or_else(|| "unclear".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_calls_without_values_and_keep_their_requirement() {
        let text = "from solution import *\nfib(0)  # R1\nassert fib(5) == 5  # R2\nprint(fib(-1))\nfib(0)\nx = 3\ns = Stack(); s.push(1); s.pop()  # R3\nnot python (\n";
        let got = parse(text, 10);
        let codes: Vec<&str> = got.iter().map(|i| i.code.as_str()).collect();
        assert_eq!(
            codes,
            vec![
                "fib(0)",
                "fib(5)",
                "fib(-1)",
                "s = Stack(); s.push(1); s.pop()"
            ]
        );
        assert_eq!(got[0].requirement.as_deref(), Some("R1"));
        assert_eq!(got[3].requirement.as_deref(), Some("R3"));
        assert_eq!(got[2].requirement, None);
        assert_eq!(parse(text, 2).len(), 2);
    }

    /// A reply of code instead of calls: the body of its `def` is not inputs; the calls after
    /// it are.
    #[test]
    fn the_body_of_a_written_definition_is_not_inputs() {
        let text = "def f(n):\n    if n < 0:\n        raise ValueError(\"neg\")\n    return str(n)\n\nprint(f(1))\nf(-1)  # R2\nraise ValueError(\"x\")\n";
        let codes: Vec<String> = parse(text, 10).into_iter().map(|i| i.code).collect();
        assert_eq!(codes, vec!["f(1)", "f(-1)"]);
    }

    #[test]
    fn stated_calls_are_tied_to_their_case_and_unwrapped() {
        let cases = vec![
            StatedCase {
                id: "R2".into(),
                quote: "Raise ValueError if n is negative.".into(),
                outcome: "raise ValueError".into(),
            },
            StatedCase {
                id: "R4".into(),
                quote: "Raise TypeError for a string.".into(),
                outcome: "raise TypeError".into(),
            },
        ];
        let text = "to_x(-1)  # R2\nwith pytest.raises(ValueError): to_x(-5)  # R2\nto_x(-9)  # R2\nto_x('a')  # R4\nto_x(3)  # R1\nto_x(None)\n";
        let got = stated_calls(text, &cases, 2);
        let pairs: Vec<(&str, &str)> = got
            .iter()
            .map(|w| (w.code.as_str(), w.requirement.as_deref().unwrap()))
            .collect();
        assert_eq!(
            pairs,
            vec![("to_x(-1)", "R2"), ("to_x(-5)", "R2"), ("to_x('a')", "R4")]
        );
        let one = stated_calls("to_x(-1)\n", &cases[..1], 2);
        assert_eq!(one[0].requirement.as_deref(), Some("R2"), "the only case");
    }

    #[test]
    fn answers_are_read_from_the_last_answer_line() {
        assert_eq!(answer_of("The task says X.\nANSWER: B"), "B");
        assert_eq!(answer_of("**ANSWER: A**"), "A");
        assert_eq!(answer_of("ANSWER: unclear"), "unclear");
        assert_eq!(answer_of("I think A."), "unclear");
        assert_eq!(answer_of("ANSWER: Both"), "unclear");
    }
}

//! Expectations stated in an issue's prose: "should raise ValueError" (expected behaviour,
//! never the bug as observed), "should not raise X" / "raises X instead of ...", "should return
//! []", "Expected: `X`", "I would expect `f(a)` to return `b`". Conservative by design: a
//! wrong expectation is worse than none, so values must be literals or backticked expressions
//! and the clause after "but"/"instead" (the observed behaviour) is not read as expected.

use std::sync::OnceLock;

use regex::Regex;

use super::{dedent, regex, Expectation, Segment, SegmentKind, Traceback};

/// Sentences of the prose (code blocks removed), split at `.`/`!`/`?` followed by a space and
/// at line ends; a line ending in `:` followed by a code block keeps that block's text.
pub(super) fn expectations(
    segments: &[Segment<'_>],
    traceback: Option<&Traceback>,
) -> Vec<Expectation> {
    static EXPECTED_HEAD: OnceLock<Regex> = OnceLock::new();
    let head = regex(
        &EXPECTED_HEAD,
        r"(?i)^\W*expected(?: (?:output|result|value|return value))?s?\W*:\W*$",
    );
    let mut out: Vec<Expectation> = Vec::new();
    for (n, seg) in segments.iter().enumerate() {
        if seg.kind != SegmentKind::Prose {
            continue;
        }
        for line in &seg.lines {
            for sentence in sentences(line) {
                for e in sentence_expectations(sentence, traceback) {
                    if !out.contains(&e) {
                        out.push(e);
                    }
                }
            }
        }
        // "Expected output:" right before a short block: the block is the value.
        let last = seg.lines.iter().rev().find(|l| !l.trim().is_empty());
        if let (Some(last), Some(next)) = (last, segments.get(n + 1)) {
            if head.is_match(last.trim()) && matches!(next.kind, SegmentKind::Code { .. }) {
                // Only a value Python can compare (program output text is not one).
                let block = dedent(&next.lines.join("\n")).trim().to_string();
                if let Some(value) = (block.lines().count() <= 5)
                    .then(|| literal_value(&block))
                    .flatten()
                {
                    let e = Expectation::Value {
                        expression: None,
                        value,
                    };
                    if !out.contains(&e) {
                        out.push(e);
                    }
                }
            }
        }
    }
    out
}

fn sentences(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = line.as_bytes();
    let mut in_tick = false;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'`' {
            in_tick = !in_tick;
        }
        if !in_tick
            && matches!(b, b'.' | b'!' | b'?' | b';')
            && bytes.get(i + 1).is_some_and(|n| *n == b' ')
        {
            out.push(&line[start..=i]);
            start = i + 1;
        }
    }
    out.push(&line[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// An exception type name as written: `ValueError`, `` `pkg.FooError` ``.
const EXC: &str = r"`?(?:[A-Za-z_][A-Za-z0-9_]*\.)*([A-Z][A-Za-z0-9_]*(?:Error|Exception|Warning|Exit|Interrupt))`?";
/// A value as written: a backtick span, or a bracketed, quoted, numeric or constant literal.
const VALUE: &str = r#"(`[^`\n]+`|\[[^\]\n]*\]|\{[^}\n]*\}|\([^)\n]*\)|'[^'\n]*'|"[^"\n]*"|-?\d+(?:\.\d+)?(?:e-?\d+)?|None|True|False)"#;
/// Modal wording of an expected value (not "must", which as often states a current
/// constraint: "they must be `X`").
const SHOULD_VALUE: &str = r"(?:should|ought to|is supposed to|is expected to|would expect (?:it|this|that) to|expect(?:ed)? (?:it|this|that) to)";
/// An adverb between the modal and the verb ("should of course return").
const ADVERB: &str = r"(?:(?:of course|also|still|simply|just|rather|instead|obviously|\w+ly)\s+)?";
/// Modal wording of expected behaviour (negations are matched separately).
const SHOULD: &str = r"(?:should|must|ought to|is supposed to|is expected to|needs to|would expect (?:it|this|that) to|expect(?:ed)? (?:it|this|that) to)";

/// Expectations in one sentence. A clause after `but`/`however`/`instead`/`whereas` (the
/// observed behaviour) is not read as expected behaviour, except `instead of raising X`.
fn sentence_expectations(sentence: &str, traceback: Option<&Traceback>) -> Vec<Expectation> {
    static NOT_RAISE: OnceLock<Regex> = OnceLock::new();
    static NOT_RAISE_ANY: OnceLock<Regex> = OnceLock::new();
    static RAISES_INSTEAD: OnceLock<Regex> = OnceLock::new();
    static INSTEAD_OF_RAISING: OnceLock<Regex> = OnceLock::new();
    static INSTEAD_IT_RAISES: OnceLock<Regex> = OnceLock::new();
    static SHOULD_RAISE: OnceLock<Regex> = OnceLock::new();
    static EXPECT_RAISE: OnceLock<Regex> = OnceLock::new();
    static SHOULD_RETURN: OnceLock<Regex> = OnceLock::new();
    static EXPECT_TO_RETURN: OnceLock<Regex> = OnceLock::new();
    static EXPECTED_COLON: OnceLock<Regex> = OnceLock::new();
    static EXPECTED_GOT: OnceLock<Regex> = OnceLock::new();
    static RETURNS_INSTEAD: OnceLock<Regex> = OnceLock::new();

    let not_raise = regex(
        &NOT_RAISE,
        &format!(
            r"(?i)\b(?:should|must|would|does|did|do)\s*(?:not|n't|never)\s+(?:raise|throw)\s+(?:an?\s+|any\s+)?{EXC}"
        ),
    );
    let not_raise_any = regex(
        &NOT_RAISE_ANY,
        r"(?i)\b(?:should|must)\s*(?:not|n't|never)\s+(?:raise|throw)\s+(?:an?\s+|any\s+)?(?:error|exception)s?\b",
    );
    let raises_instead = regex(
        &RAISES_INSTEAD,
        &format!(
            r"(?i)(?:\b(?:raises|throws|raising|throwing|get|gets|got)\s+(?:an?\s+)?{EXC}\s+instead\b|{EXC}\s+is\s+(?:raised|thrown)\s+instead\b)"
        ),
    );
    let instead_of_raising = regex(
        &INSTEAD_OF_RAISING,
        &format!(r"(?i)\binstead\s+of\s+(?:raising|throwing)\s+(?:an?\s+)?{EXC}"),
    );
    let instead_it_raises = regex(
        &INSTEAD_IT_RAISES,
        &format!(
            r"(?i)^(?:but\s+)?instead,?\s[^.]*?\b(?:raises|throws|raised|thrown|get|gets|got|fails with)\s+(?:an?\s+)?{EXC}"
        ),
    );
    let should_raise = regex(
        &SHOULD_RAISE,
        &format!(r"(?i)\b{SHOULD}\s+{ADVERB}(?:raise|throw)\s+(?:an?\s+)?{EXC}"),
    );
    let expect_raise = regex(
        &EXPECT_RAISE,
        &format!(
            r"(?i)\b(?:i\s+(?:would\s+|'d\s+)?expect(?:ed)?|expected(?: behaviou?r)?:?)\s+(?:(?:`[^`]+`|[^.,;`]{{1,60}}?)\s+to\s+(?:raise|throw)\s+(?:an?\s+)?{EXC}|(?:to\s+(?:see|get)\s+)?(?:an?\s+){EXC})"
        ),
    );
    let should_return = regex(
        &SHOULD_RETURN,
        &format!(
            r"(?i)(?:`([^`\n]+)`\s+)?\b{SHOULD_VALUE}\s+{ADVERB}(?:return|give|be|evaluate to|yield|produce|output|print|equal)\s+{VALUE}(?:[\s.,;:!?)]|$)"
        ),
    );
    let expect_to_return = regex(
        &EXPECT_TO_RETURN,
        &format!(
            r"(?i)\bexpect(?:ed|s)?\s+`([^`\n]+)`\s+to\s+(?:return|give|be|evaluate to|yield|produce|output|print|equal)\s+{VALUE}(?:[\s.,;:!?)]|$)"
        ),
    );
    let expected_colon = regex(
        &EXPECTED_COLON,
        &format!(r"(?i)^\W*expected(?: (?:output|result|value|return value))?s?\W*:\s*{VALUE}\W*$"),
    );
    let expected_got = regex(
        &EXPECTED_GOT,
        &format!(r"(?i)\bexpected\s+{VALUE},?\s+(?:but\s+)?(?:got|received|returned)\b"),
    );
    let returns_instead = regex(
        &RETURNS_INSTEAD,
        &format!(
            r"(?i)(?:`([^`\n]+)`\s+)?\b(?:returns|gives|yields|outputs|prints|is)\s+{VALUE}\s+instead\s+of\s+{VALUE}(?:[\s.,;:!?)]|$)"
        ),
    );

    let mut out = Vec::new();
    let exc_of = |c: &regex::Captures<'_>| {
        (1..c.len())
            .filter_map(|i| c.get(i))
            .map(|m| m.as_str().to_string())
            .find(|s| {
                !s.contains(' ')
                    && !s.contains('`')
                    && s.chars().next().is_some_and(char::is_uppercase)
            })
    };

    // Negated raises: the bug is that it raises.
    let mut negated = false;
    for c in not_raise.captures_iter(sentence) {
        negated = true;
        if let Some(e) = exc_of(&c) {
            out.push(Expectation::NoException { exception: e });
        }
    }
    if !negated && not_raise_any.is_match(sentence) {
        negated = true;
        if let Some(tb) = traceback.filter(|t| !t.exception.is_empty()) {
            out.push(Expectation::NoException {
                exception: tb.exception.clone(),
            });
        }
    }
    for c in raises_instead.captures_iter(sentence) {
        if let Some(e) = exc_of(&c) {
            out.push(Expectation::NoException { exception: e });
        }
    }
    for c in instead_it_raises.captures_iter(sentence) {
        if let Some(e) = exc_of(&c) {
            out.push(Expectation::NoException { exception: e });
        }
    }
    for c in instead_of_raising.captures_iter(sentence) {
        if let Some(e) = exc_of(&c) {
            out.push(Expectation::Raises { exception: e });
        }
    }
    // Positive wording, only in the clause before the observed behaviour.
    let clause = expected_clause(sentence);
    if !negated {
        for re in [should_raise, expect_raise] {
            for c in re.captures_iter(clause) {
                if let Some(e) = exc_of(&c) {
                    if !out.iter().any(
                        |o| matches!(o, Expectation::NoException { exception } if *exception == e),
                    ) {
                        out.push(Expectation::Raises { exception: e });
                    }
                }
            }
        }
    }
    let negated_value = {
        static NOT_VALUE: OnceLock<Regex> = OnceLock::new();
        regex(
            &NOT_VALUE,
            r"(?i)\b(?:should|must|would)\s*(?:not|n't|never)\s+(?:return|give|be|evaluate|yield|produce|output|print|equal)\b",
        )
        .is_match(clause)
    };
    if !negated_value {
        for re in [should_return, expect_to_return] {
            for c in re.captures_iter(clause) {
                let expression = c.get(1).map(|m| m.as_str().trim().to_string());
                if let Some(value) = c.get(2).and_then(|m| literal_value(m.as_str())) {
                    out.push(Expectation::Value { expression, value });
                }
            }
        }
    }
    for re in [expected_colon, expected_got] {
        if let Some(c) = re.captures(sentence) {
            if let Some(value) = c.get(1).and_then(|m| literal_value(m.as_str())) {
                out.push(Expectation::Value {
                    expression: None,
                    value,
                });
            }
        }
    }
    if let Some(c) = returns_instead.captures(sentence) {
        let expression = c.get(1).map(|m| m.as_str().trim().to_string());
        if let Some(value) = c.get(3).and_then(|m| literal_value(m.as_str())) {
            out.push(Expectation::Value { expression, value });
        }
    }
    out
}

/// The part of a sentence before the observed behaviour is described.
fn expected_clause(sentence: &str) -> &str {
    static OBSERVED: OnceLock<Regex> = OnceLock::new();
    let re = regex(
        &OBSERVED,
        r"(?i)(?:,?\s+but\s|,?\s+however\b|,?\s+whereas\s|,?\s+instead\b|,?\s+actually\s|,?\s+currently\s)",
    );
    match re.find(sentence) {
        Some(m) => &sentence[..m.start()],
        None => sentence,
    }
}

/// A value as Python source: backticks removed; a backtick span must parse as one expression.
fn literal_value(raw: &str) -> Option<String> {
    let v = raw.trim();
    let v = match v.strip_prefix('`').and_then(|s| s.strip_suffix('`')) {
        Some(inner) => inner.trim(),
        None => v,
    };
    if v.is_empty() {
        return None;
    }
    let tree = crate::syntax::parse_python(v);
    let root = tree.root_node();
    if root.has_error() || root.named_child_count() != 1 {
        return None;
    }
    let stmt = root.named_child(0)?;
    if stmt.kind() != "expression_statement" || stmt.named_child_count() != 1 {
        return None;
    }
    // A bare name (`skipped`) is a word, not a value.
    if stmt.named_child(0)?.kind() == "identifier" {
        return None;
    }
    Some(v.to_string())
}

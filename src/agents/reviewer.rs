//! Reviewer: reads the solution and the test results and answers approve or request-changes,
//! with reasons.

use minijinja::context;
use serde::Serialize;

use super::{AgentError, Crew};
use crate::models::AgentRole;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Approve,
    RequestChanges,
}

#[derive(Debug, Clone, Serialize)]
pub struct Review {
    pub verdict: Verdict,
    pub reasons: Vec<String>,
    /// False when the reply had no VERDICT line (then it counts as approve, with a note).
    pub parsed: bool,
}

pub fn review(
    crew: &mut Crew<'_>,
    task: &str,
    code: &str,
    test_summary: &str,
) -> Result<Review, AgentError> {
    let messages = crew.opening("reviewer", context! { task, code, test_summary })?;
    let g = crew.chat(AgentRole::Reviewer, &messages)?;
    Ok(parse(&g.text, crew.config.limits.review_reasons))
}

/// Parse a review reply: a `VERDICT:` line and bullet points (at most `max_reasons`).
pub fn parse(text: &str, max_reasons: usize) -> Review {
    let mut verdict = None;
    let mut reasons = vec![];
    for line in text.lines() {
        let t = line.trim().trim_start_matches(['*', '#']).trim();
        let lower = t.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("verdict:") {
            let v = v.trim().trim_matches(['*', '"', '`', '.']).trim();
            verdict = Some(
                if v.starts_with("request") || v.starts_with("reject") || v.contains("changes") {
                    Verdict::RequestChanges
                } else {
                    Verdict::Approve
                },
            );
        } else if let Some(r) = t.strip_prefix("- ").or_else(|| t.strip_prefix("• ")) {
            if !r.trim().is_empty() {
                reasons.push(r.trim().to_string());
            }
        }
    }
    reasons.truncate(max_reasons);
    Review {
        parsed: verdict.is_some(),
        verdict: verdict.unwrap_or(Verdict::Approve),
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_verdicts_and_reasons() {
        let r = parse(
            "VERDICT: request-changes\n- fib(0) should be 0\n- name must be fib\n",
            5,
        );
        assert_eq!(r.verdict, Verdict::RequestChanges);
        assert_eq!(r.reasons, vec!["fib(0) should be 0", "name must be fib"]);
        assert!(r.parsed);
        assert_eq!(
            parse("**VERDICT: approve**\nLooks right.", 5).verdict,
            Verdict::Approve
        );
        let none = parse("I think it is fine", 5);
        assert!(!none.parsed);
        assert_eq!(none.verdict, Verdict::Approve);
    }
}

//! The verdict rule: a pure function from what the run observed ([`Facts`]: the candidates'
//! behaviour on the inputs, the stated examples and error cases, the requirements left
//! unexercised) to a status and its reason. No model, no sandbox: unit-tested on tables.
//!
//! `passed` needs evidence (issue 31): at least `limits.min_usable_inputs` inputs ran on every
//! candidate, every stated example, error case and edge value holds, every stated case was
//! exercised, and the candidates' agreement (or an answered question) settles the behaviour.

use serde::Serialize;

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FinalStatus {
    /// The stated examples and error cases hold, enough inputs ran on every candidate, every
    /// stated error case was exercised, and the candidates agree on the behaviour (or a
    /// question the model answered consistently settled it).
    Passed,
    /// A stated example or error case fails, the code crashes or hangs where others do not (or
    /// every candidate crashes on a well-typed input), or it cannot run.
    Failed,
    /// Nothing contradicts the code, but the evidence does not settle it: the candidates
    /// disagree, too few inputs ran, or a stated error case was never exercised.
    Uncertain,
    /// No test runner was available.
    Untested,
    /// No syntactically valid solution was produced.
    NoCode,
}

impl FinalStatus {
    pub fn label(self) -> &'static str {
        match self {
            FinalStatus::Passed => "PASSED",
            FinalStatus::Failed => "FAILED",
            FinalStatus::Uncertain => "UNCERTAIN",
            FinalStatus::Untested => "UNTESTED",
            FinalStatus::NoCode => "NO CODE",
        }
    }
}

/// What the run observed, as the verdict needs it.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub has_code: bool,
    /// A sandbox ran the code.
    pub sandbox: bool,
    /// Inputs of any kind (stated examples, error-case calls, written calls).
    pub inputs: usize,
    /// The chosen candidate was probed.
    pub chosen_ran: bool,
    /// Without inputs: the final test run (all passed and at least one case, its summary).
    pub final_tests: Option<(bool, String)>,
    /// Failures the evidence supports: stated examples or error cases that do not hold,
    /// crashes other candidates avoid or every candidate shares on a well-typed input.
    pub failures: Vec<String>,
    /// Inputs that ran on every candidate and were not dropped (stated examples count).
    pub usable: usize,
    /// `limits.min_usable_inputs`.
    pub min_usable: usize,
    /// The leading behaviour is settled by agreement or an answered question.
    pub settled: bool,
    pub lead_votes: usize,
    pub total_votes: usize,
    /// Distinct behaviours among the candidates.
    pub behaviours: usize,
    /// Stated examples that hold, and stated.
    pub examples: (usize, usize),
    /// Stated error-case calls that raise the named exception, and written.
    pub error_checks: (usize, usize),
    /// Calls of edge cases with a stated value that return it, and written.
    pub value_checks: (usize, usize),
    /// Usable inputs that are not error-case checks on which the chosen code returned (did not
    /// raise), and all such inputs. Candidates that agree on raising everywhere show nothing.
    pub returned: (usize, usize),
    /// A question the model answered in both orders settled a difference.
    pub question_settled: bool,
    /// Written assertions that contradict settled behaviour.
    pub suspect: usize,
    /// Written assertions that fail where nothing settles the behaviour.
    pub evidence_against: usize,
    /// Requirements that must be exercised and were not, each `R3 (…): why`.
    pub unexercised: Vec<String>,
    /// Requirements only the candidates' agreement can judge (no stated example, value or
    /// exception checks them), by id: with them, one candidate alone settles nothing.
    pub by_agreement: Vec<String>,
}

/// The status and the one-sentence reason.
pub fn decide(f: &Facts) -> (FinalStatus, String) {
    if !f.has_code {
        return (FinalStatus::NoCode, "no valid solution".into());
    }
    if !f.sandbox {
        return (FinalStatus::Untested, "not tested (no sandbox)".into());
    }
    if f.inputs == 0 {
        // Nothing to probe: the written tests alone decide, and cannot make it certain.
        return match &f.final_tests {
            Some((true, _)) => (
                FinalStatus::Uncertain,
                "no inputs to compare candidates on; only the written tests pass".into(),
            ),
            Some((false, summary)) => (
                FinalStatus::Failed,
                format!("the written tests fail: {summary}"),
            ),
            None => (FinalStatus::Failed, "nothing could be run".into()),
        };
    }
    if !f.chosen_ran {
        return (FinalStatus::Failed, "the solution could not be run".into());
    }
    if let Some(first) = f.failures.first() {
        return (FinalStatus::Failed, first.clone());
    }
    let mut stated = vec![];
    if f.examples.1 > 0 {
        stated.push(format!("the {} stated example(s) hold", f.examples.0));
    }
    if f.error_checks.1 > 0 {
        stated.push(format!(
            "the {} call(s) of the stated error case(s) raise as stated",
            f.error_checks.0
        ));
    }
    if f.value_checks.1 > 0 {
        stated.push(format!(
            "the {} call(s) of the stated edge value(s) return as stated",
            f.value_checks.0
        ));
    }
    let stated = if stated.is_empty() {
        "no stated examples".to_string()
    } else {
        stated.join(" and ")
    };
    // What keeps agreement from being evidence enough.
    let mut gaps = vec![];
    if f.usable == 0 {
        gaps.push(format!(
            "no input ran on every candidate (every one was dropped), so agreement shows nothing (limits.min_usable_inputs = {})",
            f.min_usable
        ));
    } else if f.usable < f.min_usable {
        gaps.push(format!(
            "only {} input(s) ran on every candidate, fewer than limits.min_usable_inputs = {}",
            f.usable, f.min_usable
        ));
    }
    if f.returned.1 > 0 && f.returned.0 == 0 {
        gaps.push(format!(
            "the solution raises on every one of the {} input(s) that are not error cases, so nothing shows it returning a value",
            f.returned.1
        ));
    }
    gaps.extend(f.unexercised.iter().map(|u| format!("{u}: not exercised")));
    if f.lead_votes < 2 && !f.question_settled && !f.by_agreement.is_empty() {
        gaps.push(format!(
            "{} only the candidates' agreement can judge, and no other candidate behaves like the chosen one",
            f.by_agreement.join(", ")
        ));
    }
    if f.settled && gaps.is_empty() {
        let mut reason = format!(
            "{stated}; {} of {} candidate(s) agree on every input ({} usable)",
            f.lead_votes, f.total_votes, f.usable
        );
        if f.question_settled {
            reason += "; a question settled a difference";
        }
        if f.suspect > 0 {
            reason += &format!(
                "; {} written assertion(s) contradict the agreed behaviour (suspect)",
                f.suspect
            );
        }
        return (FinalStatus::Passed, reason);
    }
    let mut reason = if f.settled {
        if f.usable == 0 {
            stated
        } else {
            format!(
                "{stated}; {} of {} candidate(s) agree on the {} usable input(s)",
                f.lead_votes, f.total_votes, f.usable
            )
        }
    } else {
        format!(
            "{stated}, but the candidates disagree ({} behaviours among {} candidate(s)) and nothing settles it",
            f.behaviours, f.total_votes
        )
    };
    if !gaps.is_empty() {
        reason += ", but ";
        reason += &gaps.join("; ");
    }
    if f.evidence_against > 0 {
        reason += &format!("; {} written assertion(s) fail", f.evidence_against);
    }
    (FinalStatus::Uncertain, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two agreeing candidates, two stated examples and three more inputs: enough evidence.
    fn settled() -> Facts {
        Facts {
            has_code: true,
            sandbox: true,
            inputs: 5,
            chosen_ran: true,
            usable: 5,
            min_usable: 3,
            settled: true,
            lead_votes: 2,
            total_votes: 2,
            behaviours: 1,
            examples: (2, 2),
            ..Default::default()
        }
    }

    #[test]
    fn agreement_on_enough_inputs_passes() {
        let (s, why) = decide(&settled());
        assert_eq!(s, FinalStatus::Passed, "{why}");
        assert!(
            why.contains("2 of 2 candidate(s) agree on every input"),
            "{why}"
        );
    }

    #[test]
    fn agreement_on_zero_usable_inputs_is_uncertain_and_never_claims_agreement() {
        let f = Facts {
            usable: 0,
            examples: (0, 0),
            inputs: 10,
            ..settled()
        };
        let (s, why) = decide(&f);
        assert_eq!(s, FinalStatus::Uncertain, "{why}");
        assert!(!why.contains("candidate(s) agree"), "{why}");
        assert!(why.contains("no input ran on every candidate"), "{why}");
    }

    #[test]
    fn fewer_usable_inputs_than_the_minimum_is_uncertain() {
        let f = Facts {
            usable: 2,
            ..settled()
        };
        let (s, why) = decide(&f);
        assert_eq!(s, FinalStatus::Uncertain, "{why}");
        assert!(why.contains("only 2 input(s)"), "{why}");
        let f = Facts {
            usable: 3,
            ..settled()
        };
        assert_eq!(decide(&f).0, FinalStatus::Passed);
    }

    #[test]
    fn candidates_that_agree_on_raising_everywhere_show_nothing() {
        let f = Facts {
            returned: (0, 4),
            error_checks: (1, 1),
            ..settled()
        };
        let (s, why) = decide(&f);
        assert_eq!(s, FinalStatus::Uncertain, "{why}");
        assert!(
            why.contains("raises on every one of the 4 input(s)"),
            "{why}"
        );
        let one = Facts {
            returned: (1, 4),
            ..settled()
        };
        assert_eq!(decide(&one).0, FinalStatus::Passed);
    }

    /// The chosen candidate is the only one the stated checks leave, but a behaviour sentence
    /// has no check of its own: one candidate is no agreement.
    #[test]
    fn a_lone_candidate_does_not_settle_a_requirement_only_agreement_judges() {
        let f = Facts {
            lead_votes: 1,
            total_votes: 4,
            behaviours: 3,
            by_agreement: vec!["R2".into()],
            ..settled()
        };
        let (status, reason) = decide(&f);
        assert_eq!(status, FinalStatus::Uncertain, "{reason}");
        assert!(
            reason.contains("R2 only the candidates' agreement"),
            "{reason}"
        );
        // Two agreeing candidates, or a settled question, do settle it.
        let two = Facts {
            lead_votes: 2,
            ..f.clone()
        };
        assert_eq!(decide(&two).0, FinalStatus::Passed);
        let asked = Facts {
            question_settled: true,
            ..f
        };
        assert_eq!(decide(&asked).0, FinalStatus::Passed);
    }

    #[test]
    fn an_unexercised_error_case_is_uncertain() {
        let f = Facts {
            unexercised: vec!["R2 (raise ValueError if n < 0)".into()],
            ..settled()
        };
        let (s, why) = decide(&f);
        assert_eq!(s, FinalStatus::Uncertain, "{why}");
        assert!(
            why.contains("R2 (raise ValueError if n < 0): not exercised"),
            "{why}"
        );
    }

    #[test]
    fn a_supported_failure_fails_whatever_else_holds() {
        let f = Facts {
            failures: vec!["`to_x(0)` must raise ValueError (R2), but it returns 0".into()],
            unexercised: vec!["R3".into()],
            usable: 0,
            ..settled()
        };
        let (s, why) = decide(&f);
        assert_eq!(s, FinalStatus::Failed);
        assert!(why.contains("must raise ValueError"), "{why}");
    }

    #[test]
    fn disagreement_is_uncertain_with_its_gaps_and_failing_assertions() {
        let f = Facts {
            settled: false,
            behaviours: 2,
            lead_votes: 1,
            usable: 1,
            evidence_against: 1,
            ..settled()
        };
        let (s, why) = decide(&f);
        assert_eq!(s, FinalStatus::Uncertain);
        assert!(why.contains("disagree (2 behaviours among 2"), "{why}");
        assert!(why.contains("only 1 input(s)"), "{why}");
        assert!(why.ends_with("1 written assertion(s) fail"), "{why}");
    }

    #[test]
    fn no_code_no_sandbox_no_inputs() {
        let f = Facts::default();
        assert_eq!(decide(&f).0, FinalStatus::NoCode);
        let f = Facts {
            has_code: true,
            ..Default::default()
        };
        assert_eq!(decide(&f).0, FinalStatus::Untested);
        let f = Facts {
            has_code: true,
            sandbox: true,
            final_tests: Some((true, "3 passed".into())),
            ..Default::default()
        };
        assert_eq!(decide(&f).0, FinalStatus::Uncertain);
        let f = Facts {
            final_tests: Some((false, "1 failed".into())),
            ..f
        };
        assert_eq!(decide(&f).0, FinalStatus::Failed);
    }
}

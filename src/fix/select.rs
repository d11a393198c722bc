//! Select by agreement, a pure function of what the verify stage found. Candidates that break
//! import are out. Of the rest, the first tier that has members wins: (1) the reproduction
//! passes and no test that passed at the base fails, (2) no regression (the reproduction does
//! not pass), (3) any candidate that imports — the fallbacks Agentless uses, named in the
//! result. Within the tier, candidates are grouped by behaviour (the same outcome on every
//! reproduction check and the same output of the issue's own code), the group with the most
//! votes wins, then the smallest change, then the earliest proposal.

use serde::Serialize;

use crate::coordination::agreement;

/// Where a reproduction check's expected outcome comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckSource {
    /// The issue's own code no longer raises the exception the issue's traceback shows.
    IssueSymptom,
    /// An outcome the issue states ("should raise ValueError", "returns []").
    Stated,
    /// A model-written test that failed at the base.
    Test,
}

/// What verification found about one distinct candidate.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// Proposals that produced this code.
    pub votes: usize,
    pub changed_lines: usize,
    /// Why the candidate is out (it breaks import, or its run could not tell): None = in.
    pub broken: Option<String>,
    /// Each reproduction check's outcome (None: not known, e.g. cut off by the time limit).
    pub checks: Vec<Option<bool>>,
    /// The output of the issue's own code with the candidate (exception type or printed
    /// text), when the issue has code.
    pub snippet: Option<String>,
    /// Tests that passed at the base and fail with the candidate.
    pub regressions: Vec<String>,
    /// The regression run did not finish: nothing is known about regressions.
    pub regressions_unknown: bool,
}

/// Which tier the selection came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    /// The reproduction passes and nothing regressed.
    Reproduced,
    /// Fallback: nothing regressed, the reproduction does not pass (or there is none).
    RegressionOnly,
    /// Fallback: every candidate that imports.
    Any,
}

/// The chosen candidate and the group that agrees with it.
#[derive(Debug, Clone, Serialize)]
pub struct Selection {
    /// Index of the chosen candidate.
    pub chosen: usize,
    pub tier: Tier,
    /// Candidates that behave like the chosen one (it included).
    pub group: Vec<usize>,
    /// Their votes (repeats included).
    pub agreeing: usize,
    /// A check that passes for the chosen candidate is a model-written test or a stated
    /// outcome (not only the issue's code no longer raising).
    pub strong_check: bool,
}

/// Whether `v` passes the reproduction: at least one check passes, and no check whose
/// outcome comes from the issue's text fails.
pub fn reproduces(v: &Verdict, sources: &[CheckSource]) -> bool {
    let passes = v.checks.contains(&Some(true));
    let text_fails = v
        .checks
        .iter()
        .zip(sources)
        .any(|(c, s)| *s != CheckSource::Test && *c != Some(true));
    passes && !text_fails
}

fn clean(v: &Verdict) -> bool {
    v.regressions.is_empty() && !v.regressions_unknown
}

/// The selection over `verdicts` (indexed as the candidates), or None when every candidate
/// is out.
pub fn select(verdicts: &[Verdict], sources: &[CheckSource]) -> Option<Selection> {
    type Admits<'a> = &'a dyn Fn(&Verdict) -> bool;
    let tiers: [(Tier, Admits); 3] = [
        (Tier::Reproduced, &|v| clean(v) && reproduces(v, sources)),
        (Tier::RegressionOnly, &|v| clean(v)),
        (Tier::Any, &|_| true),
    ];
    for (tier, admits) in tiers {
        let members: Vec<usize> = (0..verdicts.len())
            .filter(|&i| verdicts[i].broken.is_none() && admits(&verdicts[i]))
            .collect();
        if members.is_empty() {
            continue;
        }
        let groups = agreement::group(members.iter().map(|&i| {
            let v = &verdicts[i];
            (i, (&v.checks, &v.snippet), v.votes)
        }));
        let best = groups
            .iter()
            .map(|g| {
                let smallest = *g
                    .members
                    .iter()
                    .min_by_key(|&&i| (verdicts[i].changed_lines, i))
                    .expect("a group has members");
                (g, smallest)
            })
            .min_by_key(|(g, smallest)| {
                (
                    std::cmp::Reverse(g.votes),
                    verdicts[*smallest].changed_lines,
                    *smallest,
                )
            })
            .expect("a tier with members has a group");
        let (g, chosen) = best;
        let v = &verdicts[chosen];
        let strong_check = v
            .checks
            .iter()
            .zip(sources)
            .any(|(c, s)| *c == Some(true) && *s != CheckSource::IssueSymptom);
        return Some(Selection {
            chosen,
            tier,
            group: g.members.clone(),
            agreeing: g.votes,
            strong_check,
        });
    }
    None
}

/// Whether sampling may stop: a group of at least `agree` votes passes the reproduction
/// with no regression.
pub fn settled(verdicts: &[Verdict], sources: &[CheckSource], agree: usize) -> bool {
    select(verdicts, sources).is_some_and(|s| s.tier == Tier::Reproduced && s.agreeing >= agree)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(checks: &[Option<bool>], regressions: usize, lines: usize) -> Verdict {
        Verdict {
            votes: 1,
            changed_lines: lines,
            broken: None,
            checks: checks.to_vec(),
            snippet: None,
            regressions: (0..regressions).map(|i| format!("t{i}")).collect(),
            regressions_unknown: false,
        }
    }

    const T: Option<bool> = Some(true);
    const F: Option<bool> = Some(false);

    #[test]
    fn the_largest_agreeing_group_wins_over_the_greedy_candidate() {
        // Greedy (0) passes nothing; two sampled candidates agree and pass.
        let vs = vec![v(&[F], 0, 2), v(&[T], 0, 4), v(&[T], 0, 3), v(&[T], 1, 1)];
        let s = select(&vs, &[CheckSource::Test]).unwrap();
        assert_eq!(s.tier, Tier::Reproduced);
        assert_eq!(s.chosen, 2, "the smaller change of the group");
        assert_eq!(s.group, vec![1, 2]);
        assert_eq!(s.agreeing, 2);
        assert!(s.strong_check);
        assert!(settled(&vs, &[CheckSource::Test], 2));
        assert!(!settled(&vs, &[CheckSource::Test], 3));
    }

    #[test]
    fn votes_of_repeated_candidates_count_and_behaviour_splits_groups() {
        let mut a = v(&[T, F], 0, 5);
        a.votes = 3;
        let b = v(&[T, T], 0, 1);
        let vs = vec![b, a];
        let s = select(&vs, &[CheckSource::Test, CheckSource::Test]).unwrap();
        assert_eq!(s.chosen, 1);
        assert_eq!(s.agreeing, 3);
    }

    #[test]
    fn fallbacks_regression_only_then_any_and_broken_candidates_are_out() {
        let vs = vec![v(&[F], 1, 1), v(&[F], 0, 9)];
        let s = select(&vs, &[CheckSource::Test]).unwrap();
        assert_eq!((s.tier, s.chosen), (Tier::RegressionOnly, 1));
        let vs = vec![v(&[T], 2, 1), v(&[F], 1, 9)];
        let s = select(&vs, &[CheckSource::Test]).unwrap();
        assert_eq!((s.tier, s.chosen), (Tier::Any, 0));
        let mut broken = v(&[T], 0, 1);
        broken.broken = Some("ImportError".into());
        assert!(select(&[broken], &[CheckSource::Test]).is_none());
    }

    #[test]
    fn a_failing_check_from_the_issue_text_blocks_the_reproduction() {
        let sources = [CheckSource::Stated, CheckSource::Test];
        let vs = vec![v(&[F, T], 0, 1), v(&[T, F], 0, 1)];
        assert!(!reproduces(&vs[0], &sources));
        assert!(reproduces(&vs[1], &sources));
        let s = select(&vs, &sources).unwrap();
        assert_eq!((s.tier, s.chosen), (Tier::Reproduced, 1));
        // Only the issue's code no longer raising: not a strong check.
        let s = select(&[v(&[T], 0, 1)], &[CheckSource::IssueSymptom]).unwrap();
        assert!(!s.strong_check);
        // No checks at all: never reproduced.
        let s = select(&[v(&[], 0, 1)], &[]).unwrap();
        assert_eq!(s.tier, Tier::RegressionOnly);
    }

    #[test]
    fn unknown_regressions_are_not_clean() {
        let mut a = v(&[T], 0, 1);
        a.regressions_unknown = true;
        let s = select(&[a], &[CheckSource::Test]).unwrap();
        assert_eq!(s.tier, Tier::Any);
    }
}

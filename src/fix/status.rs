//! How sure the repository fixer is of its patch: the status in `fix`'s output, the batch
//! table, the run report, each instance's `result.json` and the prediction lines, decided by
//! one pure function from the evidence the verify stage gathered.
//!
//! - `verified`: a reproduction that failed at the base commit (a reproduction test, or the
//!   issue's own snippet showing its symptom) passes with the patch, no test that passed at the
//!   base fails, and at least two candidates that behave alike agree on it.
//! - `plausible`: the reproduction passes and nothing regressed, but only one candidate behaves
//!   so (no agreement), or the only reproduction is the snippet without a stated
//!   expectation.
//! - `unverified`: a patch that applies and imports, chosen without a passing reproduction
//!   (none could be written that fails at base, or no candidate makes it pass), or that breaks
//!   a test that passed at base (the fallback when no candidate is clean).
//! - `no-patch`: no candidate applied.

use serde::{Deserialize, Serialize};

/// The fixer's verdict on its own patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FixStatus {
    NoPatch,
    Unverified,
    Plausible,
    Verified,
}

impl FixStatus {
    /// Every status but `no-patch` comes with a patch.
    pub fn has_patch(self) -> bool {
        self != FixStatus::NoPatch
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FixStatus::Verified => "verified",
            FixStatus::Plausible => "plausible",
            FixStatus::Unverified => "unverified",
            FixStatus::NoPatch => "no-patch",
        }
    }

    /// What the status promises, in one sentence (the README's table says the same).
    pub fn promise(self) -> &'static str {
        match self {
            FixStatus::Verified => {
                "a reproduction that failed at the base passes, no test that passed at the base fails, and at least two independent candidates agree"
            }
            FixStatus::Plausible => {
                "a reproduction that failed at the base passes and no test that passed at the base fails, but no second candidate agrees"
            }
            FixStatus::Unverified => {
                "the patch applies and imports, but no reproduction that failed at the base passes with it, or a test that passed at the base fails"
            }
            FixStatus::NoPatch => "no candidate edit applied",
        }
    }

    /// All statuses, best first (for tables).
    pub const ALL: [FixStatus; 4] = [
        FixStatus::Verified,
        FixStatus::Plausible,
        FixStatus::Unverified,
        FixStatus::NoPatch,
    ];
}

impl std::fmt::Display for FixStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for FixStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FixStatus::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                format!("unknown fix status `{s}`; expected verified, plausible, unverified or no-patch")
            })
    }
}

/// What the verify stage found about the selected candidate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// A candidate was selected (it applied and its files parse).
    pub patch: bool,
    /// A reproduction that failed at the base passes with the patch.
    pub reproduction_passes: bool,
    /// That reproduction is a model-written test or a stated expectation (not only the issue's
    /// snippet no longer raising).
    pub reproduction_from_test_or_statement: bool,
    /// A test that passed at the base fails, or the patch breaks import.
    pub regressions: bool,
    /// The regression run could not finish (the time limit cut it): nothing is known.
    pub regressions_unknown: bool,
    /// Distinct candidates (and repeats of them) that behave like the selected one.
    pub agreeing: usize,
}

/// The status the evidence supports.
pub fn decide(e: &Evidence) -> FixStatus {
    if !e.patch {
        return FixStatus::NoPatch;
    }
    if !e.reproduction_passes || e.regressions || e.regressions_unknown {
        return FixStatus::Unverified;
    }
    if e.agreeing >= 2 && e.reproduction_from_test_or_statement {
        FixStatus::Verified
    } else {
        FixStatus::Plausible
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean() -> Evidence {
        Evidence {
            patch: true,
            reproduction_passes: true,
            reproduction_from_test_or_statement: true,
            regressions: false,
            regressions_unknown: false,
            agreeing: 2,
        }
    }

    #[test]
    fn verified_needs_reproduction_no_regression_and_agreement() {
        assert_eq!(decide(&clean()), FixStatus::Verified);
        let alone = Evidence {
            agreeing: 1,
            ..clean()
        };
        assert_eq!(decide(&alone), FixStatus::Plausible);
        let snippet_only = Evidence {
            reproduction_from_test_or_statement: false,
            ..clean()
        };
        assert_eq!(decide(&snippet_only), FixStatus::Plausible);
    }

    #[test]
    fn a_regression_or_an_unknown_run_or_no_reproduction_is_unverified() {
        for e in [
            Evidence {
                regressions: true,
                ..clean()
            },
            Evidence {
                regressions_unknown: true,
                ..clean()
            },
            Evidence {
                reproduction_passes: false,
                ..clean()
            },
        ] {
            assert_eq!(decide(&e), FixStatus::Unverified, "{e:?}");
        }
        assert_eq!(decide(&Evidence::default()), FixStatus::NoPatch);
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for s in FixStatus::ALL {
            assert_eq!(s.as_str().parse::<FixStatus>().unwrap(), s);
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert!("patched".parse::<FixStatus>().is_err());
        assert!(FixStatus::Verified > FixStatus::Plausible);
    }
}

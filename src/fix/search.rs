//! Propose and verify until the selection settles: proposal `k` (greedy first, then samples;
//! with `fix.feedback` every other sampled one is shown the last candidate that failed its
//! checks), each new distinct candidate verified once, a repeat counted as a vote. Ends after
//! `fix.samples` proposals, on a stop request, or when [`select::settled`] says the leading
//! group is reproduced and agreed by `fix.agree` candidates.

use std::collections::BTreeMap;
use std::time::Instant;

use super::candidate::{self, Candidate};
use super::driver::{record, FixRequest, Stop, STOP_REQUESTED};
use super::localize::Located;
use super::report::{CandidateRecord, FixReport, ProposalRecord};
use super::select::CheckSource;
use super::{propose, select, verify};
use crate::agents::repairer::RepairRequest;
use crate::agents::Crew;
use crate::repo::map::RepoMap;
use crate::testing::RepoTests;

/// What every round uses.
pub(super) struct Search<'a> {
    pub issue: &'a str,
    pub located: &'a Located,
    pub map: &'a RepoMap,
    /// The reproduction, the issue's code and the regression set each candidate runs.
    pub plan: verify::Plan<'a>,
    pub sources: &'a [CheckSource],
    /// The test runner with the checks' shorter time limit.
    pub tests: &'a RepoTests,
    /// A file's content at the base.
    pub base: &'a dyn Fn(&str) -> Option<String>,
}

pub(super) fn run(
    crew: &mut Crew<'_>,
    req: &FixRequest<'_>,
    s: &Search<'_>,
    start: Instant,
    report: &mut FixReport,
    pool: &mut Vec<Candidate>,
) -> Result<(), Stop> {
    let fix = crew.config.fix.clone();
    let mut failures: Option<(String, String)> = None;
    for k in 0..fix.samples {
        if (req.should_stop)() {
            report.stopped_by = Some(STOP_REQUESTED.into());
            break;
        }
        let feedback = propose::wants_feedback(k, fix.feedback)
            .then(|| failures.clone())
            .flatten();
        let proposal = propose::propose(
            crew,
            req.worktree.path(),
            s.map,
            &RepairRequest {
                issue: s.issue,
                targets: &s.located.targets,
                code: &s.located.focus,
                previous: feedback.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
            },
            k,
        )?;
        let mut rec = ProposalRecord {
            proposal: k,
            outcome: String::new(),
            retries: proposal.retries,
            problems: proposal.problems.clone(),
            feedback: feedback.is_some(),
        };
        if proposal.applied {
            let files: BTreeMap<String, String> = proposal.files;
            rec.outcome = match candidate::build(k, files, s.base) {
                Err(e) => format!("no candidate: {e}"),
                Ok(c) => {
                    let (i, new) = candidate::add(pool, c);
                    if new {
                        if let Some(failed) = verify_new(crew, req, s, i, report, pool)? {
                            failures = Some(failed);
                        }
                        format!("candidate {}", i + 1)
                    } else {
                        report.candidates[i].candidate.votes = pool[i].votes;
                        report.candidates[i].verdict.votes = pool[i].votes;
                        format!("repeat of candidate {}", i + 1)
                    }
                }
            };
        } else {
            rec.outcome = "not applied".into();
        }
        let applied = proposal.applied;
        report.proposals.push(rec);
        if !applied {
            continue;
        }
        record(req, report, pool, crew, start);
        let verdicts: Vec<_> = report
            .candidates
            .iter()
            .map(|c| c.verdict.clone())
            .collect();
        if select::settled(&verdicts, s.sources, fix.agree) {
            break;
        }
    }
    Ok(())
}

/// Verify the new candidate `i` and record it; its patch and failures when it does not pass
/// (the feedback a later proposal may be shown).
fn verify_new(
    crew: &Crew<'_>,
    req: &FixRequest<'_>,
    s: &Search<'_>,
    i: usize,
    report: &mut FixReport,
    pool: &[Candidate],
) -> Result<Option<(String, String)>, Stop> {
    let (verdict, run) = verify::candidate(
        s.tests,
        req.worktree.path(),
        &pool[i],
        &s.plan,
        &format!("candidate {}", i + 1),
    )?;
    let passed = select::reproduces(&verdict, s.sources) && verdict.regressions.is_empty();
    let failed = (!passed).then(|| {
        let text = run
            .as_test_run()
            .failure_report_with(crew.config.fix.repair_failure_chars, &crew.config.limits);
        (pool[i].patch.clone(), text)
    });
    report.candidates.push(CandidateRecord {
        candidate: pool[i].clone(),
        verdict,
        tests: run.summary(),
    });
    report.test_runs.push(run);
    Ok(failed)
}

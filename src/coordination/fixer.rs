//! The repository fixer: from an issue to a patch. Localize (BM25 ranking and the model's
//! picks), write a reproduction test and check that it fails before any edit, let the Repairer
//! edit with search/replace blocks, run the reproduction test and the related existing tests in
//! the sandbox after each edit, feed failures back for a bounded number of rounds, and keep the
//! best patch. A patch is "verified" only when the reproduction test passes and no related test
//! that passed before fails after.
//!
//! The report so far (calls, test runs, attempts, the best patch) goes to
//! [`FixRequest::journal`] after each step and when an error stops the fixer, so a caller keeps
//! what was found whatever ends the work; a budget that runs out (the time limit, the model-call
//! limit) ends it with the best state so far as the result and names the limit in
//! [`FixReport::stopped_by`].

use std::time::Instant;

use serde::Serialize;

use crate::agents::localizer::{self, Localization};
use crate::agents::repairer::{self, RepairRequest};
use crate::agents::{test_writer, AgentError, Crew};
use crate::models::manager::LoadRecord;
use crate::models::AgentRole;
use crate::repo::checkout::{CheckoutError, Worktree};
use crate::repo::map::{self, Budget, MapError, RepoMap};
use crate::repo::patch::{self, PatchError};
use crate::repo::rank::{self, RankOptions};
use crate::report::{CallRecord, Totals};
use crate::sandbox::SandboxError;
use crate::testing::CaseOutcome;
use crate::testing::{RepoTestRun, RepoTests};

/// The reproduction test's file name (at the repository root, never part of the patch).
pub const REPRO_FILE: &str = "test_codeswarm_repro.py";

#[derive(Debug, thiserror::Error)]
pub enum FixError {
    #[error(transparent)]
    Agent(#[from] AgentError),
    #[error(transparent)]
    Map(#[from] MapError),
    #[error(transparent)]
    Checkout(#[from] CheckoutError),
    #[error("sandbox: {0}")]
    Sandbox(#[from] SandboxError),
    #[error(transparent)]
    Patch(#[from] PatchError),
    #[error("the issue text is empty; pass --issue FILE or --issue TEXT describing the bug")]
    EmptyIssue,
}

#[derive(Debug, Clone, Serialize)]
pub struct RankedSummary {
    pub path: String,
    pub score: f32,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct ReproRecord {
    /// The accepted reproduction test.
    pub test: Option<String>,
    pub attempts: u32,
    /// Why attempts were rejected (passed before the fix, could not run, ...).
    pub rejected: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct AttemptRecord {
    pub round: u32,
    pub applied: bool,
    pub files: Vec<String>,
    pub problems: Vec<String>,
    pub retries: u32,
    pub repro_passes: Option<bool>,
    pub regressions: Vec<String>,
    pub tests: Option<String>,
    pub patch_lines: usize,
}

pub use crate::fix::status::FixStatus;

#[derive(Debug, Clone, Serialize)]
pub struct FixReport {
    pub repo: String,
    pub base_commit: String,
    pub issue: String,
    pub ranking: Vec<RankedSummary>,
    pub related_tests: Vec<String>,
    pub localization: Localization,
    pub repro: ReproRecord,
    pub baseline: Option<RepoTestRun>,
    pub attempts: Vec<AttemptRecord>,
    pub test_runs: Vec<RepoTestRun>,
    pub status: FixStatus,
    pub reason: Option<String>,
    /// The limit that ended the work early (a budget, or a stop request), if one did.
    pub stopped_by: Option<String>,
    pub patch: String,
    pub totals: Totals,
    pub loads: Vec<LoadRecord>,
    pub seconds: f64,
    pub calls: Vec<CallRecord>,
}

/// What the fixer works on.
pub struct FixRequest<'a> {
    pub issue: &'a str,
    pub worktree: &'a Worktree,
    pub tests: &'a RepoTests,
    /// Polled between steps: the time limit or an interrupt.
    pub should_stop: &'a dyn Fn() -> bool,
    /// Called with the report so far after each step (localization, each test run, each edit),
    /// with the final report, and with the last state when an error stops the fixer.
    pub journal: Option<&'a dyn Fn(&FixReport)>,
}

/// What [`FixReport::stopped_by`] says when `should_stop` ended the work.
pub const STOP_REQUESTED: &str = "a stop request (the time limit or an interrupt)";

struct Best {
    score: (u8, i64),
    patch: String,
    verified: bool,
}

pub fn fix(crew: &mut Crew<'_>, req: &FixRequest<'_>) -> Result<FixReport, FixError> {
    let start = Instant::now();
    let issue = req.issue.trim();
    if issue.is_empty() {
        return Err(FixError::EmptyIssue);
    }
    let wt = req.worktree;
    let mut report = FixReport {
        repo: wt.source().display_name().to_string(),
        base_commit: wt.base_sha(),
        issue: issue.to_string(),
        ranking: vec![],
        related_tests: vec![],
        localization: Localization::default(),
        repro: ReproRecord::default(),
        baseline: None,
        attempts: vec![],
        test_runs: vec![],
        status: FixStatus::NoPatch,
        reason: None,
        stopped_by: None,
        patch: String::new(),
        totals: Totals::default(),
        loads: vec![],
        seconds: 0.0,
        calls: vec![],
    };
    let mut best: Option<Best> = None;
    let result = steps(crew, req, issue, start, &mut report, &mut best)
        .and_then(|()| conclude(wt, &mut report, best.as_ref()));
    match result {
        Ok(()) => {
            report.calls = std::mem::take(&mut crew.calls);
            report.totals = Totals::of(&report.calls);
            report.loads = crew.models.loads.clone();
            report.seconds = start.elapsed().as_secs_f64();
            if let Some(journal) = req.journal {
                journal(&report);
            }
            Ok(report)
        }
        Err(e) => {
            let mut last = snapshot(&report, crew, best.as_ref(), start);
            last.reason = Some(format!("stopped by an error: {e}"));
            if let Some(journal) = req.journal {
                journal(&last);
            }
            Err(e)
        }
    }
}

/// The report so far with the calls made and the best patch so far (unverified unless it was).
fn snapshot(report: &FixReport, crew: &Crew<'_>, best: Option<&Best>, start: Instant) -> FixReport {
    let mut r = report.clone();
    r.calls = crew.calls.clone();
    r.totals = Totals::of(&r.calls);
    r.loads = crew.models.loads.clone();
    r.seconds = start.elapsed().as_secs_f64();
    if let Some(b) = best {
        r.status = if b.verified {
            FixStatus::Plausible
        } else {
            FixStatus::Unverified
        };
        r.patch = b.patch.clone();
    }
    r
}

/// Hand the report so far to the journal, if there is one.
fn record(
    req: &FixRequest<'_>,
    report: &FixReport,
    crew: &Crew<'_>,
    best: Option<&Best>,
    start: Instant,
) {
    if let Some(journal) = req.journal {
        journal(&snapshot(report, crew, best, start));
    }
}

/// A budget ran out: the best state so far is the result.
fn budget_spent(report: &mut FixReport, why: String) {
    report.reason = Some(format!("stopped: budget spent ({why})"));
    report.stopped_by = Some(why);
}

/// Localize, reproduce, edit and test, recording into `report` and `best`.
fn steps(
    crew: &mut Crew<'_>,
    req: &FixRequest<'_>,
    issue: &str,
    start: Instant,
    report: &mut FixReport,
    best: &mut Option<Best>,
) -> Result<(), FixError> {
    let wt = req.worktree;
    let map = RepoMap::from_dir(wt.path())?;
    let limits = &crew.config.limits;
    let ranking = rank::rank_files(
        &map,
        issue,
        &RankOptions {
            limit: limits.rank_files,
            test_limit: limits.rank_tests,
        },
    );
    report.ranking = ranking
        .candidates
        .iter()
        .take(limits.localize_candidates)
        .map(|c| RankedSummary {
            path: c.path.clone(),
            score: c.score,
            reasons: c.reasons.iter().map(|r| format!("{r:?}")).collect(),
        })
        .collect();
    let mut related: Vec<String> = ranking
        .tests
        .iter()
        .take(limits.related_tests)
        .map(|t| t.path.clone())
        .collect();
    report.related_tests = related.clone();
    let budget = crew.n_ctx(AgentRole::Localizer)? * crew.config.limits.code_context_percent / 100;
    report.localization = match localizer::localize(crew, issue, &map, &ranking, budget) {
        Err(AgentError::Budget(why)) => {
            budget_spent(report, why);
            return Ok(());
        }
        r => r?,
    };
    record(req, report, crew, best.as_ref(), start);
    let localization = report.localization.clone();
    // The code shown: the chosen definitions' exact source, as many as fit the budget.
    let mut shown_targets = localization.symbols.clone();
    let mut focus = repairer::show_targets(&map, &shown_targets);
    while shown_targets.len() > 1 && crew.count_tokens(AgentRole::Repairer, &focus)? > budget {
        shown_targets.pop();
        focus = repairer::show_targets(&map, &shown_targets);
    }
    if focus.trim().is_empty() {
        let model = crew
            .models
            .model_for(AgentRole::Repairer)
            .map_err(AgentError::from)?;
        let count = |s: &str| model.count_tokens(s);
        let files: Vec<&str> = localization.files.iter().map(String::as_str).collect();
        focus = map::render_skeletons(
            &map,
            &files,
            &Budget {
                count: &count,
                max_tokens: budget,
            },
        )
        .text;
    }

    let modules: Vec<String> = localization
        .files
        .iter()
        .map(|p| map::module_name(p))
        .collect();
    let names: Vec<String> = shown_targets
        .iter()
        .map(|(_, q)| q.rsplit('.').next().unwrap_or(q).to_string())
        .collect();
    // Of the related test files, the tests that name what is edited: whole modules can hold
    // hundreds of tests that cannot notice the edit. None names it: the whole files run.
    let qualnames: Vec<String> = localization
        .symbols
        .iter()
        .map(|(_, q)| q.clone())
        .collect();
    let selected = crate::repo::test_select::tests_naming(&map, &related, &qualnames);
    if !selected.is_empty() {
        related = selected;
        report.related_tests = related.clone();
    }
    // What passes before any edit.
    let mut passing_before: Vec<String> = vec![];
    if !related.is_empty() {
        let base = req
            .tests
            .run(wt.path(), &[], &related, "related tests before the edit")?;
        if base.not_runnable.is_none() {
            passing_before = base
                .cases
                .iter()
                .filter(|c| c.outcome == CaseOutcome::Passed)
                .map(|c| c.id.clone())
                .collect();
        }
        report.test_runs.push(base.clone());
        report.baseline = Some(base);
    }

    // A reproduction test must fail before the edit, or it reproduces nothing.
    let mut history: Vec<(String, String)> = vec![];
    for _ in 0..crew.config.limits.repro_attempts {
        record(req, report, crew, best.as_ref(), start);
        if (req.should_stop)() {
            report.stopped_by = Some(STOP_REQUESTED.into());
            break;
        }
        report.repro.attempts += 1;
        let reply = match test_writer::write_repro(crew, issue, &focus, &modules, &names, &history)
        {
            Err(AgentError::Budget(why)) => {
                budget_spent(report, why);
                break;
            }
            r => r?,
        };
        let Some(code) = reply.valid_code().map(str::to_string) else {
            report.repro.rejected.push("no valid Python".into());
            break;
        };
        let run = req.tests.run(
            wt.path(),
            &[(REPRO_FILE.into(), code.clone())],
            &[REPRO_FILE.into()],
            "reproduction test before the edit",
        )?;
        report.test_runs.push(run.clone());
        let cases: Vec<_> = run.in_file(REPRO_FILE).collect();
        let problem = if let Some(why) = &run.not_runnable {
            report
                .repro
                .rejected
                .push(format!("not runnable in sandbox: {why}"));
            break;
        } else if cases.is_empty() {
            format!(
                "pytest collected no tests from that file. Its output:\n{}",
                tail(&run.output_tail, crew.config.limits.repro_output_lines)
            )
        } else if cases.iter().all(|c| c.outcome == CaseOutcome::Passed) {
            "These tests PASS on the current code, so they do not reproduce the issue.".to_string()
        } else if cases.iter().any(|c| c.outcome == CaseOutcome::Failed) {
            report.repro.test = Some(code);
            break;
        } else {
            let limits = &crew.config.limits;
            format!(
                "These tests could not run:\n{}",
                tail(
                    &run.as_test_run()
                        .failure_report_with(limits.repro_failure_chars, limits),
                    limits.repro_failure_lines
                )
            )
        };
        report
            .repro
            .rejected
            .push(problem.lines().next().unwrap_or("").to_string());
        history.push((reply.reply, problem));
    }

    // Edit, test, feed back.
    let mut previous: Option<(String, String)> = None;
    // How the reproduction test failed before any edit; two applied edits that leave it failing
    // exactly so mean it does not react to edits of this code: stop spending rounds on it.
    let repro_before = report
        .test_runs
        .iter()
        .rev()
        .find(|r| r.label.starts_with("reproduction test"))
        .map(repro_signature);
    let mut unchanged_repro = 0;
    let rounds = crew.config.limits.debug_rounds;
    for round in 0..=rounds {
        record(req, report, crew, best.as_ref(), start);
        if (req.should_stop)() {
            report.reason = Some("stopped early (time limit or interrupt)".into());
            report.stopped_by = Some(STOP_REQUESTED.into());
            break;
        }
        wt.reset()?;
        let format = crew.config.limits.repair_format;
        // Later rounds sample (a greedy model repeats itself).
        crew.candidate = round;
        let r = repairer::repair(
            crew,
            wt.path(),
            &map,
            format,
            &RepairRequest {
                issue,
                targets: &shown_targets,
                code: &focus,
                previous: previous.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
            },
        );
        crew.candidate = 0;
        // Out of budget (model calls, or the time limit, perhaps mid-generation): the best
        // patch so far is the result.
        let r = match r {
            Err(AgentError::Budget(why)) => {
                budget_spent(report, why);
                break;
            }
            r => r?,
        };
        let mut att = AttemptRecord {
            round,
            applied: r.applied,
            files: r.files.clone(),
            problems: r.problems.clone(),
            retries: r.retries,
            ..Default::default()
        };
        if !r.applied {
            report.attempts.push(att);
            continue;
        }
        let produced = patch::diff_worktree(wt.path(), None)?;
        att.patch_lines = produced.text.lines().count();
        if produced.is_empty() {
            att.problems.push("the edit produced an empty diff".into());
            report.attempts.push(att);
            continue;
        }
        let mut targets: Vec<String> = vec![];
        let mut extra = vec![];
        if let Some(t) = &report.repro.test {
            extra.push((REPRO_FILE.to_string(), t.clone()));
            targets.push(REPRO_FILE.to_string());
        }
        if !passing_before.is_empty() {
            targets.extend(related.iter().cloned());
        }
        let (repro_ok, regressions, failures) = if targets.is_empty() {
            (None, vec![], String::new())
        } else {
            let run = req.tests.run(
                wt.path(),
                &extra,
                &targets,
                &format!("after edit {}", round + 1),
            )?;
            report.test_runs.push(run.clone());
            let repro_ok = report.repro.test.as_ref().map(|_| {
                let cases: Vec<_> = run.in_file(REPRO_FILE).collect();
                !cases.is_empty() && cases.iter().all(|c| c.outcome == CaseOutcome::Passed)
            });
            let regressions: Vec<String> = passing_before
                .iter()
                .filter(|t| !run.passed(t))
                .cloned()
                .collect();
            att.tests = Some(run.summary());
            if report.repro.test.is_some() && repro_before.as_ref() == Some(&repro_signature(&run))
            {
                unchanged_repro += 1;
            }
            (
                repro_ok,
                regressions,
                run.as_test_run().failure_report_with(
                    crew.config.limits.repair_failure_chars,
                    &crew.config.limits,
                ),
            )
        };
        att.repro_passes = repro_ok;
        att.regressions = regressions.clone();
        let score = (repro_ok.unwrap_or(true) as u8, -(regressions.len() as i64));
        let verified = repro_ok == Some(true) && regressions.is_empty();
        if best.as_ref().map(|b| score > b.score).unwrap_or(true) {
            *best = Some(Best {
                score,
                patch: produced.text.clone(),
                verified,
            });
        }
        report.attempts.push(att);
        if repro_ok.unwrap_or(true) && regressions.is_empty() {
            break;
        }
        if unchanged_repro >= crew.config.limits.unchanged_repro_rounds {
            report.reason = Some("patch not verified: the reproduction test fails the same way before and after every edit, so it does not test what the edits change".into());
            break;
        }
        previous = Some((produced.text, failures));
    }

    record(req, report, crew, best.as_ref(), start);
    Ok(())
}

/// The result: the best patch (checked against the base) or why there is none.
fn conclude(wt: &Worktree, report: &mut FixReport, best: Option<&Best>) -> Result<(), FixError> {
    wt.reset()?;
    match best {
        Some(b) => {
            patch::check_patch(wt.path(), &b.patch)?;
            report.status = if b.verified {
                FixStatus::Plausible
            } else {
                FixStatus::Unverified
            };
            report.patch = b.patch.clone();
            if !b.verified && report.reason.is_none() {
                report.reason = Some(if report.repro.test.is_none() {
                    "patch not verified: no reproduction test could be written that fails before the fix".into()
                } else {
                    "patch not verified: the reproduction test still fails or a related test regressed".into()
                });
            }
        }
        None => {
            let last = report
                .attempts
                .iter()
                .rev()
                .flat_map(|a| a.problems.last())
                .next()
                .cloned()
                .unwrap_or_default();
            report.reason = Some(report.reason.clone().unwrap_or_else(|| {
                format!(
                    "no edit applied cleanly in {} round(s); last problem: {}",
                    report.attempts.len(),
                    last.lines().next().unwrap_or("")
                )
            }));
        }
    }
    Ok(())
}

/// The reproduction test's failing cases and their messages.
fn repro_signature(run: &RepoTestRun) -> Vec<(String, String)> {
    run.in_file(REPRO_FILE)
        .filter(|c| c.outcome != CaseOutcome::Passed)
        .map(|c| (c.id.clone(), c.message.clone()))
        .collect()
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

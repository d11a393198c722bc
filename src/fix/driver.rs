//! The repository fixer's driver: localize → reproduce → propose candidates → verify →
//! select → conclude, each stage in its own module. The report so far goes to the caller's
//! journal after each step, and a budget that runs out (the time limit, the model-call limit)
//! ends the work with what was found as the result, naming the limit.

use std::time::Instant;

use super::candidate::Candidate;
use super::report::{FixError, FixReport};
use super::reproduce::{self, IssueCode, ReproError, Stated};
use super::select::{self, Tier};
use super::status::{self, Evidence, FixStatus};
use super::{issue, localize, named, search, verify};
use crate::agents::{AgentError, Crew};
use crate::repo::checkout::Worktree;
use crate::repo::map::RepoMap;
use crate::repo::patch;
use crate::report::Totals;
use crate::testing::RepoTests;

/// What the fixer works on.
pub struct FixRequest<'a> {
    pub issue: &'a str,
    pub worktree: &'a Worktree,
    pub tests: &'a RepoTests,
    /// Polled between steps: the time limit or an interrupt.
    pub should_stop: &'a dyn Fn() -> bool,
    /// Called with the report so far after each step, with the final report, and with the
    /// last state when an error stops the fixer.
    pub journal: Option<&'a dyn Fn(&FixReport)>,
}

/// What [`FixReport::stopped_by`] says when `should_stop` ended the work.
pub const STOP_REQUESTED: &str = "a stop request (the time limit or an interrupt)";

/// A stage's way of saying "a budget ran out": the driver keeps what it has.
pub(super) enum Stop {
    Budget(String),
    Fail(FixError),
}

impl From<AgentError> for Stop {
    fn from(e: AgentError) -> Stop {
        match e {
            AgentError::Budget(why) => Stop::Budget(why),
            e => Stop::Fail(e.into()),
        }
    }
}
impl From<crate::repo::map::MapError> for Stop {
    fn from(e: crate::repo::map::MapError) -> Stop {
        Stop::Fail(e.into())
    }
}
impl From<crate::sandbox::SandboxError> for Stop {
    fn from(e: crate::sandbox::SandboxError) -> Stop {
        Stop::Fail(e.into())
    }
}

pub fn fix(crew: &mut Crew<'_>, req: &FixRequest<'_>) -> Result<FixReport, FixError> {
    let start = Instant::now();
    let issue = req.issue.trim();
    if issue.is_empty() {
        return Err(FixError::EmptyIssue);
    }
    let wt = req.worktree;
    let mut report = FixReport::new(
        wt.source().display_name().to_string(),
        wt.base_sha(),
        issue.to_string(),
    );
    let mut pool: Vec<Candidate> = vec![];
    let outcome = stages(crew, req, issue, start, &mut report, &mut pool);
    let error = match outcome {
        Ok(()) => None,
        Err(Stop::Budget(why)) => {
            report.stopped_by = Some(why);
            None
        }
        Err(Stop::Fail(e)) => Some(e),
    };
    conclude(&mut report, &pool);
    if let Some(b) = report.selection.as_ref().map(|s| &pool[s.chosen]) {
        if let Err(e) = patch::check_patch(wt.path(), &b.patch) {
            report.status = FixStatus::NoPatch;
            report.patch.clear();
            report.reason = Some(format!(
                "the selected patch does not apply to the base: {e}"
            ));
        }
    }
    finish(&mut report, crew, start);
    if let Some(journal) = req.journal {
        journal(&report);
    }
    match error {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

fn finish(report: &mut FixReport, crew: &Crew<'_>, start: Instant) {
    report.calls = crew.calls.clone();
    report.totals = Totals::of(&report.calls);
    report.loads = crew.models.loads.clone();
    report.seconds = start.elapsed().as_secs_f64();
}

/// Hand the report so far (with the best patch so far) to the journal.
pub(super) fn record(
    req: &FixRequest<'_>,
    report: &FixReport,
    pool: &[Candidate],
    crew: &Crew<'_>,
    start: Instant,
) {
    if let Some(journal) = req.journal {
        let mut r = report.clone();
        conclude(&mut r, pool);
        finish(&mut r, crew, start);
        journal(&r);
    }
}

fn stages(
    crew: &mut Crew<'_>,
    req: &FixRequest<'_>,
    issue_text: &str,
    start: Instant,
    report: &mut FixReport,
    pool: &mut Vec<Candidate>,
) -> Result<(), Stop> {
    let wt = req.worktree;
    let fix = crew.config.fix.clone();
    let map = RepoMap::from_dir(wt.path())?;
    let parsed = issue::parse(issue_text);

    // Localize.
    let located = localize::localize(crew, &map, issue_text, &named::resolve(&map, &parsed))?;
    report.localization = located.localization.clone();
    report.ranking = located.ranking.clone();
    report.related_tests = located.related.clone();
    record(req, report, pool, crew, start);

    // The regression set: what passes at the base (cached per repository, commit, tests).
    let baseline = verify::baseline(req.tests, wt, &located.related, &mut report.test_runs)?;
    let regression: Vec<String> = baseline
        .passing
        .iter()
        .take(fix.regression_tests)
        .cloned()
        .collect();
    report.baseline = Some(baseline);
    record(req, report, pool, crew, start);

    // Reproduce. Runs of checks have their own, shorter limit than whole test suites.
    let mut checks_tests = req.tests.clone();
    checks_tests.timeout = checks_tests
        .timeout
        .min(std::time::Duration::from_secs(fix.check_timeout_seconds));
    let code = issue_code(&parsed);
    let (repro, budget) = reproduce::reproduce(
        crew,
        &checks_tests,
        wt,
        &reproduce::Inputs {
            issue: issue_text,
            code: code.as_ref(),
            focus: &located.focus,
            modules: &located.modules,
            names: &located.names,
            samples: fix.repro_samples,
            keep: fix.repro_keep,
            stop: req.should_stop,
        },
        &mut report.test_runs,
    )
    .map_err(|e| match e {
        ReproError::Agent(e) => Stop::from(e),
        ReproError::Sandbox(e) => Stop::Fail(e.into()),
    })?;
    report.reproduction = repro;
    record(req, report, pool, crew, start);
    if let Some(why) = budget {
        return Err(Stop::Budget(why));
    }

    // Propose, verify, until the selection is settled.
    let sources = report.reproduction.sources();
    let files = report.reproduction.files.clone();
    let checks = report.reproduction.checks.clone();
    let base = |p: &str| {
        map.file(p)
            .map(|f| f.source.clone())
            .or_else(|| read_base(wt, p))
    };
    let search = search::Search {
        issue: issue_text,
        located: &located,
        map: &map,
        plan: verify::Plan {
            files: &files,
            checks: &checks,
            issue_code: report.reproduction.issue_code.is_some(),
            regression: &regression,
            roots: &req.tests.spec.path,
        },
        sources: &sources,
        tests: &checks_tests,
        base: &base,
    };
    search::run(crew, req, &search, start, report, pool)
}

/// A file's content at the base when the map does not hold it (not Python).
fn read_base(wt: &Worktree, rel: &str) -> Option<String> {
    let full = crate::repo::edit::safe_join(wt.path(), rel).ok()?;
    std::fs::read_to_string(full).ok()
}

/// The issue's code and what the issue states about it (nothing runnable: None).
fn issue_code(parsed: &issue::IssueText) -> Option<IssueCode> {
    use issue::Expectation;
    let script = parsed.script()?;
    let stated = parsed
        .expectations
        .iter()
        .filter_map(|e| match e {
            Expectation::Raises { exception } => Some(Stated::Raises(exception.clone())),
            Expectation::NoException { exception } => Some(Stated::NoException(exception.clone())),
            Expectation::Value {
                expression: Some(expression),
                value,
            } => Some(Stated::Value {
                expression: expression.clone(),
                value: value.clone(),
            }),
            Expectation::Value {
                expression: None, ..
            } => None,
        })
        .collect();
    Some(IssueCode {
        script,
        symptom: parsed
            .traceback
            .as_ref()
            .map(|t| t.exception.clone())
            .filter(|e| !e.is_empty()),
        stated,
    })
}

/// Selection, status and patch from the candidates so far.
fn conclude(report: &mut FixReport, pool: &[Candidate]) {
    let verdicts: Vec<_> = report
        .candidates
        .iter()
        .map(|c| c.verdict.clone())
        .collect();
    let sources = report.reproduction.sources();
    let selection = select::select(&verdicts, &sources);
    let evidence = match &selection {
        None => Evidence::default(),
        Some(s) => {
            let v = &verdicts[s.chosen];
            Evidence {
                patch: true,
                reproduction_passes: s.tier == Tier::Reproduced,
                reproduction_from_test_or_statement: s.strong_check,
                regressions: !v.regressions.is_empty(),
                regressions_unknown: v.regressions_unknown,
                agreeing: s.agreeing,
            }
        }
    };
    report.status = status::decide(&evidence);
    report.evidence = evidence;
    report.patch = selection
        .as_ref()
        .map(|s| pool[s.chosen].patch.clone())
        .unwrap_or_default();
    let reason = match &selection {
        None if report.proposals.is_empty() => "no candidate was proposed".to_string(),
        None if !report.candidates.is_empty() => format!(
            "every candidate ({}) breaks the package: {}",
            report.candidates.len(),
            report.candidates[0]
                .verdict
                .broken
                .as_deref()
                .unwrap_or("")
        ),
        None => {
            let last = report
                .proposals
                .iter()
                .rev()
                .find_map(|p| p.problems.last())
                .cloned()
                .unwrap_or_default();
            format!(
                "no candidate applied and imports in {} proposal(s); last problem: {}",
                report.proposals.len(),
                last.lines().next().unwrap_or("")
            )
        }
        Some(s) => match s.tier {
            Tier::Reproduced if report.status == FixStatus::Verified => String::new(),
            Tier::Reproduced => format!("{} agreeing candidate(s)", s.agreeing),
            Tier::RegressionOnly if report.reproduction.checks.is_empty() => {
                "no reproduction fails at the base, so none can pass; chosen among the candidates that break no test".into()
            }
            Tier::RegressionOnly => {
                "fallback: no candidate passes the reproduction; chosen among the candidates that break no test".into()
            }
            Tier::Any => {
                "fallback: every candidate breaks a test that passed at the base, or its test run could not finish".into()
            }
        },
    };
    report.reason = (!reason.is_empty()).then_some(reason);
    report.selection = selection;
}

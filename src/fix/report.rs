//! What the repository fixer records: one report per issue, filled stage by stage, handed to
//! the caller's journal after each step (so a batch keeps whatever was found when a limit or
//! an error ends the work), and rendered by `fix`, the batch and `--format-patch`.

use serde::Serialize;

use super::candidate::Candidate;
use super::select::{CheckSource, Selection, Verdict};
use super::status::{Evidence, FixStatus};
use crate::agents::localizer::Localization;
use crate::agents::AgentError;
use crate::models::manager::LoadRecord;
use crate::repo::checkout::CheckoutError;
use crate::repo::map::MapError;
use crate::repo::patch::PatchError;
use crate::report::{CallRecord, Totals};
use crate::sandbox::SandboxError;
use crate::testing::RepoTestRun;

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

/// One reproduction check kept: it fails at the base.
#[derive(Debug, Clone, Serialize)]
pub struct CheckRecord {
    pub source: CheckSource,
    /// The pytest node id it runs as.
    pub id: String,
    /// What it checks, in words.
    pub what: String,
}

/// The issue's own code run at the base.
#[derive(Debug, Clone, Serialize, Default)]
pub struct IssueCodeRecord {
    pub script: String,
    /// What it did at the base: `raised ValueError: ...`, or `ran` and what it printed.
    pub at_base: String,
    /// It shows the symptom the issue describes (the exception type of its traceback).
    pub shows_symptom: bool,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct ReproRecord {
    pub issue_code: Option<IssueCodeRecord>,
    /// Checks whose failure at the base was seen, in the order candidates are judged on them.
    pub checks: Vec<CheckRecord>,
    /// The reproduction test files kept (path, code): never part of the patch.
    pub files: Vec<(String, String)>,
    /// Reproduction tests written.
    pub tests_written: u32,
    /// Why written tests were not kept (passed at the base, could not run, ...).
    pub rejected: Vec<String>,
}

impl ReproRecord {
    pub fn sources(&self) -> Vec<CheckSource> {
        self.checks.iter().map(|c| c.source).collect()
    }
}

/// The tests that passed at the base (the regression set).
#[derive(Debug, Clone, Serialize, Default)]
pub struct BaselineRecord {
    pub targets: Vec<String>,
    pub passing: Vec<String>,
    /// Read from the cache of an earlier run (same repository, commit, environment, tests).
    pub cached: bool,
    pub seconds: f64,
}

/// One model proposal and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct ProposalRecord {
    pub proposal: u32,
    /// `candidate N`, `repeat of candidate N`, or why it is no candidate.
    pub outcome: String,
    pub retries: u32,
    pub problems: Vec<String>,
    /// It was shown an earlier candidate's failures.
    pub feedback: bool,
}

/// A distinct candidate and its verification.
#[derive(Debug, Clone, Serialize)]
pub struct CandidateRecord {
    #[serde(flatten)]
    pub candidate: Candidate,
    pub verdict: Verdict,
    /// The test run's one-line summary.
    pub tests: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FixReport {
    pub repo: String,
    pub base_commit: String,
    pub issue: String,
    pub ranking: Vec<RankedSummary>,
    pub localization: Localization,
    pub related_tests: Vec<String>,
    pub baseline: Option<BaselineRecord>,
    pub reproduction: ReproRecord,
    pub proposals: Vec<ProposalRecord>,
    pub candidates: Vec<CandidateRecord>,
    pub selection: Option<Selection>,
    pub test_runs: Vec<RepoTestRun>,
    pub status: FixStatus,
    pub evidence: Evidence,
    pub reason: Option<String>,
    /// The limit that ended the work early (a budget, or a stop request), if one did.
    pub stopped_by: Option<String>,
    pub patch: String,
    pub totals: Totals,
    pub loads: Vec<LoadRecord>,
    pub seconds: f64,
    pub calls: Vec<CallRecord>,
}

impl FixReport {
    pub fn new(repo: String, base_commit: String, issue: String) -> FixReport {
        FixReport {
            repo,
            base_commit,
            issue,
            ranking: vec![],
            localization: Localization::default(),
            related_tests: vec![],
            baseline: None,
            reproduction: ReproRecord::default(),
            proposals: vec![],
            candidates: vec![],
            selection: None,
            test_runs: vec![],
            status: FixStatus::NoPatch,
            evidence: Evidence::default(),
            reason: None,
            stopped_by: None,
            patch: String::new(),
            totals: Totals::default(),
            loads: vec![],
            seconds: 0.0,
            calls: vec![],
        }
    }
}

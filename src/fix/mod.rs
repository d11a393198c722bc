//! The repository fixer: from an issue to a patch and a status that says how sure it is.
//! Stages, each in its own module, run by [`driver`]: [`localize`] (what the issue names, then
//! BM25 and the model's pick) → [`reproduce`] (the issue's own code and sampled reproduction
//! tests, kept when they fail at the base) → [`propose`] (many candidate edits, each a value,
//! [`candidate`]) → [`verify`] (each distinct candidate against the reproduction and the
//! regression set; the propose → verify rounds until the selection settles are `search.rs`)
//! → [`select`] (by agreement) → [`status`].
//!
//! This file is `codeswarm fix` as a library call: check out the repository at the commit (a
//! temporary worktree from the mirror cache, never the user's checkout), run the fixer, and
//! render its outcome. The batch runner's solver calls [`fix_issue`] too.

use std::path::PathBuf;

use crate::agents::prompts::Prompts;
use crate::agents::Crew;
use crate::config::Config;
pub mod candidate;
pub mod driver;
pub mod issue;
pub mod localize;
pub mod named;
pub mod propose;
pub mod report;
pub mod reproduce;
mod search;
pub mod select;
pub mod status;
pub mod verify;

use crate::models::ModelManager;
use crate::repo::checkout::{self, CheckoutOptions};
use crate::testing::RepoTests;
pub use driver::{fix, FixRequest, STOP_REQUESTED};
pub use report::{FixError, FixReport};
pub use status::FixStatus;

/// Where and what to fix.
#[derive(Debug, Clone)]
pub struct FixTarget {
    /// A local path, a URL, or `owner/name` resolved through `url_template`.
    pub repo: String,
    /// The base commit (default: the default branch's head).
    pub commit: Option<String>,
    pub issue: String,
    pub url_template: String,
    /// `repo` came from an input file (a batch instance): only `owner/name` through
    /// `url_template` is accepted ([`checkout::resolve_owner_name`]), never a path or URL.
    pub owner_name_only: bool,
    /// Where the temporary worktree goes (default: the system temp dir); a batch passes its
    /// run directory's work space, so a killed run's worktree is found and removed later.
    pub work_dir: Option<PathBuf>,
    /// A batch instance's time limit: no model call runs past it (as with
    /// `limits.time_limit_seconds`, whichever comes first).
    pub deadline: Option<std::time::Instant>,
}

/// Check out, fix, and return the report (its `patch` applies with `git apply` on the base).
pub fn fix_issue(
    target: &FixTarget,
    models: &mut ModelManager,
    config: &Config,
    prompts: &Prompts,
    tests: &RepoTests,
    should_stop: &dyn Fn() -> bool,
) -> Result<FixReport, FixError> {
    fix_issue_journaled(target, models, config, prompts, tests, should_stop, None)
}

/// [`fix_issue`], handing the report so far to `journal` after each step, with the final
/// report, and with the last state when an error stops the fixer (see
/// [`FixRequest::journal`]): how a batch instance keeps its trajectory, tokens and best
/// patch whatever ends the work.
pub fn fix_issue_journaled(
    target: &FixTarget,
    models: &mut ModelManager,
    config: &Config,
    prompts: &Prompts,
    tests: &RepoTests,
    should_stop: &dyn Fn() -> bool,
    journal: Option<&dyn Fn(&FixReport)>,
) -> Result<FixReport, FixError> {
    if target.issue.trim().is_empty() {
        return Err(FixError::EmptyIssue);
    }
    let source = if target.owner_name_only {
        checkout::resolve_owner_name(&target.repo, &target.url_template)?
    } else {
        checkout::resolve(&target.repo, &target.url_template)?
    };
    let wt = checkout::MirrorCache::at_default_location().checkout(
        &source,
        target.commit.as_deref(),
        &CheckoutOptions {
            parent_dir: target.work_dir.clone(),
            ..CheckoutOptions::default()
        },
    )?;
    let mut crew = Crew::new(models, config, prompts);
    if let Some(at) = target.deadline {
        crew.stop_by(at, "the instance's time limit (batch --time-limit)");
    }
    driver::fix(
        &mut crew,
        &FixRequest {
            issue: &target.issue,
            worktree: &wt,
            tests,
            should_stop,
            journal,
        },
    )
}

/// `--issue FILE|TEXT`: the file's content when the argument names an existing file; an
/// existing directory is an error (it is neither).
pub fn read_issue(arg: &str) -> std::io::Result<String> {
    let p = PathBuf::from(arg);
    if p.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "it is a directory; give a file holding the issue, or the issue text itself",
        ));
    }
    if p.is_file() {
        crate::input_file::read_input_string(
            &p,
            "--issue",
            crate::input_file::MAX_TEXT_FILE,
            crate::input_file::Follow::Yes,
        )
        .map_err(std::io::Error::other)
    } else {
        Ok(arg.to_string())
    }
}

/// The readable summary printed after a fix.
pub fn summary(r: &FixReport) -> String {
    let mut s = format!(
        "repository: {} @ {}\n",
        r.repo,
        &r.base_commit[..r.base_commit.len().min(12)]
    );
    s += &format!(
        "localization: files {:?} ({}), symbols {:?} ({})\n",
        r.localization.files,
        r.localization.files_from,
        r.localization
            .symbols
            .iter()
            .map(|(p, q)| format!("{p}::{q}"))
            .collect::<Vec<_>>(),
        r.localization.symbols_from
    );
    if let Some(b) = &r.baseline {
        s += &format!(
            "regression set: {} test(s) pass at the base{}\n",
            b.passing.len(),
            if b.cached { " (cached)" } else { "" }
        );
    }
    let rp = &r.reproduction;
    if let Some(code) = &rp.issue_code {
        s += &format!(
            "issue's code at the base: {}{}\n",
            code.at_base,
            if code.shows_symptom {
                " (the symptom the issue shows)"
            } else {
                ""
            }
        );
    }
    s += &format!(
        "reproduction: {} check(s) fail at the base ({} test(s) written){}\n",
        rp.checks.len(),
        rp.tests_written,
        rp.checks
            .iter()
            .map(|c| format!("\n  - {}", c.what))
            .collect::<String>()
    );
    for c in &r.candidates {
        let v = &c.verdict;
        let passed = v.checks.iter().filter(|x| **x == Some(true)).count();
        s += &format!(
            "candidate from proposal {} ({} vote(s), {} line(s)): {}checks {}/{}, {} regression(s){}\n",
            c.candidate.proposal + 1,
            v.votes,
            v.changed_lines,
            v.broken
                .as_deref()
                .map(|b| format!("OUT: {b}; "))
                .unwrap_or_default(),
            passed,
            v.checks.len(),
            v.regressions.len(),
            if v.regressions_unknown {
                " (run incomplete)"
            } else {
                ""
            }
        );
    }
    let dropped = r
        .proposals
        .iter()
        .filter(|p| !p.outcome.starts_with("candidate") && !p.outcome.starts_with("repeat"))
        .count();
    s += &format!(
        "proposals: {}, distinct candidates: {}, not usable: {dropped}\n",
        r.proposals.len(),
        r.candidates.len()
    );
    if let Some(sel) = &r.selection {
        s += &format!(
            "selected: candidate {} ({:?}, {} agreeing)\n",
            sel.chosen + 1,
            sel.tier,
            sel.agreeing
        );
    }
    let t = &r.totals;
    s += &format!(
        "model: {} calls, {} prompt tokens ({} reused), {} generated, {:.1}s total\n",
        t.calls, t.prompt_tokens, t.reused_tokens, t.generated_tokens, r.seconds
    );
    if let Some(name) = r
        .calls
        .iter()
        .find_map(|c| c.model.strip_prefix("scripted:"))
    {
        s += &format!(
            "note: --mock: every reply came from the script `{name}` (canned replies, not a language model); the sandbox runs and the patch are real\n"
        );
    }
    if let Some(limit) = &r.stopped_by {
        s += &format!("stopped by: {limit}\n");
    }
    s += &match r.status {
        FixStatus::NoPatch => format!("result: NO PATCH: {}\n", r.reason.as_deref().unwrap_or("")),
        status => format!(
            "result: PATCH, {status}: {}{}\n",
            status.promise(),
            r.reason
                .as_deref()
                .map(|w| format!(" ({w})"))
                .unwrap_or_default()
        ),
    };
    s
}

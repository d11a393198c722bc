//! `codeswarm fix` as a library call: check out the repository at the commit (a temporary
//! worktree from the mirror cache, never the user's checkout), run the repository fixer, and
//! render its outcome. The batch runner's solver calls [`fix_issue`] too.

use std::path::PathBuf;

use crate::agents::prompts::Prompts;
use crate::agents::Crew;
use crate::config::Config;
pub mod issue;
pub mod named;
pub mod status;

use crate::coordination::fixer::{self, FixError, FixReport, FixRequest};
pub use status::FixStatus;
use crate::models::ModelManager;
use crate::repo::checkout::{self, CheckoutOptions};
use crate::testing::RepoTests;

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
/// [`fixer::FixRequest::journal`]): how a batch instance keeps its trajectory, tokens and best
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
    fixer::fix(
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
    s += &match &r.repro.test {
        Some(_) => format!(
            "reproduction test: fails before the edit ({} attempt(s))\n",
            r.repro.attempts
        ),
        None => format!(
            "reproduction test: none ({})\n",
            r.repro.rejected.join("; ")
        ),
    };
    for a in &r.attempts {
        s += &format!(
            "edit {}: {}{}{}\n",
            a.round + 1,
            if a.applied {
                format!("applied to {}", a.files.join(", "))
            } else {
                format!(
                    "not applied ({})",
                    a.problems
                        .last()
                        .and_then(|p| p.lines().next())
                        .unwrap_or("")
                )
            },
            a.repro_passes
                .map(|p| if p {
                    ", reproduction passes"
                } else {
                    ", reproduction fails"
                })
                .unwrap_or(""),
            if a.regressions.is_empty() {
                String::new()
            } else {
                format!(", {} regression(s)", a.regressions.len())
            }
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

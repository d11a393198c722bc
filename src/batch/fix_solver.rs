//! The solver `codeswarm batch` uses: the repository fixer of `codeswarm fix`
//! ([`crate::fix::fix_issue`]) over each instance's repository at its base commit. Each batch
//! worker owns one [`FixSolver`] (its own model manager, so its own model or server
//! connection); the sandbox and the config are shared.

use std::time::Instant;

use super::runner::{SolveContext, SolveError, SolveOutcome, Solver};
use super::SolverView;
use crate::agents::prompts::Prompts;
use crate::agents::AgentError;
use crate::config::Config;
use crate::fix::FixError;
use crate::fix::FixTarget;
use crate::models::{ModelError, ModelManager};
use crate::testing::{RepoTests, SpecSet};

/// Solves an instance with [`crate::fix::fix_issue`].
pub struct FixSolver {
    manager: ModelManager,
    config: Config,
    prompts: Prompts,
    tests: RepoTests,
    /// Each instance's tests run under its repository's spec, unless `env_chosen`.
    specs: SpecSet,
    env_chosen: bool,
    url_template: String,
}

/// What a [`FixSolver`] is made of.
pub struct FixSolverParts {
    pub manager: ModelManager,
    /// `limits.time_limit_seconds` should be the batch's per-instance limit (or 0).
    pub config: Config,
    pub prompts: Prompts,
    /// The repository test runner (sandbox, site, limits).
    pub tests: RepoTests,
    pub specs: SpecSet,
    /// `--env` chose one environment for every instance (else each instance's own).
    pub env_chosen: bool,
    /// Turns an instance's `owner/name` into a clone URL or path.
    pub url_template: String,
}

impl FixSolver {
    pub fn new(parts: FixSolverParts) -> FixSolver {
        FixSolver {
            manager: parts.manager,
            config: parts.config,
            prompts: parts.prompts,
            tests: parts.tests,
            specs: parts.specs,
            env_chosen: parts.env_chosen,
            url_template: parts.url_template,
        }
    }
}

/// How a fixer error counts for the batch: a model that cannot be loaded fails every instance
/// alike (a set-up error); an inference server that stopped answering is no fault of the
/// instance (tried again, then deferred); anything else fails this instance.
pub fn classify(e: FixError) -> SolveError {
    match e {
        FixError::Agent(AgentError::Model(
            e @ (ModelError::BadGguf { .. }
            | ModelError::DoesNotFit(_)
            | ModelError::Load { .. }
            | ModelError::Registry(_)),
        )) => SolveError::Unavailable(e.to_string()),
        FixError::Agent(AgentError::Model(e @ ModelError::Unreachable(_))) => {
            SolveError::Transient(e.to_string())
        }
        e => SolveError::Failed {
            message: e.to_string(),
            tokens: 0,
            trajectory: serde_json::Value::Null,
            log: format!("error: {e}\n"),
        },
    }
}

impl Solver for FixSolver {
    fn solve(
        &mut self,
        instance: &SolverView,
        ctx: &SolveContext<'_>,
    ) -> Result<SolveOutcome, SolveError> {
        // Each instance is its own job: a scripted model's replies start over (--mock).
        self.manager.new_job();
        let mut issue = instance.problem_statement.clone();
        if let Some(h) = instance
            .hints_text
            .as_deref()
            .filter(|h| !h.trim().is_empty())
        {
            issue.push_str("\n\nHints:\n");
            issue.push_str(h);
        }
        // The worktree goes under the run directory, not the system temp dir: a run killed
        // with -9 leaves it where the next batch on the run directory removes it.
        let work_dir = ctx.dir.scratch().map_err(|e| {
            SolveError::failed(format!("cannot create the instance's work space: {e}"))
        })?;
        let target = FixTarget {
            repo: instance.repo.clone(),
            commit: Some(instance.base_commit.clone()),
            issue,
            url_template: self.url_template.clone(),
            owner_name_only: true,
            work_dir: Some(work_dir),
            deadline: ctx.deadline,
        };
        let stop = || {
            ctx.cancel.is_cancelled() || ctx.deadline.map(|d| Instant::now() >= d).unwrap_or(false)
        };
        crate::activity::set("test environment");
        let mut tests = if self.env_chosen {
            self.tests.clone()
        } else {
            let spec = self.specs.find(&instance.repo, instance.version.as_deref());
            match self
                .tests
                .with_spec(&spec, instance.version.as_deref(), &())
            {
                Ok(t) => t,
                Err(e) => {
                    return Err(SolveError::Failed {
                        message: format!("the test environment {}: {e}", spec.label()),
                        tokens: 0,
                        trajectory: serde_json::Value::Null,
                        log: format!("error: the test environment {}: {e}\n", spec.label()),
                    })
                }
            }
        };
        tests.deadline = ctx.deadline;
        crate::activity::set("checkout");
        // Each step's state goes to the instance's journal (trajectory.json at once): whatever
        // ends the work, the runner keeps the trajectory, tokens and best patch so far.
        let journal = |r: &crate::fix::FixReport| {
            if let Err(e) = ctx.dir.journal().record(r.into()) {
                tracing::warn!(error = %e, "cannot write the trajectory so far");
            }
        };
        match crate::fix::fix_issue_journaled(
            &target,
            &mut self.manager,
            &self.config,
            &self.prompts,
            &tests,
            &stop,
            Some(&journal),
        ) {
            Ok(report) => {
                let tokens = report.totals.prompt_tokens + report.totals.generated_tokens;
                let log = crate::fix::summary(&report);
                let patch = report.status.has_patch().then(|| report.patch.clone());
                let reason = report.reason.clone();
                let trajectory = serde_json::to_value(&report).unwrap_or_default();
                Ok(SolveOutcome {
                    patch,
                    reason,
                    tokens,
                    trajectory,
                    log,
                    fix_status: Some(report.status),
                })
            }
            Err(e) => Err(classify(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_server_is_transient_a_missing_model_stops_the_batch_the_rest_fails_the_instance() {
        let model = |e| FixError::Agent(AgentError::Model(e));
        assert!(matches!(
            classify(model(ModelError::Unreachable("connection refused".into()))),
            SolveError::Transient(m) if m.contains("connection refused")
        ));
        assert!(matches!(
            classify(model(ModelError::DoesNotFit("too big".into()))),
            SolveError::Unavailable(_)
        ));
        assert!(matches!(
            classify(model(ModelError::Server("HTTP 400: bad request".into()))),
            SolveError::Failed { .. }
        ));
        assert!(matches!(
            classify(FixError::EmptyIssue),
            SolveError::Failed { .. }
        ));
    }
}

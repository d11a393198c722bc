//! Helpers shared by the batch tests: the fixture instance set and test solvers.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use codeswarm::batch::fixture_set;
use codeswarm::batch::runner::{BatchConfig, SolveContext, SolveError, SolveOutcome, Solver};
use codeswarm::batch::{Filter, SolverView};
use codeswarm::repo::checkout::{resolve, CheckoutOptions, MirrorCache};
use codeswarm::repo::fixture::{self, FixtureRepo};
use codeswarm::repo::patch::{apply_patch, diff_worktree};

/// The four fixture repositories as an instance set in the official format.
pub struct FixtureSet {
    pub dir: tempfile::TempDir,
    pub repos: Vec<FixtureRepo>,
    pub instances: PathBuf,
    pub template: String,
}

impl FixtureSet {
    pub fn build() -> FixtureSet {
        let dir = tempfile::tempdir().unwrap();
        let parent = dir.path().join("repos");
        std::fs::create_dir_all(&parent).unwrap();
        let repos = fixture::build_all(&parent).unwrap();
        let instances = dir.path().join("instances.jsonl");
        fixture_set::write_instances(&instances, &repos).unwrap();
        FixtureSet {
            template: fixture_set::url_template(&parent),
            dir,
            repos,
            instances,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn ids(&self) -> Vec<String> {
        self.repos.iter().map(fixture_set::instance_id).collect()
    }

    /// The gold patches by instance id (the fixture table, not the SolverView).
    pub fn gold(&self) -> HashMap<String, String> {
        self.repos
            .iter()
            .map(|r| (fixture_set::instance_id(r), r.gold_patch.clone()))
            .collect()
    }

    pub fn cache(&self) -> MirrorCache {
        MirrorCache::new(self.path().join("cache"))
    }

    pub fn config(&self, out: &Path) -> BatchConfig {
        BatchConfig {
            instances: self.instances.clone(),
            predictions: out.join("preds.jsonl"),
            run_dir: Some(out.join("run")),
            model_name: "codeswarm-test".into(),
            filter: Filter::default(),
            time_limit: Some(Duration::from_secs(60)),
            repo_url_template: self.template.clone(),
            site: None,
            redo: false,
            show_progress: false,
        }
    }
}

/// What the test solver does for one instance.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Check out the repository, apply the gold patch, return the worktree diff.
    Gold,
    /// Return this error.
    Error(String),
    Panic(String),
    /// Finish without a patch.
    Empty,
    /// Wait until cancelled (at most a minute), then return `Cancelled`.
    WaitForCancel,
    /// Return this exact patch text.
    Patch(String),
    /// Check out the repository into the instance's scratch space, then wait like
    /// `WaitForCancel` (a run killed now leaves the worktree behind).
    CheckoutThenWait,
}

/// A solver defined by the tests: it looks gold patches up by instance id in the fixture table.
pub struct TestSolver {
    pub gold: HashMap<String, String>,
    pub modes: HashMap<String, Mode>,
    pub template: String,
    pub cache: MirrorCache,
    pub calls: Vec<String>,
    /// Written (empty) as `<marker_dir>/solving-<id>` when an instance starts.
    pub marker_dir: Option<PathBuf>,
}

impl TestSolver {
    pub fn new(set: &FixtureSet) -> TestSolver {
        TestSolver {
            gold: set.gold(),
            modes: HashMap::new(),
            template: set.template.clone(),
            cache: set.cache(),
            calls: Vec::new(),
            marker_dir: None,
        }
    }

    /// A solver whose gold patches come from an instances file's `patch` fields (for child
    /// processes that have no fixture table).
    pub fn from_instances_file(instances: &Path, template: &str, cache: MirrorCache) -> TestSolver {
        let set = codeswarm::batch::instances::load_instances(instances).unwrap();
        TestSolver {
            gold: set
                .instances
                .iter()
                .filter_map(|i| Some((i.id().to_string(), i.eval.gold_patch.clone()?)))
                .collect(),
            modes: HashMap::new(),
            template: template.to_string(),
            cache,
            calls: Vec::new(),
            marker_dir: None,
        }
    }

    pub fn with(mut self, id: &str, mode: Mode) -> TestSolver {
        self.modes.insert(id.to_string(), mode);
        self
    }
}

impl Solver for TestSolver {
    fn solve(
        &mut self,
        inst: &SolverView,
        ctx: &SolveContext<'_>,
    ) -> Result<SolveOutcome, SolveError> {
        self.calls.push(inst.instance_id.clone());
        if let Some(dir) = &self.marker_dir {
            std::fs::write(dir.join(format!("solving-{}", inst.instance_id)), "").unwrap();
        }
        let mode = self
            .modes
            .get(&inst.instance_id)
            .cloned()
            .unwrap_or(Mode::Gold);
        match mode {
            Mode::Gold => {
                let gold = self
                    .gold
                    .get(&inst.instance_id)
                    .ok_or_else(|| SolveError::failed("no gold patch"))?;
                let source = resolve(&inst.repo, &self.template)
                    .map_err(|e| SolveError::failed(e.to_string()))?;
                let wt = self
                    .cache
                    .checkout(
                        &source,
                        Some(&inst.base_commit),
                        &CheckoutOptions {
                            refresh: false,
                            parent_dir: Some(ctx.dir.scratch().unwrap()),
                            max_tree_bytes: None,
                        },
                    )
                    .map_err(|e| SolveError::failed(e.to_string()))?;
                apply_patch(wt.path(), gold).map_err(|e| SolveError::failed(e.to_string()))?;
                let patch = diff_worktree(wt.path(), None)
                    .map_err(|e| SolveError::failed(e.to_string()))?;
                Ok(SolveOutcome {
                    patch: Some(patch.text),
                    reason: None,
                    tokens: 100,
                    trajectory: serde_json::json!([{"step": "gold", "issue_chars": inst.problem_statement.len()}]),
                    log: format!("applied the gold patch to {}\n", inst.repo),
                    fix_status: None,
                })
            }
            Mode::Error(m) => Err(SolveError::Failed {
                message: m,
                tokens: 7,
                trajectory: serde_json::json!({"failed": true}),
                log: "it went wrong\n".into(),
            }),
            Mode::Panic(m) => panic!("{m}"),
            Mode::Empty => Ok(SolveOutcome {
                patch: None,
                reason: Some("no candidate edit passed review".into()),
                tokens: 5,
                ..SolveOutcome::default()
            }),
            Mode::CheckoutThenWait => {
                let source = resolve(&inst.repo, &self.template)
                    .map_err(|e| SolveError::failed(e.to_string()))?;
                let wt = self
                    .cache
                    .checkout(
                        &source,
                        Some(&inst.base_commit),
                        &CheckoutOptions {
                            refresh: false,
                            parent_dir: Some(ctx.dir.scratch().unwrap()),
                            max_tree_bytes: None,
                        },
                    )
                    .map_err(|e| SolveError::failed(e.to_string()))?;
                if let Some(dir) = &self.marker_dir {
                    std::fs::write(dir.join(format!("checked-out-{}", inst.instance_id)), "")
                        .unwrap();
                }
                let start = Instant::now();
                while !ctx.cancel.is_cancelled() && start.elapsed() < Duration::from_secs(60) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                drop(wt);
                Err(SolveError::Cancelled)
            }
            Mode::WaitForCancel => {
                let start = Instant::now();
                while !ctx.cancel.is_cancelled() && start.elapsed() < Duration::from_secs(60) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(SolveError::Cancelled)
            }
            Mode::Patch(p) => Ok(SolveOutcome {
                patch: Some(p),
                tokens: 1,
                ..SolveOutcome::default()
            }),
        }
    }
}

/// Read a predictions file's complete lines as JSON values, asserting the file ends cleanly.
pub fn prediction_lines(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "file ends with a torn line: {text:?}"
    );
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
        .collect()
}

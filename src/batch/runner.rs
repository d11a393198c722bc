//! The batch loop: solve each selected instance with a [`Solver`], record its artifacts and its
//! prediction line, and keep going whatever happens to one instance.
//!
//! Workers (`--workers N`, [`run_batch_workers`]): one thread per solver takes the next
//! instance not yet taken; the calling thread is the only writer of the predictions file and
//! the manifest, committing each instance as it finishes.
//!
//! Per instance, under `RUN_DIR/instances/<instance_id>/` (each file written atomically):
//! `trajectory.json`, `patch.diff` (what the solver returned), `log.txt` and `result.json`
//! ([`InstanceResult`]: status, reason, seconds, tokens, patch lines, the repository fixer's
//! status of the patch). The prediction line (with that status as `codeswarm_status`, see
//! [`super::fix_status`]) is
//! appended last: it is the commit point, so an instance counts as finished exactly when its
//! line is complete, and a rerun skips finished instances (unless `--redo`, which first
//! rewrites the predictions file without the selected instances' lines).
//!
//! Work space: a solver's worktrees and temporary files go under `RUN_DIR/work/<instance_id>/`
//! ([`InstanceDir::scratch`]), removed when the instance is finished. Whatever a killed run
//! left there is removed when the next batch on the run directory starts (it holds the run
//! directory's and the predictions file's locks, so nothing there is in use).
//!
//! Failure containment: a solver error, a panic (caught with `catch_unwind`) or the time limit
//! turns into an empty `model_patch` with the reason in `result.json`; the batch goes on.
//! What the solver found before that is kept: a solver records its state after each step
//! ([`InstanceDir::journal`], which rewrites `trajectory.json` at once), and a timed-out,
//! failed, panicked or interrupted instance gets that trajectory, those tokens and the best
//! patch so far in `patch.diff` (`fix_status` in `result.json` is the fixer's status of it so
//! far and `patch_verified` whether that is `plausible` or better; it never goes into the
//! predictions, whose line says `no-patch`). `stopped_by` names the limit that ended the
//! work (none for a panic, which ends the work itself, even after the deadline). Two
//! things stop a batch: set-up errors (unreadable input, run directory in use, disk errors) and
//! [`SolveError::Unavailable`] (the solver cannot work at all, e.g. the model is missing), which
//! records nothing for the instance so a later run solves it (the other workers' instances in
//! flight are cancelled and left unrecorded too). [`SolveError::Transient`] (the inference
//! server stopped answering) is no fault of the instance: it is tried again after a wait
//! ([`RetryPolicy`]), then recorded as `deferred` without a prediction line, and no new
//! instance starts; a rerun solves it.
//!
//! Time limit and Ctrl-C are cooperative: the [`CancelToken`] handed to the solver is cancelled
//! at the deadline ([`CancelReason::TimeLimit`]) or on the first Ctrl-C
//! ([`CancelReason::Interrupted`]); the solver is expected to poll it and return. A result that
//! arrives after the deadline is a time-out (empty `model_patch`; `patch.diff` keeps its
//! patch). A solver that never looks at the
//! token holds the batch up: model calls and sandbox runs are expected to honour it. After the
//! first Ctrl-C no new instance is started; each instance in flight is recorded if it still
//! returned a patch, and otherwise left unrecorded (status `interrupted` in its `result.json`,
//! no prediction line) so that rerunning the same command solves it. SIGTERM (sent by
//! Kubernetes and Slurm before they stop a job) is handled like Ctrl-C. A second signal exits
//! at once with code 130; like kill -9 at any moment, that loses at most the instances in
//! flight (a torn last line is repaired on the next start).

use crate::input_file::{read_input_string, Follow, MAX_RUN_FILE};
use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::display::WorkerDisplay;
use super::fix_status::{self, FixStatus, StatusCounts};
use super::instances::{load_instances, Filter, FilterError, Instance, InstancesError, SolverView};
use super::lock::{LockError, TryLock};
use super::manifest::{now_rfc3339, Manifest, ManifestError, Progress, RunSettings};
use super::partial::Journal;
use super::predictions::{read_predictions, Prediction, PredictionsError, PredictionsWriter};

/// Why a cancel token was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// Ctrl-C.
    Interrupted,
    /// The per-instance time limit passed.
    TimeLimit,
    /// The batch stopped on a set-up error met by another worker (nothing is recorded for
    /// the instance; a rerun solves it).
    Stopped,
}

/// A cooperative cancellation flag shared with a solver. The first reason set wins.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicU8>);

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Cancel with `reason` (ignored when already cancelled).
    pub fn cancel(&self, reason: CancelReason) {
        let code = match reason {
            CancelReason::Interrupted => 1,
            CancelReason::TimeLimit => 2,
            CancelReason::Stopped => 3,
        };
        let _ = self
            .0
            .compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst) != 0
    }

    pub fn reason(&self) -> Option<CancelReason> {
        match self.0.load(Ordering::SeqCst) {
            1 => Some(CancelReason::Interrupted),
            2 => Some(CancelReason::TimeLimit),
            3 => Some(CancelReason::Stopped),
            _ => None,
        }
    }
}

/// Ctrl-C state shared between a signal handler and the runner: how many interrupts arrived,
/// and the tokens of the instances in flight (one per worker; cancelled by the first
/// interrupt).
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    count: Arc<AtomicU32>,
    current: Arc<Mutex<Vec<CancelToken>>>,
}

impl Interrupt {
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// Record one interrupt: stop taking instances and cancel the ones in flight. Returns how
    /// many interrupts have arrived.
    pub fn trigger(&self) -> u32 {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        self.cancel_in_flight(CancelReason::Interrupted);
        n
    }

    /// Cancel every instance in flight with `reason`.
    fn cancel_in_flight(&self, reason: CancelReason) {
        if let Ok(current) = self.current.lock() {
            for token in current.iter() {
                token.cancel(reason);
            }
        }
    }

    /// Whether an interrupt has arrived.
    pub fn requested(&self) -> bool {
        self.count.load(Ordering::SeqCst) > 0
    }

    /// Register an instance's token while it is in flight.
    fn add_current(&self, token: &CancelToken) {
        if let Ok(mut current) = self.current.lock() {
            if self.requested() {
                token.cancel(CancelReason::Interrupted);
            }
            current.push(token.clone());
        }
    }

    fn remove_current(&self, token: &CancelToken) {
        if let Ok(mut current) = self.current.lock() {
            current.retain(|t| !Arc::ptr_eq(&t.0, &token.0));
        }
    }

    /// Handle Ctrl-C (SIGINT) and SIGTERM (what Kubernetes and Slurm send before stopping a
    /// job) for the rest of the process: the first signal calls [`Interrupt::trigger`], the
    /// second exits at once with code 130.
    pub fn install_ctrl_c_handler(&self) -> std::io::Result<()> {
        use tokio::signal::unix::{signal, SignalKind};
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (ready_tx, ready_rx) = mpsc::channel::<std::io::Result<()>>();
        let this = self.clone();
        std::thread::Builder::new()
            .name("interrupt".into())
            .spawn(move || {
                runtime.block_on(async move {
                    // Register before reporting ready, so no early signal is missed.
                    let registered = signal(SignalKind::interrupt())
                        .and_then(|int| Ok((int, signal(SignalKind::terminate())?)));
                    let (mut int, mut term) = match registered {
                        Ok(pair) => {
                            let _ = ready_tx.send(Ok(()));
                            pair
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    loop {
                        let name = tokio::select! {
                            s = int.recv() => s.map(|_| "Ctrl-C"),
                            s = term.recv() => s.map(|_| "SIGTERM"),
                        };
                        let Some(name) = name else { return };
                        if this.trigger() == 1 {
                            eprintln!(
                                "\n{name}: no new instance will start; the one in flight is being cancelled \
                                 (press Ctrl-C again to exit at once)"
                            );
                        } else {
                            eprintln!("\n{name} again: exiting now; rerun the same command to resume");
                            std::process::exit(130);
                        }
                    }
                });
            })?;
        ready_rx
            .recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("the signal thread died")))
    }
}

/// The directory of one instance's artifacts, `RUN_DIR/instances/<id>/`, and its work space.
#[derive(Debug, Clone)]
pub struct InstanceDir {
    root: PathBuf,
    work: PathBuf,
    journal: Journal,
}

/// The batch's work space under the run directory (see the module docs).
pub const WORK_DIR: &str = "work";

impl InstanceDir {
    /// The directory (exists while the solver runs).
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// A scratch directory for worktrees and temporary files, `RUN_DIR/work/<id>/`: created on
    /// demand, removed when the instance is finished, and left-overs of a killed run removed
    /// when the next batch starts. Use it as the parent of checkouts
    /// ([`crate::repo::checkout::CheckoutOptions::parent_dir`]) instead of the system temp dir.
    pub fn scratch(&self) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(&self.work)?;
        Ok(self.work.clone())
    }

    /// Where the solver records its state after each step (see [`super::partial`]).
    pub fn journal(&self) -> &Journal {
        &self.journal
    }
}

/// What a solver hands back for one instance.
#[derive(Debug, Clone, Default)]
pub struct SolveOutcome {
    /// The unified diff against the base commit; `None` or empty when there is none.
    pub patch: Option<String>,
    /// Why there is no patch (or notes on the one there is).
    pub reason: Option<String>,
    /// Model tokens spent (prompt + generated).
    pub tokens: u64,
    /// The agents' steps, written to `trajectory.json`.
    pub trajectory: Value,
    /// Free-form log, written to `log.txt`.
    pub log: String,
    /// The repository fixer's status of `patch` (`None` from solvers that give none).
    pub fix_status: Option<FixStatus>,
}

/// Why a solver returned no outcome.
#[derive(Debug, thiserror::Error)]
pub enum SolveError {
    /// The solver saw the cancel token and stopped.
    #[error("cancelled")]
    Cancelled,
    /// This instance failed; the batch goes on.
    #[error("{message}")]
    Failed {
        message: String,
        tokens: u64,
        trajectory: Value,
        log: String,
    },
    /// The solver cannot work on any instance (model missing, pipeline not wired): the batch
    /// stops as a set-up error and nothing is recorded for the instance.
    #[error("{0}")]
    Unavailable(String),
    /// Something outside the instance failed for now (the inference server stopped
    /// answering): the instance is not at fault. The runner tries it again after a wait
    /// ([`RetryPolicy`]), then records it as [`InstanceStatus::Deferred`] (no prediction line,
    /// so a rerun solves it) and starts no new instance.
    #[error("{0}")]
    Transient(String),
}

impl SolveError {
    /// A failure with a message only.
    pub fn failed(message: impl Into<String>) -> SolveError {
        SolveError::Failed {
            message: message.into(),
            tokens: 0,
            trajectory: Value::Null,
            log: String::new(),
        }
    }
}

/// What the runner gives a solver besides the instance.
#[derive(Debug)]
pub struct SolveContext<'a> {
    /// This instance's artifact directory (see [`InstanceDir::scratch`] for work space).
    pub dir: &'a InstanceDir,
    /// Poll it; return (e.g. [`SolveError::Cancelled`]) soon after it is cancelled.
    pub cancel: &'a CancelToken,
    /// When the time limit runs out (`None`: no limit).
    pub deadline: Option<Instant>,
}

/// Something that turns an instance into a patch. It only ever sees a [`SolverView`]. With
/// `--workers N` each worker thread owns one solver.
pub trait Solver: Send {
    fn solve(
        &mut self,
        instance: &SolverView,
        ctx: &SolveContext<'_>,
    ) -> Result<SolveOutcome, SolveError>;
}

/// How an instance ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceStatus {
    /// A non-empty, well-formed patch.
    Patched,
    /// The solver finished without a patch.
    NoPatch,
    /// The solver returned an error (or an unusable patch).
    Failed,
    /// The solver panicked.
    Panicked,
    /// The time limit passed.
    TimedOut,
    /// Ctrl-C stopped it; not recorded in the predictions, solved again on rerun.
    Interrupted,
    /// The solver could not reach what it needs (the inference server), still after the
    /// retries; not recorded in the predictions, solved again on rerun.
    Deferred,
}

impl InstanceStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            InstanceStatus::Patched => "patched",
            InstanceStatus::NoPatch => "no_patch",
            InstanceStatus::Failed => "failed",
            InstanceStatus::Panicked => "panicked",
            InstanceStatus::TimedOut => "timed_out",
            InstanceStatus::Interrupted => "interrupted",
            InstanceStatus::Deferred => "deferred",
        }
    }

    /// Errors, panics and time-outs.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            InstanceStatus::Failed | InstanceStatus::Panicked | InstanceStatus::TimedOut
        )
    }
}

/// `RUN_DIR/instances/<id>/result.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceResult {
    pub instance_id: String,
    pub status: InstanceStatus,
    pub reason: Option<String>,
    pub seconds: f64,
    pub tokens: u64,
    /// Added plus removed lines of the recorded patch.
    pub patch_lines: usize,
    /// Whether `patch.diff` was verified by the solver (`None`: no patch, or the solver did
    /// not say). A timed-out or failed instance's best patch is kept there, unverified or not,
    /// but never recorded in the predictions.
    #[serde(default)]
    pub patch_verified: Option<bool>,
    /// The repository fixer's status of `patch.diff` (`no-patch` when there is none; for a
    /// timed-out or failed instance, the status of its best patch so far); `None` for solvers
    /// that give no status.
    #[serde(default)]
    pub fix_status: Option<FixStatus>,
    /// The limit that ended the work (the instance's time limit, an interrupt, a config
    /// budget such as `limits.max_model_calls`); `None` when the solver finished on its own.
    #[serde(default)]
    pub stopped_by: Option<String>,
    pub model: String,
    pub started_at: String,
    pub finished_at: String,
}

impl InstanceResult {
    /// Read `dir/result.json`, if there is a readable one.
    pub fn load(dir: &Path) -> Option<InstanceResult> {
        Self::read(dir).ok().flatten()
    }

    /// Read `dir/result.json`: `Ok(None)` when there is none, `Err` (the file and why) when it
    /// cannot be read or is not a result.
    pub fn read(dir: &Path) -> Result<Option<InstanceResult>, (PathBuf, String)> {
        let path = dir.join(RESULT_FILE);
        let text = match read_input_string(&path, "result", MAX_RUN_FILE, Follow::No) {
            Ok(t) => t,
            Err(e) if e.io_kind() == Some(std::io::ErrorKind::NotFound) => return Ok(None),
            Err(e) => return Err((path, e.to_string())),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| (path, e.to_string()))
    }
}

pub const RESULT_FILE: &str = "result.json";
pub const PATCH_FILE: &str = "patch.diff";
pub const TRAJECTORY_FILE: &str = "trajectory.json";
pub const LOG_FILE: &str = "log.txt";

/// Added plus removed lines of a unified diff.
pub fn changed_lines(patch: &str) -> usize {
    patch
        .lines()
        .filter(|l| {
            (l.starts_with('+') && !l.starts_with("+++"))
                || (l.starts_with('-') && !l.starts_with("---"))
        })
        .count()
}

/// Why a batch could not run.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Instances(#[from] InstancesError),
    #[error(transparent)]
    Filter(#[from] FilterError),
    #[error("{} holds no valid instance ({skipped} malformed entries skipped, see the warnings above); check the file's format", path.display())]
    NoInstances { path: PathBuf, skipped: usize },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Predictions(#[from] PredictionsError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("--predictions {}: {problem}", path.display())]
    PredictionsPath { path: PathBuf, problem: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the solver cannot run (stopped at instance {instance_id}, nothing recorded for it): {message}")]
    SolverUnavailable {
        instance_id: String,
        message: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BatchError + '_ {
    move |source| BatchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Everything a batch run needs besides the solver.
#[derive(Debug, Clone)]
pub struct BatchConfig {
    pub instances: PathBuf,
    pub predictions: PathBuf,
    /// Default: [`default_run_dir`] of the predictions file.
    pub run_dir: Option<PathBuf>,
    /// `model_name_or_path` in every prediction.
    pub model_name: String,
    pub filter: Filter,
    /// Per-instance time limit (`None`: none).
    pub time_limit: Option<Duration>,
    pub repo_url_template: String,
    /// Extra site-packages for the sandbox (recorded; the solver factory uses it).
    pub site: Option<PathBuf>,
    /// Solve the selected instances again even when they have a prediction, and accept
    /// changed settings.
    pub redo: bool,
    /// Draw a progress bar (and per-instance lines when stderr is not a terminal).
    pub show_progress: bool,
}

/// `preds.jsonl` → `preds.run/` beside it.
pub fn default_run_dir(predictions: &Path) -> PathBuf {
    let stem = predictions
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "predictions".into());
    predictions.with_file_name(format!("{stem}.run"))
}

/// Refuse a predictions path that cannot work, before anything is created: an existing
/// directory, or one whose run directory (`run_dir`, default [`default_run_dir`]) would be the
/// predictions file itself (`x.run` → `x.run/`).
pub fn check_paths(predictions: &Path, run_dir: Option<&Path>) -> Result<(), BatchError> {
    let bad = |problem: String| BatchError::PredictionsPath {
        path: predictions.to_path_buf(),
        problem,
    };
    if predictions.is_dir() {
        return Err(bad(
            "is a directory; give the predictions file to write, e.g. DIR/preds.jsonl".into(),
        ));
    }
    // A device or FIFO (`/dev/full`) is neither read nor given a `.run/` directory beside it.
    crate::input_file::check_regular_or_missing(predictions, "--predictions")
        .map_err(|e| BatchError::Predictions(e.into()))?;
    let run_dir = run_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| default_run_dir(predictions));
    let same = match (
        std::path::absolute(predictions),
        std::path::absolute(&run_dir),
    ) {
        (Ok(p), Ok(r)) => p == r,
        _ => predictions == run_dir,
    };
    if same {
        return Err(bad(format!(
            "the run directory would be the predictions file itself ({}); name the predictions file with another extension (e.g. preds.jsonl) or pass --run-dir",
            run_dir.display()
        )));
    }
    Ok(())
}

/// What a batch run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BatchSummary {
    pub run_dir: PathBuf,
    pub predictions: PathBuf,
    /// Instances selected by the filters.
    pub selected: usize,
    /// Selected instances already finished before this run (skipped).
    pub skipped_done: usize,
    /// Instances solved and recorded by this run.
    pub solved: usize,
    pub patched: usize,
    pub no_patch: usize,
    /// Errors, panics, time-outs.
    pub failed: usize,
    /// True when Ctrl-C stopped the run before every selected instance was done.
    pub interrupted: bool,
    /// Instances deferred because the solver could not reach the inference server (not
    /// recorded; the run stopped taking instances; a rerun solves them).
    pub deferred: usize,
    /// Selected instances still without a prediction.
    pub remaining: usize,
    pub tokens: u64,
    pub seconds: f64,
    /// Malformed input entries skipped.
    pub input_problems: usize,
    /// A torn last line was removed from the predictions file at start.
    pub repaired_torn_line: bool,
    /// Instances solved now per status of their prediction (repository fixes only).
    #[serde(skip_serializing_if = "StatusCounts::is_empty")]
    pub by_status: StatusCounts,
}

impl std::fmt::Display for BatchSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} selected: {} solved now ({} patched, {} without patch, {} failed), {} already done, {} remaining",
            self.selected, self.solved, self.patched, self.no_patch, self.failed, self.skipped_done, self.remaining
        )?;
        let tps = if self.seconds > 0.0 {
            self.tokens as f64 / self.seconds
        } else {
            0.0
        };
        writeln!(
            f,
            "{} tokens in {:.1} s ({tps:.1} tokens/s)",
            self.tokens, self.seconds
        )?;
        if !self.by_status.is_empty() {
            writeln!(f, "repository fixes: {}", self.by_status.line())?;
        }
        if self.input_problems > 0 {
            writeln!(
                f,
                "{} malformed input entries skipped (see {})",
                self.input_problems,
                self.run_dir.join(INPUT_PROBLEMS_FILE).display()
            )?;
        }
        if self.repaired_torn_line {
            writeln!(f, "a torn last line of the predictions file was repaired")?;
        }
        write!(
            f,
            "predictions: {}\nrun directory: {}",
            self.predictions.display(),
            self.run_dir.display()
        )?;
        if self.deferred > 0 {
            write!(
                f,
                "\n{} deferred: the inference server stayed unreachable; rerun the same command once it is back to solve them",
                self.deferred
            )?;
        }
        if self.interrupted {
            write!(f, "\ninterrupted: rerun the same command to resume")?;
        }
        Ok(())
    }
}

/// Skipped input entries of the latest invocation.
pub const INPUT_PROBLEMS_FILE: &str = "input-problems.json";

/// How an instance whose solver met a transient failure ([`SolveError::Transient`]) is tried
/// again: `retries` more times, waiting `wait` before the first retry and twice as long
/// before each next one (`[limits] batch_retries`, `batch_retry_wait_seconds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub retries: u32,
    pub wait: Duration,
}

impl RetryPolicy {
    pub fn from_limits(limits: &crate::config::Limits) -> RetryPolicy {
        RetryPolicy {
            retries: limits.batch_retries,
            wait: Duration::from_secs(limits.batch_retry_wait_seconds),
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::from_limits(&crate::config::Config::defaults().limits)
    }
}

/// Run the batch described by `config` with one `solver`; `interrupt` is the Ctrl-C state (see
/// [`Interrupt::install_ctrl_c_handler`]).
pub fn run_batch(
    config: &BatchConfig,
    solver: &mut dyn Solver,
    interrupt: &Interrupt,
) -> Result<BatchSummary, BatchError> {
    run_batch_workers(config, vec![solver], &RetryPolicy::default(), interrupt)
}

/// Run the batch with one worker thread per solver (`--workers N`): each worker takes the next
/// instance not yet taken, in file order, and solves it in its own work space; the calling
/// thread appends each finished instance's prediction line (whole, synced) in the order they
/// finish, so the predictions file holds the same lines as a one-worker run, possibly in
/// another order. Ctrl-C cancels every instance in flight; a set-up error in one worker
/// cancels the others' instances (recorded as interrupted, solved again on rerun).
pub fn run_batch_workers(
    config: &BatchConfig,
    solvers: Vec<&mut dyn Solver>,
    retry: &RetryPolicy,
    interrupt: &Interrupt,
) -> Result<BatchSummary, BatchError> {
    assert!(!solvers.is_empty(), "a batch needs at least one solver");
    let started = Instant::now();
    check_paths(&config.predictions, config.run_dir.as_deref())?;
    let set = load_instances(&config.instances)?;
    set.warn_problems();
    if set.instances.is_empty() {
        return Err(BatchError::NoInstances {
            path: config.instances.clone(),
            skipped: set.problems.len(),
        });
    }
    let selected: Vec<&Instance> = config.filter.apply(&set)?;

    let predictions_path =
        std::path::absolute(&config.predictions).map_err(io_err(&config.predictions))?;
    let run_dir = match &config.run_dir {
        Some(d) => d.clone(),
        None => default_run_dir(&predictions_path),
    };
    std::fs::create_dir_all(run_dir.join("instances")).map_err(io_err(&run_dir))?;
    let _run_lock = TryLock::acquire(
        &run_dir.join(".lock"),
        &format!("run directory {}", run_dir.display()),
    )?;

    let settings = RunSettings {
        model: config.model_name.clone(),
        instances_file: std::path::absolute(&config.instances)
            .map_err(io_err(&config.instances))?,
        instances_sha256: set.sha256.clone(),
        predictions: predictions_path.clone(),
        filter: config.filter.clone(),
        time_limit_s: config.time_limit.map(|d| d.as_secs()),
        repo_url_template: config.repo_url_template.clone(),
        site: config.site.clone(),
        codeswarm_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let mut manifest = match Manifest::load(&run_dir)? {
        Some(old) => old.resume(settings, config.redo, &run_dir)?,
        None => Manifest::new(settings),
    };
    manifest.invocations += 1;

    let problems_path = run_dir.join(INPUT_PROBLEMS_FILE);
    let problems_json = serde_json::to_string_pretty(&set.problems).expect("problems serialize");
    crate::fsutil::write_atomic(&problems_path, problems_json.as_bytes())
        .map_err(io_err(&problems_path))?;

    let (mut writer, open_report) = PredictionsWriter::open(&predictions_path)?;
    // Both locks are held: whatever is in the work space was left by a killed run.
    remove_stale_work(&run_dir.join(WORK_DIR))?;
    let selected_ids: HashSet<String> = selected.iter().map(|i| i.id().to_string()).collect();
    if config.redo {
        let dropped = writer.remove(&selected_ids)?;
        if dropped > 0 {
            tracing::info!(
                dropped,
                "--redo: removed the selected instances' earlier predictions"
            );
        }
    }

    // Progress counts over the selection, including what earlier runs finished.
    let existing = read_predictions(&predictions_path)?.by_id();
    let mut progress = Progress {
        selected: selected.len(),
        ..Progress::default()
    };
    for inst in &selected {
        if let Some(p) = existing.get(inst.id()) {
            count_done(
                &mut progress,
                &run_dir,
                inst.id(),
                !p.model_patch.trim().is_empty(),
            );
        }
    }
    progress.remaining = progress.selected - progress.done;
    manifest.progress = progress.clone();
    manifest.state = "running".into();
    manifest.save(&run_dir)?;

    let todo: Vec<&Instance> = selected
        .iter()
        .copied()
        .filter(|i| !writer.finished().contains(i.id()))
        .collect();
    let mut summary = BatchSummary {
        run_dir: run_dir.clone(),
        predictions: predictions_path.clone(),
        selected: selected.len(),
        skipped_done: selected.len() - todo.len(),
        input_problems: set.problems.len(),
        repaired_torn_line: open_report.torn.as_ref().is_some_and(|t| !t.complete_json),
        ..BatchSummary::default()
    };
    if summary.skipped_done > 0 {
        tracing::info!(skipped = summary.skipped_done, "instances already in the predictions file are skipped (use --redo to solve them again)");
    }

    let display = WorkerDisplay::new(
        config.show_progress,
        selected.len() as u64,
        summary.skipped_done as u64,
        solvers.len(),
    );
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let mut fatal: Option<BatchError> = None;
    let mut solve_seconds = 0.0f64;
    let mut tokens_now = 0u64;
    let (tx, rx) = mpsc::channel::<(&Instance, Result<Record, OneError>)>();
    std::thread::scope(|scope| {
        for (w, solver) in solvers.into_iter().enumerate() {
            let tx = tx.clone();
            let (todo, next, stop, display, run_dir) = (&todo, &next, &stop, &display, &run_dir);
            std::thread::Builder::new()
                .name(format!("batch-worker-{w}"))
                .spawn_scoped(scope, move || {
                    let _slot = display.install_slot(w);
                    loop {
                        if interrupt.requested() || stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let Some(inst) = todo.get(next.fetch_add(1, Ordering::SeqCst)).copied()
                        else {
                            break;
                        };
                        display.start(w, inst.id());
                        let out = solve_with_retries(
                            inst, solver, run_dir, config, retry, interrupt, stop, display,
                        );
                        display.idle(w);
                        // Deferred (the server is gone) or a set-up error: this worker takes
                        // no next instance, nor do the others once they look.
                        let halts = match &out {
                            Ok(r) => r.result.status == InstanceStatus::Deferred,
                            Err(_) => true,
                        };
                        if halts {
                            stop.store(true, Ordering::SeqCst);
                        }
                        if tx.send((inst, out)).is_err() {
                            break;
                        }
                    }
                })
                .expect("spawning a batch worker thread");
        }
        drop(tx);
        let halt = |fatal: &mut Option<BatchError>, e: BatchError| {
            stop.store(true, Ordering::SeqCst);
            interrupt.cancel_in_flight(CancelReason::Stopped);
            fatal.get_or_insert(e);
        };
        // The main thread is the only writer: each finished instance's prediction line is
        // appended whole and synced here, in the order instances finish.
        for (inst, out) in rx {
            if fatal.is_some() {
                continue; // nothing more is recorded after a set-up error
            }
            let record = match out {
                Ok(r) => r,
                Err(OneError::Unavailable(message)) => {
                    halt(
                        &mut fatal,
                        BatchError::SolverUnavailable {
                            instance_id: inst.id().to_string(),
                            message,
                        },
                    );
                    continue;
                }
                Err(OneError::Batch(e)) => {
                    halt(&mut fatal, e);
                    continue;
                }
            };
            solve_seconds += record.result.seconds;
            tokens_now += record.result.tokens;
            summary.tokens += record.result.tokens;
            let status = record.result.status;
            if status == InstanceStatus::Interrupted {
                summary.interrupted = true;
                display.line(format!("{}: interrupted, not recorded", inst.id()));
                continue;
            }
            if status == InstanceStatus::Deferred {
                summary.deferred += 1;
                stop.store(true, Ordering::SeqCst);
                display.line(format!(
                    "{}: deferred, not recorded ({}); no new instance starts, rerun the same command once the server is back",
                    inst.id(),
                    first_line(record.result.reason.as_deref().unwrap_or(""))
                ));
                continue;
            }
            if let Err(e) = commit(&mut writer, &mut manifest, &run_dir, config, inst, &record) {
                halt(&mut fatal, e);
                continue;
            }
            summary.solved += 1;
            match status {
                InstanceStatus::Patched => summary.patched += 1,
                s if s.is_failure() => summary.failed += 1,
                _ => summary.no_patch += 1,
            }
            summary.by_status.add(record.prediction_status);
            display.finished(format!(
                "patched {}{} · failed {} · {:.0} tok/s",
                summary.patched,
                if summary.by_status.is_empty() {
                    String::new()
                } else {
                    format!(" ({} verified)", summary.by_status.get(FixStatus::Verified))
                },
                summary.failed,
                if solve_seconds > 0.0 {
                    tokens_now as f64 / solve_seconds
                } else {
                    0.0
                },
            ));
            display.line(format!(
                "[{}/{}] {}: {}{}{} ({:.1} s, {} tokens)",
                manifest.progress.done,
                selected.len(),
                crate::terminal_text::terminal_safe(inst.id()),
                status.as_str(),
                record
                    .prediction_status
                    .filter(|s| s.has_patch())
                    .map(|s| format!(", {s}"))
                    .unwrap_or_default(),
                record
                    .result
                    .reason
                    .as_deref()
                    .map(|r| format!(
                        ": {}",
                        crate::terminal_text::terminal_safe_max(
                            first_line(r),
                            crate::terminal_text::MAX_MESSAGE_CHARS
                        )
                    ))
                    .unwrap_or_default(),
                record.result.seconds,
                record.result.tokens
            ));
        }
    });
    display.clear();
    if let Some(e) = fatal {
        manifest.state = "aborted".into();
        let _ = manifest.save(&run_dir);
        return Err(e);
    }
    if interrupt.requested() && manifest.progress.remaining > 0 {
        summary.interrupted = true;
    }
    summary.remaining = manifest.progress.remaining;
    summary.seconds = started.elapsed().as_secs_f64();
    manifest.state = if summary.interrupted {
        "interrupted"
    } else if summary.deferred > 0 {
        "deferred"
    } else {
        "completed"
    }
    .into();
    manifest.save(&run_dir)?;
    Ok(summary)
}

/// The commit point of one finished instance: its prediction line (appended whole and
/// synced), then the manifest's progress.
fn commit(
    writer: &mut PredictionsWriter,
    manifest: &mut Manifest,
    run_dir: &Path,
    config: &BatchConfig,
    inst: &Instance,
    record: &Record,
) -> Result<(), BatchError> {
    writer.append(&Prediction {
        instance_id: inst.id().to_string(),
        model_name_or_path: config.model_name.clone(),
        model_patch: record.model_patch.clone(),
        codeswarm_status: record.prediction_status,
    })?;
    count_done(
        &mut manifest.progress,
        run_dir,
        inst.id(),
        record.result.status == InstanceStatus::Patched,
    );
    manifest.progress.remaining = manifest
        .progress
        .selected
        .saturating_sub(manifest.progress.done);
    manifest.save(run_dir)?;
    Ok(())
}

/// [`solve_one`], tried again after a wait while the solver reports a transient failure
/// ([`SolveError::Transient`]), at most `retry.retries` times. The wait ends early on Ctrl-C
/// or when the batch stops; the last attempt's record (status `deferred`) is returned then.
#[allow(clippy::too_many_arguments)]
fn solve_with_retries(
    inst: &Instance,
    solver: &mut dyn Solver,
    run_dir: &Path,
    config: &BatchConfig,
    retry: &RetryPolicy,
    interrupt: &Interrupt,
    stop: &AtomicBool,
    display: &WorkerDisplay,
) -> Result<Record, OneError> {
    let mut wait = retry.wait;
    let mut attempt = 0;
    loop {
        let record = solve_one(inst, solver, run_dir, config, interrupt)?;
        if record.result.status != InstanceStatus::Deferred || attempt >= retry.retries {
            return Ok(record);
        }
        attempt += 1;
        display.line(format!(
            "{}: {}; trying again in {} s (retry {attempt} of {})",
            inst.id(),
            first_line(record.result.reason.as_deref().unwrap_or("")),
            wait.as_secs(),
            retry.retries
        ));
        let until = Instant::now() + wait;
        while Instant::now() < until {
            if interrupt.requested() || stop.load(Ordering::SeqCst) {
                return Ok(record);
            }
            std::thread::sleep(
                Duration::from_millis(100).min(until.saturating_duration_since(Instant::now())),
            );
        }
        wait = wait.saturating_mul(2);
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

fn count_done(progress: &mut Progress, run_dir: &Path, id: &str, patched: bool) {
    progress.done += 1;
    if patched {
        progress.patched += 1;
    } else {
        progress.empty += 1;
    }
    if let Some(r) = InstanceResult::load(&run_dir.join("instances").join(id)) {
        progress.tokens += r.tokens;
        if r.status.is_failure() {
            progress.failed += 1;
        }
    }
}

struct Record {
    result: InstanceResult,
    model_patch: String,
    /// `codeswarm_status` of the prediction line: the status of `model_patch`.
    prediction_status: Option<FixStatus>,
}

enum OneError {
    Unavailable(String),
    Batch(BatchError),
}

/// Cancels `token` at `deadline` unless dropped first.
struct Watchdog {
    stop: Option<mpsc::Sender<()>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    fn start(token: CancelToken, deadline: Option<Instant>) -> Watchdog {
        let Some(deadline) = deadline else {
            return Watchdog {
                stop: None,
                handle: None,
            };
        };
        let (tx, rx) = mpsc::channel::<()>();
        let handle = std::thread::Builder::new()
            .name("time-limit".into())
            .spawn(move || {
                let wait = deadline.saturating_duration_since(Instant::now());
                if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(wait) {
                    tracing::warn!("time limit reached; cancelling the instance");
                    token.cancel(CancelReason::TimeLimit);
                }
            })
            .ok();
        Watchdog {
            stop: Some(tx),
            handle,
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Remove `work` (left-over worktrees of a killed run), if it is there.
fn remove_stale_work(work: &Path) -> Result<(), BatchError> {
    match std::fs::symlink_metadata(work) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(work)(e)),
        Ok(_) => {}
    }
    let stale = std::fs::read_dir(work)
        .map(|entries| entries.count())
        .unwrap_or(0);
    if stale > 0 {
        tracing::info!(dir = %work.display(), stale, "removing the work space a killed run left behind");
    }
    std::fs::remove_dir_all(work).map_err(io_err(work))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-text payload".into()
    }
}

fn solve_one(
    inst: &Instance,
    solver: &mut dyn Solver,
    run_dir: &Path,
    config: &BatchConfig,
    interrupt: &Interrupt,
) -> Result<Record, OneError> {
    let root = run_dir.join("instances").join(inst.id());
    let dir_err = |source: std::io::Error| {
        OneError::Batch(BatchError::Io {
            path: root.clone(),
            source,
        })
    };
    if root.exists() {
        // Leftovers of an attempt that never got its prediction line.
        std::fs::remove_dir_all(&root).map_err(dir_err)?;
    }
    std::fs::create_dir_all(&root).map_err(dir_err)?;
    let work = run_dir.join(WORK_DIR).join(inst.id());
    if work.exists() {
        std::fs::remove_dir_all(&work).map_err(dir_err)?;
    }
    let dir = InstanceDir {
        root: root.clone(),
        work: work.clone(),
        journal: Journal::new(&root.join(TRAJECTORY_FILE)),
    };

    let token = CancelToken::new();
    interrupt.add_current(&token);
    let started_at = now_rfc3339();
    let started = Instant::now();
    let deadline = config.time_limit.map(|d| started + d);
    let watchdog = Watchdog::start(token.clone(), deadline);
    tracing::info!(instance = inst.id(), "solving");
    let outcome = {
        let ctx = SolveContext {
            dir: &dir,
            cancel: &token,
            deadline,
        };
        // The solver sees the SolverView only.
        let view: &SolverView = &inst.view;
        catch_unwind(AssertUnwindSafe(|| solver.solve(view, &ctx)))
    };
    drop(watchdog);
    interrupt.remove_current(&token);
    let seconds = started.elapsed().as_secs_f64();
    let over_time = deadline.is_some_and(|d| Instant::now() > d)
        || token.reason() == Some(CancelReason::TimeLimit);
    let interrupted = matches!(
        token.reason(),
        Some(CancelReason::Interrupted | CancelReason::Stopped)
    );
    let limit_text = || {
        format!(
            "time limit of {} s exceeded",
            config.time_limit.map(|d| d.as_secs()).unwrap_or(0)
        )
    };

    // The status the solver gave its patch (the repository fixer does).
    let mut said: Option<FixStatus> = None;
    let (status, reason, patch, tokens, trajectory, log): (
        InstanceStatus,
        Option<String>,
        Option<String>,
        u64,
        Value,
        String,
    ) = match outcome {
        Err(payload) => {
            let msg = panic_message(payload.as_ref());
            tracing::error!(instance = inst.id(), panic = %msg, "the solver panicked; going on with the next instance");
            (
                InstanceStatus::Panicked,
                Some(format!("the solver panicked: {msg}")),
                None,
                0,
                Value::Null,
                String::new(),
            )
        }
        Ok(Err(SolveError::Unavailable(message))) => {
            let _ = std::fs::remove_dir_all(&root);
            return Err(OneError::Unavailable(message));
        }
        Ok(Err(SolveError::Transient(message))) => (
            InstanceStatus::Deferred,
            Some(message),
            None,
            0,
            Value::Null,
            String::new(),
        ),
        Ok(Err(SolveError::Cancelled)) => {
            if interrupted {
                (
                    InstanceStatus::Interrupted,
                    Some("interrupted by Ctrl-C".into()),
                    None,
                    0,
                    Value::Null,
                    String::new(),
                )
            } else if over_time {
                (
                    InstanceStatus::TimedOut,
                    Some(limit_text()),
                    None,
                    0,
                    Value::Null,
                    String::new(),
                )
            } else {
                (
                    InstanceStatus::Failed,
                    Some("the solver stopped as cancelled, but nothing cancelled it".into()),
                    None,
                    0,
                    Value::Null,
                    String::new(),
                )
            }
        }
        Ok(Err(SolveError::Failed {
            message,
            tokens,
            trajectory,
            log,
        })) => {
            let status = if interrupted {
                InstanceStatus::Interrupted
            } else if over_time {
                InstanceStatus::TimedOut
            } else {
                InstanceStatus::Failed
            };
            let reason = match status {
                InstanceStatus::TimedOut => format!("{}: {message}", limit_text()),
                InstanceStatus::Interrupted => format!("interrupted by Ctrl-C: {message}"),
                _ => message,
            };
            (status, Some(reason), None, tokens, trajectory, log)
        }
        Ok(Ok(out)) => {
            said = out.fix_status;
            let patch = out.patch.filter(|p| !p.trim().is_empty());
            let status = if over_time {
                InstanceStatus::TimedOut
            } else if patch.is_some() {
                InstanceStatus::Patched
            } else if interrupted {
                InstanceStatus::Interrupted
            } else {
                InstanceStatus::NoPatch
            };
            let reason = match status {
                InstanceStatus::TimedOut => Some(limit_text()),
                InstanceStatus::NoPatch => Some(
                    out.reason
                        .unwrap_or_else(|| "the solver produced no patch".into()),
                ),
                InstanceStatus::Interrupted => Some("interrupted by Ctrl-C".into()),
                _ => out.reason,
            };
            (status, reason, patch, out.tokens, out.trajectory, out.log)
        }
    };

    // What the solver recorded before it timed out, failed, panicked or was interrupted.
    let found = dir.journal.last();
    let (mut patch, mut tokens, mut trajectory) = (patch, tokens, trajectory);
    if let Some(f) = found
        .as_ref()
        .filter(|_| status.is_failure() || status == InstanceStatus::Interrupted)
    {
        if trajectory.is_null() {
            trajectory = f.trajectory.clone();
        }
        tokens = tokens.max(f.tokens);
        if patch.as_deref().is_none_or(|p| p.trim().is_empty()) {
            patch = f.patch.clone().filter(|p| !p.trim().is_empty());
            if patch.is_some() {
                said = f.status;
            }
        }
        // A solver that journals a status gives one (`no-patch` below when nothing was found).
        said = said.or(f.status);
    }
    let patch_verified = patch.as_ref().and_then(|p| {
        found
            .as_ref()
            .filter(|f| f.patch.as_ref() == Some(p))
            .map(|f| f.status.is_some_and(|s| s >= FixStatus::Plausible))
    });
    let fix_status = fix_status::of_patch(said, patch.is_some());
    let stopped_by = if status == InstanceStatus::Interrupted || interrupted {
        Some("an interrupt (Ctrl-C or SIGTERM)".to_string())
    } else if status == InstanceStatus::Panicked {
        // The panic ended the work, whenever it came; `reason` names it.
        None
    } else if over_time {
        Some(format!(
            "the instance's time limit (batch --time-limit {} s)",
            config.time_limit.map(|d| d.as_secs()).unwrap_or(0)
        ))
    } else {
        found.and_then(|f| f.stopped_by)
    };

    // The patch recorded in the predictions: only a well-formed one from a patched instance.
    let (status, reason, model_patch) = match (&status, &patch) {
        (InstanceStatus::Patched, Some(p)) => match crate::repo::patch::parse_patch(p) {
            Ok(_) => (status, reason, p.clone()),
            Err(e) => (
                InstanceStatus::Failed,
                Some(format!("the solver's patch is not a usable diff: {e}")),
                String::new(),
            ),
        },
        _ => (status, reason, String::new()),
    };
    // Cancelled because another worker met a set-up error, not by Ctrl-C.
    let reason = match (status, token.reason()) {
        (InstanceStatus::Interrupted, Some(CancelReason::Stopped)) => {
            Some("the batch stopped on a set-up error (see its output)".into())
        }
        _ => reason,
    };

    let write = |name: &str, bytes: &[u8]| -> Result<(), OneError> {
        let path = root.join(name);
        crate::fsutil::write_atomic(&path, bytes)
            .map_err(|source| OneError::Batch(BatchError::Io { path, source }))
    };
    let trajectory_text =
        serde_json::to_string_pretty(&trajectory).unwrap_or_else(|_| "null".into());
    write(TRAJECTORY_FILE, trajectory_text.as_bytes())?;
    write(PATCH_FILE, patch.as_deref().unwrap_or("").as_bytes())?;
    write(LOG_FILE, log.as_bytes())?;
    let result = InstanceResult {
        instance_id: inst.id().to_string(),
        status,
        reason,
        seconds,
        tokens,
        patch_lines: changed_lines(&model_patch),
        patch_verified,
        fix_status,
        stopped_by,
        model: config.model_name.clone(),
        started_at,
        finished_at: now_rfc3339(),
    };
    let result_text = serde_json::to_string_pretty(&result).expect("result serializes");
    write(RESULT_FILE, result_text.as_bytes())?;
    if work.exists() {
        if let Err(e) = std::fs::remove_dir_all(&work) {
            tracing::warn!(dir = %work.display(), error = %e, "could not remove the instance's work space");
        }
        // And `work/` itself once empty.
        let _ = std::fs::remove_dir(run_dir.join(WORK_DIR));
    }
    let prediction_status = fix_status::of_patch(fix_status, !model_patch.is_empty());
    Ok(Record {
        result,
        model_patch,
        prediction_status,
    })
}

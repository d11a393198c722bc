//! SWE-bench batch runs: solve many instances with one solver, write the predictions file the
//! official harness reads, resume after any interruption, split the work into shards, merge
//! shard outputs, report on a run, and evaluate predictions locally.
//!
//! One job per module:
//! - [`instances`]: read instances (`.json` array or `.jsonl`), report malformed entries by
//!   line or index, filter them (`--instance-ids`, `--limit`, `--shard`); the [`SolverView`]
//!   is all a solver may see of an instance.
//! - [`shard`]: the deterministic `I/N` partition (0-based).
//! - [`predictions`]: the append-only predictions file (one whole line per `write`, fsync,
//!   torn last line repaired).
//! - [`manifest`]: `RUN_DIR/manifest.json`, the run's settings and progress.
//! - [`runner`]: the batch loop over one [`Solver`] per worker, with time limits, panics,
//!   Ctrl-C, retries of a transient failure and resume.
//! - [`display`]: the live display (overall bar, one line per worker).
//! - [`fix_solver`]: the solver `codeswarm batch` uses: the repository fixer of `fix`.
//! - [`fix_status`]: the fixer's status of each instance's patch, recorded, counted and
//!   resolved per status.
//! - [`workers`]: one model manager per worker, within the memory plan.
//! - [`partial`]: what a solver has found so far (trajectory, tokens, best patch), recorded
//!   after each step so a time-out, failure or crash keeps it.
//! - [`merge`]: `codeswarm merge-preds`.
//! - [`report`] and [`html`]: `codeswarm report` (a table and a self-contained HTML page).
//! - [`evaluate`]: local evaluation through a [`TestExecutor`] (the WASI sandbox in the CLI).
//! - [`lock`]: the non-blocking locks guarding a run directory (a lock file inside it) and a
//!   predictions file (the file itself, whatever path reaches it).
//! - [`fixture_set`]: an instance set in the official format built from the fixture
//!   repositories, for tests and demos without network.

pub mod display;
pub mod evaluate;
pub mod fix_solver;
pub mod fix_status;
pub mod fixture_set;
pub mod html;
pub mod instances;
pub mod lock;
pub mod manifest;
pub mod merge;
pub mod parquet;
pub mod partial;
pub mod predictions;
pub mod report;
pub mod runner;
pub mod shard;
pub mod workers;

pub use evaluate::{
    evaluate, EvalOptions, EvalReport, ExecError, TestExecutor, TestOutcome, TestResults,
};
pub use instances::{Filter, Instance, SolverView};
pub use predictions::Prediction;
pub use runner::{
    run_batch, run_batch_workers, BatchConfig, BatchSummary, CancelReason, CancelToken,
    InstanceDir, Interrupt, RetryPolicy, SolveContext, SolveError, SolveOutcome, Solver,
};
pub use shard::Shard;

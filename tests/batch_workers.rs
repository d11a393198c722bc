//! `batch --workers N` at the runner: two workers write the same predictions as one (every
//! line whole), with two instances really in flight at once; an inference server that stops
//! answering mid-batch leads to instances retried, then deferred with the reason (no
//! prediction line, the run stops taking instances), and a rerun solves exactly those; a
//! server that returns within the retry window lets the batch go on by itself.

mod batch_common;
mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use batch_common::{prediction_lines, FixtureSet, TestSolver};
use codeswarm::batch::manifest::Manifest;
use codeswarm::batch::runner::{
    run_batch_workers, InstanceResult, InstanceStatus, Interrupt, RetryPolicy, SolveContext,
    SolveError, SolveOutcome, Solver,
};
use codeswarm::batch::SolverView;

/// Shared between the workers' solvers: how many solves are in flight now and at most, when
/// the "server" dies, and how many transient failures to report before answering.
#[derive(Default)]
struct Shared {
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Solves started (attempts included).
    started: AtomicUsize,
    /// The server dies after answering this many attempts (0: never).
    answer_first: AtomicUsize,
    /// Fail this many attempts as transient, then answer (the server came back).
    flaky: AtomicUsize,
}

/// A [`TestSolver`] (gold patches) behind a fake inference server.
struct ServerSolver {
    inner: TestSolver,
    shared: Arc<Shared>,
    hold: Duration,
}

impl Solver for ServerSolver {
    fn solve(
        &mut self,
        inst: &SolverView,
        ctx: &SolveContext<'_>,
    ) -> Result<SolveOutcome, SolveError> {
        let s = &self.shared;
        let now = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        s.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let index = s.started.fetch_add(1, Ordering::SeqCst);
        let first = s.answer_first.load(Ordering::SeqCst);
        let dead = first > 0 && index >= first;
        std::thread::sleep(self.hold);
        let out = if dead {
            Err(SolveError::Transient(
                "inference server unreachable: http://127.0.0.1:8080/v1/chat/completions: Connection refused, still after 5 retries".into(),
            ))
        } else if s
            .flaky
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |f| f.checked_sub(1))
            .is_ok()
        {
            Err(SolveError::Transient(
                "inference server unreachable: HTTP 503".into(),
            ))
        } else {
            self.inner.solve(inst, ctx)
        };
        s.in_flight.fetch_sub(1, Ordering::SeqCst);
        out
    }
}

fn solvers(set: &FixtureSet, n: usize, shared: &Arc<Shared>) -> Vec<ServerSolver> {
    (0..n)
        .map(|_| ServerSolver {
            inner: TestSolver::new(set),
            shared: shared.clone(),
            hold: Duration::from_millis(300),
        })
        .collect()
}

fn run(
    set: &FixtureSet,
    out: &std::path::Path,
    solvers: &mut [ServerSolver],
    retry: RetryPolicy,
) -> codeswarm::batch::BatchSummary {
    let config = set.config(out);
    let solvers: Vec<&mut dyn Solver> = solvers.iter_mut().map(|s| s as &mut dyn Solver).collect();
    run_batch_workers(&config, solvers, &retry, &Interrupt::new()).unwrap()
}

/// Predictions by instance id (every line parsed whole).
fn by_id(path: &std::path::Path) -> BTreeMap<String, String> {
    prediction_lines(path)
        .into_iter()
        .map(|l| {
            (
                l["instance_id"].as_str().unwrap().to_string(),
                l["model_patch"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

const QUICK: RetryPolicy = RetryPolicy {
    retries: 2,
    wait: Duration::from_millis(50),
};

#[test]
fn two_workers_write_the_same_predictions_as_one_with_two_instances_in_flight() {
    let set = FixtureSet::build();
    let ids = set.ids();
    let one_dir = tempfile::tempdir().unwrap();
    let shared = Arc::new(Shared::default());
    let summary = run(&set, one_dir.path(), &mut solvers(&set, 1, &shared), QUICK);
    assert_eq!((summary.solved, summary.patched), (ids.len(), ids.len()));
    assert_eq!(shared.max_in_flight.load(Ordering::SeqCst), 1);

    let two_dir = tempfile::tempdir().unwrap();
    let shared = Arc::new(Shared::default());
    let mut two = solvers(&set, 2, &shared);
    let summary = run(&set, two_dir.path(), &mut two, QUICK);
    assert_eq!((summary.solved, summary.patched), (ids.len(), ids.len()));
    assert_eq!(summary.remaining, 0);
    assert_eq!(
        shared.max_in_flight.load(Ordering::SeqCst),
        2,
        "two instances were solved at the same time"
    );
    // Each worker solved some, none twice.
    let (a, b) = (&two[0].inner.calls, &two[1].inner.calls);
    assert!(!a.is_empty() && !b.is_empty(), "{a:?} {b:?}");
    let mut all: Vec<&String> = a.iter().chain(b).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), ids.len());

    let one = by_id(&one_dir.path().join("preds.jsonl"));
    let two = by_id(&two_dir.path().join("preds.jsonl"));
    assert_eq!(one.len(), ids.len());
    assert_eq!(one, two, "same predictions with one worker and with two");
    let m = Manifest::load(&two_dir.path().join("run"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (m.state.as_str(), m.progress.done),
        ("completed", ids.len())
    );
    // Each instance's work space (its worktree) was its own and is gone.
    assert!(!two_dir.path().join("run").join("work").exists());
}

#[test]
fn a_server_killed_mid_batch_defers_the_instances_in_flight_and_a_rerun_solves_them() {
    let set = FixtureSet::build();
    let ids = set.ids();
    let out = tempfile::tempdir().unwrap();
    let shared = Arc::new(Shared::default());
    // The server answers the first instance, then dies: the instance that finished is kept,
    // the ones in flight fail transiently.
    shared.answer_first.store(1, Ordering::SeqCst);
    let summary = run(&set, out.path(), &mut solvers(&set, 2, &shared), QUICK);
    assert!(summary.deferred >= 1, "{summary}");
    assert_eq!(summary.solved, 1, "{summary}");
    assert_eq!(
        summary.failed, 0,
        "a dead server is no failure of the instance"
    );
    assert!(!summary.interrupted);
    assert_eq!(summary.remaining, ids.len() - 1);
    assert!(summary.to_string().contains("rerun the same command"));

    let preds = by_id(&out.path().join("preds.jsonl"));
    assert_eq!(
        preds.len(),
        1,
        "only the finished instance has a line: {preds:?}"
    );
    let run_dir = out.path().join("run");
    let deferred: Vec<&String> = ids
        .iter()
        .filter(|id| {
            InstanceResult::load(&run_dir.join("instances").join(id))
                .is_some_and(|r| r.status == InstanceStatus::Deferred)
        })
        .collect();
    assert_eq!(deferred.len(), summary.deferred);
    let r = InstanceResult::load(&run_dir.join("instances").join(deferred[0])).unwrap();
    assert!(
        r.reason.as_deref().unwrap().contains("Connection refused"),
        "{r:?}"
    );
    assert!(!preds.contains_key(deferred[0]));
    // The run stopped taking instances: at most the two in flight were tried.
    let tried = ids
        .iter()
        .filter(|id| run_dir.join("instances").join(id).exists())
        .count();
    assert!(tried <= 3, "{tried} instances were started");
    let m = Manifest::load(&run_dir).unwrap().unwrap();
    assert_eq!(m.state, "deferred");

    // The server is back: the rerun solves exactly what is missing.
    let shared = Arc::new(Shared::default());
    let mut again = solvers(&set, 2, &shared);
    let summary = run(&set, out.path(), &mut again, QUICK);
    assert_eq!(summary.skipped_done, 1);
    assert_eq!(
        (summary.solved, summary.deferred, summary.remaining),
        (ids.len() - 1, 0, 0)
    );
    let solved_again = again[0].inner.calls.len() + again[1].inner.calls.len();
    assert_eq!(solved_again, ids.len() - 1);
    let preds = by_id(&out.path().join("preds.jsonl"));
    assert_eq!(preds.len(), ids.len());
    assert!(preds.values().all(|p| p.starts_with("diff --git")));
}

#[test]
fn a_server_that_returns_within_the_retry_window_lets_the_batch_go_on() {
    let set = FixtureSet::build();
    let ids = set.ids();
    let out = tempfile::tempdir().unwrap();
    let shared = Arc::new(Shared::default());
    // Two attempts fail (a restart), each instance may retry twice: nothing is deferred.
    shared.flaky.store(2, Ordering::SeqCst);
    let summary = run(&set, out.path(), &mut solvers(&set, 2, &shared), QUICK);
    assert_eq!(
        (summary.solved, summary.patched, summary.deferred),
        (ids.len(), ids.len(), 0),
        "{summary}"
    );
    assert_eq!(by_id(&out.path().join("preds.jsonl")).len(), ids.len());
}

#[test]
fn in_process_workers_must_fit_the_memory_plan_at_the_context_one_copy_gets() {
    use codeswarm::batch::workers::{worker_managers, WorkersError};
    use codeswarm::models::{ManagerSettings, ModelManager, Registry};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qwen7b-like.gguf");
    common::gguf_writer::qwen7b_like(&path, 152064);
    let arg = path.to_str().unwrap().to_string();
    let with_budget = |ram: u64| {
        ModelManager::new(
            Registry::builtin(),
            ManagerSettings {
                model: Some(arg.clone()),
                ctx: Some(8192),
                ram_budget: Some(ram),
                quiet: true,
                ..Default::default()
            },
        )
    };
    // What one copy needs at 8192 tokens.
    let (_, _, plan) = with_budget(64 << 30).plan(&arg).unwrap();
    let one = plan.ram_bytes;

    // Room for one copy and a half: two workers are refused, naming the fix.
    let e = worker_managers(with_budget(one * 3 / 2), 2).err().unwrap();
    assert!(
        matches!(e, WorkersError::DoesNotFit { workers: 2, .. }),
        "{e}"
    );
    let text = e.to_string();
    assert!(text.contains("--workers 2: 2 in-process copies"), "{text}");
    assert!(text.contains("--server http://127.0.0.1:8080"), "{text}");
    assert!(text.contains("-np 2"), "{text}");

    // Room for two: two managers, each planned against half the budget.
    let ms = worker_managers(with_budget(one * 2 + (256 << 20)), 2).unwrap();
    assert_eq!(ms.len(), 2);
    for m in &ms {
        assert_eq!(m.settings().ram_budget, Some((one * 2 + (256 << 20)) / 2));
        assert!(m.settings().threads.is_some_and(|t| t >= 1));
        let (_, _, p) = m.plan(&arg).unwrap();
        assert_eq!(p.n_ctx, 8192);
    }
    // One worker: the manager as it was.
    let ms = worker_managers(with_budget(one * 3 / 2), 1).unwrap();
    assert_eq!(ms[0].settings().ram_budget, Some(one * 3 / 2));
}

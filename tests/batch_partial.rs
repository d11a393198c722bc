//! A timed-out, failed, panicked or budget-limited instance keeps what was found: the
//! trajectory so far (written after each step), the tokens so far and the best patch so far in
//! `patch.diff` (marked unverified in `result.json`, never in the predictions), and
//! `result.json` names the limit that ended the work. On the runner with test solvers, and
//! through the binary with the scripted model and the real sandbox.

mod batch_common;
mod common;

use std::time::{Duration, Instant};

use batch_common::{prediction_lines, FixtureSet};
use codeswarm::batch::partial::Partial;
use codeswarm::batch::runner::{
    run_batch, InstanceResult, InstanceStatus, Interrupt, SolveContext, SolveError, SolveOutcome,
    Solver,
};
use codeswarm::batch::SolverView;
use codeswarm::fix::FixStatus;
use common::{bin, stderr};

const SOME_PATCH: &str =
    "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n";

/// Records two steps, checks that the first is on disk at once, then waits for the time limit
/// (and returns `Cancelled`) or panics after the limit has passed.
struct Recording {
    panic: bool,
}

impl Solver for Recording {
    fn solve(
        &mut self,
        _: &SolverView,
        ctx: &SolveContext<'_>,
    ) -> Result<SolveOutcome, SolveError> {
        let journal = ctx.dir.journal();
        journal
            .record(Partial {
                trajectory: serde_json::json!({"steps": ["localize"]}),
                tokens: 40,
                ..Partial::default()
            })
            .unwrap();
        let on_disk = std::fs::read_to_string(ctx.dir.path().join("trajectory.json")).unwrap();
        assert!(on_disk.contains("localize"), "{on_disk}");
        journal
            .record(Partial {
                trajectory: serde_json::json!({"steps": ["localize", "edit 1"]}),
                tokens: 90,
                patch: Some(SOME_PATCH.into()),
                status: Some(FixStatus::Unverified),
                stopped_by: None,
            })
            .unwrap();
        if self.panic {
            // Past the time limit first: the panic, not the limit, is what ended the work.
            std::thread::sleep(
                ctx.deadline
                    .unwrap()
                    .saturating_duration_since(Instant::now()),
            );
            std::thread::sleep(Duration::from_millis(50));
            panic!("the solver broke");
        }
        let start = Instant::now();
        while !ctx.cancel.is_cancelled() && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(5));
        }
        Err(SolveError::Cancelled)
    }
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_cancelled_or_panicking_solver_keeps_its_trajectory_tokens_and_best_patch() {
    let set = FixtureSet::build();
    for panic in [false, true] {
        let out = tempfile::tempdir().unwrap();
        let mut config = set.config(out.path());
        config.filter.limit = Some(1);
        config.time_limit = Some(Duration::from_millis(300));
        run_batch(&config, &mut Recording { panic }, &Interrupt::new()).unwrap();
        let id = &set.ids()[0];
        let dir = out.path().join("run/instances").join(id);
        let r = InstanceResult::load(&dir).unwrap();
        let expected = if panic {
            InstanceStatus::Panicked
        } else {
            InstanceStatus::TimedOut
        };
        assert_eq!(r.status, expected, "{r:?}");
        assert_eq!(r.tokens, 90);
        assert_eq!(r.patch_verified, Some(false));
        assert_eq!(r.fix_status, Some(FixStatus::Unverified), "{r:?}");
        assert_eq!(r.patch_lines, 0, "nothing went into the predictions");
        if panic {
            assert_eq!(r.stopped_by, None);
        } else {
            assert!(
                r.stopped_by
                    .as_deref()
                    .unwrap()
                    .contains("batch --time-limit"),
                "{r:?}"
            );
        }
        assert_eq!(
            read_json(&dir.join("trajectory.json")),
            serde_json::json!({"steps": ["localize", "edit 1"]})
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("patch.diff")).unwrap(),
            SOME_PATCH
        );
        let preds = prediction_lines(&config.predictions);
        assert_eq!(preds.len(), 1);
        assert_eq!(preds[0]["model_patch"], "");
        assert_eq!(
            preds[0]["codeswarm_status"], "no-patch",
            "an empty prediction"
        );
    }
}

/// textkit: a wrong edit (applied, the reproduction test still fails), then a repair that runs
/// into the time limit. shopcart: a wrong edit, then the script runs dry (a model error).
const SCRIPT: &str = r#"
[[script]]
name = "textkit"
matches = "truncate() returns strings one character too short"
[[script.reply]]
role = "localizer"
text = "textkit/strings.py"
[[script.reply]]
role = "localizer"
text = "textkit/strings.py::truncate"
[[script.reply]]
role = "test_writer"
text = '''```python
from textkit.strings import truncate

def test_cut_text_fills_the_width():
    assert truncate("hello world", 8) == "hello..."
```'''
[[script.reply]]
role = "repairer"
text = '''```python
def truncate(text, width, suffix=ELLIPSIS):
    """Shorten text to at most width characters, ending with suffix when it is cut."""
    if width < len(suffix):
        raise ValueError("width must be at least len(suffix)")
    if len(text) <= width:
        return text
    return text[: width - len(suffix) - 2] + suffix
```'''
[[script.reply]]
role = "repairer"
text = '''```python
def truncate(text, width'''
stalls = true

[[script]]
name = "shopcart"
matches = "Carts leak items between customers"
[[script.reply]]
role = "localizer"
text = "shopcart/cart.py"
[[script.reply]]
role = "localizer"
text = "shopcart/cart.py::add_item"
[[script.reply]]
role = "test_writer"
text = '''```python
from shopcart.cart import add_item

def test_each_new_cart_starts_empty():
    add_item("apple", 1.0)
    assert [item["name"] for item in add_item("pear", 2.0)] == ["pear"]
```'''
[[script.reply]]
role = "repairer"
text = '''```python
def add_item(name, price, quantity=1, items=[]):
    """Add an item to a cart (a list of dicts) and return the cart.

    A new cart is started when no cart is given.
    """
    items.append({"name": name, "price": price, "quantity": quantity, "note": ""})
    return items
```'''
"#;

fn mock_batch(set: &FixtureSet, out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let script = out.join("script.toml");
    std::fs::write(&script, SCRIPT).unwrap();
    let preds = out.join("preds.jsonl");
    let mut args: Vec<String> = [
        "batch",
        "--mock",
        "--script",
        script.to_str().unwrap(),
        "--instances",
        set.instances.to_str().unwrap(),
        "--predictions",
        preds.to_str().unwrap(),
        "--repo-url-template",
        set.template.as_str(),
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|s| s.to_string()));
    bin().args(&args).output().unwrap()
}

fn trajectory_calls(dir: &std::path::Path) -> usize {
    read_json(&dir.join("trajectory.json"))["calls"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0)
}

#[test]
fn the_scripted_fixer_keeps_its_best_patch_when_the_time_limit_or_an_error_ends_it() {
    let set = FixtureSet::build();
    let out = tempfile::tempdir().unwrap();
    let ids = set.ids();
    // One reproduction test per instance (the script writes one).
    let config = out.path().join("config.toml");
    std::fs::write(&config, "[fix]\nrepro_samples = 1\n").unwrap();
    // Room for the sandbox runs before the stalling repair (a few seconds each on a busy machine).
    let o = mock_batch(
        &set,
        out.path(),
        &[
            "--instance-ids",
            &format!("{},{}", ids[0], ids[1]),
            "--time-limit",
            "60",
            "--config",
            config.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let run = out.path().join("preds.run/instances");

    // textkit: cut off by the time limit while the Repairer generated its second edit.
    let dir = run.join(&ids[0]);
    let r = InstanceResult::load(&dir).unwrap();
    assert_eq!(r.status, InstanceStatus::TimedOut, "{r:?}");
    assert!(
        r.stopped_by
            .as_deref()
            .unwrap_or("")
            .contains("batch --time-limit 60 s"),
        "{r:?}"
    );
    assert!(r.tokens > 0, "{r:?}");
    assert_eq!(r.patch_verified, Some(false), "{r:?}");
    // The fixer's status of its best patch so far: a patch, not verified.
    assert!(
        r.fix_status
            .is_some_and(|s| s.has_patch() && s < FixStatus::Plausible),
        "{r:?}"
    );
    let patch = std::fs::read_to_string(dir.join("patch.diff")).unwrap();
    assert!(
        patch.contains("+    return text[: width - len(suffix) - 2] + suffix"),
        "{patch}"
    );
    assert_eq!(
        trajectory_calls(&dir),
        5,
        "the cut-off call is in the trajectory"
    );

    // shopcart: the script ran dry after one wrong edit: a failure that keeps what was found.
    let dir = run.join(&ids[1]);
    let r = InstanceResult::load(&dir).unwrap();
    assert_eq!(r.status, InstanceStatus::Failed, "{r:?}");
    assert!(
        r.reason
            .as_deref()
            .unwrap()
            .contains("no scripted reply left"),
        "{r:?}"
    );
    assert!(r.tokens > 0, "{r:?}");
    assert_eq!(r.patch_verified, Some(false), "{r:?}");
    let patch = std::fs::read_to_string(dir.join("patch.diff")).unwrap();
    assert!(patch.contains("\"note\": \"\""), "{patch}");
    // The trajectory holds the one proposal and its candidate (result.json's reason names
    // the error that stopped the work).
    let trajectory = read_json(&dir.join("trajectory.json"));
    assert_eq!(trajectory["proposals"].as_array().unwrap().len(), 1);
    assert_eq!(trajectory["candidates"].as_array().unwrap().len(), 1);

    assert!(
        r.fix_status
            .is_some_and(|s| s.has_patch() && s < FixStatus::Plausible),
        "{r:?}"
    );
    // Neither unverified patch went into the predictions, whose lines say so.
    for p in prediction_lines(&out.path().join("preds.jsonl")) {
        assert_eq!(p["model_patch"], "", "{p}");
        assert_eq!(p["codeswarm_status"], "no-patch", "{p}");
    }
}

#[test]
fn a_model_call_budget_spent_while_localizing_is_named_and_the_calls_are_kept() {
    let set = FixtureSet::build();
    let out = tempfile::tempdir().unwrap();
    let config = out.path().join("config.toml");
    std::fs::write(&config, "[limits]\nmax_model_calls = 1\n").unwrap();
    let o = mock_batch(
        &set,
        out.path(),
        &[
            "--instance-ids",
            &set.ids()[0],
            "--config",
            config.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let dir = out.path().join("preds.run/instances").join(&set.ids()[0]);
    let r = InstanceResult::load(&dir).unwrap();
    assert_eq!(r.status, InstanceStatus::NoPatch, "{r:?}");
    assert_eq!(
        r.stopped_by.as_deref(),
        Some("1 model calls (limits.max_model_calls)"),
        "{r:?}"
    );
    assert!(r.tokens > 0);
    assert_eq!(trajectory_calls(&dir), 1);
}

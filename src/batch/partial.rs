//! What a solver has found so far on one instance, recorded as it works: the trajectory (each
//! step rewrites `trajectory.json` atomically, so a crash loses at most the step in flight),
//! the tokens spent, the best patch so far and the repository fixer's status of it, and the
//! limit that stopped the work. When the instance then times out, fails, panics or is
//! interrupted, the runner records this instead of nothing (see [`crate::batch::runner`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// A solver's state so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Partial {
    /// The agents' steps so far (what `trajectory.json` holds).
    pub trajectory: Value,
    /// Model tokens spent so far (prompt + generated).
    pub tokens: u64,
    /// The best patch so far (a unified diff against the base commit).
    pub patch: Option<String>,
    /// The repository fixer's status of `patch` so far (at most what it decided so far;
    /// `unverified` until it decided more); `None` from solvers that give no status.
    pub status: Option<crate::fix::FixStatus>,
    /// The limit that stopped the work, when one did (e.g. `40 model calls
    /// (limits.max_model_calls)`).
    pub stopped_by: Option<String>,
}

impl From<&crate::fix::FixReport> for Partial {
    /// The repository fixer's report so far: all of it is the trajectory.
    fn from(r: &crate::fix::FixReport) -> Partial {
        Partial {
            trajectory: serde_json::to_value(r).unwrap_or_default(),
            tokens: r.totals.prompt_tokens + r.totals.generated_tokens,
            patch: r.status.has_patch().then(|| r.patch.clone()),
            status: Some(r.status),
            stopped_by: r.stopped_by.clone(),
        }
    }
}

/// Where a solver records its [`Partial`] state: the last one is kept in memory for the
/// runner, and its trajectory is written to the instance's `trajectory.json` at once.
#[derive(Debug, Clone)]
pub struct Journal {
    trajectory_file: PathBuf,
    last: Arc<Mutex<Option<Partial>>>,
}

impl Journal {
    /// A journal writing `trajectory_file`.
    pub fn new(trajectory_file: &Path) -> Journal {
        Journal {
            trajectory_file: trajectory_file.to_path_buf(),
            last: Arc::default(),
        }
    }

    /// Record the state after a step: kept for the runner, the trajectory written atomically.
    pub fn record(&self, partial: Partial) -> std::io::Result<()> {
        let text =
            serde_json::to_string_pretty(&partial.trajectory).unwrap_or_else(|_| "null".into());
        if let Ok(mut last) = self.last.lock() {
            *last = Some(partial);
        }
        crate::fsutil::write_atomic(&self.trajectory_file, text.as_bytes())
    }

    /// The last state recorded, if any.
    pub fn last(&self) -> Option<Partial> {
        self.last.lock().ok().and_then(|l| l.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_record_rewrites_the_trajectory_and_the_last_one_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("trajectory.json");
        let j = Journal::new(&file);
        assert_eq!(j.last(), None);
        for step in 1..=2u64 {
            j.record(Partial {
                trajectory: serde_json::json!({"steps": step}),
                tokens: 10 * step,
                ..Partial::default()
            })
            .unwrap();
            let on_disk: Value =
                serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            assert_eq!(on_disk["steps"], step);
        }
        assert_eq!(j.last().unwrap().tokens, 20);
        // A clone shares the state (the solver and the runner hold one each).
        let k = j.clone();
        k.record(Partial {
            tokens: 30,
            ..Partial::default()
        })
        .unwrap();
        assert_eq!(j.last().unwrap().tokens, 30);
    }
}

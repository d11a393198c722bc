//! Shared set-up of the property-based fuzz targets (tests/fuzz_patch.rs,
//! tests/fuzz_readers.rs): how many cases a run makes and which seed it starts from.
//!
//! Default: a small, fixed-seed run per target, so the ordinary test suite stays fast and
//! deterministic. `PROPTEST_CASES=N` runs N cases per target instead, and
//! `PROPTEST_RNG_SEED=S` starts from another seed (docs/fuzzing.md has the long-run command).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Mutex;

use proptest::test_runner::{Config, RngSeed};

/// The seed of a default run (any fixed value; changing it changes which cases run).
pub const DEFAULT_SEED: u64 = 0x00C0_DE5A_A2E0;

/// The proptest configuration of a target whose default run makes `default_cases` cases.
pub fn config(default_cases: u32) -> Config {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = default_cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(DEFAULT_SEED);
    }
    // Shrinking a failing case spawns processes for each try; keep it bounded.
    config.max_shrink_iters = 2048;
    // A failing case is printed (with its seed); nothing is written into the source tree.
    config.failure_persistence = None;
    config
}

/// Counts of what the cases of one target came to, printed at the end of the run.
#[derive(Default)]
pub struct Tally {
    counts: Mutex<BTreeMap<String, u64>>,
}

impl Tally {
    pub const fn new() -> Tally {
        Tally {
            counts: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn add(&self, what: impl Into<String>) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry(what.into()).or_default() += 1;
    }

    pub fn get(&self, what: &str) -> u64 {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.get(what).copied().unwrap_or(0)
    }

    /// One line per outcome, for `--nocapture` runs and docs/fuzzing.md.
    pub fn print(&self, target: &str) {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let total: u64 = counts
            .iter()
            .filter(|(k, _)| k.starts_with("case"))
            .map(|(_, v)| v)
            .sum();
        eprintln!("fuzz target {target}: {total} cases");
        for (what, n) in counts.iter() {
            eprintln!("  {n:>8}  {what}");
        }
    }
}

//! Propose: one candidate edit per model call — the greedy one first, then samples
//! ([`crate::config::Config::candidate_sampling`]) — as a value ([`super::candidate`]), never
//! written into the worktree. With `fix.feedback`, every other sampled proposal is shown the
//! most recent candidate that failed its checks, with its test failures.

use std::path::Path;

use crate::agents::repairer::{self, Proposal, RepairRequest};
use crate::agents::{AgentError, Crew};
use crate::repo::map::RepoMap;

/// Whether proposal `k` is shown an earlier candidate's failures.
pub fn wants_feedback(k: u32, enabled: bool) -> bool {
    enabled && k >= 2 && k % 2 == 0
}

/// Ask for proposal `k`.
pub fn propose(
    crew: &mut Crew<'_>,
    worktree: &Path,
    map: &RepoMap,
    req: &RepairRequest<'_>,
    k: u32,
) -> Result<Proposal, AgentError> {
    let format = crew.config.fix.edit_format;
    crew.candidate = k;
    let p = repairer::propose(crew, worktree, map, format, req);
    crew.candidate = 0;
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_and_first_sample_are_independent_then_every_other_sees_feedback() {
        let shown: Vec<u32> = (0..7).filter(|&k| wants_feedback(k, true)).collect();
        assert_eq!(shown, vec![2, 4, 6]);
        assert!((0..7).all(|k| !wants_feedback(k, false)));
    }
}

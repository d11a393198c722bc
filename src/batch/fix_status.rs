//! How a repository fix's status ([`FixStatus`]) travels through a batch: the status recorded
//! for an instance's patch (`fix_status` in `result.json`, `codeswarm_status` in its prediction
//! line), instances counted per status (the batch summary, `report`), and resolved per status
//! (`evaluate`). Solvers other than the repository fixer give no status: `None` throughout,
//! and nothing per status is shown.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

pub use crate::fix::FixStatus;

/// The status recorded for a patch the solver rated `status`: `None` when the solver gave
/// none; `no-patch` when there is no patch, whatever the solver said (an empty prediction
/// promises nothing); `unverified` for a patch its solver called `no-patch`.
pub fn of_patch(status: Option<FixStatus>, has_patch: bool) -> Option<FixStatus> {
    status.map(|s| match (s, has_patch) {
        (_, false) => FixStatus::NoPatch,
        (FixStatus::NoPatch, true) => FixStatus::Unverified,
        (s, true) => s,
    })
}

/// Instances per status (statuses no instance has are absent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StatusCounts(pub BTreeMap<FixStatus, usize>);

impl StatusCounts {
    /// Count one instance; `None` (no status) is not counted.
    pub fn add(&mut self, status: Option<FixStatus>) {
        if let Some(s) = status {
            *self.0.entry(s).or_default() += 1;
        }
    }

    /// No instance had a status.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, status: FixStatus) -> usize {
        self.0.get(&status).copied().unwrap_or(0)
    }

    /// `1 verified, 0 plausible, 2 unverified, 1 no-patch`: every status, best first.
    pub fn line(&self) -> String {
        FixStatus::ALL
            .iter()
            .map(|s| format!("{} {s}", self.get(*s)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Instances with one status, and how many of them resolved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolved {
    pub instances: usize,
    pub resolved: usize,
}

/// Resolved per status over `(status, resolved)` pairs, one per evaluated instance: every
/// status (zeros included) when any instance has one, else empty. Instances without a status
/// are left out (see [`resolved_table`]).
pub fn resolved_by_status(
    instances: impl IntoIterator<Item = (Option<FixStatus>, bool)>,
) -> BTreeMap<FixStatus, Resolved> {
    let mut by: BTreeMap<FixStatus, Resolved> = BTreeMap::new();
    for (status, resolved) in instances {
        if let Some(s) = status {
            let r = by.entry(s).or_default();
            r.instances += 1;
            r.resolved += usize::from(resolved);
        }
    }
    if !by.is_empty() {
        for s in FixStatus::ALL {
            by.entry(s).or_default();
        }
    }
    by
}

/// The table `evaluate` prints: status, instances, resolved, best status first, and a
/// `(no status)` row for the instances whose prediction carried none (`without`), when there
/// are any. Empty when no instance has a status.
pub fn resolved_table(by: &BTreeMap<FixStatus, Resolved>, without: Resolved) -> String {
    if by.is_empty() {
        return String::new();
    }
    let mut rows: Vec<(&str, Resolved)> = FixStatus::ALL
        .iter()
        .map(|s| (s.as_str(), by.get(s).copied().unwrap_or_default()))
        .collect();
    if without.instances > 0 {
        rows.push(("(no status)", without));
    }
    let width = rows
        .iter()
        .map(|(s, _)| s.len())
        .max()
        .unwrap_or(0)
        .max("status".len());
    let mut out = format!("{:<width$}  instances  resolved\n", "status");
    for (s, r) in rows {
        let _ = writeln!(out, "{s:<width$}  {:>9}  {:>8}", r.instances, r.resolved);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_prediction_is_no_patch_and_a_patch_is_never_no_patch() {
        assert_eq!(of_patch(None, true), None);
        assert_eq!(of_patch(None, false), None);
        assert_eq!(
            of_patch(Some(FixStatus::Verified), true),
            Some(FixStatus::Verified)
        );
        assert_eq!(
            of_patch(Some(FixStatus::Verified), false),
            Some(FixStatus::NoPatch)
        );
        assert_eq!(
            of_patch(Some(FixStatus::NoPatch), true),
            Some(FixStatus::Unverified)
        );
    }

    #[test]
    fn counts_name_every_status_best_first() {
        let mut c = StatusCounts::default();
        assert!(c.is_empty());
        c.add(None);
        assert!(c.is_empty());
        for s in [
            FixStatus::Unverified,
            FixStatus::Verified,
            FixStatus::Unverified,
        ] {
            c.add(Some(s));
        }
        assert_eq!(
            c.line(),
            "1 verified, 0 plausible, 2 unverified, 0 no-patch"
        );
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            serde_json::json!({"unverified": 2, "verified": 1})
        );
    }

    #[test]
    fn resolved_per_status_counts_and_renders() {
        let by = resolved_by_status([
            (Some(FixStatus::Verified), true),
            (Some(FixStatus::Verified), false),
            (Some(FixStatus::NoPatch), false),
            (None, true),
        ]);
        assert_eq!(
            by[&FixStatus::Verified],
            Resolved {
                instances: 2,
                resolved: 1
            }
        );
        assert_eq!(by[&FixStatus::Plausible], Resolved::default());
        let json = serde_json::to_value(&by).unwrap();
        assert_eq!(json["verified"]["resolved"], 1);
        assert_eq!(json["no-patch"]["instances"], 1);
        let back: BTreeMap<FixStatus, Resolved> = serde_json::from_value(json).unwrap();
        assert_eq!(back, by);
        let table = resolved_table(
            &by,
            Resolved {
                instances: 1,
                resolved: 1,
            },
        );
        assert_eq!(
            table,
            "status       instances  resolved\n\
             verified             2         1\n\
             plausible            0         0\n\
             unverified           0         0\n\
             no-patch             1         0\n\
             (no status)          1         1\n"
        );
        assert!(resolved_by_status([(None, true)]).is_empty());
        assert_eq!(resolved_table(&BTreeMap::new(), Resolved::default()), "");
    }
}

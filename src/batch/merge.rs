//! `codeswarm merge-preds OUT IN…`: merge the predictions files of several shards into one.
//!
//! Lines are deduplicated by instance id: the same id with the same patch in several inputs
//! (or twice in one) is kept once; the same id with two different patches is an error naming
//! the id and both files, because silently picking one would misreport a run. A torn last line
//! in an input (a shard killed mid-write) is left out with a warning; inputs are never
//! modified. The output is sorted by instance id and written atomically, so it may also be one
//! of the inputs. A line's `codeswarm_status` (the fixer's status of the patch) is kept; the
//! same patch under two statuses keeps the lower one (the claim both runs support).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::predictions::{read_predictions, Prediction, PredictionsError};

/// Why a merge failed.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("give at least one input predictions file to merge")]
    NoInputs,
    #[error("input predictions file {} does not exist", path.display())]
    MissingInput { path: PathBuf },
    #[error(transparent)]
    Read(#[from] PredictionsError),
    #[error("instance {instance_id} has two different patches: {} line {first_line} and {} line {second_line}; keep one of them (re-run that instance, or remove the stale line) and merge again", first_file.display(), second_file.display())]
    Conflict {
        instance_id: String,
        first_file: PathBuf,
        first_line: usize,
        second_file: PathBuf,
        second_line: usize,
    },
    #[error("cannot write merged predictions {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What a merge did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MergeSummary {
    pub inputs: usize,
    /// Lines read from all inputs.
    pub lines_read: usize,
    /// Lines written (distinct instances).
    pub written: usize,
    /// Identical duplicates dropped.
    pub duplicates: usize,
    /// Instances with a non-empty patch.
    pub patched: usize,
    /// Inputs whose torn last line was left out.
    pub torn_inputs: Vec<PathBuf>,
}

/// Merge `inputs` into `out`.
pub fn merge_predictions(out: &Path, inputs: &[PathBuf]) -> Result<MergeSummary, MergeError> {
    if inputs.is_empty() {
        return Err(MergeError::NoInputs);
    }
    let mut merged: BTreeMap<String, (Prediction, PathBuf, usize)> = BTreeMap::new();
    let mut summary = MergeSummary {
        inputs: inputs.len(),
        ..MergeSummary::default()
    };
    for input in inputs {
        if !input.exists() {
            return Err(MergeError::MissingInput {
                path: input.clone(),
            });
        }
        let read = read_predictions(input)?;
        if let Some(torn) = &read.torn {
            if !torn.complete_json {
                tracing::warn!(file = %input.display(), bytes = torn.bytes, "left out a torn last line");
                summary.torn_inputs.push(input.clone());
            }
        }
        for (line, p) in read.lines {
            summary.lines_read += 1;
            match merged.get_mut(&p.instance_id) {
                Some((kept, file, kept_line)) => {
                    if kept.model_patch.trim_end_matches('\n')
                        != p.model_patch.trim_end_matches('\n')
                    {
                        return Err(MergeError::Conflict {
                            instance_id: p.instance_id.clone(),
                            first_file: file.clone(),
                            first_line: *kept_line,
                            second_file: input.clone(),
                            second_line: line,
                        });
                    }
                    if kept.model_name_or_path != p.model_name_or_path {
                        tracing::warn!(instance = %p.instance_id, "same patch under two model names; keeping `{}`", kept.model_name_or_path);
                    }
                    kept.codeswarm_status = match (kept.codeswarm_status, p.codeswarm_status) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    summary.duplicates += 1;
                }
                None => {
                    merged.insert(p.instance_id.clone(), (p, input.clone(), line));
                }
            }
        }
    }
    let mut text = String::new();
    for (p, _, _) in merged.values() {
        if !p.model_patch.trim().is_empty() {
            summary.patched += 1;
        }
        text.push_str(&p.to_line());
    }
    summary.written = merged.len();
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| MergeError::Write {
            path: out.to_path_buf(),
            source,
        })?;
    }
    crate::fsutil::write_atomic(out, text.as_bytes()).map_err(|source| MergeError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: &str, patch: &str) -> String {
        Prediction {
            instance_id: id.into(),
            model_name_or_path: "m".into(),
            model_patch: patch.into(),
            codeswarm_status: None,
        }
        .to_line()
    }

    #[test]
    fn merges_dedups_and_sorts() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.jsonl");
        let b = d.path().join("b.jsonl");
        std::fs::write(&a, format!("{}{}", line("z", "p1\n"), line("x", ""))).unwrap();
        // b repeats x identically and ends with a torn line.
        std::fs::write(
            &b,
            format!(
                "{}{}{}",
                line("y", "p2\n"),
                line("x", ""),
                &line("w", "p3\n")[..15]
            ),
        )
        .unwrap();
        let out = d.path().join("out/all.jsonl");
        let s = merge_predictions(&out, &[a.clone(), b.clone()]).unwrap();
        assert_eq!(
            (s.lines_read, s.written, s.duplicates, s.patched),
            (4, 3, 1, 2)
        );
        assert_eq!(s.torn_inputs, vec![b.clone()]);
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(
            text,
            format!(
                "{}{}{}",
                line("x", ""),
                line("y", "p2\n"),
                line("z", "p1\n")
            )
        );
        // Inputs are untouched, and the output may be an input.
        assert!(std::fs::read_to_string(&b)
            .unwrap()
            .ends_with(&line("w", "p3\n")[..15]));
        merge_predictions(&a, &[a.clone(), b.clone()]).unwrap();
        assert_eq!(std::fs::read_to_string(&a).unwrap(), text);
    }

    #[test]
    fn statuses_are_kept_and_a_repeated_patch_keeps_the_lower_one() {
        use crate::fix::FixStatus;
        let rated = |id: &str, patch: &str, s: Option<FixStatus>| {
            Prediction {
                instance_id: id.into(),
                model_name_or_path: "m".into(),
                model_patch: patch.into(),
                codeswarm_status: s,
            }
            .to_line()
        };
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.jsonl");
        let b = d.path().join("b.jsonl");
        std::fs::write(
            &a,
            format!(
                "{}{}{}",
                rated("x", "p\n", Some(FixStatus::Verified)),
                rated("y", "", Some(FixStatus::NoPatch)),
                rated("z", "q\n", None)
            ),
        )
        .unwrap();
        std::fs::write(
            &b,
            format!(
                "{}{}",
                rated("x", "p\n", Some(FixStatus::Plausible)),
                rated("z", "q\n", Some(FixStatus::Unverified))
            ),
        )
        .unwrap();
        let out = d.path().join("all.jsonl");
        merge_predictions(&out, &[a, b]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            format!(
                "{}{}{}",
                rated("x", "p\n", Some(FixStatus::Plausible)),
                rated("y", "", Some(FixStatus::NoPatch)),
                rated("z", "q\n", Some(FixStatus::Unverified))
            )
        );
    }

    #[test]
    fn different_patches_for_one_id_name_the_id_and_files() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("shard0.jsonl");
        let b = d.path().join("shard1.jsonl");
        std::fs::write(&a, line("django__django-1", "one\n")).unwrap();
        std::fs::write(
            &b,
            format!("{}{}", line("other", ""), line("django__django-1", "two\n")),
        )
        .unwrap();
        let out = d.path().join("all.jsonl");
        let err = merge_predictions(&out, &[a, b]).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, MergeError::Conflict { second_line: 2, .. }),
            "{msg}"
        );
        assert!(
            msg.contains("django__django-1")
                && msg.contains("shard0.jsonl")
                && msg.contains("shard1.jsonl"),
            "{msg}"
        );
        assert!(!out.exists(), "nothing written on conflict");
        assert!(matches!(
            merge_predictions(&out, &[]),
            Err(MergeError::NoInputs)
        ));
        let missing = d.path().join("nope.jsonl");
        assert!(matches!(
            merge_predictions(&out, &[missing]),
            Err(MergeError::MissingInput { .. })
        ));
    }
}

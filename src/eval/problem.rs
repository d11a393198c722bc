//! One evaluation problem, whatever set it comes from: the text the pipeline is given, the
//! hidden test that judges the answer (never shown to the pipeline), and how a model's code
//! becomes the module the test imports from.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// `HumanEval/3`, `prose/parse_duration`.
    pub task_id: String,
    /// What the pipeline and the single prompt are asked.
    pub task: String,
    /// The function or class the hidden test receives as `candidate`.
    pub entry_point: String,
    /// The hidden test: defines `check(candidate)`. Never shown to the pipeline.
    pub test: String,
    /// Code an answer that is only a function body completes (HumanEval's prompt: imports,
    /// signature, docstring); empty where answers are whole modules.
    pub stub: String,
}

impl Problem {
    /// The program that checks `code`: the stub's imports, the code, the hidden test and the
    /// call to `check`.
    pub fn check_program(&self, code: &str) -> String {
        let imports: String = self
            .stub
            .lines()
            .filter(|l| l.starts_with("import ") || l.starts_with("from "))
            .map(|l| format!("{l}\n"))
            .collect();
        format!(
            "{imports}\n{}\n\n{}\n\ncheck({})\n",
            self.complete_solution(code),
            self.test,
            self.entry_point
        )
    }

    /// A complete module from a model's code: when the code does not define the entry point
    /// and the problem has a stub (the model wrote only a body), the stub is completed.
    pub fn complete_solution(&self, code: &str) -> String {
        let defines = crate::syntax::defined_names(code)
            .iter()
            .any(|n| n == &self.entry_point);
        if defines || self.stub.is_empty() {
            return code.to_string();
        }
        let body_like = code
            .lines()
            .filter(|l| !l.trim().is_empty())
            .all(|l| l.starts_with("    ") || l.starts_with('\t'));
        if body_like {
            return format!("{}{}", self.stub, code);
        }
        format!("{}    pass\n\n{}", self.stub, code)
    }
}

/// Pick problems: explicit ids (full, or with the set's prefix left off), else the first
/// `limit`, else all.
pub fn select(
    all: Vec<Problem>,
    prefix: &str,
    ids: &[String],
    limit: Option<usize>,
) -> Result<Vec<Problem>, String> {
    if !ids.is_empty() {
        return ids
            .iter()
            .map(|id| {
                let want = if id.starts_with(prefix) {
                    id.clone()
                } else {
                    format!("{prefix}{id}")
                };
                all.iter()
                    .find(|p| p.task_id == want)
                    .cloned()
                    .ok_or_else(|| {
                        format!(
                            "unknown problem id `{id}` (ids look like {})",
                            all.first()
                                .map(|p| p.task_id.as_str())
                                .unwrap_or("(the set is empty)")
                        )
                    })
            })
            .collect();
    }
    Ok(match limit {
        Some(n) => all.into_iter().take(n).collect(),
        None => all,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> Problem {
        Problem {
            task_id: "HumanEval/0".into(),
            task: "Complete f.".into(),
            stub: "from typing import List\n\n\ndef f(xs: List[int]) -> int:\n    \"\"\" Sum.\n    >>> f([1, 2])\n    3\n    \"\"\"\n".into(),
            entry_point: "f".into(),
            test: "def check(candidate):\n    assert candidate([1, 2]) == 3\n".into(),
        }
    }

    #[test]
    fn check_program_keeps_stub_imports_and_calls_check() {
        let prog = p().check_program("def f(xs):\n    return sum(xs)\n");
        assert!(prog.starts_with("from typing import List\n"));
        assert!(prog.trim_end().ends_with("check(f)"));
        assert!(crate::syntax::check_python(&prog).is_empty());
    }

    #[test]
    fn bodies_are_completed_with_the_stub_and_modules_stay_as_written() {
        let full = p().complete_solution("    return sum(xs)\n");
        assert!(
            full.contains("def f(xs: List[int]) -> int:") && full.ends_with("return sum(xs)\n")
        );
        let own = "def f(xs):\n    return 1\n";
        assert_eq!(p().complete_solution(own), own);
        let prose = Problem {
            stub: String::new(),
            ..p()
        };
        assert_eq!(prose.complete_solution("    return 1\n"), "    return 1\n");
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
            select(all.clone(), "HumanEval/", &["1".into()], None).unwrap()[0].task_id,
            "HumanEval/1"
        );
        assert_eq!(
            select(all.clone(), "HumanEval/", &[], Some(1))
                .unwrap()
                .len(),
            1
        );
        let e = select(all, "HumanEval/", &["HumanEval/99".into()], None).unwrap_err();
        assert!(
            e.contains("HumanEval/99") && e.contains("HumanEval/0"),
            "{e}"
        );
    }
}

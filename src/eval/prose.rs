//! The prose evaluation set (`evals/prose/`): tasks written as users write them — "raise
//! ValueError if …", "an empty list returns []", classes with state — each with a hidden test
//! written by hand, a reference solution and a plausible wrong one. The pipeline sees only a
//! task's `text`; the hidden file is read by the checker alone.
//!
//! The set ships inside the binary; `--dir` reads another set in the same format.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::problem::Problem;

const TASKS: &str = include_str!("../../evals/prose/tasks.toml");
const HIDDEN: &str = include_str!("../../evals/prose/hidden.toml");

/// The id prefix of the set's problems.
pub const PREFIX: &str = "prose/";

/// A task as the pipeline sees it.
#[derive(Debug, Clone, Deserialize)]
pub struct Task {
    pub id: String,
    /// `function` or `class`.
    pub kind: String,
    pub entry_point: String,
    pub text: String,
}

/// What judges a task: never shown to the pipeline.
#[derive(Debug, Clone, Deserialize)]
pub struct Hidden {
    pub id: String,
    /// Defines `check(candidate)`.
    pub test: String,
    /// A correct solution: the test must pass on it.
    pub reference: String,
    /// A plausible wrong solution (the typical mistake): the test must fail on it.
    pub wrong: String,
}

#[derive(Debug, Deserialize)]
struct TaskFile {
    task: Vec<Task>,
}

#[derive(Debug, Deserialize)]
struct HiddenFile {
    hidden: Vec<Hidden>,
}

#[derive(Debug, thiserror::Error)]
pub enum SetError {
    #[error("prose set {path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("prose set {what}: {detail}")]
    Invalid { what: String, detail: String },
}

/// The set: tasks paired with their hidden parts, in the tasks' order.
#[derive(Debug, Clone)]
pub struct ProseSet {
    pub items: Vec<(Task, Hidden)>,
}

impl ProseSet {
    /// The set built into the binary.
    pub fn builtin() -> Result<Self, SetError> {
        Self::parse(TASKS, HIDDEN, "(built in)")
    }

    /// A set in `dir` (`tasks.toml`, `hidden.toml`).
    pub fn from_dir(dir: &Path) -> Result<Self, SetError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| SetError::Read { path, source })
        };
        Self::parse(
            &read("tasks.toml")?,
            &read("hidden.toml")?,
            &dir.display().to_string(),
        )
    }

    fn parse(tasks: &str, hidden: &str, origin: &str) -> Result<Self, SetError> {
        let bad = |file: &str, detail: String| SetError::Invalid {
            what: format!("{origin}/{file}"),
            detail,
        };
        let tasks: TaskFile =
            toml::from_str(tasks).map_err(|e| bad("tasks.toml", e.to_string()))?;
        let hidden: HiddenFile =
            toml::from_str(hidden).map_err(|e| bad("hidden.toml", e.to_string()))?;
        let mut items = vec![];
        for t in tasks.task {
            if !matches!(t.kind.as_str(), "function" | "class") {
                return Err(bad(
                    "tasks.toml",
                    format!("task `{}`: kind `{}` (use function or class)", t.id, t.kind),
                ));
            }
            if !t.text.contains(&t.entry_point) {
                return Err(bad(
                    "tasks.toml",
                    format!(
                        "task `{}`: its text never names its entry point `{}`",
                        t.id, t.entry_point
                    ),
                ));
            }
            if items.iter().any(|(o, _): &(Task, Hidden)| o.id == t.id) {
                return Err(bad("tasks.toml", format!("task `{}` appears twice", t.id)));
            }
            let h = hidden
                .hidden
                .iter()
                .find(|h| h.id == t.id)
                .cloned()
                .ok_or_else(|| {
                    bad(
                        "hidden.toml",
                        format!(
                            "no hidden test for task `{}` (add a [[hidden]] with its id)",
                            t.id
                        ),
                    )
                })?;
            items.push((t, h));
        }
        if let Some(h) = hidden
            .hidden
            .iter()
            .find(|h| !items.iter().any(|(t, _)| t.id == h.id))
        {
            return Err(bad(
                "hidden.toml",
                format!("hidden test `{}` has no task in tasks.toml", h.id),
            ));
        }
        Ok(Self { items })
    }

    /// As evaluation problems: the pipeline is given the task's text as it stands.
    pub fn problems(&self) -> Vec<Problem> {
        self.items
            .iter()
            .map(|(t, h)| Problem {
                task_id: format!("{PREFIX}{}", t.id),
                task: t.text.trim().to_string(),
                entry_point: t.entry_point.clone(),
                test: h.test.clone(),
                stub: String::new(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "[[task]]\nid = \"a\"\nkind = \"function\"\nentry_point = \"f\"\ntext = \"Write f(x). Raise ValueError if x < 0.\"\n";
    const H: &str = "[[hidden]]\nid = \"a\"\ntest = \"def check(candidate):\\n    assert candidate(1) == 1\\n\"\nreference = \"def f(x):\\n    return x\\n\"\nwrong = \"def f(x):\\n    return 0\\n\"\n";

    #[test]
    fn the_pipeline_sees_the_text_only() {
        let set = ProseSet::parse(T, H, "t").unwrap();
        let p = &set.problems()[0];
        assert_eq!(p.task_id, "prose/a");
        assert_eq!(p.task, "Write f(x). Raise ValueError if x < 0.");
        assert!(!p.task.contains("check") && p.stub.is_empty());
        assert!(p.test.contains("def check"));
    }

    #[test]
    fn a_task_without_hidden_test_or_a_stray_test_is_refused_by_name() {
        let e = ProseSet::parse(T, "hidden = []\n", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no hidden test for task `a`"), "{e}");
        let extra = format!("{H}{}", H.replace("\"a\"", "\"b\""));
        let e = ProseSet::parse(T, &extra, "t").unwrap_err().to_string();
        assert!(e.contains("`b` has no task"), "{e}");
        let e = ProseSet::parse(&T.replace("= \"f\"", "= \"g\""), H, "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("never names its entry point `g`"), "{e}");
    }

    #[test]
    fn the_builtin_set_parses_and_is_large_enough() {
        let set = ProseSet::builtin().unwrap();
        assert!(set.items.len() >= 30, "{} tasks", set.items.len());
        let classes = set.items.iter().filter(|(t, _)| t.kind == "class").count();
        assert!(classes >= 8, "{classes} class tasks");
    }
}

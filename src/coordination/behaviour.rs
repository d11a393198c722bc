//! Behaviour first: every candidate runs on the same inputs in the sandbox (the task's stated
//! examples, whose expected values are ground truth, and the calls an agent wrote without
//! expected values); candidates that behave the same on every input form a cluster, and the
//! largest cluster consistent with the stated examples wins (as AlphaCode, CodeT and MBR-exec
//! select). Where the leading clusters differ on an input, [`Disagreement`] names it so the
//! model can be asked a small question instead of predicting values unaided.

use serde::{Deserialize, Serialize};

use crate::testing::TestRunner;

/// The probe harness run in the sandbox next to `solution.py`.
const PROBE_PY: &str = include_str!("probe.py");
pub const PROBE_FILE: &str = "codeswarm_probe.py";
pub const PROBE_INPUTS: &str = "probe_inputs.json";

/// One input: Python statements whose last line is the expression observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    pub code: String,
    /// A stated example's expected value (a Python literal, or `!ExceptionName`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// Where it came from: `example` (the task) or `written` (an agent).
    pub source: String,
}

impl Input {
    pub fn is_example(&self) -> bool {
        self.expected.is_some()
    }
}

/// What one candidate did on one input.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", content = "text", rename_all = "lowercase")]
pub enum Observation {
    /// The canonical repr of the value.
    Value(String),
    /// The exception's type name.
    Raised(String),
    /// The run stopped (time or memory) before this input finished.
    Hung,
    /// The solution could not even be imported.
    Broken(String),
}

impl std::fmt::Display for Observation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Observation::Value(v) => write!(f, "{v}"),
            Observation::Raised(e) => write!(f, "raises {e}"),
            Observation::Hung => write!(f, "does not finish"),
            Observation::Broken(e) => write!(f, "cannot import the solution ({e})"),
        }
    }
}

/// Exceptions that are bugs in the code, never behaviour a task asks for.
pub fn is_internal_error(name: &str) -> bool {
    matches!(
        name,
        "NameError"
            | "UnboundLocalError"
            | "AttributeError"
            | "TypeError"
            | "ImportError"
            | "ModuleNotFoundError"
            | "RecursionError"
            | "SyntaxError"
            | "IndentationError"
    )
}

/// Fewest characters (without whitespace) of a call's arguments for [`stated_in`] to count
/// them as quoted from the task; shorter ones (`f(1)`, `f([])`) appear in any text.
const STATED_ARGS_MIN_CHARS: usize = 5;

/// Whether the call on the last line of `code` passes arguments written in `task` as they are
/// (whitespace and quote style aside): the task itself states that input, so a crash on it is
/// the code's fault, not the input's.
pub fn stated_in(task: &str, code: &str) -> bool {
    let call = code.trim().lines().last().unwrap_or("").trim();
    let Some(open) = call.find('(') else {
        return false;
    };
    let Some(close) = super::scan::close_of(call.as_bytes(), open, false) else {
        return false;
    };
    let squeeze = |t: &str| -> String {
        t.chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| if c == '"' { '\'' } else { c })
            .collect()
    };
    let args = squeeze(&call[open + 1..close - 1]);
    args.chars().count() >= STATED_ARGS_MIN_CHARS && squeeze(task).contains(&args)
}

/// One candidate's behaviour on all inputs.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub observations: Vec<Observation>,
    /// Per input: `Some(true)` when a stated example's expected value matched.
    pub matches: Vec<Option<bool>>,
    /// Messages of raised exceptions, per input (empty when none).
    #[serde(skip)]
    pub messages: Vec<String>,
}

impl Profile {
    /// Stated examples matched, and stated examples in all.
    pub fn examples(&self) -> (usize, usize) {
        let total = self.matches.iter().filter(|m| m.is_some()).count();
        let ok = self.matches.iter().filter(|m| **m == Some(true)).count();
        (ok, total)
    }

    pub fn consistent(&self) -> bool {
        let (ok, total) = self.examples();
        ok == total && !self.broken()
    }

    pub fn broken(&self) -> bool {
        self.observations
            .iter()
            .any(|o| matches!(o, Observation::Broken(_)))
    }

    /// Inputs (indices) where the code crashed with an internal error or did not finish.
    pub fn crashes(&self) -> Vec<usize> {
        self.observations
            .iter()
            .enumerate()
            .filter(|(_, o)| match o {
                Observation::Raised(e) => is_internal_error(e),
                Observation::Hung | Observation::Broken(_) => true,
                Observation::Value(_) => false,
            })
            .map(|(i, _)| i)
            .collect()
    }
}

/// Run `code` on every input in the sandbox. A run that stops early (a hang) marks the input
/// it stopped at and runs the rest again without it, so one endless loop costs one input.
pub fn probe(runner: &dyn TestRunner, code: &str, inputs: &[Input]) -> Result<Profile, String> {
    probe_with(runner, code, inputs, &[])
}

/// [`probe`] with the task's standard-library import lines (`from datetime import date`) run
/// before the inputs, so an input that uses what the task writes is not dropped for it (the
/// probe also imports any standard-library module an input names, `datetime.date(...)`).
pub fn probe_with(
    runner: &dyn TestRunner,
    code: &str,
    inputs: &[Input],
    imports: &[String],
) -> Result<Profile, String> {
    let mut observations: Vec<Option<Observation>> = vec![None; inputs.len()];
    let mut matches = vec![None; inputs.len()];
    let mut messages = vec![String::new(); inputs.len()];
    // Each pass runs the inputs not yet observed; a pass that makes no progress ends it.
    for _ in 0..=inputs.len() {
        let pending: Vec<usize> = (0..inputs.len())
            .filter(|&i| observations[i].is_none())
            .collect();
        if pending.is_empty() {
            break;
        }
        let list: Vec<serde_json::Value> = pending
            .iter()
            .map(|&i| {
                serde_json::json!({
                    "id": i,
                    "code": inputs[i].code,
                    "expected": inputs[i].expected,
                })
            })
            .collect();
        let nonce = nonce();
        let payload = serde_json::json!({ "nonce": nonce, "inputs": list, "imports": imports });
        let files = vec![
            ("solution.py".to_string(), code.to_string()),
            (PROBE_FILE.to_string(), PROBE_PY.to_string()),
            (
                PROBE_INPUTS.to_string(),
                serde_json::to_string(&payload).map_err(|e| e.to_string())?,
            ),
        ];
        let run = runner.run_script(&files, PROBE_FILE)?;
        let mut seen = 0;
        for line in run.stdout.lines() {
            // Only the harness's lines: they start with this run's nonce.
            let Some(line) = line.strip_prefix(nonce.as_str()) else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if let Some(e) = v.get("import_error").and_then(|e| e.as_str()) {
                let short = e.split(':').next().unwrap_or(e).to_string();
                for &i in &pending {
                    observations[i] = Some(Observation::Broken(short.clone()));
                    messages[i] = e.to_string();
                    if inputs[i].is_example() {
                        matches[i] = Some(false);
                    }
                }
                seen = pending.len();
                break;
            }
            let Some(i) = v.get("id").and_then(|i| i.as_u64()).map(|i| i as usize) else {
                continue;
            };
            if i >= inputs.len() || observations[i].is_some() {
                continue;
            }
            seen += 1;
            observations[i] = Some(if let Some(err) = v.get("error").and_then(|e| e.as_str()) {
                messages[i] = v
                    .get("message")
                    .and_then(|m| m.as_str())
                    .unwrap_or_default()
                    .to_string();
                Observation::Raised(err.to_string())
            } else {
                Observation::Value(
                    v.get("value")
                        .and_then(|x| x.as_str())
                        .unwrap_or("None")
                        .to_string(),
                )
            });
            if inputs[i].is_example() {
                matches[i] = Some(v.get("matches").and_then(|m| m.as_bool()).unwrap_or(false));
            }
        }
        // The first input without an answer is the one the run stopped at.
        if let Some(&stuck) = pending.iter().find(|&&i| observations[i].is_none()) {
            observations[stuck] = Some(Observation::Hung);
            messages[stuck] = format!("the run ended with {}", run.status);
            if inputs[stuck].is_example() {
                matches[stuck] = Some(false);
            }
        }
        if seen == 0 && !run.completed {
            // No progress at all: mark everything left as hung rather than loop.
            for &i in &pending {
                if observations[i].is_none() {
                    observations[i] = Some(Observation::Hung);
                }
            }
        }
    }
    Ok(Profile {
        observations: observations
            .into_iter()
            .map(|o| o.unwrap_or(Observation::Hung))
            .collect(),
        matches,
        messages,
    })
}

/// The task's import lines (`import datetime`, `from datetime import date`), inside code
/// fences or not; the probe runs only those of standard-library modules.
pub fn task_imports(task: &str) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for line in task.lines() {
        let t = line.trim().trim_start_matches(">>>").trim();
        let import = t.starts_with("import ")
            || (t.starts_with("from ") && t.contains(" import ") && !t.contains('('));
        if import
            && t.chars()
                .all(|c| c.is_alphanumeric() || " _.,*".contains(c))
            && !out.iter().any(|o| o == t)
        {
            out.push(t.to_string());
        }
    }
    out
}

/// A fresh 64-bit hex nonce (not secret from a determined guest, which shares the harness's
/// interpreter, but it keeps printed output from ever being read as a result).
fn nonce() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!("@{:016x}@", h.finish())
}

/// Candidates that behaved the same on every input.
#[derive(Debug, Clone, Serialize)]
pub struct Cluster {
    /// Indices into the candidate list.
    pub members: Vec<usize>,
    /// Votes: members plus duplicate samples of a member's program.
    pub votes: usize,
    pub consistent: bool,
    /// Stated examples matched.
    pub examples_matched: usize,
    /// Questions whose answer this cluster's behaviour matches (+1) or contradicts (-1).
    pub answers: i32,
    /// Written tests passed (evidence only; weighted below agreement).
    pub written_passed: usize,
}

/// Group candidates by identical behaviour and rank the groups: consistent with the stated
/// examples first, then examples matched, answered questions, votes, written tests passed,
/// and finally the earliest member (the greedy answer comes first).
pub fn cluster(profiles: &[(usize, &Profile, usize)]) -> Vec<Cluster> {
    let first = |idx: usize| {
        profiles
            .iter()
            .find(|(i, _, _)| *i == idx)
            .map(|(_, p, _)| *p)
    };
    super::agreement::group(
        profiles
            .iter()
            .map(|&(idx, p, votes)| (idx, &p.observations, votes)),
    )
    .into_iter()
    .map(|g| {
        let p = first(g.members[0]).expect("a member of the profiles");
        Cluster {
            members: g.members,
            votes: g.votes,
            consistent: p.consistent(),
            examples_matched: p.examples().0,
            answers: 0,
            written_passed: 0,
        }
    })
    .collect()
}

/// Sort clusters best first (see [`cluster`]).
pub fn rank(clusters: &mut [Cluster]) {
    clusters.sort_by(|a, b| {
        let key = |c: &Cluster| {
            (
                c.consistent,
                c.examples_matched,
                c.answers,
                c.votes,
                c.written_passed,
                std::cmp::Reverse(c.members.iter().min().copied().unwrap_or(usize::MAX)),
            )
        };
        key(b).cmp(&key(a))
    });
}

/// An input on which the two leading clusters behave differently.
#[derive(Debug, Clone, Serialize)]
pub struct Disagreement {
    pub input: usize,
    pub leader: Observation,
    pub other: Observation,
}

/// Inputs where `a` and `b` (profiles of the leading two clusters) differ, values first
/// (a value against a value is the easiest question), stated examples never (they are
/// settled), and never where either side crashed with an internal error (a bug, not a
/// reading of the task).
pub fn disagreements(inputs: &[Input], a: &Profile, b: &Profile) -> Vec<Disagreement> {
    let mut out: Vec<Disagreement> = (0..inputs.len())
        .filter(|&i| !inputs[i].is_example())
        .filter(|&i| a.observations[i] != b.observations[i])
        .filter(|&i| {
            [&a.observations[i], &b.observations[i]]
                .iter()
                .all(|o| match o {
                    Observation::Value(_) => true,
                    Observation::Raised(e) => !is_internal_error(e),
                    _ => false,
                })
        })
        .map(|i| Disagreement {
            input: i,
            leader: a.observations[i].clone(),
            other: b.observations[i].clone(),
        })
        .collect();
    out.sort_by_key(|d| {
        !(matches!(d.leader, Observation::Value(_)) && matches!(d.other, Observation::Value(_)))
    });
    out
}

/// A pytest file that pins the agreed behaviour: one test per input whose observed value is a
/// plain Python literal (floats compared with `pytest.approx`) or whose exception is one the
/// code raises on purpose. Correct by construction with respect to the evidence: these are
/// the outputs the candidates agreed on (and the stated examples' values).
pub fn pinned_tests(inputs: &[Input], p: &Profile, usable: &[bool]) -> Option<String> {
    let mut body = String::new();
    let mut n = 0;
    for (i, input) in inputs.iter().enumerate() {
        if !usable.get(i).copied().unwrap_or(false) || input.code.contains(';') {
            continue;
        }
        let name = if input.is_example() {
            "example"
        } else {
            "agreed"
        };
        match &p.observations[i] {
            Observation::Value(v) if super::judge::is_literal(v) => {
                n += 1;
                let has_float = v
                    .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e'))
                    .any(|t| t.contains('.') && t.chars().any(|c| c.is_ascii_digit()))
                    && !v.contains('\'')
                    && !v.contains('"');
                let expected = if has_float {
                    format!("pytest.approx({v})")
                } else {
                    v.clone()
                };
                body += &format!(
                    "\n\ndef test_{name}_{n}():\n    assert {} == {expected}\n",
                    input.code
                );
            }
            Observation::Raised(e) if !is_internal_error(e) => {
                n += 1;
                body += &format!(
                    "\n\ndef test_{name}_{n}():\n    with pytest.raises({e}):\n        {}\n",
                    input.code
                );
            }
            _ => {}
        }
    }
    (n > 0).then(|| {
        format!(
            "# The behaviour the candidates agreed on (and the task's stated examples), pinned by\n# codeswarm from their runs in the sandbox.\nimport pytest\nfrom solution import *\n{body}"
        )
    })
}

/// The stated examples as inputs.
pub fn example_inputs(examples: &[super::judge::Example]) -> Vec<Input> {
    examples
        .iter()
        .map(|e| Input {
            code: e.expr.clone(),
            expected: Some(e.expected.clone()),
            source: "example".into(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(obs: &[&str], matches: &[Option<bool>]) -> Profile {
        Profile {
            observations: obs
                .iter()
                .map(|o| match o.strip_prefix('!') {
                    Some(e) => Observation::Raised(e.to_string()),
                    None => Observation::Value(o.to_string()),
                })
                .collect(),
            matches: matches.to_vec(),
            messages: vec![String::new(); obs.len()],
        }
    }

    #[test]
    fn the_largest_cluster_consistent_with_the_examples_wins() {
        // Candidate 0 fails the stated example; 1 and 3 agree; 2 is alone.
        let p0 = profile(&["1", "2", "3"], &[Some(false), None, None]);
        let p1 = profile(&["0", "2", "3"], &[Some(true), None, None]);
        let p2 = profile(&["0", "5", "3"], &[Some(true), None, None]);
        let p3 = profile(&["0", "2", "3"], &[Some(true), None, None]);
        let mut c = cluster(&[(0, &p0, 1), (1, &p1, 1), (2, &p2, 1), (3, &p3, 1)]);
        rank(&mut c);
        assert_eq!(c[0].members, vec![1, 3]);
        assert_eq!(c[1].members, vec![2]);
        assert_eq!(c[2].members, vec![0]);
        assert!(!c[2].consistent);
    }

    #[test]
    fn votes_break_size_ties_and_the_greedy_answer_breaks_the_rest() {
        let a = profile(&["1"], &[None]);
        let b = profile(&["2"], &[None]);
        let mut c = cluster(&[(0, &a, 1), (1, &b, 1)]);
        rank(&mut c);
        assert_eq!(c[0].members, vec![0], "the earliest candidate wins a tie");
        let mut c = cluster(&[(0, &a, 1), (1, &b, 2)]);
        rank(&mut c);
        assert_eq!(c[0].members, vec![1], "a duplicated sample is a vote");
    }

    #[test]
    fn disagreements_skip_examples_and_bugs_and_put_values_first() {
        let inputs = vec![
            Input {
                code: "f(0)".into(),
                expected: Some("0".into()),
                source: "example".into(),
            },
            Input {
                code: "f(-1)".into(),
                expected: None,
                source: "written".into(),
            },
            Input {
                code: "f(2)".into(),
                expected: None,
                source: "written".into(),
            },
            Input {
                code: "f(3)".into(),
                expected: None,
                source: "written".into(),
            },
        ];
        let a = profile(
            &["0", "!ValueError", "1", "2"],
            &[Some(true), None, None, None],
        );
        let b = profile(
            &["1", "0", "!TypeError", "3"],
            &[Some(false), None, None, None],
        );
        let d = disagreements(&inputs, &a, &b);
        let idx: Vec<usize> = d.iter().map(|d| d.input).collect();
        assert_eq!(idx, vec![3, 1], "{d:?}");
    }

    #[test]
    fn pinned_tests_keep_literals_and_purposeful_exceptions() {
        let inputs: Vec<Input> = ["f(1)", "f(2)", "f(-1)", "f(None)", "g(0.5)", "f([])"]
            .iter()
            .map(|c| Input {
                code: c.to_string(),
                expected: None,
                source: "written".into(),
            })
            .collect();
        let mut p = profile(
            &[
                "1",
                "[1, 2]",
                "!ValueError",
                "!TypeError",
                "0.25",
                "<object>",
            ],
            &[None; 6],
        );
        p.observations[5] = Observation::Value("<solution.Thing object>".into());
        let t = pinned_tests(&inputs, &p, &[true, true, true, true, true, false]).unwrap();
        assert!(
            t.contains("def test_agreed_1():\n    assert f(1) == 1\n"),
            "{t}"
        );
        assert!(t.contains("assert f(2) == [1, 2]"));
        assert!(t.contains("with pytest.raises(ValueError):\n        f(-1)"));
        assert!(!t.contains("TypeError"), "a bug is not pinned");
        assert!(t.contains("assert g(0.5) == pytest.approx(0.25)"));
        assert!(!t.contains("f([])"), "unusable inputs are left out");
        assert!(crate::syntax::check_python(&t).is_empty());
    }

    #[test]
    fn stated_inputs_are_the_task_s_own_arguments() {
        let task = "Sort it.\n      arr = [2, 1, 1, 4]\n  If strange: arr = [1, -1 , 55]\n  f(\"ab c\") => 1";
        assert!(stated_in(task, "by_length([2, 1, 1, 4])"));
        assert!(stated_in(task, "by_length([1,-1,55])"), "whitespace aside");
        assert!(
            stated_in(task, "x = 1\nf('ab c')"),
            "quote style aside, last line"
        );
        assert!(!stated_in(task, "by_length([2, 1, 1, 5])"));
        assert!(
            !stated_in(task, "by_length([1])"),
            "too short to be a quotation"
        );
        assert!(!stated_in(task, "by_length"), "not a call");
    }

    #[test]
    fn task_imports_are_the_import_lines() {
        let task = "Use dates.\n```python\nfrom datetime import date, timedelta\nimport math\n```\n>>> import re\nfrom here import (x)\nimport os; os.system('x')";
        assert_eq!(
            task_imports(task),
            vec![
                "from datetime import date, timedelta",
                "import math",
                "import re"
            ]
        );
    }

    #[test]
    fn crashes_are_internal_errors_and_hangs() {
        let mut p = profile(&["1", "!ValueError", "!NameError"], &[None, None, None]);
        p.observations.push(Observation::Hung);
        assert_eq!(p.crashes(), vec![2, 3]);
    }
}

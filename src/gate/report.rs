//! What `codeswarm check` found: the verdict with its reasons, each step's result and its time,
//! as JSON (`--json`) or as the readable summary printed by default.

use crate::terminal_text::{terminal_safe, terminal_safe_max, MAX_MESSAGE_CHARS};
use serde::Serialize;

use crate::repo::patch::PatchFile;
use crate::testing::{CaseOutcome, TestCase};

/// The gate's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
}

/// Applying the patch.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplyStep {
    pub ok: bool,
    /// How it applied: `exact`, `offset` (hunks moved, as `git apply` does) or `fuzz` (outer
    /// context ignored, as `patch --fuzz` does).
    pub method: Option<crate::repo::patch::ApplyMethod>,
    /// The hunks that did not apply at their stated place.
    pub adjusted_hunks: Vec<crate::repo::patch::AdjustedHunk>,
    pub files: Vec<PatchFile>,
    pub hunks: usize,
    pub additions: usize,
    pub deletions: usize,
    pub error: Option<ApplyFailure>,
}

/// Why the patch did not apply.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyFailure {
    /// `empty`, `binary`, `malformed`, `unsafe_path`, `hunk_rejected`, `file_rejected`, `error`.
    pub kind: String,
    pub message: String,
    /// The file (and line of the rejected hunk) when known.
    pub file: Option<String>,
    pub line: Option<u32>,
}

impl ApplyFailure {
    /// Where the patch stopped applying: `does not apply at FILE:LINE` or `does not apply to
    /// FILE`; `None` when no file is known.
    pub fn location(&self) -> Option<String> {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => Some(format!("does not apply at {file}:{line}")),
            (Some(file), None) => Some(format!("does not apply to {file}")),
            _ => None,
        }
    }
}

/// One syntax error in a changed Python file (1-based line and column).
#[derive(Debug, Clone, Serialize)]
pub struct SyntaxProblem {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub line_text: String,
}

impl SyntaxProblem {
    /// `file:line:col: message`.
    pub fn location(&self) -> String {
        format!(
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// The tree-sitter check of the changed `.py` files.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyntaxStep {
    pub ran: bool,
    pub files: Vec<String>,
    pub problems: Vec<SyntaxProblem>,
}

/// Where the test targets came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// `--tests` / `--tests-from`.
    Named,
    /// The test files the patch adds or changes.
    #[default]
    PatchTestFiles,
}

/// The sandboxed test run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TestsStep {
    pub selection: Selection,
    pub targets: Vec<String>,
    pub ran: bool,
    /// Why no tests ran (patch did not apply, syntax errors, no test files touched).
    pub not_run: Option<String>,
    /// The sandbox's status (`exited 1`, `timeout`, …).
    pub status: Option<String>,
    pub exit_code: Option<i32>,
    pub cases: Vec<TestCase>,
    /// Named targets the run did not report.
    pub missing: Vec<String>,
    /// Why the tests cannot run in the sandbox (the gate fails unless `--allow-not-runnable`).
    pub not_runnable: Option<String>,
    pub output_tail: String,
}

impl TestsStep {
    pub fn count(&self, outcome: CaseOutcome) -> usize {
        self.cases.iter().filter(|c| c.outcome == outcome).count()
    }
}

/// Seconds per step.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Timings {
    pub checkout: f64,
    pub apply: f64,
    pub syntax: f64,
    /// Opening the sandbox and running the tests.
    pub tests: f64,
    pub total: f64,
}

/// Everything `codeswarm check` reports.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub verdict: Verdict,
    /// Why the gate failed (empty on a pass).
    pub reasons: Vec<String>,
    /// Things worth knowing that did not fail the gate.
    pub notes: Vec<String>,
    pub repo: String,
    pub base: String,
    pub base_commit: String,
    pub patch: String,
    pub allow_not_runnable: bool,
    pub apply: ApplyStep,
    pub syntax: SyntaxStep,
    pub tests: TestsStep,
    pub timings: Timings,
}

impl CheckReport {
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }

    /// The process exit code: 0 pass, 1 fail.
    pub fn exit_code(&self) -> i32 {
        if self.passed() {
            0
        } else {
            1
        }
    }

    /// The details the summary's step lines print in full (the apply failure, each syntax
    /// error, each failed or errored test), as the ends of the reasons that carry them.
    fn step_details(&self) -> Vec<String> {
        let mut shown = Vec::new();
        if let Some(f) = &self.apply.error {
            shown.push(format!(": {}", f.message));
        }
        for p in &self.syntax.problems {
            shown.push(format!("syntax error: {}", p.location()));
        }
        if self.tests.not_run.is_none() && self.tests.not_runnable.is_none() {
            for c in &self.tests.cases {
                let Some(reason) = failed_test_reason(c) else {
                    continue;
                };
                shown.push(reason);
            }
            for m in &self.tests.missing {
                shown.push(format!("test {m} was not found or did not run"));
            }
        }
        shown
    }

    /// The readable summary. Every field that comes from the patch, the repository or the
    /// tests goes through [`terminal_safe`] (file names, test ids, messages).
    pub fn summary(&self) -> String {
        let mut s = format!(
            "codeswarm check: {}\n",
            if self.passed() { "PASS" } else { "FAIL" }
        );
        s += &format!(
            "  repo:   {} @ {} ({})\n",
            terminal_safe(&self.repo),
            &self.base_commit[..self.base_commit.len().min(12)],
            terminal_safe(&self.base)
        );
        let a = &self.apply;
        s += &match &a.error {
            None => format!(
                "  apply:  {}: {} file(s), {} hunk(s), +{} -{}{}\n",
                terminal_safe(&self.patch),
                a.files.len(),
                a.hunks,
                a.additions,
                a.deletions,
                match a.method {
                    Some(m) if m != crate::repo::patch::ApplyMethod::Exact => format!(
                        " (applied with {m}: {})",
                        a.adjusted_hunks
                            .iter()
                            .map(|h| format!(
                                "{} hunk {} {:+}",
                                terminal_safe(&h.file),
                                h.hunk,
                                h.offset
                            ))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    _ => String::new(),
                }
            ),
            Some(f) => {
                // The location first, worded as the reasons word it.
                let at = f
                    .location()
                    .map(|l| format!("{}: ", terminal_safe(&l)))
                    .unwrap_or_default();
                format!(
                    "  apply:  {}: FAILED: {at}{}\n",
                    terminal_safe(&self.patch),
                    terminal_safe_max(&f.message, MAX_MESSAGE_CHARS)
                )
            }
        };
        let y = &self.syntax;
        s += &if !y.ran {
            "  syntax: not checked\n".to_string()
        } else if y.problems.is_empty() {
            format!("  syntax: {} Python file(s) ok\n", y.files.len())
        } else {
            let mut t = format!(
                "  syntax: {} error(s) in {} Python file(s)\n",
                y.problems.len(),
                y.files.len()
            );
            for p in &y.problems {
                t += &format!(
                    "    {}\n      {}\n",
                    terminal_safe(&p.location()),
                    terminal_safe(p.line_text.trim_end())
                );
            }
            t
        };
        let t = &self.tests;
        if let Some(why) = &t.not_run {
            s += &format!(
                "  tests:  not run: {}\n",
                terminal_safe_max(why, MAX_MESSAGE_CHARS)
            );
        } else if let Some(why) = &t.not_runnable {
            s += &format!(
                "  tests:  NOT RUNNABLE in the sandbox{}: {}\n",
                if self.allow_not_runnable {
                    " (--allow-not-runnable)"
                } else {
                    ""
                },
                terminal_safe_max(why, MAX_MESSAGE_CHARS)
            );
        } else {
            s += &format!(
                "  tests:  {} passed, {} failed, {} errors, {} skipped ({}; {})\n",
                t.count(CaseOutcome::Passed),
                t.count(CaseOutcome::Failed),
                t.count(CaseOutcome::Error),
                t.count(CaseOutcome::Skipped),
                terminal_safe(&t.targets.join(" ")),
                t.status.as_deref().unwrap_or("")
            );
            for c in t
                .cases
                .iter()
                .filter(|c| matches!(c.outcome, CaseOutcome::Failed | CaseOutcome::Error))
            {
                let first = c.message.lines().next().unwrap_or("");
                s += &format!(
                    "    {} {}: {}\n",
                    if c.outcome == CaseOutcome::Failed {
                        "FAILED"
                    } else {
                        "ERROR"
                    },
                    terminal_safe(&c.id),
                    terminal_safe_max(first, MAX_MESSAGE_CHARS)
                );
            }
            for m in &t.missing {
                s += &format!("    NOT FOUND {}\n", terminal_safe(m));
            }
        }
        for n in &self.notes {
            s += &format!("  note:   {}\n", terminal_safe_max(n, MAX_MESSAGE_CHARS));
        }
        if !self.passed() {
            // A reason the step lines above already print in full is not repeated.
            let shown = self.step_details();
            for r in self
                .reasons
                .iter()
                .filter(|r| !shown.iter().any(|d| r.ends_with(d.as_str())))
            {
                s += &format!("  fail:   {}\n", terminal_safe_max(r, MAX_MESSAGE_CHARS));
            }
        }
        let m = &self.timings;
        s += &format!(
            "  time:   checkout {:.2}s, apply {:.2}s, syntax {:.2}s, tests {:.2}s (total {:.2}s)\n",
            m.checkout, m.apply, m.syntax, m.tests, m.total
        );
        s
    }
}

/// What a failed or errored test says among the gate's reasons (`test ID failed: first line of
/// its message`); `None` for a test that passed or was skipped.
pub fn failed_test_reason(c: &TestCase) -> Option<String> {
    let verb = match c.outcome {
        CaseOutcome::Failed => "failed",
        CaseOutcome::Error => "errored",
        _ => return None,
    };
    let first = c.message.lines().next().unwrap_or("").trim();
    Some(if first.is_empty() {
        format!("test {} {verb}", c.id)
    } else {
        format!("test {} {verb}: {first}", c.id)
    })
}

/// An empty failing report for unit tests of the renderings.
#[cfg(test)]
pub(crate) fn sample_report() -> CheckReport {
    CheckReport {
        verdict: Verdict::Fail,
        reasons: vec![],
        notes: vec![],
        repo: "r".into(),
        base: "HEAD".into(),
        base_commit: "0123456789abcdef".into(),
        patch: "p.diff".into(),
        allow_not_runnable: false,
        apply: ApplyStep::default(),
        syntax: SyntaxStep::default(),
        tests: TestsStep::default(),
        timings: Timings::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> CheckReport {
        sample_report()
    }

    fn count(haystack: &str, needle: &str) -> usize {
        haystack.matches(needle).count()
    }

    #[test]
    fn an_apply_failure_is_printed_once() {
        let mut r = report();
        let message = "hunk 1 of a.py does not apply at line 1".to_string();
        r.reasons
            .push(format!("the patch does not apply at a.py:1: {message}"));
        r.apply.error = Some(ApplyFailure {
            kind: "hunk_rejected".into(),
            message: message.clone(),
            file: Some("a.py".into()),
            line: Some(1),
        });
        r.tests.not_run = Some("the patch does not apply".into());
        let s = r.summary();
        assert_eq!(count(&s, &message), 1, "{s}");
        assert!(s.starts_with("codeswarm check: FAIL"), "{s}");
    }

    #[test]
    fn syntax_errors_and_failed_tests_are_printed_once_and_other_reasons_stay() {
        let mut r = report();
        r.syntax.ran = true;
        r.syntax.problems.push(SyntaxProblem {
            file: "a.py".into(),
            line: 2,
            column: 5,
            message: "invalid syntax".into(),
            line_text: "x = (".into(),
        });
        r.reasons
            .push("syntax error: a.py:2:5: invalid syntax".into());
        r.tests.cases.push(TestCase {
            id: "t.py::test_x".into(),
            outcome: CaseOutcome::Failed,
            message: "AssertionError: 1 != 2\nmore".into(),
            details: String::new(),
        });
        r.reasons
            .push("test t.py::test_x failed: AssertionError: 1 != 2".into());
        r.tests.missing.push("t.py::test_gone".into());
        r.reasons
            .push("test t.py::test_gone was not found or did not run".into());
        r.reasons
            .push("the test run ended abnormally (timeout): killed".into());
        let s = r.summary();
        assert_eq!(count(&s, "a.py:2:5: invalid syntax"), 1, "{s}");
        assert_eq!(count(&s, "AssertionError: 1 != 2"), 1, "{s}");
        assert_eq!(count(&s, "t.py::test_gone"), 1, "{s}");
        assert!(
            s.contains("  fail:   the test run ended abnormally (timeout): killed"),
            "{s}"
        );
    }
}

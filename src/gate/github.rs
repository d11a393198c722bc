//! `codeswarm check --format github`: the gate's findings as GitHub Actions workflow commands
//! (`::error file=…,line=…::message` annotations on the pull request's diff) and a Markdown
//! summary for `$GITHUB_STEP_SUMMARY` (also what `--summary FILE` writes).
//!
//! Everything here comes from a hostile patch or its tests (file names, assertion messages), so
//! annotation values are escaped as the runner reads them (`%`, CR, LF; and `:`/`,` in
//! properties) and Markdown text is escaped so that it renders as plain text: no links, HTML or
//! table breaks a test's message could smuggle into the summary. The readable summary printed
//! after the annotations is fenced with `::stop-commands::` and a token derived from the report
//! and the clock, so no line of test output can act as a workflow command.

use sha2::{Digest, Sha256};

use super::report::{CheckReport, Selection};
use crate::testing::CaseOutcome;

/// The longest message kept in one annotation or summary cell (characters).
const MESSAGE_MAX: usize = 400;

/// Escape an annotation's message (the runner's `EscapeData`).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escape an annotation property value (the runner's `EscapeProperty`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Markdown text that renders as itself: HTML, links, emphasis, code spans and table cell
/// breaks are escaped; line breaks become spaces.
pub fn escape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' => out.push_str("&#124;"),
            '`' => out.push_str("&#96;"),
            '\r' | '\n' => out.push(' '),
            '\\' | '[' | ']' | '(' | ')' | '*' | '_' | '#' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn cut(s: &str) -> String {
    if s.chars().count() <= MESSAGE_MAX {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(MESSAGE_MAX).collect();
        t.push('…');
        t
    }
}

/// One annotation: `::error file=F,line=L,col=C,title=T::message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// `error` or `notice`.
    pub level: &'static str,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub col: Option<usize>,
    pub title: String,
    pub message: String,
}

impl Annotation {
    /// The workflow command line (no trailing newline).
    pub fn render(&self) -> String {
        let mut props = Vec::new();
        if let Some(f) = &self.file {
            props.push(format!("file={}", escape_property(f)));
        }
        if let Some(l) = self.line {
            props.push(format!("line={l}"));
        }
        if let Some(c) = self.col {
            props.push(format!("col={c}"));
        }
        props.push(format!("title={}", escape_property(&self.title)));
        format!(
            "::{} {}::{}",
            self.level,
            props.join(","),
            escape_data(&cut(&self.message))
        )
    }
}

/// The file part of a pytest node id (`tests/test_a.py` of `tests/test_a.py::T::test_x[1]`).
fn test_file(id: &str) -> Option<String> {
    let file = id.split("::").next()?;
    file.ends_with(".py").then(|| file.to_string())
}

/// The line of `file` a failure's traceback points at (pytest's `file.py:12: Error` lines; the
/// last one in the test's own file).
fn failure_line(file: &str, details: &str) -> Option<usize> {
    details.lines().rev().find_map(|l| {
        let rest = l.trim().strip_prefix(file)?.strip_prefix(':')?;
        rest.split(':').next()?.trim().parse::<usize>().ok()
    })
}

/// Every finding as an annotation: the apply failure (with its file and line), each syntax
/// error, each failed, errored or missing test (with its file, and the line when the traceback
/// names one), the gate's other reasons, and its notes.
pub fn annotations(r: &CheckReport) -> Vec<Annotation> {
    let mut out = Vec::new();
    let mut covered: Vec<String> = Vec::new();
    if let Some(f) = &r.apply.error {
        covered.push(format!(": {}", f.message));
        out.push(Annotation {
            level: "error",
            file: f.file.clone(),
            line: f.line.map(|l| l as usize),
            col: None,
            title: "codeswarm check: the patch does not apply".into(),
            message: f.message.clone(),
        });
    }
    for p in &r.syntax.problems {
        covered.push(format!("syntax error: {}", p.location()));
        out.push(Annotation {
            level: "error",
            file: Some(p.file.clone()),
            line: Some(p.line),
            col: Some(p.column),
            title: "codeswarm check: syntax error".into(),
            message: p.message.clone(),
        });
    }
    if r.tests.not_run.is_none() && r.tests.not_runnable.is_none() {
        for c in &r.tests.cases {
            let verb = match c.outcome {
                CaseOutcome::Failed => "failed",
                CaseOutcome::Error => "errored",
                _ => continue,
            };
            let first = c.message.lines().next().unwrap_or("").trim();
            covered.push(if first.is_empty() {
                format!("test {} {verb}", c.id)
            } else {
                format!("test {} {verb}: {first}", c.id)
            });
            let file = test_file(&c.id);
            let line = file
                .as_deref()
                .and_then(|f| failure_line(f, &format!("{}\n{}", c.message, c.details)));
            out.push(Annotation {
                level: "error",
                file,
                line,
                col: None,
                title: format!("codeswarm check: test {verb}"),
                message: if first.is_empty() {
                    format!("{} {verb}", c.id)
                } else {
                    format!("{} {verb}: {first}", c.id)
                },
            });
        }
        for m in &r.tests.missing {
            covered.push(format!("test {m} was not found or did not run"));
            out.push(Annotation {
                level: "error",
                file: test_file(m),
                line: None,
                col: None,
                title: "codeswarm check: test not found".into(),
                message: format!("{m} was not found or did not run"),
            });
        }
    }
    if !r.passed() {
        for reason in r
            .reasons
            .iter()
            .filter(|x| !covered.iter().any(|d| x.ends_with(d.as_str())))
        {
            out.push(Annotation {
                level: "error",
                file: None,
                line: None,
                col: None,
                title: "codeswarm check".into(),
                message: reason.clone(),
            });
        }
    }
    for n in &r.notes {
        out.push(Annotation {
            level: "notice",
            file: None,
            line: None,
            col: None,
            title: "codeswarm check".into(),
            message: n.clone(),
        });
    }
    out
}

/// The Markdown summary: the verdict, a table of the steps, why it failed, the failing tests,
/// the notes.
pub fn markdown_summary(r: &CheckReport) -> String {
    let e = |s: &str| escape_markdown(&cut(s));
    let mut s = format!(
        "## codeswarm check: {}\n\n",
        if r.passed() { "✅ PASS" } else { "❌ FAIL" }
    );
    s += &format!(
        "Patch {} on {} @ `{}` ({}).\n\n",
        e(&r.patch),
        e(&r.repo),
        &r.base_commit[..r.base_commit.len().min(12)],
        e(&r.base)
    );
    s += "| step | result | seconds |\n|---|---|---:|\n";
    let m = &r.timings;
    s += &format!("| checkout | base {} | {:.2} |\n", e(&r.base), m.checkout);
    let a = &r.apply;
    let apply = match &a.error {
        None if a.ok => format!(
            "applied{}: {} file(s), {} hunk(s), +{} −{}",
            a.method.map(|x| format!(" ({x})")).unwrap_or_default(),
            a.files.len(),
            a.hunks,
            a.additions,
            a.deletions
        ),
        None => "not applied".to_string(),
        Some(f) => format!(
            "**failed**: {}",
            e(&match f.location() {
                Some(l) => format!("{l}: {}", f.message),
                None => f.message.clone(),
            })
        ),
    };
    s += &format!("| apply | {apply} | {:.2} |\n", m.apply);
    let y = &r.syntax;
    let syntax = if !y.ran {
        "not checked".to_string()
    } else if y.problems.is_empty() {
        format!("{} Python file(s) ok", y.files.len())
    } else {
        format!(
            "**{} error(s)**: {}",
            y.problems.len(),
            y.problems
                .iter()
                .map(|p| e(&p.location()))
                .collect::<Vec<_>>()
                .join("; ")
        )
    };
    s += &format!("| syntax | {syntax} | {:.2} |\n", m.syntax);
    let t = &r.tests;
    let tests = if let Some(why) = &t.not_run {
        format!("not run: {}", e(why))
    } else if let Some(why) = &t.not_runnable {
        format!("**not runnable** in the sandbox: {}", e(why))
    } else {
        format!(
            "{} passed, {} failed, {} errors, {} skipped ({})",
            t.count(CaseOutcome::Passed),
            t.count(CaseOutcome::Failed),
            t.count(CaseOutcome::Error),
            t.count(CaseOutcome::Skipped),
            match t.selection {
                Selection::Named => "named tests",
                Selection::PatchTestFiles => "the patch's test files",
            }
        )
    };
    s += &format!("| tests | {tests} | {:.2} |\n", m.tests);
    s += &format!("| **total** | | {:.2} |\n\n", m.total);
    if !r.passed() && !r.reasons.is_empty() {
        s += "### Why it failed\n\n";
        for reason in &r.reasons {
            s += &format!("- {}\n", e(reason));
        }
        s.push('\n');
    }
    let bad: Vec<_> = t
        .cases
        .iter()
        .filter(|c| matches!(c.outcome, CaseOutcome::Failed | CaseOutcome::Error))
        .collect();
    if !bad.is_empty() || !t.missing.is_empty() {
        s += "### Failing tests\n\n| test | outcome | message |\n|---|---|---|\n";
        for c in bad {
            s += &format!(
                "| {} | {} | {} |\n",
                e(&c.id),
                if c.outcome == CaseOutcome::Failed {
                    "failed"
                } else {
                    "error"
                },
                e(c.message.lines().next().unwrap_or(""))
            );
        }
        for id in &t.missing {
            s += &format!("| {} | not found | |\n", e(id));
        }
        s.push('\n');
    }
    if !r.notes.is_empty() {
        s += "### Notes\n\n";
        for n in &r.notes {
            s += &format!("- {}\n", e(n));
        }
        s.push('\n');
    }
    s
}

/// A token for `::stop-commands::`, unpredictable to the code under test (it depends on the
/// whole report, the clock and the process).
pub fn stop_token(r: &CheckReport) -> String {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(r).unwrap_or_default());
    h.update(format!("{:?}{}", std::time::SystemTime::now(), std::process::id()).as_bytes());
    format!("codeswarm-{}", &hex::encode(h.finalize())[..32])
}

/// What `--format github` prints: the annotations, then the readable summary (and `extra`, the
/// Markdown summary when no `$GITHUB_STEP_SUMMARY` takes it) with workflow commands stopped
/// around them.
pub fn render(r: &CheckReport, extra: Option<&str>) -> String {
    let mut s = String::new();
    for a in annotations(r) {
        s += &a.render();
        s.push('\n');
    }
    let token = stop_token(r);
    s += &format!("::stop-commands::{token}\n");
    s += &r.summary();
    if let Some(x) = extra {
        s.push('\n');
        s += x;
    }
    s += &format!("::{token}::\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::report::*;
    use crate::testing::TestCase;

    fn report() -> CheckReport {
        crate::gate::report::sample_report()
    }

    #[test]
    fn values_are_escaped_as_the_runner_reads_them() {
        let a = Annotation {
            level: "error",
            file: Some("a,b:c.py".into()),
            line: Some(3),
            col: None,
            title: "t".into(),
            message: "50% done\n::set-env name=X::1".into(),
        };
        assert_eq!(
            a.render(),
            "::error file=a%2Cb%3Ac.py,line=3,title=t::50%25 done%0A::set-env name=X::1"
        );
        assert!(!a.render().contains('\n'));
    }

    #[test]
    fn syntax_apply_and_test_failures_carry_file_and_line() {
        let mut r = report();
        r.apply.error = Some(ApplyFailure {
            kind: "hunk_rejected".into(),
            message: "hunk 1 does not apply".into(),
            file: Some("calc.py".into()),
            line: Some(7),
        });
        r.syntax.ran = true;
        r.syntax.problems.push(SyntaxProblem {
            file: "a.py".into(),
            line: 2,
            column: 5,
            message: "invalid syntax".into(),
            line_text: "x = (".into(),
        });
        r.tests.cases.push(TestCase {
            id: "tests/test_calc.py::test_add".into(),
            outcome: CaseOutcome::Failed,
            message: "assert -1 == 5".into(),
            details: "    def test_add():\n>       assert add(2, 3) == 5\nE       assert -1 == 5\n\ntests/test_calc.py:5: AssertionError".into(),
        });
        r.reasons
            .push("syntax error: a.py:2:5: invalid syntax".into());
        r.reasons
            .push("test tests/test_calc.py::test_add failed: assert -1 == 5".into());
        r.reasons.push("no test ran".into());
        let lines: Vec<String> = annotations(&r).iter().map(Annotation::render).collect();
        assert!(
            lines[0].starts_with("::error file=calc.py,line=7,"),
            "{lines:?}"
        );
        assert!(
            lines[1].starts_with("::error file=a.py,line=2,col=5,"),
            "{lines:?}"
        );
        assert!(
            lines[2].starts_with("::error file=tests/test_calc.py,line=5,"),
            "{lines:?}"
        );
        assert!(lines[2].ends_with("::tests/test_calc.py::test_add failed: assert -1 == 5"));
        // Reasons the step annotations carry are not repeated; the others are.
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(lines[3].ends_with("::no test ran"), "{lines:?}");
        let md = markdown_summary(&r);
        assert!(md.starts_with("## codeswarm check: ❌ FAIL"), "{md}");
        assert!(
            md.contains("| tests/test\\_calc.py::test\\_add | failed |"),
            "{md}"
        );
    }

    #[test]
    fn hostile_text_cannot_act_as_a_command_or_markup() {
        let mut r = report();
        r.tests.cases.push(TestCase {
            id: "t.py::test_x".into(),
            outcome: CaseOutcome::Failed,
            message: "::add-mask::x <img src=x> [a](http://e) | cell".into(),
            details: String::new(),
        });
        let md = markdown_summary(&r);
        assert!(!md.contains("<img"), "{md}");
        assert!(!md.contains("[a](http"), "{md}");
        assert!(
            md.contains("&lt;img src=x&gt; \\[a\\]\\(http://e\\) &#124; cell"),
            "{md}"
        );
        let out = render(&r, Some("extra\n"));
        let token = out
            .lines()
            .find_map(|l| l.strip_prefix("::stop-commands::"))
            .unwrap()
            .to_string();
        let start = out.find("::stop-commands::").unwrap();
        let end = out.find(&format!("::{token}::")).unwrap();
        assert!(out[start..end].contains("codeswarm check: FAIL"), "{out}");
        assert!(out[start..end].contains("extra"), "{out}");
        assert!(out.ends_with(&format!("::{token}::\n")), "{out}");
    }
}

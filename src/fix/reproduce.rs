//! Reproduce: checks that fail at the base commit and should pass once the issue is fixed,
//! each with the source of its expected outcome. The issue's own code runs first (no model
//! call): its outcome at the base is evidence of the symptom, and what the issue states about
//! it ("should raise ValueError", `f(x)` "returns []", or no longer raising the exception of
//! its traceback) becomes a check whose expected outcome comes from the text. Then
//! `fix.repro_samples` reproduction tests are written (greedy first, then sampled); each
//! counts only when one of its tests fails at the base. Everything runs in one sandbox run.

use serde::Serialize;

use super::report::{CheckRecord, IssueCodeRecord, ReproRecord};
use super::select::CheckSource;
use super::verify::{self, ISSUE_FILE, OUTCOME_MARK};
use crate::agents::{test_writer, AgentError, Crew};
use crate::repo::checkout::Worktree;
use crate::sandbox::SandboxError;
use crate::testing::{CaseOutcome, RepoTestRun, RepoTests};

/// An outcome the issue's text states for its code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Stated {
    /// The code should raise this exception (type name).
    Raises(String),
    /// The code should not raise this exception.
    NoException(String),
    /// `expression` (evaluated after the code ran) should equal the literal `value`.
    Value { expression: String, value: String },
}

/// The issue's own code and what the issue says about it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IssueCode {
    pub script: String,
    /// The exception type the issue's traceback ends with.
    pub symptom: Option<String>,
    pub stated: Vec<Stated>,
}

/// Exceptions that say the snippet itself cannot run here (not the issue's symptom).
const CANNOT_RUN: &[&str] = &[
    "ImportError",
    "ModuleNotFoundError",
    "SyntaxError",
    "NameError",
];

/// Exceptions a written test fails with because of its own mistakes (a name it never
/// defined, a module or file that does not exist): such a failure reproduces nothing, unless
/// the issue's traceback ends with that very exception.
const TEST_MISTAKES: &[&str] = &[
    "NameError",
    "ImportError",
    "ModuleNotFoundError",
    "FileNotFoundError",
    "SyntaxError",
    "IndentationError",
];

/// Whether a failing case's message is one of [`TEST_MISTAKES`] (and not the symptom).
pub fn test_bug(message: &str, symptom: Option<&str>) -> bool {
    let first = message.trim_start();
    let name = first
        .split(|c: char| c == ':' || c.is_whitespace())
        .next()
        .unwrap_or("");
    let name = name.rsplit('.').next().unwrap_or(name);
    TEST_MISTAKES.contains(&name) && symptom != Some(name)
}

fn py(s: &str) -> String {
    // A JSON string is a valid Python string literal.
    serde_json::to_string(s).unwrap_or_else(|_| "''".into())
}

/// The issue's code as a pytest file: `test_issue_outcome` always fails, carrying the code's
/// outcome (exception type or printed text) in its message; one test per check. Returns the
/// file and its checks (test name, source, what it checks).
pub fn issue_test_file(code: &IssueCode) -> (String, Vec<(String, CheckSource, String)>) {
    let mut s = format!(
        r#"import contextlib, io, json

SCRIPT = {script}


def _run():
    ns = {{"__name__": "__codeswarm_issue__"}}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(SCRIPT, "issue_snippet.py", "exec"), ns)
    return ns, out.getvalue()


def _names(e):
    return [k.__name__ for k in type(e).__mro__]


def test_issue_outcome():
    try:
        _, out = _run()
        res = {{"raised": None, "stdout": out[-300:]}}
    except BaseException as e:
        res = {{"raised": type(e).__name__, "message": str(e)[:200]}}
    raise AssertionError({mark} + json.dumps(res, sort_keys=True))
"#,
        script = py(&code.script),
        mark = py(OUTCOME_MARK),
    );
    let mut checks = vec![];
    let mut not_raising: Vec<(String, CheckSource)> = vec![];
    let raises_stated = code.stated.iter().any(|x| matches!(x, Stated::Raises(_)));
    if let (Some(sym), false) = (&code.symptom, raises_stated) {
        not_raising.push((sym.clone(), CheckSource::IssueSymptom));
    }
    for (i, st) in code.stated.iter().enumerate() {
        match st {
            Stated::NoException(e) => not_raising.push((e.clone(), CheckSource::Stated)),
            Stated::Raises(e) => {
                let name = format!("test_issue_raises_{i}");
                s += &format!(
                    r#"

def {name}():
    try:
        _run()
    except BaseException as e:
        assert {e} in _names(e), "raised %s; the issue expects {bare}" % type(e).__name__
        return
    raise AssertionError("nothing was raised; the issue expects {bare}")
"#,
                    e = py(e),
                    bare = e.replace(['"', '\\'], ""),
                );
                checks.push((
                    name,
                    CheckSource::Stated,
                    format!("the issue's code raises {e}"),
                ));
            }
            Stated::Value { expression, value } => {
                let name = format!("test_issue_value_{i}");
                s += &format!(
                    r#"

def {name}():
    import ast
    try:
        expected = ast.literal_eval({value})
    except Exception:
        import pytest
        pytest.skip("the stated value is not a Python literal")
    ns, _ = _run()
    assert eval({expression}, ns) == expected
"#,
                    value = py(value),
                    expression = py(expression),
                );
                checks.push((
                    name,
                    CheckSource::Stated,
                    format!("`{expression}` is {value}, as the issue states"),
                ));
            }
        }
    }
    for (i, (e, source)) in not_raising.into_iter().enumerate() {
        let name = format!("test_issue_no_{i}");
        s += &format!(
            r#"

def {name}():
    try:
        _run()
    except BaseException as e:
        if {q} in _names(e):
            raise AssertionError("the issue's code still raises {bare}: %s" % e)
        raise
"#,
            q = py(&e),
            bare = e.replace(['"', '\\'], ""),
        );
        checks.push((
            name,
            source,
            format!("the issue's code no longer raises {e}"),
        ));
    }
    (s, checks)
}

/// What reproduction needs besides the model.
pub struct Inputs<'a> {
    pub issue: &'a str,
    pub code: Option<&'a IssueCode>,
    /// The code shown to the TestWriter, the modules it imports, the names it must not copy.
    pub focus: &'a str,
    pub modules: &'a [String],
    pub names: &'a [String],
    pub samples: u32,
    pub keep: usize,
    pub stop: &'a dyn Fn() -> bool,
}

/// The first line of the first case that did not pass.
fn first_problem(cases: &[&crate::testing::TestCase]) -> String {
    cases
        .iter()
        .find(|c| c.outcome != CaseOutcome::Passed)
        .map(|c| c.message.lines().next().unwrap_or("").to_string())
        .unwrap_or_default()
}

/// The reproduction tests' file names.
pub fn repro_file(k: u32) -> String {
    format!("test_codeswarm_repro_{k}.py")
}

/// Write the tests, run them and the issue's code at the base, keep what fails there.
/// A budget that runs out ends the writing; what was written still runs.
pub fn reproduce(
    crew: &mut Crew<'_>,
    tests: &RepoTests,
    wt: &Worktree,
    inp: &Inputs<'_>,
    runs: &mut Vec<RepoTestRun>,
) -> Result<(ReproRecord, Option<String>), ReproError> {
    let mut rec = ReproRecord::default();
    let mut budget = None;
    let mut written: Vec<(String, String)> = vec![];
    for k in 0..inp.samples {
        if (inp.stop)() {
            break;
        }
        crew.candidate = k;
        let reply =
            test_writer::write_repro(crew, inp.issue, inp.focus, inp.modules, inp.names, &[]);
        crew.candidate = 0;
        let reply = match reply {
            Err(AgentError::Budget(why)) => {
                budget = Some(why);
                break;
            }
            r => r?,
        };
        rec.tests_written += 1;
        match reply.valid_code() {
            Some(code) if !written.iter().any(|(_, c)| c == code) => {
                written.push((repro_file(k), code.to_string()))
            }
            Some(_) => rec
                .rejected
                .push(format!("{}: the same as an earlier test", repro_file(k))),
            None => rec
                .rejected
                .push(format!("{}: no valid Python", repro_file(k))),
        }
    }
    let issue = inp.code.map(issue_test_file);
    let mut files = written.clone();
    if let Some((text, _)) = &issue {
        files.push((ISSUE_FILE.to_string(), text.clone()));
    }
    if files.is_empty() {
        return Ok((rec, budget));
    }
    let targets: Vec<String> = files.iter().map(|(p, _)| p.clone()).collect();
    let run = crate::testing::run_named(
        tests,
        wt.path(),
        &files,
        &targets,
        "reproduction at the base",
    )?;
    if let Some(why) = &run.not_runnable {
        rec.rejected
            .push(format!("not runnable in the sandbox: {why}"));
        runs.push(run);
        return Ok((rec, budget));
    }
    if let (Some(code), Some((text, checks))) = (inp.code, issue) {
        let at_base = verify::issue_outcome(&run)
            .unwrap_or_else(|| "no outcome (the file did not run)".into());
        let raised = at_base.strip_prefix("raised ").map(str::to_string);
        let shows_symptom = code.symptom.is_some() && raised == code.symptom;
        let cannot_run = raised
            .as_deref()
            .is_some_and(|r| CANNOT_RUN.contains(&r) && code.symptom.as_deref() != Some(r));
        for (name, source, what) in checks {
            let id = format!("{ISSUE_FILE}::{name}");
            let fails = verify::check_outcome(&run, &id) == Some(false);
            let keep = fails
                && match source {
                    CheckSource::IssueSymptom => shows_symptom,
                    _ => !cannot_run,
                };
            if keep {
                rec.checks.push(CheckRecord { source, id, what });
            }
        }
        rec.issue_code = Some(IssueCodeRecord {
            script: code.script.clone(),
            at_base,
            shows_symptom,
        });
        // The file runs with every candidate: its outcome is part of their behaviour.
        rec.files.push((ISSUE_FILE.to_string(), text));
    }
    let symptom = inp.code.and_then(|c| c.symptom.as_deref());
    for (path, code) in written {
        let cases: Vec<_> = run.in_file(&path).collect();
        let why = if cases.is_empty() {
            Some("collected no tests".to_string())
        } else if cases.iter().all(|c| c.outcome == CaseOutcome::Passed) {
            Some("passes at the base, so it reproduces nothing".to_string())
        } else if !cases.iter().any(|c| c.outcome == CaseOutcome::Failed) {
            Some(format!(
                "could not run at the base: {}",
                first_problem(&cases)
            ))
        } else if cases
            .iter()
            .all(|c| c.outcome != CaseOutcome::Failed || test_bug(&c.message, symptom))
        {
            Some(format!(
                "fails at the base only on its own mistakes ({}), not on the code",
                first_problem(&cases)
            ))
        } else if rec
            .checks
            .iter()
            .filter(|c| c.source == CheckSource::Test)
            .count()
            >= inp.keep
        {
            Some("enough reproduction tests were kept".to_string())
        } else {
            None
        };
        match why {
            Some(why) => rec.rejected.push(format!("{path}: {why}")),
            None => {
                rec.checks.push(CheckRecord {
                    source: CheckSource::Test,
                    id: path.clone(),
                    what: format!("the model-written test {path} passes"),
                });
                rec.files.push((path, code));
            }
        }
    }
    runs.push(run);
    Ok((rec, budget))
}

#[derive(Debug, thiserror::Error)]
pub enum ReproError {
    #[error(transparent)]
    Agent(#[from] AgentError),
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_on_a_tests_own_mistakes_reproduce_nothing_unless_they_are_the_symptom() {
        assert!(test_bug("NameError: name 'app' is not defined", None));
        assert!(test_bug("builtins.FileNotFoundError: [Errno 2] x", None));
        assert!(!test_bug("assert 'hell...' == 'hello...'", None));
        assert!(!test_bug("AttributeError: 'NoneType' object", None));
        assert!(!test_bug(
            "ImportError: cannot import name 'x'",
            Some("ImportError")
        ));
    }

    #[test]
    fn the_issue_file_states_its_checks_and_parses() {
        let code = IssueCode {
            script: "from m import f\nprint(f(\"a\\\"b\"))\n".into(),
            symptom: Some("KeyError".into()),
            stated: vec![
                Stated::Value {
                    expression: "f('x')".into(),
                    value: "[]".into(),
                },
                Stated::NoException("TypeError".into()),
            ],
        };
        let (text, checks) = issue_test_file(&code);
        assert!(crate::syntax::check_python(&text).is_empty(), "{text}");
        let names: Vec<_> = checks.iter().map(|(n, s, _)| (n.as_str(), *s)).collect();
        assert_eq!(
            names,
            vec![
                ("test_issue_value_0", CheckSource::Stated),
                ("test_issue_no_0", CheckSource::IssueSymptom),
                ("test_issue_no_1", CheckSource::Stated),
            ]
        );
        assert!(text.contains("def test_issue_outcome"));
        // A stated exception replaces the symptom check (the issue wants a raise).
        let raises = IssueCode {
            stated: vec![Stated::Raises("ValueError".into())],
            ..code
        };
        let (text, checks) = issue_test_file(&raises);
        assert!(crate::syntax::check_python(&text).is_empty(), "{text}");
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].1, CheckSource::Stated);
    }
}

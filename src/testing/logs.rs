//! Per-test results read from a runner's output, as the SWE-bench harness's log parsers read
//! them: sympy's `bin/test --verbose` (`test_name ok|F|E` under a `file.py[N]` header), Django's
//! `runtests.py --verbosity 2` (unittest's `test_name (module.Class) ... ok|FAIL|ERROR`), and
//! pytest's `-rA` summary (`PASSED|FAILED|ERROR|SKIPPED id`, used when no JUnit report was
//! written). Failure sections give each failed test its message and traceback.

use std::collections::HashMap;

use regex::Regex;

use super::results::{CaseOutcome, TestCase};

const DETAILS_MAX: usize = 4000;

fn tail(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_string()
}

/// The last non-blank line of a traceback: the exception and its message.
fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}

fn push(cases: &mut Vec<TestCase>, index: &mut HashMap<String, usize>, id: String, o: CaseOutcome) {
    match index.get(&id) {
        // A later line about the same test (a rerun) wins.
        Some(&i) => cases[i].outcome = o,
        None => {
            index.insert(id.clone(), cases.len());
            cases.push(TestCase {
                id,
                outcome: o,
                message: String::new(),
                details: String::new(),
            });
        }
    }
}

/// sympy's `bin/test --verbose`: ids are `file::test_name` (SWE-bench lists the bare name;
/// [`super::RepoTestRun::outcome`] matches either).
pub fn parse_sympy(output: &str) -> Vec<TestCase> {
    let header = Regex::new(r"^(\S+\.py)\[\d+\]").expect("valid regex");
    let line_re =
        Regex::new(r"^(test_\w+)\s+(ok|F|E|f|X|s|w|Skipped|skipped)\b").expect("valid regex");
    let section = Regex::new(r"^_{3,} (\S+\.py):(test_\w+) _{3,}$").expect("valid regex");
    let mut cases = Vec::new();
    let mut index = HashMap::new();
    let mut file = String::new();
    for line in output.lines() {
        let t = line.trim_end();
        if let Some(c) = header.captures(t) {
            file = c[1].to_string();
            continue;
        }
        if let Some(c) = line_re.captures(t.trim_start()) {
            let outcome = match &c[2] {
                "ok" => CaseOutcome::Passed,
                "F" | "X" => CaseOutcome::Failed,
                "E" => CaseOutcome::Error,
                _ => CaseOutcome::Skipped,
            };
            let id = if file.is_empty() {
                c[1].to_string()
            } else {
                format!("{file}::{}", &c[1])
            };
            push(&mut cases, &mut index, id, outcome);
        }
    }
    // Tracebacks: `____ sympy/x/tests/test_y.py:test_name ____` then the text up to the next.
    let lines: Vec<&str> = output.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        if let Some(c) = section.captures(lines[i].trim_end()) {
            let id = format!("{}::{}", &c[1], &c[2]);
            let mut j = i + 1;
            let all_underscores = |l: &str| {
                let t = l.trim_end();
                t.len() >= 10 && t.bytes().all(|b| b == b'_')
            };
            while j < lines.len()
                && !section.is_match(lines[j].trim_end())
                && !all_underscores(lines[j])
                && !lines[j].starts_with("=====")
            {
                j += 1;
            }
            let text = lines[i + 1..j].join("\n");
            if let Some(&k) = index.get(&id) {
                cases[k].message = last_line(&text);
                cases[k].details = tail(&text, DETAILS_MAX);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    cases
}

/// Django's `runtests.py --verbosity 2`: ids as SWE-bench writes them, `test_name
/// (module.Class)` (Python 3.11+ prints `module.Class.test_name` inside the parentheses; that
/// form is brought back to the dataset's).
pub fn parse_django(output: &str) -> Vec<TestCase> {
    let full = Regex::new(r"^(\w+) \(([\w.]+)\)(.*?) \.\.\. (ok|FAIL|ERROR|skipped|expected failure|unexpected success)\b")
        .expect("valid regex");
    let bare = Regex::new(r"^(\w+) \(([\w.]+)\)$").expect("valid regex");
    let verdict =
        Regex::new(r" \.\.\. (ok|FAIL|ERROR|skipped|expected failure|unexpected success)\b")
            .expect("valid regex");
    let section = Regex::new(r"^(FAIL|ERROR): (\w+) \(([\w.]+)\)").expect("valid regex");
    let id_of = |name: &str, class: &str| {
        let class = class.strip_suffix(&format!(".{name}")).unwrap_or(class);
        format!("{name} ({class})")
    };
    let outcome_of = |v: &str| match v {
        "ok" | "expected failure" => CaseOutcome::Passed,
        "FAIL" | "unexpected success" => CaseOutcome::Failed,
        "ERROR" => CaseOutcome::Error,
        _ => CaseOutcome::Skipped,
    };
    let mut cases = Vec::new();
    let mut index = HashMap::new();
    let lines: Vec<&str> = output.lines().collect();
    let mut pending: Option<String> = None;
    for line in &lines {
        let t = line.trim_end();
        if let Some(c) = full.captures(t) {
            push(
                &mut cases,
                &mut index,
                id_of(&c[1], &c[2]),
                outcome_of(&c[4]),
            );
            pending = None;
        } else if let Some(c) = bare.captures(t) {
            // A docstring line follows, carrying the verdict.
            pending = Some(id_of(&c[1], &c[2]));
        } else if let Some(id) = pending.take() {
            if let Some(c) = verdict.captures(t) {
                push(&mut cases, &mut index, id, outcome_of(&c[1]));
            }
        }
    }
    let mut i = 0;
    while i < lines.len() {
        if let Some(c) = section.captures(lines[i]) {
            let id = id_of(&c[2], &c[3]);
            // `FAIL: …`, a dashed rule, the traceback, then `=====` (next section) or a dashed
            // rule before `Ran N tests`.
            let mut start = i + 1;
            if lines.get(start).is_some_and(|l| l.starts_with("-----")) {
                start += 1;
            }
            let mut j = start;
            while j < lines.len()
                && !lines[j].starts_with("=====")
                && !lines[j].starts_with("-----")
                && !section.is_match(lines[j])
            {
                j += 1;
            }
            let text = lines[start..j].join("\n");
            if let Some(&k) = index.get(&id) {
                cases[k].message = last_line(&text);
                cases[k].details = tail(&text, DETAILS_MAX);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    cases
}

/// pytest's `-rA` short summary: `PASSED id`, `FAILED id - message`, `ERROR id`, `SKIPPED
/// [N] file:line: reason` (skips name no id and are left out), `XFAIL id`, `XPASS id`.
pub fn parse_pytest_summary(output: &str) -> Vec<TestCase> {
    let re =
        Regex::new(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS) (\S+)(?: - (.*))?$").expect("valid regex");
    let mut cases: Vec<TestCase> = Vec::new();
    let mut index = HashMap::new();
    for line in output.lines() {
        if let Some(c) = re.captures(line.trim_end()) {
            let outcome = match &c[1] {
                "PASSED" => CaseOutcome::Passed,
                "FAILED" => CaseOutcome::Failed,
                "ERROR" => CaseOutcome::Error,
                "XFAIL" => CaseOutcome::Skipped,
                _ => CaseOutcome::Failed,
            };
            push(&mut cases, &mut index, c[2].to_string(), outcome);
            if let Some(m) = c.get(3) {
                let k = index[&c[2].to_string()];
                cases[k].message = m.as_str().to_string();
            }
        }
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sympy_verbose_output() {
        let out = "\
============================= test process starts ==============================
executable:         /usr/local/bin/python  (3.12.0-final-0) [CPython]

sympy/core/tests/test_basic.py[3] 
test_structure ok
test_equality F
test_matches_basic E                                                         [FAIL]

sympy/core/tests/test_expr.py[1] 
test_issue_1 ok                                                                [OK]

________________________________________________________________________________
_____________ sympy/core/tests/test_basic.py:test_equality _____________
Traceback (most recent call last):
  File \"/sympy/core/tests/test_basic.py\", line 40, in test_equality
    assert b1 != b2
AssertionError
________________________________________________________________________________
_________ sympy/core/tests/test_basic.py:test_matches_basic __________
Traceback (most recent call last):
NameError: name 'x' is not defined

====== tests finished: 2 passed, 1 failed, 1 exceptions, in 0.10 seconds =======
";
        let cases = parse_sympy(out);
        let get = |id: &str| cases.iter().find(|c| c.id == id).unwrap();
        assert_eq!(cases.len(), 4);
        assert_eq!(
            get("sympy/core/tests/test_basic.py::test_structure").outcome,
            CaseOutcome::Passed
        );
        let eq = get("sympy/core/tests/test_basic.py::test_equality");
        assert_eq!(eq.outcome, CaseOutcome::Failed);
        assert_eq!(eq.message, "AssertionError");
        let m = get("sympy/core/tests/test_basic.py::test_matches_basic");
        assert_eq!(m.outcome, CaseOutcome::Error);
        assert!(m.message.contains("NameError"));
        assert_eq!(
            get("sympy/core/tests/test_expr.py::test_issue_1").outcome,
            CaseOutcome::Passed
        );
    }

    #[test]
    fn django_verbose_output_in_both_unittest_forms() {
        let out = "\
test_a (queries.tests.QueryTests) ... ok
test_b (queries.tests.QueryTests.test_b) ... FAIL
test_c (queries.tests.QueryTests)
Docstring of c. ... ERROR
test_d (queries.tests.Other) ... skipped 'no db feature'
test_e (queries.tests.Other) ... expected failure

======================================================================
FAIL: test_b (queries.tests.QueryTests.test_b)
----------------------------------------------------------------------
Traceback (most recent call last):
  File \"/tests/queries/tests.py\", line 9, in test_b
AssertionError: 1 != 2

======================================================================
ERROR: test_c (queries.tests.QueryTests)
----------------------------------------------------------------------
Traceback (most recent call last):
TypeError: bad

----------------------------------------------------------------------
Ran 5 tests in 0.1s
";
        let cases = parse_django(out);
        let get = |id: &str| {
            cases
                .iter()
                .find(|c| c.id == id)
                .unwrap_or_else(|| panic!("{id}: {cases:?}"))
        };
        assert_eq!(
            get("test_a (queries.tests.QueryTests)").outcome,
            CaseOutcome::Passed
        );
        let b = get("test_b (queries.tests.QueryTests)");
        assert_eq!(b.outcome, CaseOutcome::Failed);
        assert_eq!(b.message, "AssertionError: 1 != 2");
        let c = get("test_c (queries.tests.QueryTests)");
        assert_eq!(c.outcome, CaseOutcome::Error);
        assert_eq!(c.message, "TypeError: bad");
        assert_eq!(
            get("test_d (queries.tests.Other)").outcome,
            CaseOutcome::Skipped
        );
        assert_eq!(
            get("test_e (queries.tests.Other)").outcome,
            CaseOutcome::Passed
        );
    }

    #[test]
    fn pytest_short_summary() {
        let out = "\
=========================== short test summary info ============================
PASSED testing/test_a.py::test_x
FAILED testing/test_a.py::test_y[1-2] - assert 1 == 2
ERROR testing/test_b.py::test_z - fixture 'foo' not found
SKIPPED [1] testing/test_b.py:3: no way
XFAIL testing/test_b.py::test_w
";
        let cases = parse_pytest_summary(out);
        assert_eq!(cases.len(), 4);
        assert_eq!(cases[1].id, "testing/test_a.py::test_y[1-2]");
        assert_eq!(cases[1].outcome, CaseOutcome::Failed);
        assert_eq!(cases[1].message, "assert 1 == 2");
        assert_eq!(cases[2].outcome, CaseOutcome::Error);
        assert_eq!(cases[3].outcome, CaseOutcome::Skipped);
    }
}

//! Verify: the regression set (the related tests that pass at the base, run once per
//! repository, base commit, environment and test ids, and cached on disk), and one sandbox run
//! per distinct candidate: its files written over a copy of the base worktree (never into the
//! worktree itself) with the reproduction checks, the issue's own code and an import check of
//! every changed module, then the regression tests. What a run cut off by the time limit could
//! not tell is unknown, never a regression.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::candidate::Candidate;
use super::report::{BaselineRecord, CheckRecord};
use super::select::Verdict;
use crate::repo::checkout::Worktree;
use crate::sandbox::SandboxError;
use crate::testing::{CaseOutcome, RepoTestRun, RepoTests};

/// The import check's file (never part of the patch).
pub const IMPORT_FILE: &str = "test_codeswarm_imports.py";
/// The issue's own code as a test file (see [`super::reproduce`]).
pub const ISSUE_FILE: &str = "test_codeswarm_issue.py";
/// The node id whose failure message carries the issue code's outcome.
pub const ISSUE_OUTCOME_ID: &str = "test_codeswarm_issue.py::test_issue_outcome";
/// The marker before the JSON outcome in that message.
pub const OUTCOME_MARK: &str = "CODESWARM-OUTCOME ";

#[derive(Serialize, Deserialize)]
struct Cached {
    passing: Vec<String>,
    seconds: f64,
}

fn cache_file(tests: &RepoTests, wt: &Worktree, targets: &[String]) -> PathBuf {
    let mut h = Sha256::new();
    for part in [
        env!("CARGO_PKG_VERSION"),
        wt.source().display_name(),
        &wt.base_sha(),
        &tests.spec.label(),
        tests.version.as_deref().unwrap_or(""),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    for t in targets {
        h.update(t.as_bytes());
        h.update([0]);
    }
    crate::paths::home()
        .join("baselines")
        .join(format!("{}.json", hex::encode(&h.finalize()[..16])))
}

/// The tests of `targets` that pass at the base: from the cache, or run now (and cached when
/// the run finished).
pub fn baseline(
    tests: &RepoTests,
    wt: &Worktree,
    targets: &[String],
    runs: &mut Vec<RepoTestRun>,
) -> Result<BaselineRecord, SandboxError> {
    let mut record = BaselineRecord {
        targets: targets.to_vec(),
        ..BaselineRecord::default()
    };
    if targets.is_empty() {
        return Ok(record);
    }
    let file = cache_file(tests, wt, targets);
    if let Some(c) = std::fs::read(&file)
        .ok()
        .and_then(|b| serde_json::from_slice::<Cached>(&b).ok())
    {
        record.passing = c.passing;
        record.cached = true;
        record.seconds = c.seconds;
        return Ok(record);
    }
    let run =
        crate::testing::run_named(tests, wt.path(), &[], targets, "related tests at the base")?;
    record.seconds = run.seconds;
    if run.not_runnable.is_none() {
        record.passing = run
            .cases
            .iter()
            .filter(|c| c.outcome == CaseOutcome::Passed)
            .map(|c| c.id.clone())
            .collect();
        if !run.timed_out && run.crashed_first.is_none() {
            let cached = Cached {
                passing: record.passing.clone(),
                seconds: run.seconds,
            };
            let write = file
                .parent()
                .map(std::fs::create_dir_all)
                .unwrap_or(Ok(()))
                .and_then(|()| {
                    crate::fsutil::write_atomic(
                        &file,
                        &serde_json::to_vec(&cached).unwrap_or_default(),
                    )
                });
            if let Err(e) = write {
                tracing::warn!(error = %e, file = %file.display(), "cannot cache the baseline");
            }
        }
    }
    runs.push(run);
    Ok(record)
}

/// What every candidate is run with besides its own files.
pub struct Plan<'a> {
    /// Reproduction test files and the issue's code file.
    pub files: &'a [(String, String)],
    pub checks: &'a [CheckRecord],
    /// The issue's code runs too (its outcome is part of a candidate's behaviour).
    pub issue_code: bool,
    pub regression: &'a [String],
    /// Roots of the environment's `sys.path` (a spec's `path`), to name changed modules.
    pub roots: &'a [String],
}

/// The module a changed file is imported as, if it is Python outside the tests.
fn module_of(path: &str, roots: &[String]) -> Option<String> {
    if !path.ends_with(".py") || crate::repo::rank::is_test_path(path) {
        return None;
    }
    let rel = roots
        .iter()
        .find_map(|r| path.strip_prefix(&format!("{}/", r.trim_end_matches('/'))))
        .unwrap_or(path);
    let m = crate::repo::map::module_name(rel);
    (!m.is_empty() && m.split('.').all(is_identifier)).then_some(m)
}

fn is_identifier(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_alphabetic() || f == '_')
        && c.all(|ch| ch.is_alphanumeric() || ch == '_')
}

/// The import check of `modules`: one test per module, so the failure names it.
pub fn import_check(modules: &[String]) -> String {
    let mut s = String::from("import importlib\n\n");
    for (i, m) in modules.iter().enumerate() {
        s += &format!(
            "\ndef test_import_{i}():\n    importlib.import_module({})\n",
            serde_json::to_string(m).unwrap_or_default()
        );
    }
    s
}

/// A check's outcome in a run: a file passes when it ran and every test in it passed; a node
/// id as the run reports it. None when the run does not tell.
pub fn check_outcome(run: &RepoTestRun, id: &str) -> Option<bool> {
    if id.contains("::") {
        return run.outcome(id).map(|o| o == CaseOutcome::Passed);
    }
    let cases: Vec<_> = run.in_file(id).collect();
    if cases.is_empty() {
        return (!run.timed_out && run.not_runnable.is_none()).then_some(false);
    }
    Some(cases.iter().all(|c| c.outcome == CaseOutcome::Passed))
}

/// The issue code's outcome, as its test reported it.
pub fn issue_outcome(run: &RepoTestRun) -> Option<String> {
    let case = run.cases.iter().find(|c| c.id == ISSUE_OUTCOME_ID)?;
    let text = case.message.split_once(OUTCOME_MARK)?.1;
    let v: serde_json::Value = serde_json::from_str(text.trim_end_matches('…')).ok()?;
    Some(match v.get("raised").and_then(|r| r.as_str()) {
        Some(exc) => format!("raised {exc}"),
        None => format!(
            "ran; printed {:?}",
            v.get("stdout").and_then(|s| s.as_str()).unwrap_or("")
        ),
    })
}

/// Run one candidate.
pub fn candidate(
    tests: &RepoTests,
    worktree: &Path,
    cand: &Candidate,
    plan: &Plan<'_>,
    label: &str,
) -> Result<(Verdict, RepoTestRun), SandboxError> {
    let modules: Vec<String> = cand
        .files
        .keys()
        .filter_map(|p| module_of(p, plan.roots))
        .collect();
    let mut extra: Vec<(String, String)> = cand
        .files
        .iter()
        .map(|(p, t)| (p.clone(), t.clone()))
        .collect();
    extra.extend(plan.files.iter().cloned());
    let mut targets: Vec<String> = plan.files.iter().map(|(p, _)| p.clone()).collect();
    if !modules.is_empty() {
        extra.push((IMPORT_FILE.into(), import_check(&modules)));
        targets.push(IMPORT_FILE.into());
    }
    targets.extend(plan.regression.iter().cloned());
    let run = crate::testing::run_named(tests, worktree, &extra, &targets, label)?;
    // A crash loses the files' results (only node ids run again): their checks are unknown.
    let unknown = run.timed_out || run.not_runnable.is_some();
    let crashed = run.crashed_first.is_some();
    // A session that dies before collecting anything (pytest's exit 2, 3 or 4: a conftest
    // that no longer imports, an internal error) means the candidate broke the package.
    let session_died = run.cases.is_empty()
        && !unknown
        && matches!(run.exit_code, Some(2..=4))
        && !(run.output_tail.contains("not found:") && run.not_found.is_empty());
    let died = session_died.then(|| {
        format!(
            "the test session could not start with the patch (exit {}): {}",
            run.exit_code.unwrap_or(-1),
            last_error_line(&run.output_tail)
        )
    });
    let broken = died.or_else(|| {
        run.in_file(IMPORT_FILE)
            .find(|c| c.outcome != CaseOutcome::Passed)
            .map(|c| {
                let i: usize =
                    c.id.rsplit('_')
                        .next()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                format!(
                    "the patch breaks `import {}`: {}",
                    modules.get(i).map(String::as_str).unwrap_or("?"),
                    c.message.lines().next().unwrap_or("")
                )
            })
    });
    let mut regressions: Vec<String> = vec![];
    let mut regressions_unknown = unknown;
    for id in plan.regression {
        match run.outcome(id) {
            Some(CaseOutcome::Passed) => {}
            Some(_) => regressions.push(id.clone()),
            None if regression_absent(&run, id) => regressions.push(id.clone()),
            None => regressions_unknown = true,
        }
    }
    let verdict = Verdict {
        votes: cand.votes,
        changed_lines: cand.changed_lines,
        broken,
        checks: plan
            .checks
            .iter()
            .map(|c| check_outcome(&run, &c.id).filter(|_| !crashed || c.id.contains("::")))
            .collect(),
        snippet: plan.issue_code.then(|| issue_outcome(&run)).flatten(),
        regressions,
        regressions_unknown,
    };
    Ok((verdict, run))
}

/// The last line of `output` that names an error (else its last non-empty line).
fn last_error_line(output: &str) -> String {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .rev()
        .find(|l| l.contains("Error") || l.starts_with("E "))
        .or(lines.last())
        .map(|l| l.to_string())
        .unwrap_or_default()
}

/// A regression id the run does not mention although the run finished: pytest ran the file
/// and the test is gone (the candidate deleted or renamed it), which counts as failing.
fn regression_absent(run: &RepoTestRun, id: &str) -> bool {
    let file = id.split("::").next().unwrap_or(id);
    !run.timed_out && run.not_runnable.is_none() && run.in_file(file).next().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestCase;

    fn case(id: &str, outcome: CaseOutcome, message: &str) -> TestCase {
        TestCase::new(id, outcome, message)
    }

    #[test]
    fn modules_are_named_from_the_environment_roots_and_tests_are_left_out() {
        let roots = vec!["src".to_string()];
        assert_eq!(
            module_of("src/flask/app.py", &roots).as_deref(),
            Some("flask.app")
        );
        assert_eq!(module_of("pkg/__init__.py", &roots).as_deref(), Some("pkg"));
        assert_eq!(module_of("tests/test_x.py", &roots), None);
        assert_eq!(module_of("docs/conf-1.py", &roots), None);
        assert_eq!(module_of("README.md", &roots), None);
        let check = import_check(&["flask.app".into()]);
        assert!(
            check.contains("importlib.import_module(\"flask.app\")"),
            "{check}"
        );
    }

    #[test]
    fn a_check_file_passes_only_when_all_its_tests_ran_and_passed() {
        let run = RepoTestRun {
            cases: vec![
                case("r.py::test_a", CaseOutcome::Passed, ""),
                case("r.py::test_b", CaseOutcome::Failed, "assert 1 == 2"),
                case("s.py::test_c", CaseOutcome::Passed, ""),
            ],
            ..RepoTestRun::default()
        };
        assert_eq!(check_outcome(&run, "r.py"), Some(false));
        assert_eq!(check_outcome(&run, "s.py"), Some(true));
        assert_eq!(check_outcome(&run, "r.py::test_a"), Some(true));
        assert_eq!(check_outcome(&run, "gone.py"), Some(false));
        let cut = RepoTestRun {
            timed_out: true,
            ..RepoTestRun::default()
        };
        assert_eq!(check_outcome(&cut, "gone.py"), None);
    }

    #[test]
    fn the_error_that_stopped_a_session_is_named() {
        let out = "ImportError while loading conftest '/tests/conftest.py'.\nE   IndentationError: unexpected indent\n\n";
        assert_eq!(
            last_error_line(out),
            "E   IndentationError: unexpected indent"
        );
    }

    #[test]
    fn the_issue_codes_outcome_is_read_from_its_message() {
        let run = RepoTestRun {
            cases: vec![case(
                ISSUE_OUTCOME_ID,
                CaseOutcome::Failed,
                "AssertionError: CODESWARM-OUTCOME {\"message\": \"bad\", \"raised\": \"ValueError\"}",
            )],
            ..RepoTestRun::default()
        };
        assert_eq!(issue_outcome(&run).as_deref(), Some("raised ValueError"));
    }
}

//! An instance set in the official SWE-bench format built from the fixture repositories
//! ([`crate::repo::fixture`]), for tests and demos that need no network: `repo` is
//! `codeswarm-fixtures/<name>`, resolved through [`url_template`] to the local repositories;
//! `FAIL_TO_PASS` / `PASS_TO_PASS` are JSON-encoded strings as in the dataset; `patch` is the
//! gold patch; `test_patch` adds one more test file (listed in `PASS_TO_PASS`), so an
//! evaluation that forgets the test patch cannot resolve anything.

use std::path::Path;

use serde_json::{json, Value};

use crate::repo::fixture::FixtureRepo;

/// The owner part of every fixture instance's `repo`.
pub const FIXTURE_OWNER: &str = "codeswarm-fixtures";

/// The test file the test patch adds, and its single test's node id.
pub const ADDED_TEST_FILE: &str = "tests/test_from_test_patch.py";
pub const ADDED_TEST_ID: &str = "tests/test_from_test_patch.py::test_added_by_test_patch";

/// The instance id of a fixture (`codeswarm-fixtures__<name>-1`).
pub fn instance_id(fixture: &FixtureRepo) -> String {
    format!("{FIXTURE_OWNER}__{}-1", fixture.name)
}

/// The URL template resolving `codeswarm-fixtures/<name>` to `<repos_parent>/<name>`, where
/// the fixtures were built.
pub fn url_template(repos_parent: &Path) -> String {
    format!("{}/{{name}}", repos_parent.display())
}

/// The test patch of a fixture: a new test file importing the package.
pub fn test_patch(fixture: &FixtureRepo) -> String {
    let package = fixture
        .buggy_file
        .split('/')
        .next()
        .unwrap_or(&fixture.name)
        .to_string();
    format!(
        "diff --git a/{f} b/{f}\nnew file mode 100644\n--- /dev/null\n+++ b/{f}\n@@ -0,0 +1,3 @@\n+def test_added_by_test_patch():\n+    import {package}\n+    assert {package}.__name__ == \"{package}\"\n",
        f = ADDED_TEST_FILE
    )
}

/// One fixture as an instance, in the dataset's field format.
pub fn instance_value(fixture: &FixtureRepo) -> Value {
    let mut p2p = fixture.passing_tests.clone();
    p2p.push(ADDED_TEST_ID.to_string());
    json!({
        "instance_id": instance_id(fixture),
        "repo": format!("{FIXTURE_OWNER}/{}", fixture.name),
        "base_commit": fixture.base_commit,
        "problem_statement": fixture.issue,
        "hints_text": "",
        "created_at": "2023-11-14T22:13:20Z",
        "version": "0.1",
        "FAIL_TO_PASS": serde_json::to_string(&fixture.failing_tests).expect("strings serialize"),
        "PASS_TO_PASS": serde_json::to_string(&p2p).expect("strings serialize"),
        "test_patch": test_patch(fixture),
        "patch": fixture.gold_patch,
        "environment_setup_commit": fixture.base_commit,
    })
}

/// Write `fixtures` as a `.jsonl` instances file.
pub fn write_instances(path: &Path, fixtures: &[FixtureRepo]) -> std::io::Result<()> {
    let mut text = String::new();
    for f in fixtures {
        text.push_str(&instance_value(f).to_string());
        text.push('\n');
    }
    crate::fsutil::write_atomic(path, text.as_bytes())
}

/// What [`write_fixture_set`] made.
#[derive(Debug)]
pub struct FixtureSet {
    /// The directory it was written into.
    pub dir: std::path::PathBuf,
    /// The instances file (`<dir>/instances.jsonl`).
    pub instances: std::path::PathBuf,
    /// The `--repo-url-template` that resolves the instances' `repo` to the built repositories.
    pub url_template: String,
    /// The instance ids, in file order.
    pub ids: Vec<String>,
}

/// Why [`write_fixture_set`] failed.
#[derive(Debug, thiserror::Error)]
pub enum FixtureSetError {
    #[error(transparent)]
    Fixture(#[from] crate::repo::fixture::FixtureError),
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Build every fixture repository under `<dir>/repos` and write `<dir>/instances.jsonl`: an
/// offline instance set for trying `batch` and `evaluate` end to end.
pub fn write_fixture_set(dir: &Path) -> Result<FixtureSet, FixtureSetError> {
    let repos_dir = dir.join("repos");
    std::fs::create_dir_all(&repos_dir).map_err(|source| FixtureSetError::Io {
        path: repos_dir.clone(),
        source,
    })?;
    let repos = crate::repo::fixture::build_all(&repos_dir)?;
    let instances = dir.join("instances.jsonl");
    write_instances(&instances, &repos).map_err(|source| FixtureSetError::Io {
        path: instances.clone(),
        source,
    })?;
    Ok(FixtureSet {
        dir: dir.to_path_buf(),
        instances,
        url_template: url_template(&repos_dir),
        ids: repos.iter().map(instance_id).collect(),
    })
}

/// One command of [`FixtureSet::commands`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What it does, in a few words.
    pub what: &'static str,
    /// The command's arguments after `codeswarm`.
    pub args: Vec<String>,
}

impl Step {
    /// The command line as a user types it (arguments quoted for a POSIX shell where needed).
    pub fn command_line(&self) -> String {
        std::iter::once("codeswarm".to_string())
            .chain(self.args.iter().map(|a| shell_quote(a)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `arg` as a POSIX shell reads it back: bare when it holds only safe characters, else in
/// single quotes.
pub fn shell_quote(arg: &str) -> String {
    let safe = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c));
    if safe {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

/// The predictions file of the `--mock` run, inside the set's directory.
pub const MOCK_PREDICTIONS: &str = "mock-preds.jsonl";
/// The predictions file of the real-model run.
pub const PREDICTIONS: &str = "preds.jsonl";

impl FixtureSet {
    /// How to try the set end to end, in order: the batch on the scripted model (`--mock`: the
    /// built-in scripts carry each fixture through localization, reproduction test, repair and
    /// verification, no weights needed), its report (table and HTML) and evaluation; then the
    /// same on a real model.
    pub fn commands(&self) -> Vec<Step> {
        let path = |p: std::path::PathBuf| p.display().to_string();
        let instances = path(self.instances.clone());
        let template = self.url_template.clone();
        let mut steps = vec![];
        for (mock, preds) in [(true, MOCK_PREDICTIONS), (false, PREDICTIONS)] {
            let preds_path = self.dir.join(preds);
            let stem = preds.trim_end_matches(".jsonl");
            let run_dir = self.dir.join(format!("{stem}.run"));
            let mut batch: Vec<String> = vec!["batch".into()];
            if mock {
                batch.push("--mock".into());
            }
            batch.extend([
                "--instances".into(),
                instances.clone(),
                "--predictions".into(),
                path(preds_path.clone()),
                "--repo-url-template".into(),
                template.clone(),
            ]);
            steps.push(Step {
                what: if mock {
                    "solve them with the scripted model (--mock: canned replies written for these fixtures, no weights)"
                } else {
                    "solve them with the default model"
                },
                args: batch,
            });
            steps.push(Step {
                what: "the batch's table and a self-contained HTML report",
                args: vec![
                    "report".into(),
                    path(run_dir),
                    "--html".into(),
                    path(self.dir.join(format!("{stem}-report.html"))),
                ],
            });
            steps.push(Step {
                what: "score the predictions (the tests of each instance, in the sandbox)",
                args: vec![
                    "evaluate".into(),
                    "--instances".into(),
                    instances.clone(),
                    "--predictions".into(),
                    path(preds_path),
                    "--repo-url-template".into(),
                    template.clone(),
                    "--report".into(),
                    path(self.dir.join(format!("{stem}-eval.json"))),
                ],
            });
        }
        steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_round_trips_through_a_shell_reading() {
        assert_eq!(shell_quote("/tmp/a-b/x.jsonl"), "/tmp/a-b/x.jsonl");
        assert_eq!(shell_quote("/tmp/r/{name}"), "'/tmp/r/{name}'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn the_mock_run_comes_first_and_each_batch_is_followed_by_report_and_evaluate() {
        let set = FixtureSet {
            dir: "/x".into(),
            instances: "/x/instances.jsonl".into(),
            url_template: "/x/repos/{name}".into(),
            ids: vec![],
        };
        let lines: Vec<String> = set.commands().iter().map(Step::command_line).collect();
        assert_eq!(lines.len(), 6);
        assert_eq!(lines[0], "codeswarm batch --mock --instances /x/instances.jsonl --predictions /x/mock-preds.jsonl --repo-url-template '/x/repos/{name}'");
        assert_eq!(
            lines[1],
            "codeswarm report /x/mock-preds.run --html /x/mock-preds-report.html"
        );
        assert!(lines[2].starts_with("codeswarm evaluate --instances /x/instances.jsonl --predictions /x/mock-preds.jsonl"), "{}", lines[2]);
        assert!(
            lines[3].starts_with("codeswarm batch --instances"),
            "{}",
            lines[3]
        );
        assert!(!lines[3].contains("--mock"));
    }
}

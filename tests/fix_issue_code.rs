//! The repository fixer reads what the issue's text states, on the ScriptedModel and the real
//! sandbox: a traceback whose frames point deep into the repository locates the function
//! without BM25 or a model call, and a doctest snippet with a stated value becomes a
//! reproduction check whose expected outcome comes from the issue, not from the model.
//! Fixtures: `tests/fix_issue_code/`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use codeswarm::agents::prompts::Prompts;
use codeswarm::config::Config;
use codeswarm::fix::select::CheckSource;
use codeswarm::fix::{fix_issue, FixReport, FixStatus, FixTarget};
use codeswarm::models::{AgentRole, ManagerSettings, ModelManager, Registry};
use codeswarm::repo::checkout::DEFAULT_URL_TEMPLATE;
use codeswarm::testing::RepoTests;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fix_issue_code")
}

fn git(dir: &Path, args: &[&str]) {
    let o = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// A repository of `files` with one commit; its path and the commit.
fn repo_of(files: &Path, parent: &Path) -> (PathBuf, String) {
    let dir = parent.join("repo");
    copy_dir(files, &dir);
    git(&dir, &["init", "-q"]);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "base"]);
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(&dir)
        .output()
        .unwrap();
    (
        dir,
        String::from_utf8_lossy(&head.stdout).trim().to_string(),
    )
}

fn fix(repo: &Path, commit: &str, issue: &str, script: &str) -> FixReport {
    let config = Config::defaults();
    let settings = ManagerSettings {
        mock_script: Some(("fix".into(), script.to_string())),
        quiet: true,
        ..Default::default()
    };
    let mut manager = ModelManager::new(Registry::builtin(), settings);
    let prompts = Prompts::load(Some(Path::new("/nonexistent"))).unwrap();
    let tests = RepoTests::new(
        codeswarm::sandbox::Sandbox::open(&()).unwrap(),
        None,
        &config.sandbox,
    );
    let target = FixTarget {
        repo: repo.display().to_string(),
        commit: Some(commit.to_string()),
        issue: issue.to_string(),
        url_template: DEFAULT_URL_TEMPLATE.into(),
        work_dir: None,
        deadline: None,
        owner_name_only: false,
    };
    fix_issue(&target, &mut manager, &config, &prompts, &tests, &|| false).unwrap()
}

fn replies(role: &str, text: &str, n: usize) -> String {
    format!("\n[[reply]]\nrole = \"{role}\"\ntext = '''{text}'''\n").repeat(n)
}

#[test]
fn a_traceback_into_the_repository_locates_the_deep_function_without_a_model_call() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, commit) = repo_of(&fixtures().join("deep_repo"), tmp.path());
    let issue = std::fs::read_to_string(fixtures().join("issue_traceback.md")).unwrap();
    // No localizer reply: a call to the Localizer would fail the run.
    let script = [
        replies(
            "test_writer",
            "```python\nfrom pkg.a.b.c.deep import normalize\n\ndef test_none_stays_none():\n    assert normalize(None) is None\n```",
            3,
        ),
        replies(
            "repairer",
            "```python\ndef normalize(name):\n    \"\"\"Lower-case a name and strip surrounding blanks; None stays None.\"\"\"\n    if name is None:\n        return None\n    return name.strip().lower()\n```",
            2,
        ),
    ]
    .concat();
    let report = fix(&repo, &commit, &issue, &script);
    assert!(
        report.calls.iter().all(|c| c.agent != AgentRole::Localizer),
        "no model call for localization"
    );
    assert_eq!(
        report.localization.symbols.first(),
        Some(&("pkg/a/b/c/deep.py".to_string(), "normalize".to_string())),
        "{:?}",
        report.localization
    );
    assert_eq!(report.localization.files_from, "issue (traceback)");
    assert_eq!(report.status, FixStatus::Verified, "{:?}", report.reason);
    assert!(
        report.patch.contains("+    if name is None:"),
        "{}",
        report.patch
    );
}

#[test]
fn a_doctest_with_a_stated_value_becomes_the_reproduction_check() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = codeswarm::repo::fixture::by_name("textkit")
        .unwrap()
        .build(tmp.path())
        .unwrap();
    let issue = std::fs::read_to_string(fixtures().join("issue_doctest.md")).unwrap();
    let fixed = "```python\ndef truncate(text, width, suffix=ELLIPSIS):\n    \"\"\"Shorten text to at most width characters, ending with suffix when it is cut.\"\"\"\n    if width < len(suffix):\n        raise ValueError(\"width must be at least len(suffix)\")\n    if len(text) <= width:\n        return text\n    return text[: width - len(suffix)] + suffix\n```";
    // Every model-written test passes at the base: only the issue's own statement reproduces.
    let script = [
        replies("localizer", "textkit/strings.py", 1),
        replies("localizer", "textkit/strings.py::truncate", 1),
        replies(
            "test_writer",
            "```python\nfrom textkit.strings import truncate\n\ndef test_short():\n    assert truncate(\"hi\", 8) == \"hi\"\n```",
            3,
        ),
        replies("repairer", fixed, 2),
    ]
    .concat();
    let report = fix(&fx.path, &fx.base_commit, &issue, &script);
    // The doctest's import names the function; the model's pick is added (the same one).
    assert!(
        report
            .localization
            .symbols_from
            .starts_with("issue (import"),
        "{:?}",
        report.localization
    );
    assert_eq!(
        report.localization.symbols,
        vec![("textkit/strings.py".to_string(), "truncate".to_string())]
    );
    let rp = &report.reproduction;
    let code = rp
        .issue_code
        .as_ref()
        .expect("the issue's code ran at the base");
    assert!(
        code.script.contains("truncate(\"hello world\", 8)"),
        "{}",
        code.script
    );
    assert_eq!(rp.checks.len(), 1, "{:?}\n{:?}", rp.checks, rp.rejected);
    assert_eq!(rp.checks[0].source, CheckSource::Stated);
    assert!(
        rp.checks[0].what.contains("'hello...'"),
        "{}",
        rp.checks[0].what
    );
    assert_eq!(report.candidates[0].verdict.checks, vec![Some(true)]);
    assert_eq!(report.status, FixStatus::Verified, "{:?}", report.reason);
}

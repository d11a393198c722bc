//! Repository mode end to end on the ScriptedModel: from an issue to a patch that `git apply`
//! accepts on the base commit and that makes the fixture's failing tests pass in the sandbox.
//! Also: a reproduction test that passes before the edit is rejected and retried, and a
//! Repairer reply that changes nothing is sent back with the reason; and a time limit that runs
//! out mid-generation keeps the best patch found before.

mod common;

use std::process::Command;

use codeswarm::agents::prompts::Prompts;
use codeswarm::config::Config;
use codeswarm::fix::FixStatus;
use codeswarm::fix::{fix_issue, FixTarget};
use codeswarm::models::{ManagerSettings, ModelManager, Registry};
use codeswarm::repo::checkout::DEFAULT_URL_TEMPLATE;
use codeswarm::repo::fixture;
use codeswarm::testing::RepoTests;

const SCRIPT: &str = r#"
[[reply]]
role = "localizer"
text = "textkit/strings.py"

[[reply]]
role = "localizer"
text = "textkit/strings.py::truncate"

# A "reproduction" that passes on the buggy code: rejected, then retried with the reason.
[[reply]]
role = "test_writer"
text = '''```python
from textkit.strings import truncate

def test_short_text_is_unchanged():
    assert truncate("hi", 8) == "hi"
```'''

[[reply]]
role = "test_writer"
text = '''```python
from textkit.strings import truncate

def test_cut_text_fills_the_width():
    assert truncate("hello world", 8) == "hello..."
```'''

# First the unchanged function (sent back), then the fix.
[[reply]]
role = "repairer"
text = '''```python
def truncate(text, width, suffix=ELLIPSIS):
    """Shorten text to at most width characters, ending with suffix when it is cut."""
    if width < len(suffix):
        raise ValueError("width must be at least len(suffix)")
    if len(text) <= width:
        return text
    return text[: width - len(suffix) - 1] + suffix
```'''

[[reply]]
role = "repairer"
text = '''```python
def truncate(text, width, suffix=ELLIPSIS):
    """Shorten text to at most width characters, ending with suffix when it is cut."""
    if width < len(suffix):
        raise ValueError("width must be at least len(suffix)")
    if len(text) <= width:
        return text
    return text[: width - len(suffix)] + suffix
```'''
"#;

#[test]
fn scripted_fix_produces_a_verified_patch_that_git_applies() {
    let dir = tempfile::tempdir().unwrap();
    let fx = fixture::by_name("textkit")
        .unwrap()
        .build(dir.path())
        .unwrap();
    let settings = ManagerSettings {
        mock_script: Some(("fix".into(), SCRIPT.into())),
        quiet: true,
        ..Default::default()
    };
    let mut manager = ModelManager::new(Registry::builtin(), settings);
    let config = Config::defaults();
    let prompts = Prompts::load(Some(std::path::Path::new("/nonexistent"))).unwrap();
    let sandbox = codeswarm::sandbox::Sandbox::open(&()).unwrap();
    let tests = RepoTests::new(sandbox.clone(), None, &config.sandbox);
    let target = FixTarget {
        repo: fx.path.display().to_string(),
        commit: Some(fx.base_commit.clone()),
        issue: fx.issue.clone(),
        url_template: DEFAULT_URL_TEMPLATE.into(),
        work_dir: None,
        deadline: None,
        owner_name_only: false,
    };
    let report = fix_issue(&target, &mut manager, &config, &prompts, &tests, &|| false).unwrap();

    assert_eq!(report.localization.files, vec!["textkit/strings.py"]);
    assert_eq!(report.localization.files_from, "model");
    assert_eq!(
        report.localization.symbols,
        vec![("textkit/strings.py".to_string(), "truncate".to_string())]
    );
    // The related tests run are those that name `truncate`, not the whole modules.
    assert!(!report.related_tests.is_empty());
    for t in &report.related_tests {
        assert!(t.contains("::"), "{:?}", report.related_tests);
        assert!(
            !t.contains("pad_left") && !t.contains("slugify"),
            "{:?}",
            report.related_tests
        );
    }
    let baseline = report
        .baseline
        .as_ref()
        .expect("the related tests ran at the base");
    assert_eq!(
        baseline.cases.len(),
        report.related_tests.len(),
        "{}",
        baseline.summary()
    );
    assert_eq!(report.repro.attempts, 2);
    assert!(
        report.repro.rejected[0].contains("PASS on the current code"),
        "{:?}",
        report.repro.rejected
    );
    let retry_prompt = &report
        .calls
        .iter()
        .filter(|c| c.agent == codeswarm::models::AgentRole::TestWriter)
        .nth(1)
        .unwrap()
        .messages;
    assert!(retry_prompt
        .last()
        .unwrap()
        .content
        .contains("do not reproduce the issue"));
    assert_eq!(report.attempts.len(), 1);
    assert_eq!(
        report.attempts[0].retries, 1,
        "the unchanged reply was sent back"
    );
    assert!(
        report.attempts[0].problems[0].contains("same as the current code"),
        "{:?}",
        report.attempts[0].problems
    );
    assert_eq!(report.attempts[0].repro_passes, Some(true));
    assert_eq!(report.status, FixStatus::Plausible, "{:?}", report.reason);
    assert!(report
        .patch
        .contains("-    return text[: width - len(suffix) - 1] + suffix"));
    assert!(
        !report.patch.contains("test_codeswarm_repro"),
        "the reproduction test is not part of the patch"
    );

    // `git apply` accepts it on a fresh clone at the base commit.
    let (_keep, c) = common::git_apply_on_fresh_clone(&fx.path, &fx.base_commit, &report.patch);

    // The fixture's own failing tests pass in the sandbox with the patch.
    let run = tests.run(&c, &[], &fx.failing_tests, "gold check").unwrap();
    for t in &fx.failing_tests {
        assert!(run.passed(t), "{t}: {}", run.summary());
    }
}

#[test]
fn unresolvable_localization_falls_back_to_the_ranking_and_no_patch_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let fx = fixture::by_name("shopcart")
        .unwrap()
        .build(dir.path())
        .unwrap();
    // Every repair attempt (8 at most) is refused too.
    let script = format!(
        r#"
[[reply]]
role = "localizer"
text = "I am not sure."
[[reply]]
role = "localizer"
text = "nothing"
[[reply]]
role = "test_writer"
text = "no code"
[[reply]]
role = "test_writer"
text = "still no code"
{}"#,
        "[[reply]]\nrole = \"repairer\"\ntext = \"I cannot.\"\n".repeat(8)
    );
    let settings = ManagerSettings {
        mock_script: Some(("fix".into(), script.into())),
        quiet: true,
        ..Default::default()
    };
    let mut manager = ModelManager::new(Registry::builtin(), settings);
    let config = Config::defaults();
    let prompts = Prompts::load(Some(std::path::Path::new("/nonexistent"))).unwrap();
    let tests = RepoTests::new(
        codeswarm::sandbox::Sandbox::open(&()).unwrap(),
        None,
        &config.sandbox,
    );
    let target = FixTarget {
        repo: fx.path.display().to_string(),
        commit: Some(fx.base_commit.clone()),
        issue: fx.issue.clone(),
        url_template: DEFAULT_URL_TEMPLATE.into(),
        work_dir: None,
        deadline: None,
        owner_name_only: false,
    };
    let report = fix_issue(&target, &mut manager, &config, &prompts, &tests, &|| false).unwrap();
    assert_eq!(report.localization.files_from, "ranking");
    assert_eq!(
        report.localization.files,
        vec![fx.buggy_file.clone()],
        "BM25 ranks the buggy file first"
    );
    assert!(report.repro.test.is_none());
    assert_eq!(report.status, FixStatus::NoPatch);
    let reason = report.reason.unwrap();
    assert!(
        reason.contains("no edit applied") && reason.contains("no Python code"),
        "{reason}"
    );
    // The worktree was temporary and the user's repository is untouched.
    let status = Command::new("git")
        .args(["status", "--porcelain"])
        .current_dir(&fx.path)
        .output()
        .unwrap();
    assert!(status.stdout.is_empty());
}

/// A batch instance's time limit runs out while the Repairer generates its second edit: that
/// generation is cut off there, and the first edit (applied, not verified) is the result.
#[test]
fn the_instance_deadline_cuts_a_repair_off_and_the_best_patch_so_far_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let fx = fixture::by_name("textkit")
        .unwrap()
        .build(dir.path())
        .unwrap();
    let script = r#"
[[reply]]
role = "localizer"
text = "textkit/strings.py"

[[reply]]
role = "localizer"
text = "textkit/strings.py::truncate"

[[reply]]
role = "test_writer"
text = '''```python
from textkit.strings import truncate

def test_cut_text_fills_the_width():
    assert truncate("hello world", 8) == "hello..."
```'''

# A wrong edit: applied, the reproduction test still fails.
[[reply]]
role = "repairer"
text = '''```python
def truncate(text, width, suffix=ELLIPSIS):
    """Shorten text to at most width characters, ending with suffix when it is cut."""
    if width < len(suffix):
        raise ValueError("width must be at least len(suffix)")
    if len(text) <= width:
        return text
    return text[: width - len(suffix) - 2] + suffix
```'''

# The next generation does not end before the deadline.
[[reply]]
role = "repairer"
text = '''```python
def truncate(text, width'''
stalls = true
"#;
    let settings = ManagerSettings {
        mock_script: Some(("fix".into(), script.into())),
        quiet: true,
        ..Default::default()
    };
    let mut manager = ModelManager::new(Registry::builtin(), settings);
    let config = Config::defaults();
    let prompts = Prompts::load(Some(std::path::Path::new("/nonexistent"))).unwrap();
    let tests = RepoTests::new(
        codeswarm::sandbox::Sandbox::open(&()).unwrap(),
        None,
        &config.sandbox,
    );
    // Room for the sandbox runs before the second edit (about a second each).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(12);
    let target = FixTarget {
        repo: fx.path.display().to_string(),
        commit: Some(fx.base_commit.clone()),
        issue: fx.issue.clone(),
        url_template: DEFAULT_URL_TEMPLATE.into(),
        work_dir: None,
        deadline: Some(deadline),
        owner_name_only: false,
    };
    let report = fix_issue(&target, &mut manager, &config, &prompts, &tests, &|| false).unwrap();
    assert!(std::time::Instant::now() >= deadline);

    let last = report.calls.last().unwrap();
    assert_eq!(
        (last.agent, last.finish),
        (
            codeswarm::models::AgentRole::Repairer,
            codeswarm::models::Finish::Deadline
        ),
        "{:?}",
        report.reason
    );
    let reason = report.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("budget spent")
            && reason.contains("the instance's time limit")
            && reason.contains("cut off"),
        "{reason}"
    );
    assert_eq!(report.attempts.len(), 1);
    assert_eq!(report.attempts[0].repro_passes, Some(false));
    assert_eq!(report.status, FixStatus::Unverified);
    assert!(
        report
            .patch
            .contains("+    return text[: width - len(suffix) - 2] + suffix"),
        "{}",
        report.patch
    );
}

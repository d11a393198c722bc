//! The repository fixer end to end on the ScriptedModel, the real sandbox and real git: many
//! candidate edits, verified and selected by behaviour. The greedy candidate is wrong, sampled
//! ones are right, and selection picks a right one by agreement (`verified`); one right
//! candidate alone is `plausible`; without a reproduction that fails at the base the patch is
//! `unverified`; no applicable edit is `no-patch`; and a time limit that runs out
//! mid-generation keeps the best patch found before.

mod common;

use std::process::Command;

use codeswarm::agents::prompts::Prompts;
use codeswarm::config::Config;
use codeswarm::fix::select::Tier;
use codeswarm::fix::{fix_issue, FixReport, FixStatus, FixTarget};
use codeswarm::models::{AgentRole, ManagerSettings, ModelManager, Registry};
use codeswarm::repo::checkout::DEFAULT_URL_TEMPLATE;
use codeswarm::repo::fixture::{self, FixtureRepo};
use codeswarm::testing::RepoTests;

const LOCALIZE: &str = r#"
[[reply]]
role = "localizer"
text = "textkit/strings.py"

[[reply]]
role = "localizer"
text = "textkit/strings.py::truncate"
"#;

/// A reproduction test for textkit's bug (fails at the base).
const REPRO: &str = r#"
[[reply]]
role = "test_writer"
text = '''```python
from textkit.strings import truncate

def test_cut_text_fills_the_width():
    assert truncate("hello world", 8) == "hello..."
```'''
"#;

/// A "reproduction" that passes at the base.
const NOT_A_REPRO: &str = r#"
[[reply]]
role = "test_writer"
text = '''```python
from textkit.strings import truncate

def test_short_text_is_unchanged():
    assert truncate("hi", 8) == "hi"
```'''
"#;

fn truncate_reply(body: &str) -> String {
    format!(
        r#"
[[reply]]
role = "repairer"
text = '''```python
def truncate(text, width, suffix=ELLIPSIS):
    """Shorten text to at most width characters, ending with suffix when it is cut."""
    if width < len(suffix):
        raise ValueError("width must be at least len(suffix)")
    if len(text) <= width:
        return text
{body}
```'''
"#
    )
}

const RIGHT: &str = "    return text[: width - len(suffix)] + suffix";
const WRONG: &str = "    return text[: width - len(suffix) - 2] + suffix";
const UNCHANGED: &str = "    return text[: width - len(suffix) - 1] + suffix";

struct Setup {
    _dir: tempfile::TempDir,
    fx: FixtureRepo,
    tests: RepoTests,
}

fn setup(name: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let fx = fixture::by_name(name).unwrap().build(dir.path()).unwrap();
    let config = Config::defaults();
    let tests = RepoTests::new(
        codeswarm::sandbox::Sandbox::open(&()).unwrap(),
        None,
        &config.sandbox,
    );
    Setup {
        _dir: dir,
        fx,
        tests,
    }
}

fn run_fix(
    s: &Setup,
    script: &str,
    config: &Config,
    deadline: Option<std::time::Instant>,
) -> FixReport {
    let settings = ManagerSettings {
        mock_script: Some(("fix".into(), script.to_string())),
        quiet: true,
        ..Default::default()
    };
    let mut manager = ModelManager::new(Registry::builtin(), settings);
    let prompts = Prompts::load(Some(std::path::Path::new("/nonexistent"))).unwrap();
    let target = FixTarget {
        repo: s.fx.path.display().to_string(),
        commit: Some(s.fx.base_commit.clone()),
        issue: s.fx.issue.clone(),
        url_template: DEFAULT_URL_TEMPLATE.into(),
        work_dir: None,
        deadline,
        owner_name_only: false,
    };
    fix_issue(&target, &mut manager, config, &prompts, &s.tests, &|| false).unwrap()
}

#[test]
fn a_wrong_greedy_candidate_loses_to_two_agreeing_sampled_ones_and_the_patch_is_verified() {
    let s = setup("textkit");
    // Proposal 1: the unchanged function (sent back), then a wrong edit. Proposal 2: the
    // fix. Proposal 3 (shown proposal 1's failures): the fix again, reformatted with a
    // comment: a repeat, so a second vote, and sampling stops.
    let script = [
        LOCALIZE,
        NOT_A_REPRO,
        REPRO,
        REPRO,
        &truncate_reply(UNCHANGED),
        &truncate_reply(WRONG),
        &truncate_reply(RIGHT),
        &truncate_reply(
            "    # keep the suffix inside the width\n    return text[:width-len(suffix)]+suffix",
        ),
    ]
    .concat();
    let report = run_fix(&s, &script, &Config::defaults(), None);

    assert_eq!(report.localization.files, vec!["textkit/strings.py"]);
    assert_eq!(
        report.localization.symbols,
        vec![("textkit/strings.py".to_string(), "truncate".to_string())]
    );
    // The regression set: the related tests that name `truncate` and pass at the base.
    let baseline = report.baseline.as_ref().unwrap();
    assert!(!baseline.passing.is_empty());
    for t in &baseline.passing {
        assert!(t.contains("truncate") || t.contains("short_text"), "{t}");
    }
    // Three tests written: one passes at the base (rejected), one kept, one repeat.
    let rp = &report.reproduction;
    assert_eq!(rp.tests_written, 3);
    assert_eq!(rp.checks.len(), 1, "{:?}", rp.rejected);
    assert!(
        rp.rejected.iter().any(|r| r.contains("passes at the base")),
        "{:?}",
        rp.rejected
    );
    assert!(
        rp.rejected.iter().any(|r| r.contains("same as an earlier")),
        "{:?}",
        rp.rejected
    );

    let outcomes: Vec<&str> = report
        .proposals
        .iter()
        .map(|p| p.outcome.as_str())
        .collect();
    assert_eq!(
        outcomes,
        vec!["candidate 1", "candidate 2", "repeat of candidate 2"],
        "{:?}",
        report.proposals
    );
    assert_eq!(
        report.proposals[0].retries, 1,
        "the unchanged reply was sent back"
    );
    assert!(report.proposals[2].feedback);
    let feedback_prompt = &report
        .calls
        .iter()
        .filter(|c| c.agent == AgentRole::Repairer)
        .nth(3)
        .unwrap()
        .messages;
    assert!(
        feedback_prompt
            .iter()
            .any(|m| m.content.contains("- 2] + suffix")),
        "the third proposal is shown the wrong candidate's diff"
    );
    assert_eq!(report.candidates[0].verdict.checks, vec![Some(false)]);
    assert_eq!(report.candidates[1].verdict.checks, vec![Some(true)]);
    assert_eq!(report.candidates[1].verdict.votes, 2);
    let sel = report.selection.as_ref().unwrap();
    assert_eq!(
        (sel.chosen, sel.tier, sel.agreeing),
        (1, Tier::Reproduced, 2)
    );
    assert_eq!(report.status, FixStatus::Verified, "{:?}", report.reason);
    assert!(
        report.patch.contains(&format!("+{RIGHT}")),
        "{}",
        report.patch
    );
    assert!(
        !report.patch.contains("test_codeswarm"),
        "checks are not part of the patch"
    );

    // `git apply` accepts it on a fresh clone at the base commit, and the fixture's own
    // failing tests pass in the sandbox with it.
    let (_keep, c) = common::git_apply_on_fresh_clone(&s.fx.path, &s.fx.base_commit, &report.patch);
    let run = s
        .tests
        .run(&c, &[], &s.fx.failing_tests, "gold check")
        .unwrap();
    for t in &s.fx.failing_tests {
        assert!(run.passed(t), "{t}: {}", run.summary());
    }
    // The user's repository is untouched.
    let status = Command::new("git")
        .args(["status", "--porcelain"])
        .current_dir(&s.fx.path)
        .output()
        .unwrap();
    assert!(status.stdout.is_empty());
}

#[test]
fn one_right_candidate_alone_is_plausible_and_without_a_reproduction_unverified() {
    let s = setup("textkit");
    let mut config = Config::defaults();
    config.fix.samples = 2;
    // The fix, then a wrong edit: no second vote for the fix.
    let script = [
        LOCALIZE,
        REPRO,
        REPRO,
        REPRO,
        &truncate_reply(RIGHT),
        &truncate_reply(WRONG),
    ]
    .concat();
    let report = run_fix(&s, &script, &config, None);
    assert_eq!(report.candidates.len(), 2);
    assert_eq!(report.selection.as_ref().unwrap().chosen, 0);
    assert_eq!(report.status, FixStatus::Plausible, "{:?}", report.reason);

    // Every test written passes at the base: nothing reproduces the issue, so even two
    // agreeing candidates are only unverified.
    let script = [
        LOCALIZE,
        NOT_A_REPRO,
        NOT_A_REPRO,
        NOT_A_REPRO,
        &truncate_reply(RIGHT),
        &truncate_reply(RIGHT),
    ]
    .concat();
    let report = run_fix(&s, &script, &config, None);
    assert!(report.reproduction.checks.is_empty());
    assert_eq!(
        report.selection.as_ref().unwrap().tier,
        Tier::RegressionOnly
    );
    assert_eq!(report.status, FixStatus::Unverified);
    assert!(
        report
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("no reproduction fails at the base"),
        "{:?}",
        report.reason
    );
    assert!(report.patch.contains(&format!("+{RIGHT}")));
}

#[test]
fn unresolvable_localization_falls_back_to_the_ranking_and_no_patch_is_explained() {
    let s = setup("shopcart");
    let mut config = Config::defaults();
    config.fix.samples = 2;
    // Each reply without code is sent back once with the reason; the same reason again ends
    // the proposal (two calls each).
    let script = format!(
        r#"
[[reply]]
role = "localizer"
text = "I am not sure."
[[reply]]
role = "localizer"
text = "nothing"
{}{}"#,
        "[[reply]]\nrole = \"test_writer\"\ntext = \"no code\"\n".repeat(6),
        "[[reply]]\nrole = \"repairer\"\ntext = \"I cannot.\"\n".repeat(4)
    );
    let report = run_fix(&s, &script, &config, None);
    // The issue calls `add_item(...)`: that definition comes first; the model names nothing
    // valid, so the ranking's choice is added.
    assert_eq!(report.localization.files_from, "issue (call) + ranking");
    assert_eq!(
        report.localization.files,
        vec![s.fx.buggy_file.clone()],
        "the named file is the one BM25 ranks first"
    );
    assert_eq!(report.localization.symbols[0].1, "add_item");
    assert!(report.reproduction.checks.is_empty());
    assert_eq!(report.reproduction.tests_written, 3);
    assert_eq!(report.status, FixStatus::NoPatch);
    assert!(report.patch.is_empty());
    let reason = report.reason.unwrap();
    assert!(
        reason.contains("no candidate applied") && reason.contains("no Python code"),
        "{reason}"
    );
}

/// A batch instance's time limit runs out while the Repairer generates its second proposal:
/// that generation is cut off there, and the first candidate (applied, its check failing) is
/// the result, unverified.
#[test]
fn the_instance_deadline_cuts_a_proposal_off_and_the_best_patch_so_far_is_kept() {
    let s = setup("textkit");
    let script = [
        LOCALIZE,
        REPRO,
        REPRO,
        REPRO,
        &truncate_reply(WRONG),
        "\n[[reply]]\nrole = \"repairer\"\ntext = '''```python\ndef truncate(text, width'''\nstalls = true\n",
    ]
    .concat();
    // Room for the sandbox runs before the second proposal (about a second each).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(12);
    let report = run_fix(&s, &script, &Config::defaults(), Some(deadline));
    assert!(std::time::Instant::now() >= deadline);
    let last = report.calls.last().unwrap();
    assert_eq!(
        (last.agent, last.finish),
        (AgentRole::Repairer, codeswarm::models::Finish::Deadline),
        "{:?}",
        report.stopped_by
    );
    let stopped = report.stopped_by.clone().unwrap_or_default();
    assert!(
        stopped.contains("the instance's time limit") && stopped.contains("cut off"),
        "{stopped}"
    );
    assert_eq!(report.candidates.len(), 1);
    assert_eq!(report.candidates[0].verdict.checks, vec![Some(false)]);
    assert_eq!(report.status, FixStatus::Unverified);
    assert!(
        report.patch.contains(&format!("+{WRONG}")),
        "{}",
        report.patch
    );
}

//! A fixture repository's tests in the sandbox: the seeded bug fails, the gold patch fixes it,
//! a missing dependency is "not runnable", never a failure.

use codeswarm::config::Config;
use codeswarm::repo::fixture;
use codeswarm::repo::testrun::RepoTests;

fn tests_runner() -> RepoTests {
    let sandbox = codeswarm::sandbox::Sandbox::open(&())
        .expect("sandbox runtime (codeswarm sandbox --setup)");
    RepoTests::new(sandbox, None, &Config::defaults().sandbox)
}

#[test]
fn fixture_bug_fails_and_gold_patch_passes_in_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let fx = fixture::by_name("textkit")
        .unwrap()
        .build(dir.path())
        .unwrap();
    let wt = codeswarm::repo::checkout::checkout(
        &fx.path.display().to_string(),
        Some(&fx.base_commit),
        codeswarm::repo::checkout::DEFAULT_URL_TEMPLATE,
        &Default::default(),
    )
    .unwrap();
    let runner = tests_runner();
    let mut targets: Vec<String> = fx.failing_tests.iter().map(|s| s.to_string()).collect();
    targets.extend(fx.passing_tests.iter().map(|s| s.to_string()));
    let before = runner.run(wt.path(), &[], &targets, "before").unwrap();
    assert!(before.not_runnable.is_none(), "{}", before.output_tail);
    for t in fx.failing_tests.iter() {
        assert!(
            !before.passed(t.as_str()),
            "{t} must fail at the base commit: {}",
            before.summary()
        );
    }
    for t in fx.passing_tests.iter() {
        assert!(
            before.passed(t.as_str()),
            "{t} must pass at the base commit: {}",
            before.summary()
        );
    }
    codeswarm::repo::patch::apply_patch(wt.path(), &fx.gold_patch).unwrap();
    let after = runner.run(wt.path(), &[], &targets, "after").unwrap();
    for t in targets.iter() {
        assert!(
            after.passed(t),
            "{t} must pass after the gold patch: {}",
            after.summary()
        );
    }
}

#[test]
fn a_missing_dependency_is_not_runnable_rather_than_failing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("test_np.py"),
        "import numpy\n\ndef test_sum():\n    assert numpy.sum([1, 2]) == 3\n",
    )
    .unwrap();
    let run = tests_runner()
        .run(dir.path(), &[], &["test_np.py".into()], "np")
        .unwrap();
    let why = run
        .not_runnable
        .clone()
        .expect("numpy is not importable in the sandbox");
    assert!(why.contains("numpy"), "{why}");
    assert!(run.summary().starts_with("not runnable in sandbox"));
}

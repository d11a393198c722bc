//! The one verify path (`testing::named_run::run_named`) in the real sandbox, on a fixture
//! repository built here: a named node id that does not exist does not hide the others'
//! outcomes, a node id inside a named file is not passed twice, `extra` files replace the
//! worktree's in the copy the tests run on (and only there), and a run that crashes the guest
//! runs the named node ids again alone.

use std::path::Path;

use codeswarm::config::Config;
use codeswarm::repo::fixture;
use codeswarm::testing::named_run::{outcomes_of, reported, run_named};
use codeswarm::testing::{CaseOutcome, RepoTests, TestOutcome};

fn tests_runner() -> RepoTests {
    let sandbox =
        codeswarm::testing::open_sandbox(&()).expect("sandbox runtime (codeswarm sandbox --setup)");
    RepoTests::new(sandbox, None, &Config::defaults().repo_tests)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The textkit fixture (its `truncate` is off by one) in `dir`.
fn textkit(dir: &Path) -> fixture::FixtureRepo {
    fixture::by_name("textkit").unwrap().build(dir).unwrap()
}

const GONE: &str = "tests/test_strings.py::test_that_does_not_exist";

#[test]
fn a_node_id_that_does_not_exist_leaves_the_others_their_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    let fx = textkit(dir.path());
    let failing = fx.failing_tests[0].as_str();
    let passing = [
        fx.passing_tests[0].as_str(),
        "tests/test_case.py::test_camel_to_snake",
    ];
    let targets = strings(&[failing, GONE, passing[0], passing[1]]);

    let run = run_named(&tests_runner(), &fx.path, &[], &targets, "named").unwrap();

    assert_eq!(
        run.not_found,
        [GONE],
        "{}\n{}",
        run.summary(),
        run.output_tail
    );
    assert_eq!(
        run.outcome(failing),
        Some(CaseOutcome::Failed),
        "{}",
        run.summary()
    );
    for p in passing {
        assert_eq!(
            run.outcome(p),
            Some(CaseOutcome::Passed),
            "{p}: {}",
            run.summary()
        );
    }
    assert_eq!(run.outcome(GONE), None);
    assert!(!reported(&run, GONE));
    let r = outcomes_of(&run, &targets);
    assert_eq!(r.outcomes[GONE], TestOutcome::NotFound);
    assert_eq!(r.outcomes[failing], TestOutcome::Failed);
    assert_eq!(r.outcomes[passing[1]], TestOutcome::Passed);
}

#[test]
fn a_node_id_inside_a_named_file_is_judged_but_not_passed_twice() {
    let dir = tempfile::tempdir().unwrap();
    let fx = textkit(dir.path());
    let targets = strings(&[
        "tests/test_case.py",
        "tests/test_case.py::test_snake_to_camel",
    ]);

    let run = run_named(&tests_runner(), &fx.path, &[], &targets, "named").unwrap();

    assert_eq!(run.targets, ["tests/test_case.py"]);
    // The whole file ran, not only the id.
    assert!(
        run.passed("tests/test_case.py::test_snake_to_camel"),
        "{}",
        run.summary()
    );
    assert!(
        run.passed("tests/test_case.py::test_camel_to_snake"),
        "{}",
        run.summary()
    );
    assert!(run.not_found.is_empty() && run.crashed_first.is_none());
}

#[test]
fn extra_files_replace_the_worktree_s_in_the_copy_only() {
    let dir = tempfile::tempdir().unwrap();
    let fx = textkit(dir.path());
    let file = fx.path.join("textkit/strings.py");
    let buggy = std::fs::read_to_string(&file).unwrap();
    let bug = "text[: width - len(suffix) - 1] + suffix";
    assert!(buggy.contains(bug));
    let fixed = buggy.replace(bug, "text[: width - len(suffix)] + suffix");
    let targets: Vec<String> = fx.failing_tests.iter().map(|s| s.to_string()).collect();
    let runner = tests_runner();

    let before = run_named(&runner, &fx.path, &[], &targets, "without").unwrap();
    let extra = vec![("textkit/strings.py".to_string(), fixed)];
    let after = run_named(&runner, &fx.path, &extra, &targets, "with").unwrap();

    for t in &targets {
        assert_eq!(
            before.outcome(t),
            Some(CaseOutcome::Failed),
            "{}",
            before.summary()
        );
        assert_eq!(
            after.outcome(t),
            Some(CaseOutcome::Passed),
            "{}",
            after.summary()
        );
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), buggy);
}

#[test]
fn a_crashed_run_runs_the_named_node_ids_alone() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("tests")).unwrap();
    // The recursion goes through C (a `__getitem__` slot calls back into Python at every level)
    // with the limit lifted: it overflows the runtime's C stack and the guest traps, losing
    // every result of the run.
    std::fs::write(
        root.join("tests/test_deep.py"),
        "import sys\n\n\nclass Deep:\n    def __getitem__(self, n):\n        return self[n + 1]\n\n\n\
         def test_ok():\n    assert 1 + 1 == 2\n\n\n\
         def test_crash():\n    sys.setrecursionlimit(10**8)\n    Deep()[0]\n",
    )
    .unwrap();
    let targets = strings(&["tests/test_deep.py", "tests/test_deep.py::test_ok"]);

    let run = run_named(&tests_runner(), root, &[], &targets, "deep").unwrap();

    assert!(
        run.crashed_first.is_some(),
        "the file's run must crash: {}\n{}",
        run.summary(),
        run.output_tail
    );
    assert_eq!(run.targets, ["tests/test_deep.py::test_ok"]);
    assert!(
        run.passed("tests/test_deep.py::test_ok"),
        "{}",
        run.summary()
    );
    assert_eq!(run.outcome("tests/test_deep.py::test_crash"), None);
}

//! A repository's tests in the sandbox: the seeded bug fails, the gold patch fixes it; a
//! missing dependency is "not runnable", never a failure; a repository that ships its own
//! pytest runs its tests with it; the runners of sympy and Django are read from their output;
//! a collection error and a timeout are reported as what they are; a test file that crashes the
//! runtime does not take the listed tests of `evaluate`'s executor down with it.

use std::path::Path;
use std::time::Duration;

use codeswarm::batch::evaluate::{ExecError, TestExecutor, TestOutcome, TestRequest};
use codeswarm::config::Config;
use codeswarm::repo::fixture;
use codeswarm::testing::{RepoTests, RunnerKind, SandboxExecutor, Spec, SpecSet};

fn tests_runner() -> RepoTests {
    let sandbox =
        codeswarm::testing::open_sandbox(&()).expect("sandbox runtime (codeswarm sandbox --setup)");
    RepoTests::new(sandbox, None, &Config::defaults().repo_tests)
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "__pycache__" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
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

#[test]
fn a_repository_that_is_pytest_runs_its_own_pytest() {
    // The repository ships pytest itself (a copy of the sandbox's, marked) under `src/`, as
    // pytest-dev/pytest does; its spec puts `src` first. Its tests must run under its own copy.
    let runner = tests_runner();
    let site = runner.sandbox.paths().site();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    copy_dir(&site.join("_pytest"), &root.join("src/_pytest"));
    copy_dir(&site.join("pytest"), &root.join("src/pytest"));
    let init = root.join("src/pytest/__init__.py");
    let mut text = std::fs::read_to_string(&init).unwrap();
    text.push_str("\nREPOSITORY_COPY = True\n");
    std::fs::write(&init, text).unwrap();
    write(
        root,
        "testing/test_own.py",
        "import pytest\n\ndef test_own_pytest():\n    assert getattr(pytest, 'REPOSITORY_COPY', False), pytest.__file__\n    assert pytest.__file__.startswith('/src/')\n",
    );
    let mut spec = Spec::default_for("example/pytest-like");
    spec.path = vec!["src".into()];
    let own = runner.with_spec(&spec, None, &()).unwrap();
    let run = own
        .run(root, &[], &ids(&["testing/test_own.py"]), "own")
        .unwrap();
    assert!(
        run.passed("testing/test_own.py::test_own_pytest"),
        "{}\n{}",
        run.summary(),
        run.output_tail
    );
    // Without the spec the sandbox's pytest runs, and the test sees it.
    let plain = runner
        .run(root, &[], &ids(&["testing/test_own.py"]), "plain")
        .unwrap();
    assert!(
        !plain.passed("testing/test_own.py::test_own_pytest"),
        "{}",
        plain.summary()
    );
}

#[test]
fn sympy_and_django_runners_are_read_from_their_output() {
    let runner = tests_runner();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // A stand-in for sympy's `bin/test`: prints what `--verbose` prints for the given files.
    write(
        root,
        "bin/test",
        "import sys\nargs = [a for a in sys.argv[1:] if not a.startswith('-')]\nassert '--no-subprocess' in sys.argv, sys.argv\nfor f in args:\n    print(f + '[2] ')\n    print('test_good ok')\n    print('test_bad F')\nprint('_' * 20 + ' ' + args[0] + ':test_bad ' + '_' * 20)\nprint('AssertionError: bad')\nsys.exit(1)\n",
    );
    let mut spec = Spec::default_for("sympy/sympy");
    spec.runner = RunnerKind::Sympy;
    let sympy = runner.with_spec(&spec, Some("1.1"), &()).unwrap();
    let run = sympy
        .run(root, &[], &ids(&["sympy/core/tests/test_x.py"]), "sympy")
        .unwrap();
    assert!(
        run.passed("test_good"),
        "{}\n{}",
        run.summary(),
        run.output_tail
    );
    assert!(run.passed("sympy/core/tests/test_x.py::test_good"));
    let bad = run
        .cases
        .iter()
        .find(|c| c.id.ends_with("::test_bad"))
        .unwrap();
    assert_eq!(bad.message, "AssertionError: bad");
    // A stand-in for Django's runtests.py, printing unittest's verbose lines.
    write(
        root,
        "tests/runtests.py",
        "import sys\nassert sys.argv[1:6] == ['--verbosity', '2', '--settings=test_sqlite', '--parallel', '1'], sys.argv\nassert sys.argv[6:] == ['queries.tests'], sys.argv\nsys.stderr.write('test_a (queries.tests.T.test_a) ... ok\\ntest_b (queries.tests.T) ... FAIL\\n')\nsys.exit(1)\n",
    );
    let mut spec = Spec::default_for("django/django");
    spec.runner = RunnerKind::Django;
    let django = runner.with_spec(&spec, Some("3.0"), &()).unwrap();
    let run = django
        .run(root, &[], &ids(&["tests/queries/tests.py"]), "django")
        .unwrap();
    assert!(
        run.passed("test_a (queries.tests.T)"),
        "{}\n{}",
        run.summary(),
        run.output_tail
    );
    assert_eq!(
        run.outcome("test_b (queries.tests.T)"),
        Some(codeswarm::testing::CaseOutcome::Failed)
    );
}

#[test]
fn collection_errors_limits_and_timeouts_are_not_failures() {
    let runner = tests_runner();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "pkg/__init__.py", "def f():\n    return 1\n");
    write(
        root,
        "tests/test_ok.py",
        "from pkg import f\n\ndef test_f():\n    assert f() == 1\n\ndef test_spawn():\n    import subprocess\n    subprocess.run(['true'])\n",
    );
    write(
        root,
        "tests/test_broken.py",
        "from pkg import g\n\ndef test_g():\n    assert g() == 2\n",
    );
    write(
        root,
        "tests/test_slow.py",
        "def test_forever():\n    while True:\n        pass\n",
    );
    let executor = SandboxExecutor::new(runner.clone(), SpecSet::default());
    let wanted = ids(&[
        "tests/test_ok.py::test_f",
        "tests/test_ok.py::test_spawn",
        "tests/test_broken.py::test_g",
        "tests/test_ok.py::test_missing",
    ]);
    let r = executor
        .run_tests(
            root,
            &TestRequest {
                repo: "example/pkg",
                version: None,
                ids: &wanted,
                files: &[],
            },
        )
        .unwrap();
    assert_eq!(r.outcomes[&wanted[0]], TestOutcome::Passed, "{}", r.log);
    assert_eq!(
        r.outcomes[&wanted[1]],
        TestOutcome::NotRunnable,
        "{}",
        r.log
    );
    assert!(
        r.not_runnable[&wanted[1]].contains("WASI"),
        "{:?}",
        r.not_runnable
    );
    assert_eq!(r.outcomes[&wanted[2]], TestOutcome::Error, "{}", r.log);
    assert!(
        r.collection_errors["tests/test_broken.py"].contains("cannot import name 'g'"),
        "{:?}",
        r.collection_errors
    );
    assert_eq!(r.outcomes[&wanted[3]], TestOutcome::NotFound);

    let mut quick = runner.clone();
    quick.timeout = Duration::from_secs(3);
    let executor = SandboxExecutor::new(quick, SpecSet::default());
    let slow = ids(&["tests/test_slow.py::test_forever"]);
    let err = executor
        .run_tests(
            root,
            &TestRequest {
                repo: "example/pkg",
                version: None,
                ids: &slow,
                files: &[],
            },
        )
        .unwrap_err();
    assert!(
        matches!(err, ExecError::Timeout { seconds: 3, .. }),
        "{err:?}"
    );
}

#[test]
fn a_spec_known_not_to_run_says_why_without_running() {
    let runner = tests_runner();
    let mut spec = Spec::default_for("old/project");
    spec.not_runnable = Some("needs Python ≤ 3.9 (collections.Mapping)".into());
    let t = runner.with_spec(&spec, Some("0.1"), &()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = t
        .run(dir.path(), &[], &ids(&["tests/test_x.py"]), "x")
        .unwrap();
    assert!(run.not_runnable.unwrap().contains("Python ≤ 3.9"));
    assert_eq!(run.status, "not started");
}

#[test]
fn tests_in_top_level_tmp_and_dev_folders_are_not_hidden_by_the_sandbox() {
    let runner = tests_runner();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "calc.py", "def add(a, b):\n    return a + b\n");
    write(
        root,
        "dev/test_dev.py",
        "from calc import add\n\ndef test_dev():\n    assert add(1, 2) == 3\n",
    );
    write(
        root,
        "tmp/test_tmp.py",
        "def test_tmp():\n    import os\n    assert os.path.exists('/dev/null')\n",
    );
    let run = runner
        .run(
            root,
            &[],
            &ids(&["dev/test_dev.py", "tmp/test_tmp.py"]),
            "dirs",
        )
        .unwrap();
    assert!(
        run.passed("dev/test_dev.py::test_dev"),
        "{}\n{}",
        run.summary(),
        run.output_tail
    );
    assert!(
        run.passed("tmp/test_tmp.py::test_tmp"),
        "{}\n{}",
        run.summary(),
        run.output_tail
    );
}

#[test]
fn the_executor_reports_a_spec_known_not_to_run_with_its_reason() {
    let runner = tests_runner();
    let specs = SpecSet::parse(
        "[[spec]]\nrepo = \"old/project\"\nversions = [\"0.1\"]\nnot_runnable = \"needs the network\"\n",
        Path::new("t.toml"),
    )
    .unwrap();
    let executor = SandboxExecutor::new(runner, specs);
    let dir = tempfile::tempdir().unwrap();
    let wanted = ids(&["tests/test_x.py::test_a"]);
    let err = executor
        .run_tests(
            dir.path(),
            &TestRequest {
                repo: "old/project",
                version: Some("0.1"),
                ids: &wanted,
                files: &[],
            },
        )
        .unwrap_err();
    match err {
        ExecError::NotRunnable(why) => assert!(why.contains("needs the network"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_executor_runs_the_listed_ids_alone_when_their_file_crashes_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    // test_crash recurses through C past the runtime's C stack: the file's run traps.
    write(
        dir.path(),
        "tests/test_deep.py",
        "import sys\n\n\nclass Deep:\n    def __getitem__(self, n):\n        return self[n + 1]\n\n\n\
         def test_ok():\n    assert 1 + 1 == 2\n\n\n\
         def test_crash():\n    sys.setrecursionlimit(10**8)\n    Deep()[0]\n",
    );
    let executor = SandboxExecutor::new(tests_runner(), SpecSet::builtin());
    let run = |wanted: &[String]| {
        executor.run_tests(
            dir.path(),
            &TestRequest {
                repo: "local/project",
                version: None,
                ids: wanted,
                files: &["tests/test_deep.py".to_string()],
            },
        )
    };
    let ok = ids(&["tests/test_deep.py::test_ok"]);
    let r = run(&ok).unwrap();
    assert_eq!(r.outcomes[&ok[0]], TestOutcome::Passed, "{}", r.log);
    match run(&ids(&[
        "tests/test_deep.py::test_ok",
        "tests/test_deep.py::test_crash",
    ])) {
        Err(ExecError::NotRunnable(why)) => assert!(why.contains("crashed"), "{why}"),
        other => panic!("{other:?}"),
    }
}

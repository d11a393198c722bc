//! Pytest snapshots (`sandbox/snapshot`): `python -m pytest` runs start from a copy of an
//! interpreter that has imported pytest. They must give exactly the results of a fresh start,
//! a job must not be able to change what the next job starts from, a damaged snapshot file is
//! never used, and a job whose own files would change what a fresh start imports starts fresh.
//!
//! Needs the sandbox runtime (fetched with pip on first use, or `codeswarm sandbox --setup`).

use std::path::Path;

use codeswarm::sandbox::{Job, Sandbox, SandboxOptions, Status, TestOutcome};

fn open(snapshots: Option<&Path>) -> Sandbox {
    open_bounded(snapshots, None)
}

fn open_bounded(snapshots: Option<&Path>, max_bytes: Option<u64>) -> Sandbox {
    Sandbox::open_with(
        &SandboxOptions {
            no_snapshot: snapshots.is_none(),
            snapshot_dir: snapshots.map(Path::to_path_buf),
            snapshot_max_bytes: max_bytes,
            no_bytecode_cache: true,
            ..SandboxOptions::default()
        },
        &(),
    )
    .expect("the sandbox runtime (run `codeswarm sandbox --setup`)")
}

fn images(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "img"))
        .collect();
    v.sort();
    v
}

const CONFTEST: &str = "import pytest\n\n@pytest.fixture\ndef answer():\n    return 42\n";
const TESTS: &str = r#"import os, sys, warnings
import pytest

def test_fixture(answer):
    assert answer == 42

def test_env_and_argv():
    assert os.environ["CODESWARM_MARK"] == "abc"
    assert sys.argv[0].endswith("pytest/__main__.py")
    assert sys.modules["__main__"].__name__ == "__main__"
    assert os.getcwd() == "/"

def test_fails():
    assert [1, 2] == [1, 3]

def test_errors():
    raise KeyError("boom")

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass

@pytest.mark.xfail(strict=True)
def test_xfail():
    assert False

def test_warns():
    with pytest.warns(UserWarning):
        warnings.warn("careful", UserWarning)

@pytest.mark.parametrize("n", [1, 2, 3])
def test_param(n):
    assert n != 2
"#;

fn job() -> Job {
    Job::pytest(
        [
            ("conftest.py", CONFTEST.as_bytes().to_vec()),
            ("test_mix.py", TESTS.as_bytes().to_vec()),
        ],
        ["test_mix.py"],
    )
    .env("CODESWARM_MARK", "abc")
}

fn results(sb: &Sandbox, job: &Job) -> (Status, Vec<(String, TestOutcome, Option<String>)>) {
    let o = sb.run(job).unwrap();
    let tests = o
        .tests
        .iter()
        .map(|t| (t.node_id.clone(), t.outcome, t.message.clone()))
        .collect();
    (o.status, tests)
}

#[test]
fn pytest_runs_from_a_snapshot_give_the_results_of_a_fresh_start() {
    let dir = tempfile::tempdir().unwrap();
    let snap = open(Some(dir.path()));
    let fresh = open(None);
    assert_eq!(fresh.snapshot_runs(), None);

    let expected = results(&fresh, &job());
    assert_eq!(expected.0, Status::Exited(1));
    assert_eq!(expected.1.len(), 10, "{expected:?}");
    for _ in 0..2 {
        assert_eq!(results(&snap, &job()), expected);
    }
    assert_eq!(
        snap.snapshot_runs(),
        Some(2),
        "both runs started from the snapshot"
    );
    assert_eq!(
        images(dir.path()).len(),
        1,
        "one snapshot for one kind of job"
    );

    // Another sandbox finds the stored snapshot and uses it.
    let again = open(Some(dir.path()));
    assert_eq!(results(&again, &job()), expected);
    assert_eq!(again.snapshot_runs(), Some(1));
    assert_eq!(images(dir.path()).len(), 1);

    // Other commands never start from a snapshot.
    let plain = Job::python(["-c", "import sys; print('pytest' in sys.modules)"]);
    let o = snap.run(&plain).unwrap();
    assert_eq!(o.stdout_lossy().trim(), "False");
    assert_eq!(snap.snapshot_runs(), Some(2));
}

#[test]
fn a_job_cannot_change_what_the_next_job_starts_from() {
    let dir = tempfile::tempdir().unwrap();
    let sb = open(Some(dir.path()));
    let poison = Job::pytest(
        [(
            "test_poison.py",
            br#"import builtins, json, os, sys
import pytest, _pytest.python

def test_poison():
    os.environ["POISON"] = "1"
    json.dumps = lambda *a, **k: "poisoned"
    pytest.poisoned = True
    builtins.poisoned = True
    _pytest.python.Function.runtest = lambda self: None
    sys.path.insert(0, "/poisoned")
    for target in ("/.codeswarm-site-packages/pytest/__init__.py", "/.codeswarm-stdlib/json/__init__.pyc"):
        try:
            with open(target, "a") as f:
                f.write("poisoned = True\n")
        except OSError:
            pass
"#
            .to_vec(),
        )],
        Vec::<String>::new(),
    );
    assert_eq!(sb.run(&poison).unwrap().status, Status::Exited(0));
    let image = &images(dir.path())[0];
    let before = std::fs::read(image).unwrap();
    let check = Job::pytest(
        [(
            "test_clean.py",
            br#"import builtins, json, os, sys
import pytest

def test_clean():
    assert "POISON" not in os.environ
    assert json.dumps([1]) == "[1]"
    assert not hasattr(pytest, "poisoned")
    assert not hasattr(builtins, "poisoned")
    assert "/poisoned" not in sys.path

def test_still_runs():
    assert False, "test bodies still run"
"#
            .to_vec(),
        )],
        Vec::<String>::new(),
    );
    let (status, tests) = results(&sb, &check);
    assert_eq!(status, Status::Exited(1), "{tests:?}");
    assert_eq!(tests[0].1, TestOutcome::Passed, "{tests:?}");
    assert_eq!(tests[1].1, TestOutcome::Failed, "{tests:?}");
    assert_eq!(
        sb.snapshot_runs(),
        Some(2),
        "both jobs started from the same snapshot"
    );
    assert_eq!(
        std::fs::read(image).unwrap(),
        before,
        "the stored snapshot is unchanged"
    );
}

#[test]
fn the_snapshot_dir_keeps_within_its_bound_and_a_removed_snapshot_is_taken_again() {
    let dir = tempfile::tempdir().unwrap();
    let expected = results(&open(None), &job());
    // Room for one snapshot (~11 MB) only.
    let sb = open_bounded(Some(dir.path()), Some(1));
    assert_eq!(results(&sb, &job()), expected);
    let first = images(dir.path());
    assert_eq!(first.len(), 1);
    // Another kind of job (its environment is part of the key): its snapshot replaces the
    // first one, and the first kind of job still gets the results of a fresh start.
    let other = job().env("CODESWARM_OTHER", "1");
    let other_expected = results(&open(None), &other);
    assert_eq!(results(&sb, &other), other_expected);
    let second = images(dir.path());
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(second, first, "the least recently used snapshot went");
    let again = open_bounded(Some(dir.path()), Some(1));
    assert_eq!(results(&again, &job()), expected);
    assert_eq!(again.snapshot_runs(), Some(1), "taken again and used");
    assert_eq!(images(dir.path()), first);
}

#[test]
fn a_damaged_snapshot_file_is_not_used_and_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let expected = results(&open(None), &job());
    assert_eq!(results(&open(Some(dir.path())), &job()), expected);
    let image = images(dir.path()).remove(0);
    let mut bytes = std::fs::read(&image).unwrap();
    // Flip a byte in the middle of the memory image: restoring it could crash the
    // interpreter or, worse, change what it does.
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x5a;
    std::fs::write(&image, &bytes).unwrap();

    let sb = open(Some(dir.path()));
    assert_eq!(results(&sb, &job()), expected);
    assert_eq!(
        sb.snapshot_runs(),
        Some(1),
        "a new snapshot was taken and used"
    );
    assert_ne!(
        std::fs::read(&image).unwrap(),
        bytes,
        "the damaged file was replaced"
    );
}

#[test]
fn a_module_of_the_job_named_like_one_pytest_imports_means_a_fresh_start() {
    let dir = tempfile::tempdir().unwrap();
    let sb = open(Some(dir.path()));
    // pytest imports `ast`; from a fresh start, `-m pytest` finds the work dir's `ast.py`
    // first. A run from the snapshot (where `ast` is already the standard library's) would
    // pass instead.
    let shadow = Job::pytest(
        [
            (
                "ast.py",
                b"print('the job ast.py')\nraise SystemExit(7)\n".to_vec(),
            ),
            ("test_a.py", b"def test_a():\n    pass\n".to_vec()),
        ],
        Vec::<String>::new(),
    );
    let o = sb.run(&shadow).unwrap();
    assert_eq!(o.status, Status::Exited(7), "{}", o.stdout_lossy());
    assert!(o.stdout_lossy().contains("the job ast.py"));
    assert_eq!(sb.snapshot_runs(), Some(0));

    // The same job without it starts from the snapshot.
    let clean = Job::pytest(
        [("test_a.py", b"def test_a():\n    pass\n".to_vec())],
        Vec::<String>::new(),
    );
    assert_eq!(sb.run(&clean).unwrap().status, Status::Exited(0));
    assert_eq!(sb.snapshot_runs(), Some(1));
}

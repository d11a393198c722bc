//! The sandbox doing its normal job on the real runtime: pytest with JUnit results, exit codes,
//! bytes that are not UTF-8, mounts, environment, concurrency, calls from async code, fuel, and
//! the compiled-module cache.
//!
//! Needs the sandbox runtime (fetched with pip on first use, or `codeswarm sandbox --setup`).

use std::sync::OnceLock;
use std::time::Duration;

use codeswarm::sandbox::{Job, ModuleSource, Sandbox, SandboxOptions, Status, TestOutcome};

fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        Sandbox::open(&()).expect("the sandbox runtime (run `codeswarm sandbox --setup`)")
    })
}

const SOLUTION: &str = "def add(a, b):\n    return a + b\n";
const TESTS: &str = r#"import pytest
from solution import add


def test_add():
    assert add(1, 2) == 3


def test_wrong():
    assert add(2, 2) == 5


@pytest.mark.skip(reason="not today")
def test_skipped():
    pass


@pytest.fixture
def broken():
    raise RuntimeError("fixture exploded")


def test_error(broken):
    pass


class TestClass:
    @pytest.mark.parametrize("a,b,c", [(1, 1, 2), (0, 0, 0)])
    def test_param(self, a, b, c):
        assert add(a, b) == c
"#;

#[test]
fn pytest_results_come_from_junit() {
    let job = Job::pytest(
        [
            ("solution.py", SOLUTION.as_bytes().to_vec()),
            ("test_solution.py", TESTS.as_bytes().to_vec()),
        ],
        ["-q"],
    );
    let o = sandbox().run(&job).unwrap();
    assert_eq!(
        o.status,
        Status::Exited(1),
        "pytest exits 1 when tests fail: {}",
        o.stdout_lossy()
    );
    assert_eq!(o.junit_error, None);
    let by_id = |id: &str| {
        o.tests
            .iter()
            .find(|t| t.node_id == id)
            .unwrap_or_else(|| panic!("no {id} in {:#?}", o.tests))
    };
    assert_eq!(o.tests.len(), 6, "{:#?}", o.tests);
    assert_eq!(
        by_id("test_solution.py::test_add").outcome,
        TestOutcome::Passed
    );
    let wrong = by_id("test_solution.py::test_wrong");
    assert_eq!(wrong.outcome, TestOutcome::Failed);
    assert!(
        wrong
            .message
            .as_deref()
            .unwrap_or("")
            .contains("assert 4 == 5"),
        "{wrong:?}"
    );
    assert!(
        wrong
            .details
            .as_deref()
            .unwrap_or("")
            .contains("AssertionError"),
        "{wrong:?}"
    );
    let skipped = by_id("test_solution.py::test_skipped");
    assert_eq!(skipped.outcome, TestOutcome::Skipped);
    assert_eq!(skipped.message.as_deref(), Some("not today"));
    let error = by_id("test_solution.py::test_error");
    assert_eq!(error.outcome, TestOutcome::Error);
    assert!(
        error
            .details
            .as_deref()
            .unwrap_or("")
            .contains("fixture exploded"),
        "{error:?}"
    );
    assert_eq!(
        by_id("test_solution.py::TestClass::test_param[1-1-2]").outcome,
        TestOutcome::Passed
    );
    assert_eq!(
        by_id("test_solution.py::TestClass::test_param[0-0-0]").outcome,
        TestOutcome::Passed
    );
    assert!(
        o.stdout_lossy()
            .contains("1 failed, 3 passed, 1 skipped, 1 error"),
        "{}",
        o.stdout_lossy()
    );
    assert!(!o.all_tests_passed());
    // The whole outcome goes into report.json.
    let json = serde_json::to_value(&o).unwrap();
    assert_eq!(json["tests"][0]["outcome"], "passed");
}

#[test]
fn passing_pytest_run() {
    let tests = "from solution import add\n\ndef test_add():\n    assert add(1, 2) == 3\n\ndef test_neg():\n    assert add(-1, -1) == -2\n";
    let job = Job::pytest(
        [
            ("solution.py", SOLUTION.as_bytes().to_vec()),
            ("test_solution.py", tests.as_bytes().to_vec()),
        ],
        Vec::<String>::new(),
    );
    let o = sandbox().run(&job).unwrap();
    assert!(
        o.all_tests_passed(),
        "{:?}\n{}\n{}",
        o.status,
        o.stdout_lossy(),
        o.stderr_lossy()
    );
    assert_eq!(o.tests.len(), 2);
}

#[test]
fn collection_errors_are_reported() {
    let job = Job::pytest(
        [("test_broken.py", b"def test_x(:\n    pass\n".to_vec())],
        Vec::<String>::new(),
    );
    let o = sandbox().run(&job).unwrap();
    assert_eq!(o.status, Status::Exited(2), "{}", o.stdout_lossy());
    assert_eq!(o.tests.len(), 1, "{:#?}", o.tests);
    assert_eq!(o.tests[0].outcome, TestOutcome::Error);
    assert!(
        o.tests[0]
            .details
            .as_deref()
            .unwrap_or("")
            .contains("SyntaxError"),
        "{:?}",
        o.tests[0]
    );
}

#[test]
fn exit_codes_and_binary_output() {
    let o = sandbox()
        .run(&Job::python(["-c", "import sys; sys.stdout.buffer.write(b'\\xff\\xfeok'); sys.stderr.write('err'); sys.exit(3)"]))
        .unwrap();
    assert_eq!(o.status, Status::Exited(3));
    assert_eq!(o.stdout, b"\xff\xfeok", "bytes are kept as they are");
    assert_eq!(o.stdout_lossy(), "\u{fffd}\u{fffd}ok");
    assert_eq!(o.stderr, b"err");
    let o = sandbox()
        .run(&Job::python(["-c", "raise ValueError('boom')"]))
        .unwrap();
    assert_eq!(o.status, Status::Exited(1));
    assert!(o.stderr_lossy().contains("ValueError: boom"));
}

#[test]
fn source_dir_files_mounts_and_env() {
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir(src.path().join("pkg")).unwrap();
    std::fs::write(
        src.path().join("pkg/__init__.py"),
        "VALUE = 'from source dir'\n",
    )
    .unwrap();
    let deps = tempfile::tempdir().unwrap();
    std::fs::write(
        deps.path().join("depmod.py"),
        "DEP = 'from read-only mount'\n",
    )
    .unwrap();
    let script = r#"
import os, pkg, depmod
print(pkg.VALUE)
print(depmod.DEP)
print(open('extra/data.txt').read())
print(os.environ['MY_VAR'])
try:
    open('/deps/new.py', 'w')
except OSError as e:
    print('mount is read-only:', type(e).__name__)
open('/dev/null', 'w').write('discarded')
print(sorted(os.listdir('/dev')))
"#;
    let job = Job::python(["main.py"])
        .source_dir(src.path())
        .file("main.py", script)
        .file("extra/data.txt", "in-memory file")
        .mount(deps.path(), "/deps")
        .env("PYTHONPATH", "/deps")
        .env("MY_VAR", "my value");
    let o = sandbox().run(&job).unwrap();
    assert_eq!(o.status, Status::Exited(0), "{}", o.stderr_lossy());
    assert_eq!(
        o.stdout_lossy(),
        "from source dir\nfrom read-only mount\nin-memory file\nmy value\nmount is read-only: PermissionError\n['null']\n"
    );
    assert!(!deps.path().join("new.py").exists());
    // The source dir itself is never written: the guest works on a copy.
    let o = sandbox()
        .run(
            &Job::python(["-c", "open('pkg/__init__.py', 'w').write('changed')"])
                .source_dir(src.path()),
        )
        .unwrap();
    assert_eq!(o.status, Status::Exited(0));
    assert_eq!(
        std::fs::read_to_string(src.path().join("pkg/__init__.py")).unwrap(),
        "VALUE = 'from source dir'\n"
    );
}

#[test]
fn bad_jobs_are_host_errors() {
    assert!(sandbox()
        .run(&Job::python(["-c", "1"]).file("../escape.py", ""))
        .is_err());
    assert!(sandbox()
        .run(&Job::python(["-c", "1"]).mount("/nonexistent-dir-for-codeswarm", "/x"))
        .is_err());
    let mut fuel = Job::python(["-c", "1"]);
    fuel.limits.fuel = Some(1000);
    assert!(
        sandbox().run(&fuel).is_err(),
        "fuel needs a metering sandbox"
    );
}

#[test]
fn concurrent_runs_share_one_sandbox() {
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let sb = sandbox().clone();
            std::thread::spawn(move || {
                let job = Job::python([
                    "-c",
                    &format!("import json; print(json.dumps({{'n': {i}}}))"),
                ]);
                let o = sb.run(&job).unwrap();
                (o.status.clone(), o.stdout_lossy())
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let (status, out) = h.join().unwrap();
        assert_eq!(status, Status::Exited(0));
        assert_eq!(out, format!("{{\"n\": {i}}}\n"));
    }
}

#[test]
fn runs_from_async_code() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let out = rt.block_on(async {
        sandbox()
            .run(&Job::python(["-c", "print('from async')"]))
            .unwrap()
    });
    assert_eq!(out.stdout_lossy(), "from async\n");
}

#[test]
fn fuel_limits_cpu() {
    let sb = Sandbox::open_with(
        &SandboxOptions {
            fuel_metering: true,
            ..SandboxOptions::default()
        },
        &(),
    )
    .unwrap();
    let mut job = Job::python(["-c", "while True: pass"]).timeout(Duration::from_secs(30));
    job.limits.fuel = Some(2_000_000_000);
    let o = sb.run(&job).unwrap();
    assert_eq!(o.status, Status::Timeout);
    assert!(o.duration < Duration::from_secs(30));
    job.args = vec!["-c".into(), "print(sum(range(1000)))".into()];
    let o = sb.run(&job).unwrap();
    assert_eq!(
        (o.status.clone(), o.stdout_lossy()),
        (Status::Exited(0), "499500\n".to_string())
    );
}

#[test]
fn second_open_uses_the_module_cache() {
    let _ = sandbox();
    let again = Sandbox::open(&()).unwrap();
    assert_eq!(again.module_source(), ModuleSource::Cache);
}

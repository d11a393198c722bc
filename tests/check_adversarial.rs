//! The gate against hostile patches. A tiny repository (`calc.py` with `add(a, b)`,
//! `tests/test_calc.py` with two tests); every patch below also breaks `add` (`return a - b`)
//! and tries to get past the gate anyway: links to host files, missing modules, zero tests,
//! rewritten judges, huge or non-text patches, a crash of the runtime in a named file. Each
//! must fail the gate (exit 1), and no host file's content may reach the output.

mod check_common;

use std::path::Path;

use check_common::{check, codeswarm, git, out, Home};

const TESTS: &str = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_add_negative():\n    assert add(-1, 1) == 0\n";

/// The calc repository at its base commit.
fn calc_repo(dir: &Path) -> String {
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    std::fs::write(dir.join("calc.py"), "def add(a, b):\n    return a + b\n").unwrap();
    std::fs::write(dir.join("tests/test_calc.py"), TESTS).unwrap();
    git(dir, &["init", "-q"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "base"]);
    git(dir, &["rev-parse", "HEAD"]).trim().to_string()
}

/// The patch that `change` makes on top of the broken `add`, as `git diff` writes it.
fn patch_of(dir: &Path, change: &dyn Fn(&Path)) -> String {
    std::fs::write(dir.join("calc.py"), "def add(a, b):\n    return a - b\n").unwrap();
    change(dir);
    git(dir, &["add", "-A"]);
    let diff = git(dir, &["diff", "--cached", "--binary"]);
    git(dir, &["reset", "-q", "--hard", "HEAD"]);
    git(dir, &["clean", "-qfdx"]);
    diff
}

/// pytest code that turns every test report into a pass.
const FORCE_PASS: &str = "import _pytest.reports as r\n_orig = r.TestReport.from_item_and_call.__func__\n\n\ndef _f(cls, item, call):\n    rep = _orig(cls, item, call)\n    rep.outcome = 'passed'\n    return rep\n\n\nr.TestReport.from_item_and_call = classmethod(_f)\n";

struct Case {
    name: &'static str,
    change: Box<dyn Fn(&Path)>,
    named: bool,
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn hostile_patches_that_break_add_all_fail_the_gate() {
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let repo_dir = dir.path().join("calc");
    let base = calc_repo(&repo_dir);
    let cases: Vec<Case> = vec![
        Case {
            name: "plain breakage",
            change: Box::new(|_| {}),
            named: true,
        },
        Case {
            name: "conftest importing a module that does not exist",
            change: Box::new(|d| write(d, "conftest.py", "import zzz_not_installed_anywhere\n")),
            named: true,
        },
        Case {
            name: "a new test importing a missing module",
            change: Box::new(|d| {
                write(
                    d,
                    "tests/test_extra.py",
                    "import zzz_missing\n\ndef test_x():\n    pass\n",
                )
            }),
            named: false,
        },
        Case {
            name: "os._exit(0) at the top of the named test file",
            change: Box::new(|d| {
                write(
                    d,
                    "tests/test_calc.py",
                    &format!("import os; os._exit(0)\n{TESTS}"),
                )
            }),
            named: true,
        },
        Case {
            name: "os._exit(0) at the top of the patch's own test file",
            change: Box::new(|d| {
                write(
                    d,
                    "tests/test_calc.py",
                    &format!("import os; os._exit(0)\n{TESTS}"),
                )
            }),
            named: false,
        },
        Case {
            name: "pytest.ini deselecting everything",
            change: Box::new(|d| write(d, "pytest.ini", "[pytest]\naddopts = -k none\n")),
            named: true,
        },
        Case {
            name: "deleting the test file",
            change: Box::new(|d| std::fs::remove_file(d.join("tests/test_calc.py")).unwrap()),
            named: false,
        },
        Case {
            name: "conftest skipping every test",
            change: Box::new(|d| {
                write(
                    d,
                    "conftest.py",
                    "import pytest\n\ndef pytest_collection_modifyitems(items):\n    for i in items:\n        i.add_marker(pytest.mark.skip(reason='no'))\n",
                )
            }),
            named: true,
        },
        Case {
            name: "conftest hook forcing every report to passed",
            change: Box::new(|d| {
                write(
                    d,
                    "tests/conftest.py",
                    "import pytest\n\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n    outcome = yield\n    rep = outcome.get_result()\n    rep.outcome = 'passed'\n",
                )
            }),
            named: true,
        },
        Case {
            name: "a top-level pytest.py shadowing pytest",
            change: Box::new(|d| write(d, "pytest.py", "import sys\nsys.exit(0)\n")),
            named: true,
        },
        Case {
            name: "a forged JUnit report and os._exit(0)",
            change: Box::new(|d| {
                write(
                    d,
                    ".codeswarm-junit.xml",
                    "<testsuites><testsuite><testcase classname=\"tests.test_calc\" name=\"test_add\" file=\"tests/test_calc.py\"/><testcase classname=\"tests.test_calc\" name=\"test_add_negative\" file=\"tests/test_calc.py\"/></testsuite></testsuites>",
                );
                write(
                    d,
                    "tests/test_calc.py",
                    &format!("import os; os._exit(0)\n{TESTS}"),
                );
            }),
            named: false,
        },
        Case {
            name: "a top-level pdb.py (standard library name) forcing reports to passed",
            change: Box::new(|d| {
                write(
                    d,
                    "pdb.py",
                    &format!("{FORCE_PASS}\nclass Pdb:\n    pass\n\n\ndef set_trace(*a, **k):\n    pass\n"),
                )
            }),
            named: true,
        },
        Case {
            name: "a top-level tomllib package (standard library name) forcing reports to passed",
            change: Box::new(|d| write(d, "tomllib/__init__.py", FORCE_PASS)),
            named: false,
        },
        Case {
            name: "pdb.py beside the tests (pytest puts that dir on sys.path)",
            change: Box::new(|d| write(d, "tests/pdb.py", FORCE_PASS)),
            named: true,
        },
        Case {
            name: "tests/__init__.py forcing reports to passed",
            change: Box::new(|d| write(d, "tests/__init__.py", FORCE_PASS)),
            named: true,
        },
        Case {
            name: "tests/__init__.py forcing reports to passed, no --tests",
            change: Box::new(|d| {
                write(d, "tests/__init__.py", FORCE_PASS);
                write(d, "tests/test_calc.py", &format!("{TESTS}# touched\n"));
            }),
            named: false,
        },
        Case {
            name: "the existing test file edited to assert True, no --tests",
            change: Box::new(|d| {
                write(
                    d,
                    "tests/test_calc.py",
                    "def test_add():\n    assert True\n\n\ndef test_add_negative():\n    assert True\n",
                )
            }),
            named: false,
        },
        Case {
            name: "the named test edited to assert True",
            change: Box::new(|d| {
                write(
                    d,
                    "tests/test_calc.py",
                    "def test_add():\n    assert True\n\n\ndef test_add_negative():\n    assert True\n",
                )
            }),
            named: true,
        },
    ];
    let repo = repo_dir.display().to_string();
    for case in &cases {
        let patch = patch_of(&repo_dir, &*case.change);
        let file = dir.path().join("p.diff");
        std::fs::write(&file, &patch).unwrap();
        let mut args = vec![
            "check",
            "--repo",
            &repo,
            "--base",
            &base,
            "--patch",
            file.to_str().unwrap(),
            "--json",
        ];
        if case.named {
            args.extend(["--tests", "tests/test_calc.py"]);
        }
        let o = codeswarm(&home, &args, &[]);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{}: the gate must fail\npatch:\n{patch}\n{}",
            case.name,
            out(&o)
        );
    }
}

#[test]
fn links_out_of_the_repository_are_refused_and_never_read() {
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let repo_dir = dir.path().join("calc");
    let base = calc_repo(&repo_dir);
    let repo = repo_dir.display().to_string();
    let secret = "CODESWARM_TEST_SECRET_value_9f3a";
    let leak = patch_of(&repo_dir, &|d| {
        std::os::unix::fs::symlink("/proc/self/environ", d.join("env_leak.py")).unwrap()
    });
    let passwd = patch_of(&repo_dir, &|d| {
        std::fs::remove_file(d.join("calc.py")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.join("calc.py")).unwrap()
    });
    for (name, patch) in [("environ", leak), ("passwd", passwd)] {
        assert!(patch.contains("120000"), "{name}: {patch}");
        let file = dir.path().join(format!("{name}.diff"));
        std::fs::write(&file, &patch).unwrap();
        let junit = dir.path().join(format!("{name}.xml"));
        let o = codeswarm(
            &home,
            &[
                "check",
                "--repo",
                &repo,
                "--base",
                &base,
                "--patch",
                file.to_str().unwrap(),
                "--tests",
                "tests/test_calc.py",
                "--json",
                "--junit",
                junit.to_str().unwrap(),
            ],
            &[(secret, "1")],
        );
        assert_eq!(o.status.code(), Some(1), "{name}: {}", out(&o));
        let text = out(&o) + &std::fs::read_to_string(&junit).unwrap_or_default();
        assert!(text.contains("symbolic link"), "{name}: {text}");
        assert!(!text.contains(secret), "{name}: the environment leaked");
        assert!(!text.contains("root:x:0:0"), "{name}: /etc/passwd leaked");
    }
}

#[test]
fn huge_and_non_text_patches_fail_the_gate() {
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let repo_dir = dir.path().join("calc");
    let base = calc_repo(&repo_dir);
    let repo = repo_dir.display().to_string();
    let big = dir.path().join("big.diff");
    let mut text = String::from("diff --git a/big.py b/big.py\nnew file mode 100644\n--- /dev/null\n+++ b/big.py\n@@ -0,0 +1,200000 @@\n");
    for i in 0..200_000 {
        text.push_str(&format!("+x{i} = {i}  # padding padding padding\n"));
    }
    std::fs::write(&big, &text).unwrap();
    let run = |patch: &Path, extra: &[&str]| {
        let p = patch.to_str().unwrap().to_string();
        let mut args = vec![
            "check",
            "--repo",
            &repo,
            "--base",
            &base,
            "--patch",
            &p,
            "--tests",
            "tests/test_calc.py",
        ];
        args.extend_from_slice(extra);
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        codeswarm(&home, &refs, &[])
    };
    let o = run(&big, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains("--max-patch-size"), "{}", out(&o));
    let bytes = dir.path().join("random.diff");
    std::fs::write(
        &bytes,
        (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let o = run(&bytes, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains("not UTF-8"), "{}", out(&o));
}

/// The escape hatches do what they say: `--allow-test-edits` runs the patch's edited test file
/// (so `assert True` passes), and a correct fix that also edits its test file passes by default
/// (the file runs as at the base and the fixed code passes it). Without the flag, a force-pass
/// `tests/__init__.py` is reported as test configuration put back to the base.
#[test]
fn test_edits_run_at_the_base_unless_allowed() {
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let repo_dir = dir.path().join("calc");
    let base = calc_repo(&repo_dir);
    let repo = repo_dir.display().to_string();
    let patch = patch_of(&repo_dir, &|d| {
        write(
            d,
            "tests/test_calc.py",
            "def test_add():\n    assert True\n",
        );
    });
    let file = dir.path().join("p.diff");
    std::fs::write(&file, &patch).unwrap();
    let f = file.to_str().unwrap();
    let o = check(&home, &repo, &base, f, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("--allow-test-edits"),
        "{}",
        out(&o)
    );
    let o = check(&home, &repo, &base, f, &["--allow-test-edits"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "the flag runs the patch's version: {}",
        out(&o)
    );

    // A real fix (add stays correct) that also rewrites a test: the base tests pass.
    let fix = "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,3 @@\n def add(a, b):\n+    \"\"\"Sum.\"\"\"\n     return a + b\n";
    let test_edit = patch_of(&repo_dir, &|d| {
        std::fs::write(d.join("calc.py"), "def add(a, b):\n    return a + b\n").unwrap();
        write(
            d,
            "tests/test_calc.py",
            &format!("{TESTS}\n\ndef test_zero():\n    assert add(0, 0) == 0\n"),
        );
    });
    std::fs::write(&file, format!("{fix}{test_edit}")).unwrap();
    let o = check(&home, &repo, &base, f, &["--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        r["notes"].to_string().contains("as they are at the base"),
        "{r}"
    );

    let init = patch_of(&repo_dir, &|d| write(d, "tests/__init__.py", FORCE_PASS));
    std::fs::write(&file, init).unwrap();
    let o = check(
        &home,
        &repo,
        &base,
        f,
        &["--tests", "tests/test_calc.py", "--json"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(r["notes"].to_string().contains("tests/__init__.py"), "{r}");
}

#[test]
fn a_patch_that_crashes_the_runtime_in_a_named_file_fails_though_its_named_ids_pass_alone() {
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let repo_dir = dir.path().join("calc");
    let base = calc_repo(&repo_dir);
    let repo = repo_dir.display().to_string();
    // `add` is right for the named test and crashes the guest (recursion through C past the
    // runtime's C stack) for the other test of the named file: the file's run loses every
    // result, and only the named node id runs again, alone.
    let patch = patch_of(&repo_dir, &|d| {
        write(
            d,
            "calc.py",
            "import sys\n\n\nclass _Deep:\n    def __getitem__(self, n):\n        return self[n + 1]\n\n\n\
             def add(a, b):\n    if a < 0:\n        sys.setrecursionlimit(10**8)\n        _Deep()[0]\n    return a + b\n",
        )
    });
    let file = dir.path().join("p.diff");
    std::fs::write(&file, &patch).unwrap();
    let o = check(
        &home,
        &repo,
        &base,
        file.to_str().unwrap(),
        &[
            "--tests",
            "tests/test_calc.py,tests/test_calc.py::test_add",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["verdict"], "fail", "{r}");
    let cases = r["tests"]["cases"].as_array().unwrap();
    assert!(
        cases
            .iter()
            .any(|c| c["id"] == "tests/test_calc.py::test_add" && c["outcome"] == "passed"),
        "the named id ran alone: {r}"
    );
    assert!(
        r["reasons"]
            .to_string()
            .contains("the test run of tests/test_calc.py ended abnormally"),
        "{r}"
    );
}

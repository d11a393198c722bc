//! `codeswarm check` on fixture repositories: a good patch passes with its failing tests now
//! passing, a wrong one fails naming the test, a patch that does not apply names file and line,
//! a syntax error names `file:line:col`, binary and empty patches get clear messages, the JUnit
//! XML parses back, `--tests`/`--tests-from` select tests, tests the sandbox cannot run only
//! fail with `--strict`, and the user's checkout is never touched.

mod check_common;

use check_common::{
    add_file_patch, check, codeswarm, fixture_repo, out, stdout, tree_hashes, write, Home,
};
use quick_xml::events::Event;
use serde_json::Value;

fn json(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", out(o)))
}

#[test]
fn a_good_patch_passes_its_failing_tests_and_leaves_the_checkout_alone() {
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let fx = fixture_repo("textkit", dir.path());
    // A dirty checkout at HEAD (not the base): check must use the base commit and touch nothing.
    std::fs::write(fx.path.join("scratch.txt"), "uncommitted\n").unwrap();
    let before = tree_hashes(&fx.path);
    let patch = write(dir.path(), "gold.diff", &fx.gold_patch);
    let mut tests = fx.failing_tests.clone();
    tests.extend(fx.passing_tests.iter().cloned());
    let tests = tests.join(",");
    let repo = fx.path.display().to_string();

    let o = check(
        &home,
        &repo,
        &fx.base_commit,
        &patch,
        &["--tests", &tests, "--json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let r = json(&o);
    assert_eq!(r["verdict"], "pass");
    assert_eq!(r["base_commit"], fx.base_commit.as_str());
    assert_eq!(r["apply"]["ok"], true);
    assert_eq!(r["syntax"]["files"][0], fx.buggy_file.as_str());
    let cases = r["tests"]["cases"].as_array().unwrap();
    for t in &fx.failing_tests {
        let c = cases
            .iter()
            .find(|c| c["id"] == t.as_str())
            .unwrap_or_else(|| panic!("{t} ran: {r}"));
        assert_eq!(c["outcome"], "passed", "{t} passes after the patch");
    }
    for step in ["checkout", "apply", "syntax", "tests", "total"] {
        assert!(r["timings"][step].as_f64().unwrap() >= 0.0, "{step}");
    }
    assert_eq!(
        tree_hashes(&fx.path),
        before,
        "the user's repository changed"
    );

    // The same tests without the fix: the seeded bug fails them, and the summary names them.
    let readme_only = "diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n@@ -1,1 +1,1 @@\n-# textkit\n+# textkit (docs)\n";
    let patch = write(dir.path(), "readme.diff", readme_only);
    let o = check(&home, &repo, &fx.base_commit, &patch, &["--tests", &tests]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let text = stdout(&o);
    assert!(text.contains("codeswarm check: FAIL"), "{text}");
    for t in &fx.failing_tests {
        assert!(text.contains(&format!("FAILED {t}")), "{t} named: {text}");
    }
    assert!(text.contains("syntax: 0 Python file(s) ok"), "{text}");
    assert!(text.contains("time:   checkout"), "{text}");
    assert_eq!(
        tree_hashes(&fx.path),
        before,
        "the user's repository changed"
    );
}

#[test]
fn a_failing_test_the_patch_adds_fails_the_gate_and_junit_shows_it_escaped() {
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let fx = fixture_repo("shopcart", dir.path());
    let test_file = "import pytest\n\ndef test_fine():\n    assert 1 + 1 == 2\n\n@pytest.mark.parametrize(\"v\", [\"a<b&c\"])\ndef test_wrong(v):\n    assert v == \"x\", \"<bad> & \\\"q\\\" ]]> \\x1b[31m red\"\n";
    let patch = write(
        dir.path(),
        "p.diff",
        &add_file_patch("tests/test_extra.py", test_file),
    );
    let junit = dir.path().join("out.xml");
    let repo = fx.path.display().to_string();
    let o = check(
        &home,
        &repo,
        &fx.base_commit,
        &patch,
        &["--junit", junit.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let text = stdout(&o);
    assert!(
        text.contains("FAILED tests/test_extra.py::test_wrong[a<b&c]"),
        "{text}"
    );
    assert!(text.contains("1 passed, 1 failed"), "{text}");
    assert!(
        text.contains("tests/test_extra.py"),
        "the patch's test file was selected: {text}"
    );

    let xml = std::fs::read_to_string(&junit).unwrap();
    let cases = parse_junit(&xml);
    let wrong = cases
        .iter()
        .find(|c| c.name == "test_wrong[a<b&c]")
        .unwrap_or_else(|| panic!("{xml}"));
    assert_eq!(wrong.classname, "tests.test_extra");
    assert_eq!(wrong.result.as_deref(), Some("failure"));
    assert!(
        wrong.message.contains("<bad> & \"q\" ]]>"),
        "{:?}",
        wrong.message
    );
    assert!(cases
        .iter()
        .any(|c| c.name == "test_fine" && c.result.is_none()));
    assert!(cases
        .iter()
        .any(|c| c.name.starts_with("apply ") && c.result.is_none()));
    assert!(
        xml.contains("&lt;bad&gt; &amp;"),
        "escaped in the file: {xml}"
    );
}

/// One `<testcase>` read back from JUnit XML.
#[derive(Debug, Default)]
struct JCase {
    classname: String,
    name: String,
    result: Option<String>,
    message: String,
}

fn parse_junit(xml: &str) -> Vec<JCase> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut cases: Vec<JCase> = Vec::new();
    let attr = |e: &quick_xml::events::BytesStart<'_>, key: &str| -> String {
        e.attributes()
            .map(|a| a.expect("well-formed attribute"))
            .find(|a| a.key.as_ref() == key.as_bytes())
            .map(|a| a.unescape_value().expect("valid escapes").into_owned())
            .unwrap_or_default()
    };
    loop {
        match reader
            .read_event()
            .unwrap_or_else(|e| panic!("malformed JUnit XML ({e}): {xml}"))
        {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"testcase" => {
                cases.push(JCase {
                    classname: attr(&e, "classname"),
                    name: attr(&e, "name"),
                    ..JCase::default()
                });
            }
            Event::Start(e) | Event::Empty(e)
                if matches!(e.name().as_ref(), b"failure" | b"error" | b"skipped") =>
            {
                let c = cases.last_mut().expect("result inside a testcase");
                c.result = Some(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                c.message = attr(&e, "message");
            }
            Event::Text(t) => {
                t.unescape().expect("valid text escapes");
            }
            Event::Eof => break,
            _ => {}
        }
    }
    cases
}

#[test]
fn apply_and_syntax_failures_name_file_and_line_also_in_junit() {
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let fx = fixture_repo("statskit", dir.path());
    let repo = fx.path.display().to_string();
    let junit = dir.path().join("j.xml");
    let junit_s = junit.to_str().unwrap();

    // A hunk that removes a line the file does not have (outer context lines that differ
    // would only need fuzz, as with `patch --fuzz`; removed lines must match).
    let lines: Vec<&str> = fx.gold_patch.lines().collect();
    let ctx = lines
        .iter()
        .position(|l| l.starts_with(' ') && l.trim().len() > 3)
        .expect("a context line");
    let mut broken: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    broken[ctx] = format!("-{} # not in the file", &lines[ctx][1..]);
    broken.insert(ctx + 1, format!("+{}", &lines[ctx][1..]));
    let patch = write(dir.path(), "stale.diff", &(broken.join("\n") + "\n"));
    let o = check(&home, &repo, &fx.base_commit, &patch, &["--junit", junit_s]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let text = stdout(&o);
    let re = regex::Regex::new(&format!(
        r"does not apply at {}:\d+",
        regex::escape(&fx.buggy_file)
    ))
    .unwrap();
    assert!(re.is_match(&text), "file and line named: {text}");
    assert!(
        text.contains("tests:  not run: the patch does not apply"),
        "{text}"
    );
    let cases = parse_junit(&std::fs::read_to_string(&junit).unwrap());
    let apply = cases
        .iter()
        .find(|c| c.name == format!("apply {patch}"))
        .unwrap();
    assert_eq!(apply.result.as_deref(), Some("failure"));
    assert!(
        apply.message.starts_with(&format!("{}:", fx.buggy_file)),
        "{apply:?}"
    );

    // A new module with a syntax error.
    let patch = write(
        dir.path(),
        "syntax.diff",
        &add_file_patch(
            "statskit/extra.py",
            "def ok():\n    return 1\n\ndef broken(:\n    return 2\n",
        ),
    );
    let o = check(
        &home,
        &repo,
        &fx.base_commit,
        &patch,
        &["--junit", junit_s, "--json"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let r = json(&o);
    let p = &r["syntax"]["problems"][0];
    assert_eq!(p["file"], "statskit/extra.py");
    assert_eq!(p["line"], 4, "{p}");
    let reasons = r["reasons"].to_string();
    assert!(
        regex::Regex::new(r"syntax error: statskit/extra\.py:4:\d+: ")
            .unwrap()
            .is_match(&reasons),
        "{reasons}"
    );
    assert_eq!(r["tests"]["not_run"], "the syntax check failed");
    let cases = parse_junit(&std::fs::read_to_string(&junit).unwrap());
    let syn = cases
        .iter()
        .find(|c| c.name == "statskit/extra.py")
        .unwrap();
    assert_eq!(syn.classname, "codeswarm.syntax");
    assert_eq!(syn.result.as_deref(), Some("failure"));
    assert!(syn.message.starts_with("statskit/extra.py:4:"), "{syn:?}");
}

#[test]
fn binary_empty_and_unusable_inputs_get_clear_messages_and_exit_codes() {
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let fx = fixture_repo("configkit", dir.path());
    let repo = fx.path.display().to_string();
    let check = |patch: &str, extra: &[&str]| {
        let mut args = vec!["check", "--repo", &repo, "--patch", patch];
        args.extend_from_slice(extra);
        codeswarm(&home, &args, &[])
    };

    let binary = write(
        dir.path(),
        "bin.diff",
        "diff --git a/logo.png b/logo.png\nnew file mode 100644\nindex 0000000..e69de29\nBinary files /dev/null and b/logo.png differ\n",
    );
    let o = check(&binary, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        stdout(&o).contains("binary files (logo.png)"),
        "{}",
        out(&o)
    );

    // Empty: exit 1 (the diff under test is wrong), not 2 (the gate works).
    let empty = write(dir.path(), "empty.diff", "");
    let o = check(&empty, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(stdout(&o).contains("the patch is empty"), "{}", out(&o));
    let o = check(&empty, &["--json"]);
    assert_eq!(json(&o)["apply"]["error"]["kind"], "empty");

    // Set-up errors: exit 2 with the thing named.
    let missing = dir.path().join("nope.diff").display().to_string();
    for (args, needle) in [
        (
            vec!["check", "--repo", &repo, "--patch", &missing],
            "cannot read the patch file",
        ),
        (
            vec!["check", "--repo", "/no/such/repo", "--patch", &empty],
            "no such directory",
        ),
        (
            vec![
                "check",
                "--repo",
                &repo,
                "--base",
                "no-such-rev",
                "--patch",
                &empty,
            ],
            "--base no-such-rev",
        ),
        (
            vec![
                "check", "--repo", &repo, "--patch", &empty, "--tests", " , ",
            ],
            "name no test",
        ),
        (
            vec![
                "check", "--repo", &repo, "--patch", &empty, "--site", "/no/site",
            ],
            "not a directory",
        ),
        (
            vec![
                "check",
                "--repo",
                &repo,
                "--patch",
                &empty,
                "--site",
                "/tmp",
                "--requirements",
                "r.txt",
            ],
            "cannot be used with",
        ),
        (vec!["check", "--repo", &repo], "--patch"),
    ] {
        let o = codeswarm(&home, &args, &[]);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", out(&o));
        assert!(
            out(&o).contains(needle),
            "{args:?}: expected `{needle}` in {}",
            out(&o)
        );
    }
    let plain = tempfile::tempdir().unwrap();
    let o = codeswarm(
        &home,
        &[
            "check",
            "--repo",
            plain.path().to_str().unwrap(),
            "--patch",
            &empty,
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("not a git repository"), "{}", out(&o));
}

#[test]
fn tests_and_tests_from_select_what_runs() {
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let fx = fixture_repo("configkit", dir.path());
    let repo = fx.path.display().to_string();
    let patch = write(dir.path(), "gold.diff", &fx.gold_patch);
    let base = fx.base_commit.clone();

    // A gold patch touching no test file runs nothing by default: no test run is no
    // evidence, so the gate fails closed and says to name the tests.
    let o = check(&home, &repo, &base, &patch, &["--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let r = json(&o);
    assert_eq!(r["tests"]["ran"], false);
    assert!(
        r["reasons"][0].as_str().unwrap().contains("no tests ran")
            && r["reasons"][0].as_str().unwrap().contains("--tests"),
        "{r}"
    );

    // --tests: exactly the named test.
    let one = &fx.failing_tests[0];
    let o = check(&home, &repo, &base, &patch, &["--tests", one, "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let r = json(&o);
    let ids: Vec<&str> = r["tests"]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [one.as_str()]);
    assert_eq!(r["tests"]["selection"], "named");

    // --tests-from: comments and blank lines skipped; a test that does not exist fails the gate.
    let listed = format!(
        "# selected\n{}\n\n{}\n",
        fx.passing_tests.join("\n"),
        "tests/test_env.py::test_no_such_test"
    );
    let from = write(dir.path(), "tests.txt", &listed);
    let o = check(
        &home,
        &repo,
        &base,
        &patch,
        &["--tests-from", &from, "--json"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let r = json(&o);
    assert_eq!(
        r["tests"]["missing"][0], "tests/test_env.py::test_no_such_test",
        "{r}"
    );
    assert!(
        r["reasons"]
            .to_string()
            .contains("test_no_such_test was not found"),
        "{r}"
    );

    // --tests and --tests-from together: the union, and a path target runs its whole file.
    let only_passing = write(dir.path(), "p.txt", &fx.passing_tests.join("\n"));
    let file = one.split("::").next().unwrap();
    let o = check(
        &home,
        &repo,
        &base,
        &patch,
        &["--tests", file, "--tests-from", &only_passing, "--json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let r = json(&o);
    let targets = r["tests"]["targets"].as_array().unwrap();
    assert_eq!(targets[0], file);
    assert_eq!(targets.len(), 1 + fx.passing_tests.len());
}

#[test]
fn tests_the_sandbox_cannot_run_fail_unless_allowed() {
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let fx = fixture_repo("textkit", dir.path());
    let repo = fx.path.display().to_string();
    let patch = write(
        dir.path(),
        "np.diff",
        &add_file_patch(
            "tests/test_np.py",
            "import numpy\n\ndef test_sum():\n    assert numpy.sum([1, 2]) == 3\n",
        ),
    );
    let o = check(&home, &repo, &fx.base_commit, &patch, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let text = stdout(&o);
    assert!(
        text.contains("NOT RUNNABLE in the sandbox") && text.contains("numpy"),
        "{text}"
    );
    assert!(text.contains("--allow-not-runnable"), "{text}");
    let o = check(
        &home,
        &repo,
        &fx.base_commit,
        &patch,
        &["--allow-not-runnable"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(stdout(&o).contains("(--allow-not-runnable)"), "{}", out(&o));
}

/// A repository with no pytest configuration and no conftest: node ids stay relative to the
/// repository root (pytest would otherwise root them at the targets' common directory). The
/// patch comes on standard input.
#[test]
fn a_repository_without_pytest_configuration_and_a_patch_on_stdin() {
    use std::io::Write;
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let repo_dir = dir.path().join("plain");
    std::fs::create_dir_all(repo_dir.join("pkg")).unwrap();
    std::fs::create_dir_all(repo_dir.join("tests")).unwrap();
    std::fs::write(
        repo_dir.join("pkg/__init__.py"),
        "def add(a, b):\n    return a - b\n",
    )
    .unwrap();
    std::fs::write(
        repo_dir.join("tests/test_add.py"),
        "import sys, os\nsys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))\nfrom pkg import add\n\ndef test_add():\n    assert add(1, 2) == 3\n",
    )
    .unwrap();
    let repo = git2::Repository::init(&repo_dir).unwrap();
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("t", "t@example.invalid").unwrap();
    repo.commit(Some("HEAD"), &sig, &sig, "init", &tree, &[])
        .unwrap();
    let fix = "diff --git a/pkg/__init__.py b/pkg/__init__.py\n--- a/pkg/__init__.py\n+++ b/pkg/__init__.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n";
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_codeswarm"))
        .args([
            "check",
            "--repo",
            repo_dir.to_str().unwrap(),
            "--patch",
            "-",
            "--tests",
            "tests/test_add.py::test_add",
            "--json",
        ])
        .env("CODESWARM_HOME", home.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(fix.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let r = json(&o);
    assert_eq!(r["patch"], "<stdin>");
    assert_eq!(
        r["tests"]["cases"][0]["id"], "tests/test_add.py::test_add",
        "{r}"
    );
    assert_eq!(r["tests"]["cases"][0]["outcome"], "passed", "{r}");
}

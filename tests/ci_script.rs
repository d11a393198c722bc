//! The CI templates' one script, docs/ci/codeswarm-check.sh, on a fixture repository: a pull
//! request whose tests pass (exit 0), one whose test fails (exit 1) with GitHub annotations and
//! a job summary, the pre-commit hook (docs/ci/pre-commit, the script's `--staged` mode) on a
//! good and a bad staged change, an empty change, and a revision that does not exist (exit 2). Each run leaves the diff, the JUnit report and the Markdown summary.
//!
//! Needs the sandbox runtime (fetched with pip on first use, or `codeswarm sandbox --setup`).

mod check_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use check_common::{out, Home};

fn git(dir: &Path, args: &[&str]) -> String {
    check_common::git(dir, args).trim().to_string()
}

const SUB_TEST: &str = "from calc import sub\n\n\ndef test_sub():\n    assert sub(5, 3) == 2\n";

/// `calc.py` with `add`, its tests; branch `good` adds `sub` and a passing test, branch `bad`
/// adds a wrong `sub` whose test fails. Returns the base commit.
fn repo(dir: &Path) -> String {
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    std::fs::write(dir.join("calc.py"), "def add(a, b):\n    return a + b\n").unwrap();
    std::fs::write(
        dir.join("tests/test_calc.py"),
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
    )
    .unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "base"]);
    let base = git(dir, &["rev-parse", "HEAD"]);
    for (branch, body) in [("good", "a - b"), ("bad", "a + b")] {
        git(dir, &["checkout", "-qb", branch, &base]);
        std::fs::write(
            dir.join("calc.py"),
            format!("def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return {body}\n"),
        )
        .unwrap();
        std::fs::write(dir.join("tests/test_sub.py"), SUB_TEST).unwrap();
        git(dir, &["add", "-A"]);
        git(dir, &["commit", "-qm", branch]);
    }
    git(dir, &["checkout", "-q", "main"]);
    base
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ci/codeswarm-check.sh")
}

/// Run the script in `cwd` with `args`, outside GitHub Actions unless `env` says otherwise.
fn run(home: &Home, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new("bash");
    c.arg(script())
        .args(args)
        .current_dir(cwd)
        .env("CODESWARM", env!("CARGO_BIN_EXE_codeswarm"))
        .env("CODESWARM_HOME", home.path())
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("CODESWARM_CHECK_FORMAT");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run the script")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn the_ci_script_passes_fails_and_writes_its_files() {
    let home = Home::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("calc");
    let base = repo(&dir);
    let repo_arg = dir.to_str().unwrap();

    // A passing pull request: the diff from the merge base, JUnit, summary; exit 0.
    let o = run(
        &home,
        tmp.path(),
        &[
            "--repo", repo_arg, "--base", "main", "--head", "good", "--out", "good-out",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let good = tmp.path().join("good-out");
    let patch = read(&good.join("change.patch"));
    assert!(patch.contains("+++ b/tests/test_sub.py"), "{patch}");
    assert!(patch.contains("+    return a - b"), "{patch}");
    let junit = read(&good.join("junit.xml"));
    assert!(junit.contains("test_sub"), "{junit}");
    assert!(!junit.contains("<failure"), "{junit}");
    let summary = read(&good.join("summary.md"));
    assert!(
        summary.starts_with("## codeswarm check: ✅ PASS"),
        "{summary}"
    );
    assert!(read(&good.join("output.txt")).contains("codeswarm check: PASS"));
    assert!(String::from_utf8_lossy(&o.stdout).contains("codeswarm check: PASS"));

    // A failing one, as GitHub Actions runs it: annotations, the job summary; exit 1.
    let step_summary = tmp.path().join("step-summary.md");
    std::fs::write(&step_summary, "earlier step\n").unwrap();
    let o = run(
        &home,
        tmp.path(),
        &[
            "--repo", repo_arg, "--base", &base, "--head", "bad", "--out", "bad-out",
        ],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", step_summary.to_str().unwrap()),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("::error file=tests/test_sub.py,line=5,title=codeswarm check%3A test failed::tests/test_sub.py::test_sub failed"),
        "{}",
        out(&o)
    );
    assert!(stdout.contains("::stop-commands::codeswarm-"), "{stdout}");
    let bad = tmp.path().join("bad-out");
    let summary = read(&bad.join("summary.md"));
    assert!(
        summary.starts_with("## codeswarm check: ❌ FAIL"),
        "{summary}"
    );
    assert!(
        summary.contains("| tests/test\\_sub.py::test\\_sub | failed |"),
        "{summary}"
    );
    let job = read(&step_summary);
    assert!(
        job.starts_with("earlier step\n## codeswarm check: ❌ FAIL"),
        "{job}"
    );
    assert!(read(&bad.join("junit.xml")).contains("<failure"));

    // The pre-commit hook (docs/ci/pre-commit, linked into .git/hooks as its header says): the
    // staged change against HEAD, with the tests named in git config.
    std::os::unix::fs::symlink(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ci/pre-commit"),
        dir.join(".git/hooks/pre-commit"),
    )
    .unwrap();
    git(&dir, &["config", "codeswarm.tests", "tests/test_calc.py"]);
    std::fs::write(
        dir.join("calc.py"),
        "def add(a, b):\n    return a + b  # unchanged behaviour\n",
    )
    .unwrap();
    git(&dir, &["add", "calc.py"]);
    let hook = |dir: &Path| {
        Command::new(dir.join(".git/hooks/pre-commit"))
            .current_dir(dir)
            .env("CODESWARM", env!("CARGO_BIN_EXE_codeswarm"))
            .env("CODESWARM_HOME", home.path())
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_STEP_SUMMARY")
            .output()
            .unwrap()
    };
    let o = hook(&dir);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let staged = dir.join(".git/codeswarm-check");
    assert!(read(&staged.join("change.patch")).contains("# unchanged behaviour"));
    assert!(read(&staged.join("summary.md")).contains("PASS"));
    // A staged change that breaks `add` stops the commit.
    std::fs::write(dir.join("calc.py"), "def add(a, b):\n    return a * b\n").unwrap();
    git(&dir, &["add", "calc.py"]);
    let o = hook(&dir);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(read(&staged.join("summary.md")).contains("FAIL"));
    git(&dir, &["reset", "-q", "--hard"]);

    // No change: nothing to judge, exit 0, and the summary says so.
    let o = run(
        &home,
        tmp.path(),
        &[
            "--repo", repo_arg, "--base", "main", "--head", "main", "--out", "none-out",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(read(&tmp.path().join("none-out/summary.md")).contains("no change"));

    // A base that does not exist: the gate cannot judge, exit 2, with the fix named.
    let o = run(
        &home,
        tmp.path(),
        &[
            "--repo",
            repo_arg,
            "--base",
            "no-such-branch",
            "--head",
            "good",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no-such-branch is not a commit"),
        "{}",
        out(&o)
    );
}

#[test]
fn check_formats_github_json_and_human() {
    let home = Home::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("calc");
    let base = repo(&dir);
    let patch = tmp.path().join("bad.patch");
    std::fs::write(&patch, git(&dir, &["diff", &base, "bad"]) + "\n").unwrap();
    let check = |extra: &[&str], env: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_codeswarm"));
        c.args(["check", "--repo", dir.to_str().unwrap(), "--base", &base])
            .args(["--patch", patch.to_str().unwrap()])
            .args(extra)
            .env("CODESWARM_HOME", home.path())
            .env_remove("GITHUB_STEP_SUMMARY");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    };

    // github without $GITHUB_STEP_SUMMARY: annotations, then the summary and the Markdown,
    // inside the stop-commands fence.
    let o = check(&["--format", "github"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let s = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(s.starts_with("::error file=tests/test_sub.py,"), "{s}");
    let fence = s.find("::stop-commands::").unwrap();
    assert!(s[fence..].contains("codeswarm check: FAIL"), "{s}");
    assert!(s[fence..].contains("## codeswarm check: ❌ FAIL"), "{s}");

    // json and --json are the same report; --summary writes the Markdown in any format.
    let md = tmp.path().join("summary.md");
    let o = check(
        &["--format", "json", "--summary", md.to_str().unwrap()],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let a: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(a["verdict"], "fail");
    assert!(read(&md).starts_with("## codeswarm check: ❌ FAIL"));
    let o = check(&["--json"], &[]);
    let b: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(a["reasons"], b["reasons"]);

    // human stays the default; giving --json and --format together is a usage error.
    let o = check(&[], &[]);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("codeswarm check: FAIL"));
    let o = check(&["--json", "--format", "human"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
}

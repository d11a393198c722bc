//! Telling an environment limit from a failure of the code. The sandbox runs CPython 3.12 on
//! WASI: no subprocesses, threads or sockets, no native extensions, and nothing removed from
//! the standard library since older Pythons (`imp`, `distutils`, `collections.Mapping`, …). A
//! test that dies on one of those says nothing about the patch under test: it is "not runnable
//! here", with the line that shows why, never a failure.

use std::path::Path;

use super::results::{CaseOutcome, TestCase};
use crate::sandbox::Status;

/// Output that shows the code needs an older Python than the sandbox's 3.12, with the newest
/// Python that still has what it uses.
const PYTHON_VERSION_SIGNS: &[(&str, &str)] = &[
    ("No module named 'imp'", "3.11"),
    ("No module named 'distutils'", "3.11"),
    ("No module named 'asynchat'", "3.11"),
    ("No module named 'asyncore'", "3.11"),
    ("No module named 'smtpd'", "3.11"),
    ("SafeConfigParser", "3.11"),
    ("has no attribute 'assertEquals'", "3.11"),
    ("has no attribute 'assertRegexpMatches'", "3.11"),
    ("has no attribute 'assertDictContainsSubset'", "3.11"),
    ("module 'asyncio' has no attribute 'coroutine'", "3.10"),
    ("cannot import name 'coroutine' from 'asyncio'", "3.10"),
    ("getargspec", "3.10"),
    ("formatargspec", "3.10"),
    ("global flags not at the start of the expression", "3.10"),
    ("from 'collections' (", "3.9"),
    ("module 'collections' has no attribute", "3.9"),
    ("cannot import name 'gcd' from 'fractions'", "3.8"),
    ("cannot import name 'escape' from 'cgi'", "3.7"),
    ("has no attribute 'getchildren'", "3.8"),
    ("module 'time' has no attribute 'clock'", "3.7"),
];

/// Output that shows a limit of the sandbox itself.
const SANDBOX_SIGNS: &[(&str, &str)] = &[
    (
        "does not support processes",
        "subprocesses are not available under WASI",
    ),
    (
        "dynamic module does not define",
        "a C extension cannot load under WASI",
    ),
    (
        ".so: cannot open shared object",
        "a C extension cannot load under WASI",
    ),
    (
        "No module named '_ctypes'",
        "ctypes is not available under WASI",
    ),
    (
        "OSError: [Errno 58]",
        "an operating-system feature (sockets, processes) is not available under WASI",
    ),
    (
        "Errno 52] Function not implemented",
        "an operating-system feature is not available under WASI",
    ),
    (
        "Errno 138] Not supported",
        "an operating-system feature is not available under WASI",
    ),
    (
        "[Errno 58] Not supported",
        "an operating-system feature is not available under WASI",
    ),
    (
        "can't start new thread",
        "threads are not available under WASI",
    ),
    (
        "No module named '_posixsubprocess'",
        "subprocesses are not available under WASI",
    ),
    (
        "No module named '_multiprocessing'",
        "subprocesses are not available under WASI",
    ),
    (
        "No module named '_socket'",
        "sockets are not available in the sandbox",
    ),
    ("No module named '_ssl'", "ssl is not available under WASI"),
    (
        "No module named '_curses'",
        "curses is not available under WASI",
    ),
    (
        "No module named 'termios'",
        "terminals are not available under WASI",
    ),
    (
        "No module named 'fcntl'",
        "fcntl is not available under WASI",
    ),
    (
        "No module named 'resource'",
        "resource limits are not available under WASI",
    ),
    (
        "No module named 'pwd'",
        "user accounts are not available under WASI",
    ),
    (
        "No module named 'grp'",
        "user accounts are not available under WASI",
    ),
    ("No module named 'mmap'", "mmap is not available under WASI"),
    (
        "has no attribute 'fork'",
        "subprocesses are not available under WASI",
    ),
    (
        "has no attribute 'pipe'",
        "pipes are not available under WASI",
    ),
    (
        "has no attribute 'getpid'",
        "processes are not available under WASI",
    ),
    (
        "has no attribute 'dup'",
        "file-descriptor duplication is not available under WASI",
    ),
    (
        "has no attribute 'SIGALRM'",
        "signals are not available under WASI",
    ),
    (
        "has no attribute 'alarm'",
        "signals are not available under WASI",
    ),
    (
        "has no attribute 'setitimer'",
        "signals are not available under WASI",
    ),
    (
        "has no attribute 'kill'",
        "signals are not available under WASI",
    ),
    (
        "ENOTSUP",
        "an operating-system feature is not available under WASI",
    ),
];

/// Why `text` shows an environment limit, if it does: `needs Python ≤ 3.x: <line>`, a missing
/// third-party module (`local` tells the repository's own modules apart: a module the repository
/// itself should provide is the code's problem, not the environment's), or a sandbox limit.
pub fn limit_in(text: &str, local: &dyn Fn(&str) -> bool) -> Option<String> {
    let line_at = |at: usize| text[at..].lines().next().unwrap_or("").trim().to_string();
    let first_line_with = |sign: &str| -> Option<String> {
        let at = text.find(sign)?;
        let start = text[..at].rfind('\n').map(|i| i + 1).unwrap_or(0);
        Some(line_at(start))
    };
    for (sign, newest) in PYTHON_VERSION_SIGNS {
        if let Some(line) = first_line_with(sign) {
            return Some(format!(
                "needs Python ≤ {newest} (the sandbox runs CPython 3.12): {line}"
            ));
        }
    }
    // WASI numbers errors its own way (ENOENT is 44, not 2): a test comparing the text of an
    // OSError with Linux's numbers fails on the number alone.
    if text.contains("[Errno 2]") {
        if let Some(line) = first_line_with("[Errno 44]") {
            return Some(format!(
                "WASI numbers errors differently (ENOENT is 44, not 2): {line}"
            ));
        }
    }
    for (sign, why) in SANDBOX_SIGNS {
        if let Some(line) = first_line_with(sign) {
            return Some(format!("{why}: {line}"));
        }
    }
    let mut rest = text;
    while let Some(at) = rest.find("No module named '") {
        let after = &rest[at + "No module named '".len()..];
        let module = after.split('\'').next().unwrap_or("");
        let top = module.split('.').next().unwrap_or("");
        if !top.is_empty() && !local(top) {
            let start = rest[..at].rfind('\n').map(|i| i + 1).unwrap_or(0);
            let line = rest[start..].lines().next().unwrap_or("").trim();
            return Some(format!(
                "the dependency `{top}` is not installed (add its pure-Python wheel to the \
                 repository's spec, --requirements or --site): {line}"
            ));
        }
        rest = &after[module.len()..];
    }
    None
}

/// Whether `top` is a module of the repository at `root` (a package dir or a `.py` file at the
/// root, under `src/`, or under a dir on the spec's path).
pub fn is_local_module(root: &Path, extra_dirs: &[String], top: &str) -> bool {
    if top.is_empty() || top.contains(['/', '\\']) || top.starts_with('.') {
        return false;
    }
    let dirs = std::iter::once(root.to_path_buf())
        .chain(std::iter::once(root.join("src")))
        .chain(extra_dirs.iter().map(|d| root.join(d)));
    for d in dirs {
        if d.join(top).is_dir() || d.join(format!("{top}.py")).is_file() {
            return true;
        }
    }
    false
}

/// The environment limit behind one failed or erroring test, if its message shows one.
pub fn case_limit(case: &TestCase, local: &dyn Fn(&str) -> bool) -> Option<String> {
    if !matches!(case.outcome, CaseOutcome::Failed | CaseOutcome::Error) {
        return None;
    }
    limit_in(&format!("{}\n{}", case.message, case.details), local)
}

/// Why a whole run says nothing about the code: no test passed or failed on its own merits
/// (every case errored or was skipped, or none ran) and the output shows an environment limit.
/// A timeout or memory limit is not an environment limit: those are reported as such.
pub fn run_limit(
    status: &Status,
    cases: &[TestCase],
    output: &str,
    local: &dyn Fn(&str) -> bool,
) -> Option<String> {
    if matches!(status, Status::Timeout | Status::MemoryExceeded) {
        return None;
    }
    let nothing_ran = cases
        .iter()
        .all(|c| matches!(c.outcome, CaseOutcome::Error | CaseOutcome::Skipped));
    if !nothing_ran {
        return None;
    }
    let text = cases
        .iter()
        .map(|c| format!("{}\n{}\n", c.message, c.details))
        .collect::<String>()
        + output;
    limit_in(&text, local)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: &str, outcome: CaseOutcome, message: &str) -> TestCase {
        TestCase::new(id, outcome, message)
    }

    const NONE_LOCAL: &dyn Fn(&str) -> bool = &|_| false;

    #[test]
    fn missing_third_party_modules_make_a_run_not_runnable_but_failures_do_not() {
        let err = [case(
            "tests/test_a.py",
            CaseOutcome::Error,
            "collection failure",
        )];
        let out = "E   ModuleNotFoundError: No module named 'numpy'\n";
        let why = run_limit(&Status::Exited(2), &err, out, NONE_LOCAL).unwrap();
        assert!(
            why.contains("numpy") && why.contains("--requirements"),
            "{why}"
        );
        let failed = [case(
            "tests/test_a.py::test_x",
            CaseOutcome::Failed,
            "assert 1 == 2",
        )];
        assert_eq!(
            run_limit(&Status::Exited(1), &failed, out, NONE_LOCAL),
            None
        );
        assert_eq!(run_limit(&Status::Timeout, &err, out, NONE_LOCAL), None);
        assert_eq!(
            run_limit(
                &Status::Exited(2),
                &err,
                "E   NameError: name 'x' is not defined",
                NONE_LOCAL
            ),
            None
        );
    }

    #[test]
    fn a_missing_module_of_the_repository_itself_is_the_codes_problem() {
        let out = "E   ModuleNotFoundError: No module named 'mypkg.newmod'\n";
        let local = |m: &str| m == "mypkg";
        assert_eq!(limit_in(out, &local), None);
        assert!(limit_in(out, NONE_LOCAL).is_some());
    }

    #[test]
    fn removed_standard_library_names_say_which_python_is_needed() {
        let out = "  File \"/sympy/core/basic.py\", line 3\nImportError: cannot import name 'Mapping' from 'collections' (/stdlib/collections/__init__.py)\n";
        let why = limit_in(out, NONE_LOCAL).unwrap();
        assert!(why.starts_with("needs Python ≤ 3.9"), "{why}");
        assert!(why.contains("cannot import name 'Mapping'"), "{why}");
        let why = limit_in("ModuleNotFoundError: No module named 'imp'", NONE_LOCAL).unwrap();
        assert!(why.starts_with("needs Python ≤ 3.11"), "{why}");
    }

    #[test]
    fn errno_numbering_is_an_environment_difference_only_against_linux_numbers() {
        let cmp = "E  assert False\nE   where False = '[Errno 44] Unable to load (No such file)'.startswith('[Errno 2] Unable to load')";
        assert!(limit_in(cmp, NONE_LOCAL).unwrap().contains("ENOENT is 44"));
        let genuine = "FileNotFoundError: [Errno 44] No such file or directory: 'x.cfg'";
        assert_eq!(limit_in(genuine, NONE_LOCAL), None);
    }

    #[test]
    fn per_test_limits_need_a_failure_and_a_sign() {
        let sub = case(
            "t.py::test_sub",
            CaseOutcome::Failed,
            "OSError: [Errno 58] Not supported",
        );
        assert!(case_limit(&sub, NONE_LOCAL).is_some());
        let passed = case("t.py::test_ok", CaseOutcome::Passed, "");
        assert!(case_limit(&passed, NONE_LOCAL).is_none());
        let plain = case("t.py::test_x", CaseOutcome::Failed, "assert 2 == 3");
        assert!(case_limit(&plain, NONE_LOCAL).is_none());
    }

    #[test]
    fn local_modules_are_found_at_the_root_src_and_spec_dirs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src/_pytest")).unwrap();
        std::fs::create_dir_all(dir.path().join("lib/pkg")).unwrap();
        std::fs::write(dir.path().join("conftest.py"), "").unwrap();
        assert!(is_local_module(dir.path(), &[], "_pytest"));
        assert!(is_local_module(dir.path(), &[], "conftest"));
        assert!(!is_local_module(dir.path(), &[], "pkg"));
        assert!(is_local_module(dir.path(), &["lib".into()], "pkg"));
        assert!(!is_local_module(dir.path(), &[], "numpy"));
        assert!(!is_local_module(dir.path(), &[], "../etc"));
    }
}

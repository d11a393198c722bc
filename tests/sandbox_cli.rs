//! `codeswarm sandbox`: the guest's output and exit code pass through; a timeout exits 124 and
//! running out of memory 137. Needs the sandbox runtime (`codeswarm sandbox --setup`).

use std::process::Command;

fn codeswarm(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_codeswarm"))
        .arg("sandbox")
        .args(args)
        .output()
        .expect("run codeswarm")
}

#[test]
fn prints_guest_output_and_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hello.py"),
        "import sys\nprint('hello', sys.argv[1:])\nprint('oops', file=sys.stderr)\nsys.exit(7)\n",
    )
    .unwrap();
    let out = codeswarm(&[
        "--dir",
        dir.path().to_str().unwrap(),
        "--",
        "hello.py",
        "a",
        "--b",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello ['a', '--b']\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("oops"));
    assert_eq!(out.status.code(), Some(7));
}

#[test]
fn timeout_exits_124() {
    let out = codeswarm(&["--timeout", "1", "--", "-c", "while True: pass"]);
    assert_eq!(
        out.status.code(),
        Some(124),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("timed out"));
}

#[test]
fn memory_exceeded_exits_137() {
    let out = codeswarm(&[
        "--memory",
        "64",
        "--",
        "-c",
        "x = [bytearray(1 << 20) for _ in range(200)]",
    ]);
    assert_eq!(
        out.status.code(),
        Some(137),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn nothing_to_run_is_an_error() {
    let out = codeswarm(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to run"));
}

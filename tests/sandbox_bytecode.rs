//! The host-side bytecode cache of the code under test: a second run loads the bytecode the
//! first run's sources were compiled to (plain and pytest-rewritten, with pytest's assertion
//! messages intact), and a hostile job cannot poison it for the next job — not by planting
//! `.pyc` files in its work dir, nor by changing a source before importing it.
//!
//! Needs the sandbox runtime (fetched with pip on first use, or `codeswarm sandbox --setup`).

use std::path::Path;

use codeswarm::sandbox::{Job, Sandbox, SandboxOptions, Status};

fn open(cache: &Path) -> Sandbox {
    Sandbox::open_with(
        &SandboxOptions {
            bytecode_cache_dir: Some(cache.to_path_buf()),
            // These sources are tiny: compile them anyway.
            bytecode_min_bytes: Some(0),
            ..SandboxOptions::default()
        },
        &(),
    )
    .expect("the sandbox runtime (run `codeswarm sandbox --setup`)")
}

fn entries(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "bin") {
                out.push(p);
            }
        }
    }
    out
}

const MODULE: &str = "def triple(x):\n    return 3 * x\n";
const TESTS: &str = "from pkg.mod import triple\n\n\
def test_ok():\n    assert triple(2) == 6\n\n\
def test_fails():\n    value = triple(1)\n    assert value == 4\n";

#[test]
fn second_run_loads_cached_plain_and_rewritten_bytecode() {
    let cache = tempfile::tempdir().unwrap();
    let sb = open(cache.path());
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir(src.path().join("pkg")).unwrap();
    std::fs::write(src.path().join("pkg/__init__.py"), "").unwrap();
    std::fs::write(src.path().join("pkg/mod.py"), MODULE).unwrap();
    std::fs::write(src.path().join("test_mod.py"), TESTS).unwrap();
    let job = Job::pytest(Vec::<(String, Vec<u8>)>::new(), ["test_mod.py"]).source_dir(src.path());

    let first = sb.run(&job).unwrap();
    assert_eq!(first.status, Status::Exited(1), "{}", first.stdout_lossy());
    let stored = entries(cache.path());
    // pkg/__init__.py, pkg/mod.py, and test_mod.py both plain and rewritten.
    assert!(stored.len() >= 4, "entries stored: {stored:?}");

    let second = sb.run(&job).unwrap();
    assert_eq!(second.status, Status::Exited(1));
    let text = second.stdout_lossy();
    // The rewritten module's assertion introspection survives the cache.
    assert!(text.contains("assert 3 == 4"), "{text}");
    assert!(text.contains("1 failed, 1 passed"), "{text}");

    // The bytecode is there, and the import system takes it.
    let probe = Job::python([
        "-c",
        "import os, pkg.mod\n\
         print('plain', os.path.exists('pkg/__pycache__/mod.cpython-312.pyc'))\n\
         print('rewritten', any(n.startswith('test_mod.cpython-312-pytest-') for n in os.listdir('__pycache__')))\n\
         print('loader', type(pkg.mod.__spec__.loader).__name__, pkg.mod.triple(5))\n",
    ])
    .source_dir(src.path());
    let out = sb.run(&probe).unwrap();
    let text = out.stdout_lossy();
    assert!(text.contains("plain True"), "{text}");
    assert!(text.contains("rewritten True"), "{text}");
    assert!(text.contains("15"), "{text}");

    // A source changed on the host is a new key: its old bytecode is not used.
    std::fs::write(
        src.path().join("pkg/mod.py"),
        "def triple(x):\n    return 4 * x\n",
    )
    .unwrap();
    let probe = Job::python(["-c", "import pkg.mod; print('value', pkg.mod.triple(5))"])
        .source_dir(src.path());
    assert!(sb.run(&probe).unwrap().stdout_lossy().contains("value 20"));

    // Without the cache nothing is placed.
    let plain = Sandbox::open_with(
        &SandboxOptions {
            no_bytecode_cache: true,
            bytecode_cache_dir: Some(cache.path().to_path_buf()),
            ..SandboxOptions::default()
        },
        &(),
    )
    .unwrap();
    let probe = Job::python([
        "-c",
        "import os; print('pycache', os.path.exists('pkg/__pycache__'))",
    ])
    .source_dir(src.path());
    assert!(plain
        .run(&probe)
        .unwrap()
        .stdout_lossy()
        .contains("pycache False"));
}

/// The guest's hostile program: plants a valid, current `.pyc` for `victim.py` (and a rewritten
/// one for the test module), rewrites `victim.py` itself, then imports it so that the host sees
/// it opened.
const HOSTILE: &str = r#"
import importlib.util, marshal, os, sys
def plant(src, pyc, code):
    st = os.stat(src)
    os.makedirs(os.path.dirname(pyc), exist_ok=True)
    with open(pyc, "wb") as f:
        f.write(importlib.util.MAGIC_NUMBER + b"\0\0\0\0")
        f.write(int(st.st_mtime).to_bytes(4, "little") + st.st_size.to_bytes(4, "little"))
        f.write(marshal.dumps(compile(code, src, "exec")))
evil = "VALUE = 'POISONED'\ndef test_v():\n    pass\n"
plant("victim.py", "__pycache__/victim.cpython-312.pyc", evil)
plant("test_victim.py", "__pycache__/test_victim.cpython-312-pytest-8.3.5.pyc", evil)
with open("victim.py", "w") as f:
    f.write(evil)
sys.dont_write_bytecode = False
import victim, test_victim
print("hostile saw", victim.VALUE)
"#;

#[test]
fn a_guest_cannot_poison_the_bytecode_cache_for_the_next_job() {
    let cache = tempfile::tempdir().unwrap();
    let sb = open(cache.path());
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("victim.py"), "VALUE = 'ORIGINAL'\n").unwrap();
    std::fs::write(
        src.path().join("test_victim.py"),
        "import victim\n\ndef test_v():\n    assert victim.VALUE == 'ORIGINAL'\n",
    )
    .unwrap();

    let hostile = Job::python(["-c", HOSTILE]).source_dir(src.path());
    for _ in 0..2 {
        let out = sb.run(&hostile).unwrap();
        assert_eq!(out.status, Status::Exited(0), "{}", out.stderr_lossy());
        assert!(out.stdout_lossy().contains("hostile saw POISONED"));
    }
    // Whatever the hostile runs left in the cache compiles the original source.
    for entry in entries(cache.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.windows(8).any(|w| w == b"POISONED"),
            "{} holds the guest's code",
            entry.display()
        );
    }
    // The next jobs (the first and the cached run) see the original code.
    let victim = Job::pytest(Vec::<(String, Vec<u8>)>::new(), ["-q", "test_victim.py"])
        .source_dir(src.path());
    for _ in 0..2 {
        let out = sb.run(&victim).unwrap();
        assert_eq!(out.status, Status::Exited(0), "{}", out.stdout_lossy());
        let probe = Job::python(["-c", "import victim; print('next job saw', victim.VALUE)"])
            .source_dir(src.path());
        let text = sb.run(&probe).unwrap().stdout_lossy();
        assert!(text.contains("next job saw ORIGINAL"), "{text}");
    }
    assert!(
        !entries(cache.path()).is_empty(),
        "the cache was filled from the original sources"
    );
}

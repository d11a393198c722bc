//! A damaged runtime environment is never used: opening the sandbox checks the installed
//! environment against its manifest and rebuilds a damaged one (offline, from the kept wheels),
//! or fails naming what was damaged. Works on a private copy of the installed runtime, with no
//! interpreter for pip (so nothing is downloaded). (Its own test binary: it changes the process
//! environment.)

mod common;

use std::path::Path;

use codeswarm::sandbox::{Job, RuntimePaths, Sandbox, SandboxError, SandboxOptions};
use common::{codeswarm, stderr};

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// `home/runtime`: the installed runtime's wasm, its stamp and compiled module hard-linked (only
/// read), its kept wheels and its environment copied (the test damages them).
fn private_runtime(real: &RuntimePaths, home: &Path) -> RuntimePaths {
    let dir = home.join("runtime");
    std::fs::create_dir_all(dir.join("cache")).unwrap();
    let link = |from: &Path, to: &Path| {
        std::fs::hard_link(from, to)
            .or_else(|_| std::fs::copy(from, to).map(drop))
            .unwrap()
    };
    let wasm_name = real.wasm.file_name().unwrap();
    link(&real.wasm, &dir.join(wasm_name));
    let mut stamp = wasm_name.to_owned();
    stamp.push(".verified");
    link(&real.dir.join(&stamp), &dir.join(&stamp));
    for entry in std::fs::read_dir(&real.cache).unwrap() {
        let entry = entry.unwrap();
        link(&entry.path(), &dir.join("cache").join(entry.file_name()));
    }
    copy_tree(&real.wheels(), &dir.join("wheels"));
    let env = dir.join(real.env.file_name().unwrap());
    copy_tree(&real.env, &env);
    RuntimePaths {
        dir: dir.clone(),
        wasm: dir.join(wasm_name),
        env,
        cache: dir.join("cache"),
    }
}

/// The sandbox runs pytest (which needs pluggy).
fn runs_pytest(sb: &Sandbox) {
    let job = Job::pytest(
        [(
            "test_a.py",
            b"def test_a():\n    assert 1 + 1 == 2\n".to_vec(),
        )],
        Vec::<String>::new(),
    );
    let o = sb.run(&job).unwrap();
    assert!(
        o.all_tests_passed(),
        "{:?}\n{}",
        o.status,
        o.output_tail(2000)
    );
}

#[test]
fn a_damaged_environment_is_rebuilt_offline_or_refused_never_used() {
    let real = Sandbox::open(&()).expect("the sandbox runtime (run `codeswarm sandbox --setup`)");
    // No interpreter to run pip with: whatever happens below happens offline.
    let home = tempfile::tempdir().unwrap();
    let no_python = home.path().join("no-such-python");
    std::env::set_var("CODESWARM_PYTHON", &no_python);
    let paths = private_runtime(real.paths(), home.path());
    let options = SandboxOptions {
        runtime_dir: Some(paths.dir.clone()),
        ..SandboxOptions::default()
    };
    let sb = Sandbox::open_with(&options, &()).expect("an intact copy opens as it is");
    assert_eq!(sb.paths().env, paths.env);
    runs_pytest(&sb);

    // A deleted package: found on open, rebuilt from the kept wheels.
    let pluggy = paths.env.join("site/pluggy");
    std::fs::remove_dir_all(&pluggy).unwrap();
    let sb = Sandbox::open_with(&options, &()).expect("rebuilt offline");
    assert!(pluggy.join("__init__.py").is_file(), "pluggy is back");
    runs_pytest(&sb);

    // A planted file is damage too.
    std::fs::write(paths.env.join("site/zz_planted.pth"), "import os\n").unwrap();
    Sandbox::open_with(&options, &()).unwrap();
    assert!(!paths.env.join("site/zz_planted.pth").exists());

    // Same size, other content: every open checks sizes only; the full check (what
    // `sandbox --setup` asks for) finds it and rebuilds.
    let hooks = pluggy.join("_hooks.py");
    let original = std::fs::read(&hooks).unwrap();
    std::fs::write(&hooks, vec![b'#'; original.len()]).unwrap();
    Sandbox::open_with(&options, &()).unwrap();
    assert_ne!(std::fs::read(&hooks).unwrap(), original, "sizes only");
    let full = SandboxOptions {
        verify_hashes: true,
        ..options.clone()
    };
    Sandbox::open_with(&full, &()).unwrap();
    assert_eq!(std::fs::read(&hooks).unwrap(), original, "rebuilt");

    // The same through the command line: `sandbox --setup` repairs and says so.
    std::fs::remove_dir_all(&pluggy).unwrap();
    let env = [
        ("CODESWARM_HOME", home.path().to_str().unwrap()),
        ("CODESWARM_PYTHON", no_python.to_str().unwrap()),
    ];
    let o = codeswarm(&["sandbox", "--setup", "--", "-c", "import pluggy"], &env);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("sandbox runtime ready"),
        "{}",
        stderr(&o)
    );
    assert!(pluggy.is_dir());

    // Damaged with no way to rebuild (no kept wheels, no pip): a clear error naming the damage,
    // and the damaged environment is gone rather than left to be used.
    std::fs::remove_dir_all(&pluggy).unwrap();
    std::fs::remove_dir_all(paths.wheels()).unwrap();
    let err = Sandbox::open_with(&options, &()).unwrap_err();
    assert!(matches!(err, SandboxError::DamagedEnv { .. }), "{err:?}");
    let msg = err.to_string();
    for needle in ["damaged", "site/pluggy/", "codeswarm sandbox --setup"] {
        assert!(msg.contains(needle), "`{needle}` in: {msg}");
    }
    assert!(
        !paths.env.exists(),
        "the damaged environment is not left in place"
    );
    let o = codeswarm(&["sandbox", "--setup"], &env);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("codeswarm sandbox --setup") && !stderr(&o).contains("ready"),
        "{}",
        stderr(&o)
    );
}

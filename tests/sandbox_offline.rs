//! Without an installed runtime and without a working pip, opening the sandbox fails with a
//! message that says how to set it up. (Its own test binary: it changes process environment.)

use codeswarm::sandbox::{Sandbox, SandboxError, SandboxOptions};

#[test]
fn missing_runtime_offline_names_the_setup_command() {
    let home = tempfile::tempdir().unwrap();
    std::env::set_var("CODESWARM_HOME", home.path());
    // No interpreter to run pip with: the same path as having no network.
    std::env::set_var("CODESWARM_PYTHON", home.path().join("no-such-python"));
    let options = SandboxOptions {
        runtime_dir: Some(home.path().join("runtime")),
        ..SandboxOptions::default()
    };
    let err = Sandbox::open_with(&options, &()).unwrap_err();
    assert!(
        matches!(err, SandboxError::RuntimeMissing { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("codeswarm sandbox --setup"), "{msg}");
    assert!(
        !home.path().join("runtime/python-3.12.0.wasm").exists(),
        "nothing half-fetched"
    );
}

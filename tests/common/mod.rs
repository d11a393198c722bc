//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod gguf_writer;

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `codeswarm` binary built for these tests.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_codeswarm"))
}

/// Run the binary with `args`, returning its output.
pub fn codeswarm(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = bin();
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run codeswarm")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The default model, fetched into the shared cache if missing (the README's test command
/// fetches it first, so this is normally instant).
pub fn default_model() -> PathBuf {
    let reg = codeswarm::models::Registry::builtin();
    reg.resolve(None, true, &())
        .expect("default model available (run `codeswarm models pull`)")
        .path
}

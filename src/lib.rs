//! codeswarm: a local multi-agent coding system. One small GGUF model, loaded in-process through
//! llama.cpp, plays a Coordinator and specialists (CodeGenerator, TestWriter, Debugger,
//! Reviewer) one after another; every generated Python file is syntax-checked with
//! tree-sitter-python and only ever runs inside a WASI sandbox.
//!
//! Module map, in pipeline order:
//! - [`models`]: registry, fetching, GGUF inspection, memory planning, the llama.cpp backend,
//!   the scripted model, and the [`models::ModelManager`] that owns model lifetime.
//! - [`agents`]: the specialists and their prompts.
//! - [`coordination`]: the Coordinator and the TaskDecomposer.
//! - [`pipeline`]: `codeswarm run` as a library call.
//! - [`repo`]: repository mode: mirror checkout, repo map, ranking, search/replace edits,
//!   patches, and fixture repositories.
//! - [`batch`]: SWE-bench batch runs: instances, shards, the predictions file, the resumable
//!   runner over a solver, merging, reports and local evaluation.
//! - [`gate`]: `codeswarm check`, the CI gate: apply a diff in a throw-away worktree,
//!   syntax-check the changed Python, run the tests in the sandbox, JUnit/JSON output.
//! - [`sandbox`]: CPython 3.12 compiled to WebAssembly, run by wasmtime with WASI; pytest inside.
//! - [`testing`]: test execution and its one vocabulary of results, shared by the Coordinator,
//!   the repository fixer, the gate and `evaluate`; environments per repository and version.
//! - [`doctor`]: `codeswarm doctor`: what is set up and what is not, with the fixes.
//! - [`cli`]: thin command-line shells over the library.

pub mod activity;
pub mod agents;
pub mod batch;
pub mod bench;
pub mod cli;
pub mod config;
pub mod coordination;
pub mod doctor;
pub mod eval;
pub mod fetch;
pub mod fix;
pub mod format_patch;
pub mod fsutil;
pub mod gate;
pub mod input_file;
pub mod models;
pub mod paths;
pub mod pipeline;
pub mod progress;
pub mod repo;
pub mod report;
pub mod sandbox;
pub mod stale_dirs;
pub mod syntax;
pub mod terminal_text;
pub mod testing;

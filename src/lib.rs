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
//! - [`sandbox`]: CPython 3.12 on wasmtime + WASI, and pytest inside it.
//! - [`cli`]: thin command-line shells over the library.

pub mod bench;
pub mod cli;
pub mod fetch;
pub mod paths;
pub mod sandbox;

//! Thin command-line shells over the library (the top-level command enum lives in `main.rs`).

pub mod sandbox;

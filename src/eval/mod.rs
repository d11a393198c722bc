//! Measuring quality: one prompt versus the whole pipeline, side by side, on HumanEval and on
//! the project's own prose set, each answer judged by a hidden test in the sandbox.

pub mod humaneval;
pub mod problem;
pub mod prose;
pub mod run;

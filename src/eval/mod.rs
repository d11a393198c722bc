//! Measuring quality: HumanEval with one prompt versus the whole pipeline, side by side.

pub mod humaneval;
pub mod run;

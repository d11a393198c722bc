//! Coordination: the TaskDecomposer turns a request into a plan, the Coordinator runs the plan
//! one specialist at a time and passes artifacts between them, with tests as the judge.

pub mod agreement;
pub mod behaviour;
pub mod coordinator;
pub mod decomposer;
pub mod default_inputs;
pub mod io_examples;
pub mod judge;
pub mod requirements;
pub mod scan;
pub mod self_attrs;
pub mod stated_value;
pub mod static_check;
pub mod verdict;
pub mod well_typed;

pub use crate::testing::{TestRun, TestRunner};
pub use coordinator::{Coordinator, RunOutcome, RunReport};

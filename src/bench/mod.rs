//! Benchmarks as library calls (the CLI prints their results; `report.json` embeds them).

pub mod sandbox;

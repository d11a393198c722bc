//! Benchmarks behind `codeswarm bench …`: speed and memory figures reported as ratios against a
//! reference measured in the same run (llama.cpp's own counters and its `llama-bench`).

pub mod engine;
pub mod sandbox;
pub mod sandbox_repo;

/// Peak resident set size of this process (`VmHWM`), in bytes, on Linux.
pub fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

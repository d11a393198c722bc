//! Criterion benchmarks of the WASI sandbox with a warm (cached) runtime: `python -c pass` and
//! pytest on the two-test file of `codeswarm::bench::sandbox`. Needs the sandbox runtime
//! (`codeswarm sandbox --setup`). The one-shot comparison with native pytest is
//! `codeswarm::bench::sandbox::bench_sandbox`.

use std::time::Duration;

use codeswarm::bench::sandbox::TEST_FILE;
use codeswarm::sandbox::{Job, Sandbox, Status};
use criterion::{criterion_group, criterion_main, Criterion};

fn sandbox_runs(c: &mut Criterion) {
    let sandbox =
        Sandbox::open(&()).expect("the sandbox runtime (run `codeswarm sandbox --setup`)");
    let mut group = c.benchmark_group("sandbox");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));

    let pass = Job::python(["-c", "pass"]);
    group.bench_function("python -c pass", |b| {
        b.iter(|| {
            let o = sandbox.run(&pass).unwrap();
            assert_eq!(o.status, Status::Exited(0));
        })
    });

    let pytest = Job::pytest([("test_bench.py", TEST_FILE.as_bytes().to_vec())], ["-q"]);
    group.bench_function("pytest 2 tests", |b| {
        b.iter(|| {
            let o = sandbox.run(&pytest).unwrap();
            assert!(o.all_tests_passed());
        })
    });
    group.finish();
}

/// Cold start: compile the runtime module (no cache) and link it.
fn sandbox_cold(c: &mut Criterion) {
    let mut group = c.benchmark_group("sandbox cold");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(40));
    group.bench_function("open without a module cache", |b| {
        b.iter(|| {
            let cache = tempfile::tempdir().unwrap();
            let options = codeswarm::sandbox::SandboxOptions {
                module_cache_dir: Some(cache.path().to_path_buf()),
                ..Default::default()
            };
            Sandbox::open_with(&options, &()).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, sandbox_runs, sandbox_cold);
criterion_main!(benches);

//! Criterion benchmarks of the pipeline's host-side work: tree-sitter validation of Python
//! (every model reply goes through it) and search/replace application (every repository edit).

use std::collections::BTreeMap;

use codeswarm::repo::edit::{apply_edits, parse_edits};
use codeswarm::syntax::check_python;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// A Python module of `n` functions (about 6 lines each).
fn module(n: usize) -> String {
    (0..n)
        .map(|i| format!("def function_{i}(values, factor={i}):\n    \"\"\"Scale values.\"\"\"\n    out = []\n    for v in values:\n        out.append(v * factor + {i})\n    return out\n\n\n"))
        .collect()
}

fn validation(c: &mut Criterion) {
    let mut group = c.benchmark_group("tree-sitter validation");
    for n in [10usize, 100, 1000] {
        let src = module(n);
        group.throughput(Throughput::Bytes(src.len() as u64));
        group.bench_function(format!("{} lines", src.lines().count()), |b| {
            b.iter(|| assert!(check_python(&src).is_empty()))
        });
    }
    let broken = format!("{}def broken(:\n    pass\n", module(100));
    group.bench_function("600 lines with an error", |b| {
        b.iter(|| assert!(!check_python(&broken).is_empty()))
    });
    group.finish();
}

fn search_replace(c: &mut Criterion) {
    let src = module(300);
    let files: BTreeMap<String, String> = [("pkg/big.py".to_string(), src.clone())].into();
    let blocks = |indent_shift: &str| -> String {
        (0..10)
            .map(|k| {
                let i = k * 30;
                format!(
                    "pkg/big.py\n<<<<<<< SEARCH\n{s}    for v in values:\n{s}        out.append(v * factor + {i})\n=======\n{s}    for v in values:\n{s}        out.append(v * factor - {i})\n>>>>>>> REPLACE\n",
                    s = indent_shift
                )
            })
            .collect()
    };
    let exact = parse_edits(&blocks("")).unwrap();
    let shifted = parse_edits(&blocks("  ")).unwrap();
    let mut group = c.benchmark_group("search/replace");
    group.throughput(Throughput::Elements(10));
    // `+ {i}` makes each SEARCH text unique in the file.
    group.bench_function("10 exact blocks, 1800-line file", |b| {
        b.iter(|| assert!(apply_edits(&files, &exact).applied.len() == 10))
    });
    group.bench_function("10 re-indented blocks (whitespace-tolerant)", |b| {
        b.iter(|| apply_edits(&files, &shifted))
    });
    group.finish();
}

criterion_group!(benches, validation, search_replace);
criterion_main!(benches);

//! SWE-bench instances as the dataset tools download them: Parquet shards in a `data/`
//! directory. The fixture set, written as two Parquet shards, drives `batch --mock` (the
//! directory of shards) and `evaluate` (one shard file) exactly as its `.jsonl` file does.
//!
//! Needs the sandbox runtime (fetched on first use, or `codeswarm sandbox --setup`).

mod common;

use common::{bin, stderr, stdout};

#[test]
fn parquet_shards_drive_batch_mock_and_evaluate() {
    let dir = tempfile::tempdir().unwrap();
    let fx = dir.path().join("fx");
    let o = bin()
        .args(["fixtures", "--out", fx.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(fx.join("instances.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 4);
    let data = fx.join("dataset").join("data");
    std::fs::create_dir_all(&data).unwrap();
    let first = data.join("test-00000-of-00002.parquet");
    codeswarm::batch::parquet::write_rows(&first, &rows[..2]).unwrap();
    codeswarm::batch::parquet::write_rows(&data.join("test-00001-of-00002.parquet"), &rows[2..])
        .unwrap();
    let template = codeswarm::batch::fixture_set::url_template(&fx.join("repos"));
    let preds = fx.join("parquet-preds.jsonl");

    let o = bin()
        .args(["batch", "--mock", "--instances"])
        .arg(fx.join("dataset"))
        .arg("--predictions")
        .arg(&preds)
        .args(["--repo-url-template", &template])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&preds)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    for l in &lines {
        assert!(
            !l["model_patch"].as_str().unwrap().trim().is_empty(),
            "every fixture gets its patch: {l}"
        );
    }

    let o = bin()
        .args(["evaluate", "--instances"])
        .arg(&first)
        .arg("--predictions")
        .arg(&preds)
        .args(["--repo-url-template", &template])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(text.trim_end().ends_with("resolved 2/2"), "{text}");
    assert!(
        text.contains("2 predictions name instances not in the instances file"),
        "{text}"
    );

    // Not Parquet: the file is named, no crash.
    let junk = dir.path().join("junk.parquet");
    std::fs::write(&junk, b"PAR1 not really PAR1").unwrap();
    let o = bin()
        .args(["evaluate", "--gold", "--instances"])
        .arg(&junk)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("junk.parquet") && stderr(&o).contains("not a readable Parquet file"),
        "{}",
        stderr(&o)
    );
}

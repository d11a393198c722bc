//! Instances from Parquet, as the dataset tools download them: one `.parquet` file, or a
//! directory of shards (`data/test-00000-of-00001.parquet`, … — the dataset snapshot layout;
//! every `*.parquet` under it, in path order). Each row becomes the same JSON object a `.jsonl`
//! line holds, so the rest of [`super::instances`] reads both alike.
//!
//! Read with the `parquet` crate's row API (no Arrow); uncompressed and Snappy pages (the dataset
//! tools' default) are read, other codecs give an error that names them. A file the
//! reader cannot make sense of is an error naming the file, never a crash: the reader's own
//! panics on corrupt input are caught.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::input_file::{read_input, Follow, MAX_DATA_FILE};

#[derive(Debug, thiserror::Error)]
pub enum ParquetError {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no `.parquet` file (give a .parquet file, a directory of shards, or a .json/.jsonl file)")]
    NoShards { path: PathBuf },
    #[error("{path} is not a readable Parquet file: {message}")]
    Unreadable { path: PathBuf, message: String },
    #[error(transparent)]
    Input(#[from] crate::input_file::InputError),
}

/// Whether `path` names Parquet input: a `.parquet` file, or a directory (of shards).
pub fn is_parquet_source(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
        || path.is_dir()
}

/// The shard files of `path`: itself, or every regular `*.parquet` file under the directory (links
/// are not followed), in path order.
pub fn shards(path: &Path) -> Result<Vec<PathBuf>, ParquetError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| ParquetError::Io { path: p, source }
    };
    let meta = std::fs::metadata(path).map_err(io(path))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut dirs = vec![path.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let kind = entry.file_type().map_err(io(&entry.path()))?;
            let p = entry.path();
            if kind.is_dir() {
                dirs.push(p);
            } else if kind.is_file()
                && p.extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(ParquetError::NoShards {
            path: path.to_path_buf(),
        });
    }
    Ok(out)
}

/// The rows of every shard of `path` as JSON objects, in order, and the sha256 of the shards'
/// bytes (concatenated in path order). Each shard is read as any input file is
/// ([`read_input`]: regular files only), all of them together within [`MAX_DATA_FILE`].
pub fn read_rows(path: &Path) -> Result<(Vec<Value>, String), ParquetError> {
    let mut hasher = Sha256::new();
    let mut rows = Vec::new();
    let mut left = MAX_DATA_FILE;
    for f in shards(path)? {
        let bytes = read_input(&f, "--instances", left, Follow::Yes)?;
        left -= bytes.len() as u64;
        hasher.update(&bytes);
        rows.extend(rows_of(&f, bytes)?);
    }
    Ok((rows, hex::encode(hasher.finalize())))
}

/// The rows of one Parquet file's bytes.
fn rows_of(path: &Path, bytes: Vec<u8>) -> Result<Vec<Value>, ParquetError> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let unreadable = |message: String| ParquetError::Unreadable {
        path: path.to_path_buf(),
        message,
    };
    let read = std::panic::catch_unwind(move || -> Result<Vec<Value>, String> {
        let reader =
            SerializedFileReader::new(bytes::Bytes::from(bytes)).map_err(|e| e.to_string())?;
        let iter = reader.get_row_iter(None).map_err(|e| e.to_string())?;
        iter.map(|row| row.map(|r| r.to_json_value()).map_err(|e| e.to_string()))
            .collect()
    });
    match read {
        Ok(Ok(rows)) => Ok(rows),
        Ok(Err(message)) => Err(unreadable(message)),
        Err(panic) => Err(unreadable(
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the file is corrupt".into()),
        )),
    }
}

/// Write `rows` (JSON objects) as one Parquet file laid out as the dataset tools write SWE-bench:
/// every field a nullable UTF-8 string column (non-string values as their JSON text), Snappy
/// pages. For tests, and to turn a `.jsonl` file into the layout users download.
pub fn write_rows(path: &Path, rows: &[Value]) -> Result<(), ParquetError> {
    use parquet::basic::Compression;
    use parquet::data_type::{ByteArray, ByteArrayType};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::types::Type;

    let err = |e: parquet::errors::ParquetError| ParquetError::Unreadable {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut columns: Vec<String> = Vec::new();
    for row in rows {
        for key in row.as_object().map(|o| o.keys()).into_iter().flatten() {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
    }
    let fields = columns
        .iter()
        .map(|c| {
            Type::primitive_type_builder(c, parquet::basic::Type::BYTE_ARRAY)
                .with_repetition(parquet::basic::Repetition::OPTIONAL)
                .with_logical_type(Some(parquet::basic::LogicalType::String))
                .build()
                .map(Arc::new)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    let schema = Type::group_type_builder("schema")
        .with_fields(fields)
        .build()
        .map_err(err)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut out = Vec::new();
    {
        let mut writer =
            SerializedFileWriter::new(&mut out, Arc::new(schema), Arc::new(props)).map_err(err)?;
        let mut group = writer.next_row_group().map_err(err)?;
        for c in &columns {
            let mut values: Vec<ByteArray> = Vec::new();
            let mut levels: Vec<i16> = Vec::new();
            for row in rows {
                match row.get(c) {
                    None | Some(Value::Null) => levels.push(0),
                    Some(Value::String(s)) => {
                        levels.push(1);
                        values.push(ByteArray::from(s.as_str()));
                    }
                    Some(other) => {
                        levels.push(1);
                        values.push(ByteArray::from(other.to_string().as_str()));
                    }
                }
            }
            let mut col = group
                .next_column()
                .map_err(err)?
                .expect("one column writer per schema field");
            col.typed::<ByteArrayType>()
                .write_batch(&values, Some(&levels), None)
                .map_err(err)?;
            col.close().map_err(err)?;
        }
        group.close().map_err(err)?;
        writer.close().map_err(err)?;
    }
    crate::fsutil::write_atomic(path, &out).map_err(|source| ParquetError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_round_trip_through_a_file_and_a_directory_of_shards() {
        let dir = tempfile::tempdir().unwrap();
        let a = vec![
            json!({"instance_id": "o__n-1", "FAIL_TO_PASS": "[\"t.py::x\"]", "version": "1.0"}),
            json!({"instance_id": "o__n-2", "FAIL_TO_PASS": "[]", "version": null}),
        ];
        let b = vec![json!({"instance_id": "o__n-3", "FAIL_TO_PASS": "[]", "version": "2"})];
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        write_rows(&data.join("test-00000-of-00002.parquet"), &a).unwrap();
        write_rows(&data.join("test-00001-of-00002.parquet"), &b).unwrap();
        std::fs::write(data.join("README.md"), "not a shard").unwrap();

        let (rows, sha) = read_rows(&data.join("test-00000-of-00002.parquet")).unwrap();
        assert_eq!(rows[0]["instance_id"], "o__n-1");
        assert_eq!(rows[0]["FAIL_TO_PASS"], "[\"t.py::x\"]");
        assert_eq!(rows[1]["version"], Value::Null);
        assert_eq!(sha.len(), 64);

        let (rows, _) = read_rows(dir.path()).unwrap();
        let ids: Vec<&str> = rows
            .iter()
            .map(|r| r["instance_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["o__n-1", "o__n-2", "o__n-3"]);
    }

    #[test]
    fn bad_input_is_named_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("x.parquet");
        std::fs::write(&junk, b"PAR1 this is not parquet PAR1").unwrap();
        let e = read_rows(&junk).unwrap_err();
        assert!(matches!(e, ParquetError::Unreadable { .. }), "{e}");
        assert!(e.to_string().contains("x.parquet"), "{e}");
        // A real file cut short.
        let good = dir.path().join("good.parquet");
        write_rows(&good, &[json!({"instance_id": "a"})]).unwrap();
        let mut bytes = std::fs::read(&good).unwrap();
        for cut in [bytes.len() / 2, bytes.len() - 9, 10] {
            let cut_file = dir.path().join(format!("cut{cut}.parquet"));
            std::fs::write(&cut_file, &bytes[..cut]).unwrap();
            assert!(read_rows(&cut_file).is_err());
        }
        // Flipped bytes in the middle: an error or rows, never a panic.
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        std::fs::write(&good, &bytes).unwrap();
        let _ = read_rows(&good);
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert!(matches!(
            read_rows(&empty).unwrap_err(),
            ParquetError::NoShards { .. }
        ));
    }
}

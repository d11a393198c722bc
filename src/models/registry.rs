//! The model registry (`models/registry.toml`, embedded at build time) and resolution of a
//! `--model NAME|PATH` argument to a verified file on disk.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::fetch::{self, AssetSpec, FetchError, Progress, Source};

const REGISTRY_TOML: &str = include_str!("../../models/registry.toml");

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("unknown model `{name}`; known models: {known}. Pass a registry name or a path to a .gguf file")]
    Unknown { name: String, known: String },
    #[error("model file {0} does not exist; pass an existing .gguf path or a registry name (`codeswarm models list`)")]
    MissingPath(PathBuf),
    #[error("model path {0} is a directory, not a model file; pass the path of a .gguf file or a registry name (`codeswarm models list`)")]
    NotAFile(PathBuf),
    #[error("model `{name}` is not downloaded yet; run `codeswarm models pull {name}`")]
    NotPulled { name: String },
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("models/registry.toml is invalid: {0}")]
    Parse(String),
}

#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    pub name: String,
    pub file: String,
    /// Older names still accepted for this entry (`--model`, `models pull`).
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub description: String,
    /// Exact size in bytes, verified.
    pub size: Option<u64>,
    /// Approximate size for display only, where the exact bytes are not known (a model the
    /// user places by hand).
    #[serde(default)]
    pub approx_size: Option<u64>,
    pub sha256: Option<String>,
    pub source: Source,
}

impl Entry {
    /// The size to show: exact (`468.6 MiB`), approximate (`~4.36 GiB`) or `?`.
    pub fn display_size(&self) -> String {
        use crate::models::memory::human;
        match (self.size, self.approx_size) {
            (Some(s), _) => human(s),
            (None, Some(a)) => format!("~{}", human(a)),
            (None, None) => "?".into(),
        }
    }

    /// Whether `name` is this entry's name or one of its aliases.
    pub fn answers_to(&self, name: &str) -> bool {
        self.name == name || self.aliases.iter().any(|a| a == name)
    }

    /// Where the verified file lives in the cache.
    pub fn path(&self) -> PathBuf {
        crate::paths::models_dir().join(&self.file)
    }

    pub fn spec(&self) -> AssetSpec {
        AssetSpec {
            what: self.name.clone(),
            size: self.size,
            sha256: self.sha256.clone(),
            source: self.source.clone(),
        }
    }

    /// Fetch (if needed) and verify; returns the path and whether it was fetched now.
    pub fn pull(&self, progress: &dyn Progress) -> Result<(PathBuf, bool), RegistryError> {
        let path = self.path();
        let fetched = fetch::ensure(&self.spec(), &path, progress)?;
        Ok((path, fetched))
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Registry {
    pub default: String,
    #[serde(rename = "model")]
    pub models: Vec<Entry>,
}

impl Registry {
    /// The registry shipped with this build.
    pub fn builtin() -> Self {
        Self::parse(REGISTRY_TOML)
            .expect("embedded models/registry.toml is valid (checked by tests)")
    }

    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        let reg: Registry =
            toml::from_str(text).map_err(|e| RegistryError::Parse(e.to_string()))?;
        if reg.get(&reg.default).is_none() {
            return Err(RegistryError::Parse(format!(
                "default model `{}` is not listed",
                reg.default
            )));
        }
        Ok(reg)
    }

    /// The entry called `name` (its name or an alias).
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.models
            .iter()
            .find(|m| m.name == name)
            .or_else(|| self.models.iter().find(|m| m.answers_to(name)))
    }

    pub fn default_entry(&self) -> &Entry {
        self.get(&self.default).expect("checked in parse")
    }

    fn lookup(&self, name: &str) -> Result<&Entry, RegistryError> {
        self.get(name).ok_or_else(|| RegistryError::Unknown {
            name: name.to_string(),
            known: self
                .models
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// Resolve `--model`: an existing path (or anything that looks like one) is taken as is;
    /// otherwise a registry name, fetched on first use when `auto_pull` is set.
    pub fn resolve(
        &self,
        arg: Option<&str>,
        auto_pull: bool,
        progress: &dyn Progress,
    ) -> Result<ResolvedModel, RegistryError> {
        let arg = arg.unwrap_or(&self.default);
        // A directory is never a registry name: say what it is, even without a `/` in it.
        let looks_like_path = arg.ends_with(".gguf")
            || arg.contains('/')
            || arg.contains(std::path::MAIN_SEPARATOR)
            || Path::new(arg).is_dir();
        if looks_like_path && self.get(arg).is_none() {
            let path = PathBuf::from(arg);
            if path.is_dir() {
                return Err(RegistryError::NotAFile(path));
            }
            if !path.is_file() {
                return Err(RegistryError::MissingPath(path));
            }
            let entry = self
                .models
                .iter()
                .find(|m| Path::new(&m.file).file_name() == path.file_name())
                .cloned();
            // A file that carries a registry file name is verified against that entry.
            if let Some(e) = &entry {
                fetch::Verified::check(&path, &e.spec())?;
            }
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_else(|| arg.to_string());
            return Ok(ResolvedModel { name, path, entry });
        }
        let entry = self.lookup(arg)?;
        let path = entry.path();
        if path.exists() || auto_pull {
            if !path.exists() && matches!(entry.source, Source::Manual { .. }) {
                return Err(FetchError::Manual {
                    what: entry.name.clone(),
                    hint: manual_hint(entry),
                }
                .into());
            }
            entry.pull(progress)?;
        } else {
            return Err(RegistryError::NotPulled {
                name: entry.name.clone(),
            });
        }
        Ok(ResolvedModel {
            name: entry.name.clone(),
            path,
            entry: Some(entry.clone()),
        })
    }
}

fn manual_hint(entry: &Entry) -> String {
    match &entry.source {
        Source::Manual { hint } => hint.replace(
            "$CODESWARM_HOME/models/",
            &format!("{}/", crate::paths::models_dir().display()),
        ),
        _ => String::new(),
    }
}

/// A model file ready to load.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    /// Registry name, or the file stem for a bare path.
    pub name: String,
    pub path: PathBuf,
    pub entry: Option<Entry>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_names_carry_their_quantization_and_old_names_still_resolve() {
        let reg = Registry::builtin();
        for m in &reg.models {
            assert!(
                m.name.ends_with("-q4_k_m"),
                "{} names no quantization",
                m.name
            );
            assert!(
                m.size.is_some() || m.approx_size.is_some(),
                "{}: no size",
                m.name
            );
            assert_ne!(m.display_size(), "?", "{}", m.name);
        }
        let old = reg
            .get("qwen2.5-coder-1.5b-instruct")
            .expect("the old name is an alias");
        assert_eq!(old.name, "qwen2.5-coder-1.5b-instruct-q4_k_m");
        assert!(reg.get("qwen2.5-coder-1.5b").is_none());
        let big = reg.get("qwen2.5-coder-7b-instruct-q4_k_m").unwrap();
        assert!(
            big.display_size().starts_with('~'),
            "{}",
            big.display_size()
        );
    }

    #[test]
    fn a_directory_given_as_model_is_named_a_directory() {
        let d = tempfile::tempdir().unwrap();
        let reg = Registry::builtin();
        let bar = indicatif::ProgressBar::hidden();
        let e = reg
            .resolve(Some(d.path().to_str().unwrap()), false, &bar)
            .unwrap_err();
        assert!(matches!(e, RegistryError::NotAFile(_)), "{e}");
        assert!(e.to_string().contains("is a directory"), "{e}");
        // A bare directory name in the current directory, without a `/`.
        let here = std::env::current_dir().unwrap();
        let name = here.join("src");
        assert!(name.is_dir());
        let e = reg.resolve(Some("src"), false, &bar).unwrap_err();
        assert!(matches!(e, RegistryError::NotAFile(_)), "{e}");
        let e = reg
            .resolve(Some("no-such-model-or-dir"), false, &bar)
            .unwrap_err();
        assert!(matches!(e, RegistryError::Unknown { .. }), "{e}");
    }
}

//! Test environments per repository and version ("specs"): data, not code. The built-in list is
//! `specs/repos.toml`, compiled into the binary; `--specs FILE` adds entries that win over it.
//!
//! A spec says how a repository's tests run in the sandbox, as the SWE-bench harness's
//! per-version recipes do on Docker: the runner ([`RunnerKind`]: pytest, Django's
//! `tests/runtests.py`, sympy's `bin/test`), the repository dirs that go first on `sys.path`
//! (the repository under test always wins over the sandbox's own packages: when the repository
//! *is* pytest, its own pytest runs its own tests), exact pins of pure-Python wheels (built once
//! into a cached site dir by [`crate::repo::site`]), files an install step would have generated
//! (a setuptools_scm `_version.py`), extra environment variables, a time limit, and — where an
//! environment is known not to run under CPython 3.12 on WASI — why not.
//!
//! Lookup: the entry of the repository whose `versions` lists the instance's version, else the
//! repository's `"*"` entry, else [`Spec::default_for`] (pytest, the repository root first, no
//! pins: `--requirements`/`--site` supply dependencies).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::repo::pins::parse_pins;
use crate::sandbox::layout::check_relative;

/// The list shipped with codeswarm.
pub const BUILTIN: &str = include_str!("../../specs/repos.toml");

/// How a repository's tests are started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RunnerKind {
    /// `python -m pytest … <files>`, results from its JUnit report.
    #[default]
    Pytest,
    /// `python bin/test -C --verbose --no-subprocess <files>`, results from its output.
    Sympy,
    /// `python tests/runtests.py --verbosity 2 --settings=test_sqlite --parallel 1 <modules>`,
    /// results from its output.
    Django,
}

impl RunnerKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            RunnerKind::Pytest => "pytest",
            RunnerKind::Sympy => "sympy",
            RunnerKind::Django => "django",
        }
    }
}

/// A file written into the copy of the repository before its tests run.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratedFile {
    pub path: String,
    /// Contents; `{version}` is replaced by the instance's version (in the path too).
    pub text: String,
}

/// One environment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// `owner/name`.
    pub repo: String,
    /// The dataset `version` values this entry serves; `"*"`: any other.
    pub versions: Vec<String>,
    #[serde(default)]
    pub runner: RunnerKind,
    /// Repository dirs put first on `sys.path` (before the pinned dependencies and the
    /// sandbox's own packages). The repository root is always on it (it is the working dir).
    #[serde(default)]
    pub path: Vec<String>,
    /// Exact pins of pure-Python wheels, in `--requirements` format.
    #[serde(default)]
    pub requirements: String,
    /// Time limit of one test run (default: `[repo_tests] timeout_seconds` of the config).
    pub timeout_seconds: Option<u64>,
    #[serde(default)]
    pub files: Vec<GeneratedFile>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Why this environment cannot run in the sandbox at all.
    pub not_runnable: Option<String>,
    #[serde(default)]
    pub note: String,
}

impl Spec {
    /// What a repository without an entry gets: pytest from the repository root.
    pub fn default_for(repo: &str) -> Spec {
        Spec {
            repo: repo.to_string(),
            versions: vec!["*".into()],
            runner: RunnerKind::Pytest,
            path: Vec::new(),
            requirements: String::new(),
            timeout_seconds: None,
            files: Vec::new(),
            env: BTreeMap::new(),
            not_runnable: None,
            note: String::new(),
        }
    }

    /// A short name for logs and reports: `owner/name@versions`.
    pub fn label(&self) -> String {
        format!("{}@{}", self.repo, self.versions.join(","))
    }

    /// The generated files with `{version}` filled in.
    pub fn files_for(&self, version: Option<&str>) -> Vec<(String, String)> {
        self.files
            .iter()
            .map(|f| {
                let v = version.unwrap_or("0.0");
                (
                    f.path.replace("{version}", v),
                    f.text.replace("{version}", v),
                )
            })
            .collect()
    }

    fn validate(&self, origin: &Path, index: usize) -> Result<(), SpecError> {
        let bad = |message: String| SpecError::Invalid {
            origin: origin.to_path_buf(),
            index,
            repo: self.repo.clone(),
            message,
        };
        if self.repo.split('/').filter(|s| !s.is_empty()).count() != 2 {
            return Err(bad("`repo` must be `owner/name`".into()));
        }
        if self.versions.is_empty() {
            return Err(bad(
                "`versions` is empty; list versions or use [\"*\"]".into()
            ));
        }
        for p in &self.path {
            check_relative(Path::new(p)).map_err(|e| bad(format!("`path`: {e}")))?;
        }
        for f in &self.files {
            check_relative(Path::new(&f.path.replace("{version}", "0")))
                .map_err(|e| bad(format!("`files`: {e}")))?;
        }
        for k in self.env.keys() {
            if k.is_empty() || k.contains(['=', '\0']) || k == "PYTHONPATH" {
                return Err(bad(format!(
                    "`env` key `{k}` is not allowed (PYTHONPATH comes from `path`)"
                )));
            }
        }
        if !self.requirements.trim().is_empty() {
            parse_pins(&self.requirements, origin)
                .map_err(|e| bad(format!("`requirements`: {e}")))?;
        }
        let max = crate::sandbox::MAX_TIMEOUT.as_secs();
        if let Some(t) = self.timeout_seconds.filter(|t| !(1..=max).contains(t)) {
            return Err(bad(format!(
                "`timeout_seconds = {t}`: give whole seconds from 1 to {max} (one day)"
            )));
        }
        Ok(())
    }
}

/// Why a specs file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error(transparent)]
    Input(#[from] crate::input_file::InputError),
    #[error("cannot read specs file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("specs file {}: {message}; see specs/repos.toml for the format", origin.display())]
    Syntax { origin: PathBuf, message: String },
    #[error("specs file {}: entry {index} ({repo}): {message}", origin.display())]
    Invalid {
        origin: PathBuf,
        index: usize,
        repo: String,
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    #[serde(default)]
    spec: Vec<Spec>,
}

/// The environments known to this run: a user's file first, then the built-in list.
#[derive(Debug, Clone, Default)]
pub struct SpecSet {
    specs: Vec<Spec>,
}

impl SpecSet {
    /// The built-in list.
    pub fn builtin() -> SpecSet {
        // The built-in file is checked by a unit test; a broken one is a build defect.
        SpecSet::parse(BUILTIN, Path::new("specs/repos.toml"))
            .expect("the built-in specs/repos.toml is valid")
    }

    /// The built-in list, with the entries of `extra` (a user's `--specs FILE`) taking
    /// precedence.
    pub fn load(extra: Option<&Path>) -> Result<SpecSet, SpecError> {
        let mut set = match extra {
            Some(path) => {
                let text = crate::input_file::read_input_string(
                    path,
                    "--specs",
                    crate::input_file::MAX_TEXT_FILE,
                    crate::input_file::Follow::Yes,
                )?;
                SpecSet::parse(&text, path)?
            }
            None => SpecSet::default(),
        };
        set.specs.extend(SpecSet::builtin().specs);
        Ok(set)
    }

    pub fn parse(text: &str, origin: &Path) -> Result<SpecSet, SpecError> {
        let file: SpecFile = toml::from_str(text).map_err(|e| SpecError::Syntax {
            origin: origin.to_path_buf(),
            message: e.to_string(),
        })?;
        for (i, s) in file.spec.iter().enumerate() {
            s.validate(origin, i)?;
        }
        Ok(SpecSet { specs: file.spec })
    }

    pub fn specs(&self) -> &[Spec] {
        &self.specs
    }

    /// Check that a spec names `repo` (and `version`, when given, unless the repository has a
    /// `*` spec); the error lists what is known.
    pub fn check_known(&self, repo: &str, version: Option<&str>) -> Result<(), String> {
        let same: Vec<&Spec> = self
            .specs
            .iter()
            .filter(|s| s.repo.eq_ignore_ascii_case(repo))
            .collect();
        if same.is_empty() {
            let mut known: Vec<&str> = self.specs.iter().map(|s| s.repo.as_str()).collect();
            known.sort_unstable();
            known.dedup();
            return Err(format!(
                "no test environment is known for `{}`; known: {}",
                crate::terminal_text::terminal_safe(repo),
                known.join(", ")
            ));
        }
        let versions: Vec<&str> = same
            .iter()
            .flat_map(|s| s.versions.iter().map(String::as_str))
            .collect();
        match version {
            Some(v) if !versions.iter().any(|x| *x == v || *x == "*") => Err(format!(
                "`{repo}` has no test environment for version `{}`; known versions: {}",
                crate::terminal_text::terminal_safe(v),
                versions.join(", ")
            )),
            _ => Ok(()),
        }
    }

    /// The spec for `repo` at `version` (see the module doc for the order).
    pub fn find(&self, repo: &str, version: Option<&str>) -> Spec {
        let same = |s: &&Spec| s.repo.eq_ignore_ascii_case(repo);
        if let Some(v) = version {
            if let Some(s) = self
                .specs
                .iter()
                .filter(same)
                .find(|s| s.versions.iter().any(|x| x == v))
            {
                return s.clone();
            }
        }
        self.specs
            .iter()
            .filter(same)
            .find(|s| s.versions.iter().any(|x| x == "*"))
            .cloned()
            .unwrap_or_else(|| Spec::default_for(repo))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_list_is_valid_and_covers_the_harness_repositories() {
        let set = SpecSet::builtin();
        for repo in [
            "pytest-dev/pytest",
            "psf/requests",
            "pallets/flask",
            "pylint-dev/pylint",
            "sympy/sympy",
            "django/django",
            "sqlfluff/sqlfluff",
            "pylint-dev/astroid",
            "marshmallow-code/marshmallow",
            "pydicom/pydicom",
        ] {
            assert!(
                set.specs().iter().any(|s| s.repo == repo),
                "no spec for {repo}"
            );
        }
        assert_eq!(
            set.find("sympy/sympy", Some("1.1")).runner,
            RunnerKind::Sympy
        );
        assert_eq!(
            set.find("django/django", Some("3.0")).runner,
            RunnerKind::Django
        );
    }

    #[test]
    fn lookup_prefers_the_version_then_the_wildcard_then_the_default() {
        let text = r#"
[[spec]]
repo = "a/b"
versions = ["1.0"]
runner = "sympy"
path = ["src"]

[[spec]]
repo = "a/b"
versions = ["*"]
"#;
        let set = SpecSet::parse(text, Path::new("t.toml")).unwrap();
        assert_eq!(set.find("a/b", Some("1.0")).runner, RunnerKind::Sympy);
        assert_eq!(set.find("a/b", Some("2.0")).runner, RunnerKind::Pytest);
        assert!(set.find("a/b", None).path.is_empty());
        let other = set.find("c/d", Some("1.0"));
        assert_eq!(other.repo, "c/d");
        assert_eq!(other.runner, RunnerKind::Pytest);
    }

    #[test]
    fn bad_entries_are_named() {
        for (text, needle) in [
            (
                "[[spec]]\nrepo = \"ab\"\nversions = [\"*\"]\n",
                "owner/name",
            ),
            (
                "[[spec]]\nrepo = \"a/b\"\nversions = [\"*\"]\npath = [\"../x\"]\n",
                "path",
            ),
            (
                "[[spec]]\nrepo = \"a/b\"\nversions = [\"*\"]\nrequirements = \"attrs>=1\"\n",
                "requirements",
            ),
            (
                "[[spec]]\nrepo = \"a/b\"\nversions = [\"*\"]\nrunner = \"nose\"\n",
                "nose",
            ),
            (
                "[[spec]]\nrepo = \"a/b\"\nversions = [\"*\"]\nenv = { PYTHONPATH = \"/x\" }\n",
                "PYTHONPATH",
            ),
        ] {
            let err = SpecSet::parse(text, Path::new("t.toml")).unwrap_err();
            assert!(err.to_string().contains(needle), "{err}");
        }
    }

    #[test]
    fn generated_files_get_the_version() {
        let mut s = Spec::default_for("a/b");
        s.files.push(GeneratedFile {
            path: "src/x/_version.py".into(),
            text: "version = '{version}.0'\n".into(),
        });
        assert_eq!(
            s.files_for(Some("5.4")),
            [(
                "src/x/_version.py".to_string(),
                "version = '5.4.0'\n".to_string()
            )]
        );
    }
}

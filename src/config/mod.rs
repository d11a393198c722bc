//! Configuration: limits, sandbox settings, sampling per role and per-role models. Defaults
//! live in `defaults.toml` (embedded); a user file is merged over them key by key.

use crate::input_file::{read_input_string, Follow, MAX_TEXT_FILE};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::models::{AgentRole, Sampling};

const DEFAULTS: &str = include_str!("defaults.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {detail}")]
    Invalid { path: PathBuf, detail: String },
    #[error(transparent)]
    Input(#[from] crate::input_file::InputError),
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub syntax_retries: u32,
    pub debug_rounds: u32,
    pub review_rounds: u32,
    pub plan_retries: u32,
    pub model_plan_min_functions: usize,
    pub max_subtasks: usize,
    pub samples: u32,
    /// Candidates that must behave alike on every input before generation stops early.
    pub agree_candidates: u32,
    pub resample: u32,
    /// Model calls one run (or one fix) may make; 0 = no limit.
    pub max_model_calls: u32,
    /// Seconds one run (or one fix) may spend before it stops calling the model; 0 = none.
    pub time_limit_seconds: u64,
    /// Requirements quoted from the task into the checklist.
    pub max_requirements: usize,
    /// Inputs the InputWriter may add to the stated examples.
    pub max_inputs: usize,
    pub input_writer_max_tokens: u32,
    /// Inputs (stated examples count) that must run on every candidate before agreement can
    /// make the verdict `passed`.
    pub min_usable_inputs: usize,
    /// Calls written per stated case: an error case's must raise the named exception, an edge
    /// case's must return the stated value.
    pub error_inputs_per_requirement: usize,
    /// Re-asks of the CodeGenerator with static-check findings, per candidate.
    pub static_fix_rounds: u32,
    /// Questions (each asked in both option orders) where the candidates disagree.
    pub questions: u32,
    /// Behaviour clusters whose first member runs the written tests.
    pub clusters_tested: usize,
    /// Characters of failure text put into a Debugger prompt.
    pub failure_report_chars: usize,
    /// Reasons kept from a Reviewer reply.
    pub review_reasons: usize,
    /// Lines of a run's output in a failure report when no test ran to the end (collection
    /// errors, time-outs).
    pub failure_output_lines: usize,
    /// Lines of each failing test's traceback in a failure report.
    pub failure_detail_lines: usize,
    /// Batch: retries of an instance whose solver could not reach the inference server.
    pub batch_retries: u32,
    /// Batch: seconds before the first such retry (doubled before each next one).
    pub batch_retry_wait_seconds: u64,
}

/// The repository fixer's limits (`[fix]`): localization, reproduction, candidates,
/// verification. See `defaults.toml` for what each does and how the defaults were chosen.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixLimits {
    pub rank_files: usize,
    pub rank_tests: usize,
    pub localize_candidates: usize,
    pub localize_files: usize,
    pub localize_symbols: usize,
    pub fallback_symbols_per_file: usize,
    pub fallback_definitions: usize,
    /// Definitions the issue names (traceback frames, imports, calls) that are taken as the
    /// locations without asking the model.
    pub named_locations: usize,
    /// Methods shown of a class too large to show whole.
    pub class_methods: usize,
    pub code_context_percent: usize,
    pub related_tests: usize,
    /// Regression tests (node ids) kept of the related test files, at most.
    pub regression_tests: usize,
    pub repro_samples: u32,
    pub repro_keep: usize,
    pub repro_output_lines: usize,
    pub repro_failure_chars: usize,
    pub repro_failure_lines: usize,
    pub samples: u32,
    pub agree: usize,
    pub edit_format: crate::agents::repairer::EditFormat,
    pub feedback: bool,
    pub repair_failure_chars: usize,
    /// Seconds one run of the reproduction checks (and a candidate's run) may take.
    pub check_timeout_seconds: u64,
}

impl FixLimits {
    fn validate(&self) -> Result<(), String> {
        if !(1..=100).contains(&self.code_context_percent) {
            return Err(format!(
                "[fix] code_context_percent = {}: give a percentage of the context window from 1 to 100",
                self.code_context_percent
            ));
        }
        if self.check_timeout_seconds == 0 {
            return Err("[fix] check_timeout_seconds = 0: give whole seconds, at least 1".into());
        }
        if self.samples == 0 {
            return Err("[fix] samples = 0: give at least 1 (the greedy candidate)".into());
        }
        if self.agree < 2 {
            return Err(format!(
                "[fix] agree = {}: give at least 2 (one candidate agreeing with itself shows nothing)",
                self.agree
            ));
        }
        Ok(())
    }
}

/// Keys that moved from `[limits]` to `[fix]` (old name, new name).
const MOVED_TO_FIX: &[(&str, &str)] = &[
    ("rank_files", "rank_files"),
    ("rank_tests", "rank_tests"),
    ("localize_candidates", "localize_candidates"),
    ("localize_files", "localize_files"),
    ("localize_symbols", "localize_symbols"),
    ("fallback_symbols_per_file", "fallback_symbols_per_file"),
    ("fallback_definitions", "fallback_definitions"),
    ("code_context_percent", "code_context_percent"),
    ("related_tests", "related_tests"),
    ("repro_attempts", "repro_samples"),
    ("repro_output_lines", "repro_output_lines"),
    ("repro_failure_chars", "repro_failure_chars"),
    ("repro_failure_lines", "repro_failure_lines"),
    ("repair_failure_chars", "repair_failure_chars"),
    ("repair_format", "edit_format"),
    ("unchanged_repro_rounds", ""),
];

/// A clear error for a user config that still sets a key `[fix]` now holds.
fn moved_key(over: &toml::Table) -> Option<String> {
    let limits = over.get("limits")?.as_table()?;
    MOVED_TO_FIX.iter().find(|(old, _)| limits.contains_key(*old)).map(|(old, new)| {
        if new.is_empty() {
            format!("[limits] {old} is gone: the repository fixer no longer edits in rounds (it samples `[fix] samples` candidates); remove the key")
        } else {
            format!("[limits] {old} moved to the repository fixer's own table: write it as `{new}` under `[fix]`")
        }
    })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxSettings {
    /// 1 to 86400 (one day).
    pub timeout_seconds: u64,
    /// 16 to 4096 (the guest is 32-bit wasm).
    pub memory_mb: u64,
    /// Bytes of a run's output kept (its end): what failure reports, prompts and reports show.
    pub output_tail_bytes: usize,
    /// Seconds one script run may take (the behaviour probe: one candidate on every input);
    /// unset = `timeout_seconds`. A candidate that hangs costs this much per hung input.
    #[serde(default)]
    pub script_timeout_seconds: Option<u64>,
}

impl SandboxSettings {
    /// Check the ranges; `section` names the table in the message.
    fn validate(&self, section: &str) -> Result<(), String> {
        let max = crate::sandbox::MAX_TIMEOUT.as_secs();
        if !(1..=max).contains(&self.timeout_seconds) {
            return Err(format!(
                "[{section}] timeout_seconds = {}: give whole seconds from 1 to {max} (one day)",
                self.timeout_seconds
            ));
        }
        if let Some(t) = self.script_timeout_seconds {
            if !(1..=max).contains(&t) {
                return Err(format!(
                    "[{section}] script_timeout_seconds = {t}: give whole seconds from 1 to {max} (one day)"
                ));
            }
        }
        let mem = crate::sandbox::MEMORY_MB_RANGE;
        if !mem.contains(&self.memory_mb) {
            return Err(format!(
                "[{section}] memory_mb = {}: give MiB from {} to {} (the guest is 32-bit wasm)",
                self.memory_mb,
                mem.start(),
                mem.end()
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub limits: Limits,
    /// The repository fixer (`fix`, `batch`).
    pub fix: FixLimits,
    /// Limits of the sandbox runs of generated code (snippets and their tests).
    pub sandbox: SandboxSettings,
    /// Limits of a repository's test runs (fix, batch, check, evaluate): real suites take
    /// minutes, not seconds.
    pub repo_tests: SandboxSettings,
    sampling: BTreeMap<String, toml::Table>,
    #[serde(default)]
    pub models: BTreeMap<String, String>,
}

impl Limits {
    fn validate(&self) -> Result<(), String> {
        let max = crate::sandbox::MAX_TIMEOUT.as_secs();
        if self.time_limit_seconds > max {
            return Err(format!(
                "[limits] time_limit_seconds = {}: give whole seconds up to {max} (one day), or 0 for no limit",
                self.time_limit_seconds
            ));
        }
        if self.min_usable_inputs == 0 {
            return Err(
                "[limits] min_usable_inputs = 0: give at least 1 (agreement on no input is no evidence; the default is 3)"
                    .into(),
            );
        }
        Ok(())
    }

    /// The built-in limits (`defaults.toml`), for code that has no [`Config`] at hand.
    pub fn builtin() -> &'static Limits {
        static BUILTIN: std::sync::OnceLock<Limits> = std::sync::OnceLock::new();
        BUILTIN.get_or_init(|| Config::defaults().limits)
    }
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

impl Config {
    /// The built-in defaults.
    pub fn defaults() -> Self {
        Self::from_tables(
            DEFAULTS.parse().expect("embedded defaults are valid TOML"),
            None,
        )
        .expect("embedded defaults are valid")
    }

    fn from_tables(
        mut base: toml::Table,
        over: Option<(&Path, toml::Table)>,
    ) -> Result<Self, ConfigError> {
        let path = over
            .as_ref()
            .map(|(p, _)| p.to_path_buf())
            .unwrap_or_else(|| PathBuf::from("<defaults>"));
        if let Some((_, o)) = over {
            if let Some(detail) = moved_key(&o) {
                return Err(ConfigError::Invalid { path, detail });
            }
            merge(&mut base, o);
        }
        let cfg: Config = toml::Value::Table(base)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid {
                path: path.clone(),
                detail: e.to_string(),
            })?;
        for role in cfg.sampling.keys().chain(cfg.models.keys()) {
            if role != "default" && role != "candidates" && AgentRole::parse(role).is_none() {
                return Err(ConfigError::Invalid {
                    path,
                    detail: format!("unknown role `{role}`"),
                });
            }
        }
        let ranges = cfg
            .sandbox
            .validate("sandbox")
            .and_then(|()| cfg.repo_tests.validate("repo_tests"))
            .and_then(|()| cfg.limits.validate())
            .and_then(|()| cfg.fix.validate());
        if let Err(detail) = ranges {
            return Err(ConfigError::Invalid { path, detail });
        }
        for role in AgentRole::ALL {
            cfg.sampling_table(role.as_str())
                .map_err(|detail| ConfigError::Invalid {
                    path: path.clone(),
                    detail,
                })?;
        }
        Ok(cfg)
    }

    /// Defaults merged with `path` (if given), else with the user config file if it exists.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let user = path.map(Path::to_path_buf).or_else(|| {
            let p = dirs::config_dir()?.join("codeswarm").join("config.toml");
            p.exists().then_some(p)
        });
        let base: toml::Table = DEFAULTS.parse().expect("embedded defaults are valid TOML");
        match user {
            None => Self::from_tables(base, None),
            Some(p) => {
                let text = read_input_string(&p, "config file", MAX_TEXT_FILE, Follow::Yes)?;
                let over: toml::Table =
                    text.parse()
                        .map_err(|e: toml::de::Error| ConfigError::Invalid {
                            path: p.clone(),
                            detail: e.to_string(),
                        })?;
                Self::from_tables(base, Some((&p, over)))
            }
        }
    }

    fn sampling_table(&self, key: &str) -> Result<Sampling, String> {
        let mut t = self.sampling.get("default").cloned().unwrap_or_default();
        if let Some(o) = self.sampling.get(key) {
            merge(&mut t, o.clone());
        }
        toml::Value::Table(t)
            .try_into()
            .map_err(|e: toml::de::Error| format!("[sampling.{key}]: {e}"))
    }

    /// Sampling settings for `role` (default table merged with the role's table).
    pub fn sampling(&self, role: AgentRole) -> Sampling {
        self.sampling_table(role.as_str())
            .expect("validated at load")
    }

    /// Sampling for candidate number `index` (0-based) of `role`: the first candidate uses the
    /// role's settings, later ones the `[sampling.candidates]` overrides and a distinct seed.
    pub fn candidate_sampling(&self, role: AgentRole, index: u32) -> Sampling {
        let mut s = self.sampling(role);
        if index > 0 {
            if let Some(c) = self.sampling.get("candidates") {
                let mut t: toml::Table = toml::Value::try_from(&s)
                    .ok()
                    .and_then(|v| v.as_table().cloned())
                    .unwrap_or_default();
                merge(&mut t, c.clone());
                if let Ok(merged) = toml::Value::Table(t).try_into() {
                    s = merged;
                }
            }
            s.seed = s.seed.wrapping_add(index.wrapping_mul(7919));
        }
        s
    }

    /// Use `seed` for every role (`--seed`).
    pub fn set_seed(&mut self, seed: u32) {
        self.sampling.entry("default".into()).or_default();
        for t in self.sampling.values_mut() {
            t.insert("seed".into(), toml::Value::Integer(seed as i64));
        }
    }

    /// Per-role model overrides.
    pub fn role_models(&self) -> BTreeMap<AgentRole, String> {
        self.models
            .iter()
            .filter_map(|(k, v)| AgentRole::parse(k).map(|r| (r, v.clone())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load_and_roles_override_default_sampling() {
        let c = Config::defaults();
        assert_eq!(c.limits.syntax_retries, 3);
        assert_eq!(c.fix.localize_candidates, 8);
        assert_eq!(c.fix.code_context_percent, 40);
        assert_eq!(c.fix.repair_failure_chars, 2500);
        assert_eq!(c.sandbox.output_tail_bytes, 4000);
        assert_eq!(c.repo_tests.output_tail_bytes, 6000);
        assert_eq!(Limits::builtin().review_reasons, c.limits.review_reasons);
        assert_eq!(c.sampling(AgentRole::Reviewer).max_tokens, 200);
        assert_eq!(c.sampling(AgentRole::CodeGenerator).max_tokens, 768);
        assert_eq!(c.sampling(AgentRole::Localizer).max_tokens, 1024);
        assert_eq!(c.sampling(AgentRole::CodeGenerator).temperature, 0.0);
        let cand = c.candidate_sampling(AgentRole::CodeGenerator, 2);
        assert!(cand.temperature > 0.0);
        assert_ne!(cand.seed, c.sampling(AgentRole::CodeGenerator).seed);
    }

    #[test]
    fn user_file_merges_over_defaults_and_unknown_roles_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[limits]\ndebug_rounds = 5\n[fix]\nlocalize_files = 2\n[sampling.debugger]\ntemperature = 0.2\n[models]\nreviewer = \"x.gguf\"\n").unwrap();
        let c = Config::load(Some(&p)).unwrap();
        assert_eq!(c.limits.debug_rounds, 5);
        assert_eq!(c.fix.localize_files, 2);
        assert_eq!(c.limits.syntax_retries, 3);
        assert_eq!(c.sampling(AgentRole::Debugger).temperature, 0.2);
        assert_eq!(
            c.role_models()
                .get(&AgentRole::Reviewer)
                .map(String::as_str),
            Some("x.gguf")
        );
        std::fs::write(&p, "[sampling.wizard]\ntemperature = 1.0\n").unwrap();
        let err = Config::load(Some(&p)).unwrap_err().to_string();
        assert!(err.contains("wizard"), "{err}");
        std::fs::write(&p, "[limits]\ndebug_roundz = 1\n").unwrap();
        assert!(Config::load(Some(&p)).is_err());
        // A key that moved to [fix] says where it went.
        std::fs::write(&p, "[limits]\nrepro_attempts = 4\n").unwrap();
        let err = Config::load(Some(&p)).unwrap_err().to_string();
        assert!(
            err.contains("repro_samples") && err.contains("[fix]"),
            "{err}"
        );
    }

    #[test]
    fn out_of_range_limits_are_rejected_naming_the_key_and_the_range() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        for (text, needles) in [
            (
                "[sandbox]\ntimeout_seconds = 9223372036854775807\n",
                &[
                    "[sandbox] timeout_seconds = 9223372036854775807",
                    "1 to 86400",
                ][..],
            ),
            (
                "[sandbox]\nscript_timeout_seconds = 0\n",
                &["[sandbox] script_timeout_seconds = 0", "1 to 86400"][..],
            ),
            (
                "[repo_tests]\ntimeout_seconds = 0\n",
                &["[repo_tests] timeout_seconds = 0", "1 to 86400"],
            ),
            (
                "[repo_tests]\nmemory_mb = 0\n",
                &["[repo_tests] memory_mb = 0", "16 to 4096"],
            ),
            (
                "[sandbox]\nmemory_mb = 17592186044416\n",
                &["[sandbox] memory_mb = 17592186044416"],
            ),
            (
                "[limits]\ntime_limit_seconds = 9223372036854775807\n",
                &["[limits] time_limit_seconds", "0 for no limit"],
            ),
            (
                "[fix]\ncode_context_percent = 0\n",
                &["[fix] code_context_percent = 0", "1 to 100"],
            ),
            (
                "[limits]\nmin_usable_inputs = 0\n",
                &["[limits] min_usable_inputs = 0", "at least 1"],
            ),
        ] {
            std::fs::write(&p, text).unwrap();
            let err = Config::load(Some(&p)).unwrap_err().to_string();
            assert!(err.contains("c.toml"), "{err}");
            for n in needles {
                assert!(err.contains(n), "`{n}` in {err}");
            }
        }
        std::fs::write(&p, "[sandbox]\ntimeout_seconds = 86400\nmemory_mb = 4096\n").unwrap();
        Config::load(Some(&p)).unwrap();
    }
}

//! Options shared by several commands: the model ([`ModelOpts`]) and the repositories'
//! Python dependencies for the sandbox ([`DepsOpts`]).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::agents::prompts::Prompts;
use crate::config::Config;
use crate::fetch::Progress;
use crate::models::memory::{parse_size, KvType};
use crate::models::scripted::{builtin_script, BUILTIN_NAME};
use crate::models::{ManagerSettings, ModelManager, Registry};

/// The repositories' pure-Python dependencies, mounted read-only in the sandbox.
#[derive(Args, Debug, Clone, Default)]
pub struct DepsOpts {
    /// Directory of unpacked pure-Python wheels (the repositories' dependencies), mounted
    /// read-only in the sandbox.
    #[arg(long, value_name = "DIR", conflicts_with = "requirements")]
    pub site: Option<PathBuf>,
    /// Exact pins (`name==version`, optional `--hash=sha256:…`) to build the site dir from
    /// (pure-Python wheels only; fetched once, cached by the file's content).
    #[arg(long, value_name = "FILE")]
    pub requirements: Option<PathBuf>,
    /// Extra test-environment specs (TOML, the format of specs/repos.toml); its entries win over
    /// the built-in ones.
    #[arg(long, value_name = "FILE")]
    pub specs: Option<PathBuf>,
    /// The repository's test environment, `owner/name` or `owner/name@version` (see
    /// specs/repos.toml); default: taken from the instance, or from `--repo owner/name`.
    #[arg(long = "env", value_name = "OWNER/NAME[@VERSION]")]
    pub env: Option<String>,
}

impl DepsOpts {
    /// The site dir to mount: `--site` as given, one built (or found cached) from
    /// `--requirements`, or none.
    pub fn resolve(
        &self,
        progress: &dyn Progress,
    ) -> Result<Option<PathBuf>, crate::repo::site::SiteError> {
        crate::repo::site::resolve_site(
            self.site.as_deref(),
            self.requirements.as_deref(),
            progress,
        )
    }

    /// The specs: the built-in list plus `--specs`.
    pub fn spec_set(&self) -> anyhow::Result<crate::testing::SpecSet> {
        Ok(crate::testing::SpecSet::load(self.specs.as_deref())?)
    }

    /// The repository test runner of `fix`, `check` and `batch`: the shared sandbox, the user's
    /// site, `[repo_tests]` limits, and the environment named by `--env` (else by `repo`, when
    /// that is an `owner/name`; else the default pytest environment).
    pub fn repo_tests(
        &self,
        config: &Config,
        repo: Option<&str>,
        progress: &dyn Progress,
    ) -> anyhow::Result<crate::testing::RepoTests> {
        let specs = self.spec_set()?;
        let (name, version) = match self.env.as_deref() {
            Some(e) => {
                let (n, v) = match e.split_once('@') {
                    Some((n, v)) => (n, Some(v)),
                    None => (e, None),
                };
                if n.split('/').filter(|p| !p.is_empty()).count() != 2 {
                    anyhow::bail!("--env {e}: give the environment as owner/name or owner/name@version (see specs/repos.toml)");
                }
                // A name or version no spec knows is a mistake, not a request for the default
                // environment (checked before the sandbox opens).
                specs.check_known(n, v).map_err(|known| {
                    anyhow::anyhow!("--env {e}: {known}; or describe it in a file given with --specs (see specs/repos.toml)")
                })?;
                (Some(n.to_string()), v.map(str::to_string))
            }
            None => (
                repo.filter(|r| {
                    !r.contains("://")
                        && !std::path::Path::new(r).exists()
                        && r.split('/').filter(|p| !p.is_empty()).count() == 2
                })
                .map(str::to_string),
                None,
            ),
        };
        let site = self.resolve(progress)?;
        progress.set_message("opening the sandbox".into());
        let sandbox = crate::testing::open_sandbox(progress).context("opening the sandbox")?;
        let base = crate::testing::RepoTests::new(sandbox, site, &config.repo_tests);
        match name {
            Some(n) => {
                let spec = specs.find(&n, version.as_deref());
                Ok(base.with_spec(&spec, version.as_deref(), progress)?)
            }
            None => Ok(base),
        }
    }
}

#[derive(Args, Debug, Clone, Default)]
pub struct ModelOpts {
    /// Model: a registry name (`codeswarm models list`) or a path to a .gguf file.
    #[arg(short = 'm', long, env = "CODESWARM_MODEL")]
    pub model: Option<String>,
    /// An OpenAI-compatible inference server instead of an in-process model:
    /// `http://HOST:PORT[#MODEL]` (llama-server, vLLM, SGLang, Ollama). Per role: a URL in the
    /// config's [models] table.
    #[arg(long, value_name = "URL", env = "CODESWARM_SERVER", conflicts_with_all = ["model", "mock"])]
    pub server: Option<String>,
    /// Context size in tokens (default: the planner picks up to 8192 within the memory budget).
    #[arg(short = 'c', long)]
    pub ctx: Option<u32>,
    /// KV cache type.
    #[arg(long, value_enum, default_value_t = KvType::F16)]
    pub kv_type: KvType,
    /// RAM budget for the model (e.g. 4GiB; default: available RAM minus 1.25 GiB).
    #[arg(long, value_parser = parse_size)]
    pub ram_budget: Option<u64>,
    /// VRAM budget with the `cuda` build (default 8GiB).
    #[arg(long, value_parser = parse_size)]
    pub vram_budget: Option<u64>,
    /// Layers to offload to the GPU (default: planned from the budget).
    #[arg(long, visible_alias = "ngl")]
    pub gpu_layers: Option<u32>,
    /// CPU threads for llama.cpp (default: all cores).
    #[arg(short = 't', long)]
    pub threads: Option<i32>,
    /// Use the scripted model instead of a real one (architecture checks, demos without weights).
    #[arg(long)]
    pub mock: bool,
    /// Script for --mock (default: the built-in scripts: the fibonacci demo, and one per
    /// fixture of `codeswarm fixtures` for fix and batch).
    #[arg(long, requires = "mock")]
    pub script: Option<PathBuf>,
    /// Config file merged over the defaults (limits, sampling, per-role models).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Directory of prompt overrides (NAME.md replaces the built-in prompt NAME).
    #[arg(long)]
    pub prompts: Option<PathBuf>,
}

impl ModelOpts {
    pub fn load_config(&self) -> anyhow::Result<Config> {
        Ok(Config::load(self.config.as_deref())?)
    }

    pub fn load_prompts(&self) -> anyhow::Result<Prompts> {
        if let Some(dir) = &self.prompts {
            let problem = match std::fs::metadata(dir) {
                Ok(m) if m.is_dir() => None,
                Ok(_) => Some("is not a directory"),
                Err(_) => Some("does not exist"),
            };
            if let Some(problem) = problem {
                anyhow::bail!(
                    "--prompts {}: {problem}; give a directory of NAME.md prompt overrides",
                    dir.display()
                );
            }
        }
        Ok(Prompts::load(self.prompts.as_deref())?)
    }

    pub fn manager(&self, config: &Config, quiet: bool) -> anyhow::Result<ModelManager> {
        let mock_script = if self.mock {
            Some(match &self.script {
                Some(p) => (
                    p.display().to_string(),
                    crate::input_file::read_input_string(
                        p,
                        "--script",
                        crate::input_file::MAX_TEXT_FILE,
                        crate::input_file::Follow::Yes,
                    )?,
                ),
                None => (BUILTIN_NAME.to_string(), builtin_script()),
            })
        } else {
            None
        };
        if let Some(url) = &self.server {
            if !crate::models::server::is_server_arg(url) {
                anyhow::bail!(
                    "--server {url}: give the server's URL, e.g. http://127.0.0.1:8080 (optionally #MODEL)"
                );
            }
        }
        let settings = ManagerSettings {
            model: self.server.clone().or_else(|| self.model.clone()),
            role_models: config.role_models(),
            ctx: self.ctx,
            preferred_ctx: None,
            kv_type: self.kv_type,
            ram_budget: self.ram_budget,
            vram_budget: self.vram_budget,
            gpu_layers: self.gpu_layers,
            threads: self.threads,
            mock_script,
            auto_pull: true,
            quiet,
        };
        Ok(ModelManager::new(Registry::builtin(), settings))
    }
}

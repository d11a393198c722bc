//! The ModelManager: the only owner of model lifetime and memory. One model is resident at a
//! time (agents run one after another); roles may name different models, and the manager
//! unloads the resident one before loading the next. Before any load it computes a memory plan
//! from the GGUF metadata and refuses a plan that does not fit the budget.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::gguf::GgufInfo;
use super::llama::{LlamaEngine, LoadSettings};
use super::memory::{available_ram, Device, KvType, MemoryPlan, PlanRequest, GIB, MIB};
use super::registry::{Registry, ResolvedModel};
use super::scripted::ScriptedModel;
use super::{AgentRole, Model, ModelError};

/// RAM kept free for the rest of the process (the sandbox's default 1 GiB guest memory cap plus
/// working room) when the budget is derived from available RAM.
pub const RAM_RESERVE: u64 = GIB + 256 * MIB;

/// How models are chosen, planned and loaded.
#[derive(Debug, Clone, Default)]
pub struct ManagerSettings {
    /// `--model`: a registry name or a path; `None` is the registry default.
    pub model: Option<String>,
    /// Per-role overrides (registry name or path).
    pub role_models: BTreeMap<AgentRole, String>,
    /// Fixed context size; `None` lets the planner choose.
    pub ctx: Option<u32>,
    /// Preferred context size when the planner chooses.
    pub preferred_ctx: Option<u32>,
    pub kv_type: KvType,
    /// CPU RAM budget; `None` = available RAM minus [`RAM_RESERVE`].
    pub ram_budget: Option<u64>,
    /// GPU memory budget (used with the `cuda` feature; default 8 GiB there).
    pub vram_budget: Option<u64>,
    pub gpu_layers: Option<u32>,
    pub threads: Option<i32>,
    /// `--mock`: replay this script instead of loading any model.
    pub mock_script: Option<(String, String)>,
    /// Fetch registry models on first use.
    pub auto_pull: bool,
    /// Do not print plans and loads to stderr.
    pub quiet: bool,
}

/// A record of what the manager did, for reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadRecord {
    pub model: String,
    pub path: PathBuf,
    pub plan: MemoryPlan,
    pub load_seconds: f64,
}

struct Resident {
    key: String,
    model: Box<dyn Model>,
}

pub struct ModelManager {
    registry: Registry,
    settings: ManagerSettings,
    resident: Option<Resident>,
    /// Where progress goes (see [`crate::progress::events`]).
    progress: Option<crate::progress::SharedSink>,
    /// Every load, in order.
    pub loads: Vec<LoadRecord>,
}

impl ModelManager {
    pub fn new(registry: Registry, settings: ManagerSettings) -> Self {
        Self {
            registry,
            settings,
            resident: None,
            progress: None,
            loads: vec![],
        }
    }

    /// Report progress to `sink` from now on: stages, notes (the memory plan and the load,
    /// instead of plain stderr lines) and every generation of the models handed out.
    pub fn set_progress(&mut self, sink: crate::progress::SharedSink) {
        // The resident model was handed out without it: load it again, wrapped.
        self.unload();
        self.progress = Some(sink);
    }

    /// The progress sink, for callers that report their own stages.
    pub fn progress(&self) -> Option<&crate::progress::SharedSink> {
        self.progress.as_ref()
    }

    /// Report a stage of the work (nothing without a sink).
    pub fn stage(&self, what: &str) {
        if let Some(p) = &self.progress {
            p.event(&crate::progress::Event::Stage(what));
        }
    }

    /// A line for the user: through the sink when there is one, else on stderr; nothing when
    /// quiet.
    fn note(&self, line: &str) {
        if self.settings.quiet {
            return;
        }
        match &self.progress {
            Some(p) => p.event(&crate::progress::Event::Note(line)),
            None => eprintln!("{line}"),
        }
    }

    pub fn settings(&self) -> &ManagerSettings {
        &self.settings
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn is_mock(&self) -> bool {
        self.settings.mock_script.is_some()
    }

    /// The model argument that serves `role`.
    pub fn model_arg(&self, role: AgentRole) -> String {
        self.settings
            .role_models
            .get(&role)
            .cloned()
            .or_else(|| self.settings.model.clone())
            .unwrap_or_else(|| self.registry.default.clone())
    }

    fn device(&self) -> Device {
        let ram_budget = self.settings.ram_budget.unwrap_or_else(|| {
            available_ram()
                .map(|a| a.saturating_sub(RAM_RESERVE))
                .unwrap_or(8 * GIB)
        });
        if cfg!(feature = "cuda") {
            Device::Gpu {
                vram_budget: self.settings.vram_budget.unwrap_or(8 * GIB),
                ram_budget,
            }
        } else {
            Device::Cpu { ram_budget }
        }
    }

    /// The plan request these settings produce.
    pub fn plan_request(&self) -> PlanRequest {
        PlanRequest {
            ctx: self.settings.ctx,
            preferred_ctx: self.settings.preferred_ctx.unwrap_or(8192),
            kv_type: self.settings.kv_type,
            device: self.device(),
            gpu_layers: self.settings.gpu_layers,
            ..PlanRequest::default()
        }
    }

    /// Resolve and inspect a model and plan its memory, without loading it.
    pub fn plan(
        &self,
        model_arg: &str,
    ) -> Result<(ResolvedModel, GgufInfo, MemoryPlan), ModelError> {
        let progress = crate::progress::bytes_bar();
        let resolved =
            self.registry
                .resolve(Some(model_arg), self.settings.auto_pull, &progress)?;
        progress.finish_and_clear();
        let info = GgufInfo::read(&resolved.path)?;
        let plan = MemoryPlan::compute(&info, &self.plan_request()).map_err(|e| {
            ModelError::DoesNotFit(format!(
                "{} ({}): {}",
                resolved.name,
                info.path.display(),
                e.0
            ))
        })?;
        Ok((resolved, info, plan))
    }

    /// The model for `role`, loading it (and unloading another) if needed.
    pub fn model_for(&mut self, role: AgentRole) -> Result<&mut dyn Model, ModelError> {
        crate::activity::set(role.as_str());
        let key = if let Some((name, _)) = &self.settings.mock_script {
            format!("mock:{name}")
        } else {
            self.model_arg(role)
        };
        if self.resident.as_ref().map(|r| r.key != key).unwrap_or(true) {
            self.unload();
            let model: Box<dyn Model> = if let Some((name, text)) = &self.settings.mock_script {
                Box::new(ScriptedModel::from_toml(name, text)?)
            } else {
                self.load(&key)?
            };
            let model: Box<dyn Model> = match &self.progress {
                Some(sink) => Box::new(super::observed::Observed::new(model, sink.clone())),
                None => model,
            };
            self.resident = Some(Resident { key, model });
        }
        Ok(self.resident.as_mut().expect("just loaded").model.as_mut())
    }

    fn load(&mut self, model_arg: &str) -> Result<Box<dyn Model>, ModelError> {
        // A URL is an OpenAI-compatible inference server: nothing is loaded here.
        if super::server::is_server_arg(model_arg) {
            let model = super::server::ServerModel::connect(
                model_arg,
                super::server::ServerSettings::default(),
            )?;
            self.note(&format!(
                "{}: inference server, context {} tokens",
                model.name(),
                model.n_ctx()
            ));
            return Ok(Box::new(model));
        }
        let (resolved, info, plan) = self.plan(model_arg)?;
        self.note(&format!("{}: {}", resolved.name, plan.describe()));
        self.stage(&format!("loading {}", resolved.name));
        tracing::info!(model = %resolved.name, plan = %plan.describe(), "loading");
        let threads = self.settings.threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get() as i32)
                .unwrap_or(4)
        });
        let settings = LoadSettings {
            n_threads: threads,
            n_batch: 512,
            n_ubatch: 512,
        };
        let engine = LlamaEngine::load(&resolved.name, &info.path, &plan, &settings)?;
        self.note(&format!(
            "{}: loaded in {:.2}s ({} threads)",
            resolved.name, engine.load_seconds, threads
        ));
        self.loads.push(LoadRecord {
            model: resolved.name.clone(),
            path: info.path.clone(),
            plan,
            load_seconds: engine.load_seconds,
        });
        Ok(Box::new(engine))
    }

    /// Start the next task from an empty KV cache (see [`Model::clear_cache`]): each task's
    /// replies then depend only on the task, not on what ran before it in this process (the
    /// order of a batch, the single answer `eval --mode both` asks first).
    pub fn fresh_start(&mut self) {
        if let Some(r) = self.resident.as_mut() {
            r.model.clear_cache();
        }
    }

    /// A new independent job (a batch instance) starts: see [`Model::new_job`].
    pub fn new_job(&mut self) {
        if let Some(r) = self.resident.as_mut() {
            r.model.new_job();
        }
    }

    /// Drop the resident model, freeing its weights and KV cache.
    pub fn unload(&mut self) {
        if let Some(r) = self.resident.take() {
            tracing::info!(model = %r.key, "unloading");
        }
    }

    /// Name of the resident model, if any.
    pub fn resident(&self) -> Option<&str> {
        self.resident.as_ref().map(|r| r.key.as_str())
    }
}

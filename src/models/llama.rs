//! The llama.cpp backend: one GGUF model and one context, loaded in-process through
//! `llama-cpp-2`. Applies the model's chat template, samples (temperature, top-p, top-k, seed,
//! max tokens, stop strings) and keeps the KV cache of the previous call so that a prompt
//! sharing a prefix with it only evaluates the new tokens.
//!
//! Created only by the [`super::ModelManager`], which plans memory before loading.

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Instant;

use llama_cpp_2::context::params::{KvCacheType, LlamaContextParams};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use super::memory::{KvType, MemoryPlan};
use super::stops::Stopper;
use super::{Finish, GenRequest, Generation, Message, Model, ModelError};

/// The process-wide llama.cpp backend (llama.cpp allows one initialisation per process).
/// llama.cpp's own log lines are routed into `tracing` (target `llama-cpp-2`), so they are
/// silent unless `-v` asks for them.
pub fn backend() -> Result<&'static LlamaBackend, ModelError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            route_logs();
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| ModelError::Load {
            path: Default::default(),
            reason: format!("llama.cpp backend: {e}"),
        })
}

/// Route llama.cpp's and ggml's log output into `tracing` (once per process).
pub fn route_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default()));
}

type Ctx<'a> = LlamaContext<'a>;

self_cell::self_cell!(
    struct Loaded {
        owner: LlamaModel,
        #[not_covariant]
        dependent: Ctx,
    }
);

/// Load-time settings that come from the memory plan.
#[derive(Debug, Clone)]
pub struct LoadSettings {
    pub n_threads: i32,
    pub n_batch: u32,
    pub n_ubatch: u32,
}

/// A loaded model with its context and the tokens currently in its KV cache.
pub struct LlamaEngine {
    name: String,
    loaded: Loaded,
    template: Option<LlamaChatTemplate>,
    /// Tokens whose KV entries are in sequence 0, in order.
    cached: Vec<LlamaToken>,
    n_ctx: usize,
    n_batch: usize,
    pub load_seconds: f64,
    /// Receives each sampled token's text (`--stream`, the live display).
    progress: Option<crate::progress::SharedSink>,
}

// SAFETY: the model and context are only used from the thread that owns the engine at a time
// (the manager hands out `&mut`), and llama.cpp contexts may move between threads.
unsafe impl Send for LlamaEngine {}

impl LlamaEngine {
    pub fn load(
        name: &str,
        path: &Path,
        plan: &MemoryPlan,
        settings: &LoadSettings,
    ) -> Result<Self, ModelError> {
        let backend = backend()?;
        let start = Instant::now();
        let mparams = LlamaModelParams::default().with_n_gpu_layers(plan.n_gpu_layers);
        let model =
            LlamaModel::load_from_file(backend, path, &mparams).map_err(|e| ModelError::Load {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        let kv = match plan.kv_type {
            KvType::F16 => KvCacheType::F16,
            KvType::Q8_0 => KvCacheType::Q8_0,
        };
        let cparams = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(plan.n_ctx))
            .with_n_batch(settings.n_batch)
            .with_n_ubatch(settings.n_ubatch)
            .with_n_threads(settings.n_threads)
            .with_n_threads_batch(settings.n_threads)
            .with_type_k(kv)
            .with_type_v(kv)
            .with_no_perf(false);
        let template = model.chat_template(None).ok();
        let mut err = None;
        let loaded = Loaded::try_new(model, |m| {
            m.new_context(backend, cparams).map_err(|e| {
                err = Some(e.to_string());
            })
        })
        .map_err(|_| ModelError::Load {
            path: path.to_path_buf(),
            reason: format!("creating the context failed: {}", err.unwrap_or_default()),
        })?;
        let n_ctx = loaded.with_dependent(|_, c| c.n_ctx() as usize);
        Ok(Self {
            name: name.to_string(),
            loaded,
            template,
            cached: Vec::new(),
            n_ctx,
            n_batch: settings.n_batch as usize,
            load_seconds: start.elapsed().as_secs_f64(),
            progress: None,
        })
    }

    /// Render messages with the GGUF's chat template (ChatML when the file has none).
    pub fn render(&self, messages: &[Message]) -> Result<String, ModelError> {
        let Some(tmpl) = &self.template else {
            return Ok(chatml(messages));
        };
        let chat: Vec<LlamaChatMessage> = messages
            .iter()
            .map(|m| LlamaChatMessage::new(m.role.as_str().to_string(), m.content.clone()))
            .collect::<Result<_, _>>()
            .map_err(|e| ModelError::Template(e.to_string()))?;
        self.loaded
            .borrow_owner()
            .apply_chat_template(tmpl, &chat, true)
            .map_err(|e| ModelError::Template(e.to_string()))
    }

    fn tokenize(&self, text: &str, special: bool) -> Vec<LlamaToken> {
        self.loaded
            .borrow_owner()
            .vocab()
            .tokenize(text.as_bytes(), false, special)
    }

    /// Tokens currently reusable from the KV cache.
    pub fn cached_tokens(&self) -> usize {
        self.cached.len()
    }
}

fn chatml(messages: &[Message]) -> String {
    let mut s = String::new();
    for m in messages {
        s += &format!("<|im_start|>{}\n{}<|im_end|>\n", m.role.as_str(), m.content);
    }
    s += "<|im_start|>assistant\n";
    s
}

/// The complete UTF-8 text at the front of `bytes`, removed from it; an incomplete character
/// at the end stays for the next token, invalid bytes become U+FFFD.
fn take_utf8(bytes: &mut Vec<u8>) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => {
            let s = s.to_string();
            bytes.clear();
            s
        }
        Err(e) if e.error_len().is_none() => {
            let rest = bytes.split_off(e.valid_up_to());
            let s = String::from_utf8(std::mem::replace(bytes, rest)).unwrap_or_default();
            s
        }
        Err(_) => String::from_utf8_lossy(&std::mem::take(bytes)).into_owned(),
    }
}

fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

fn sampler_for(s: &super::Sampling, n_vocab: i32) -> LlamaSampler {
    let mut chain = vec![];
    if s.repeat_penalty > 0.0 && (s.repeat_penalty - 1.0).abs() > f32::EPSILON {
        chain.push(LlamaSampler::penalties(
            n_vocab,
            64,
            s.repeat_penalty,
            0.0,
            0.0,
        ));
    }
    if s.temperature <= 0.0 {
        chain.push(LlamaSampler::greedy());
        return LlamaSampler::chain_simple(chain);
    }
    if s.top_k > 0 {
        chain.push(LlamaSampler::top_k(s.top_k));
    }
    if s.top_p < 1.0 {
        chain.push(LlamaSampler::top_p(s.top_p, 1));
    }
    chain.push(LlamaSampler::temp(s.temperature));
    chain.push(LlamaSampler::dist(s.seed));
    LlamaSampler::chain_simple(chain)
}

impl Model for LlamaEngine {
    fn name(&self) -> &str {
        &self.name
    }

    fn generate(&mut self, req: &GenRequest<'_>) -> Result<Generation, ModelError> {
        let prompt = self.render(req.messages)?;
        let tokens = self.tokenize(&prompt, true);
        let n_ctx = self.n_ctx;
        let reserve = 16usize.min(req.sampling.max_tokens as usize);
        if tokens.len() + reserve > n_ctx {
            return Err(ModelError::PromptTooLong {
                prompt: tokens.len(),
                n_ctx,
                reserve,
            });
        }
        // Reuse the KV entries of the longest shared prefix; always evaluate at least the last
        // prompt token so its logits are fresh.
        let mut reuse = common_prefix(&self.cached, &tokens);
        if reuse == tokens.len() {
            reuse -= 1;
        }
        let n_batch = self.n_batch;
        let cached = &mut self.cached;
        let sampling = req.sampling;
        let vocab_max = sampling.max_tokens as usize;
        let progress = self.progress.clone();
        let result =
            self.loaded
                .with_dependent_mut(|model, ctx| -> Result<Generation, ModelError> {
                    let mut reuse = reuse;
                    let t0 = Instant::now();
                    let trimmed = ctx
                        .clear_kv_cache_seq(Some(0), Some(reuse as u32), None)
                        .map_err(|e| ModelError::Inference(format!("KV cache trim: {e}")))?;
                    if !trimmed {
                        // The cache could not drop a suffix: evaluate the whole prompt afresh.
                        ctx.clear_kv_cache();
                        reuse = 0;
                    }
                    cached.truncate(reuse);
                    let mut batch = LlamaBatch::new(n_batch.max(1), 1);
                    let todo = &tokens[reuse..];
                    let mut out_of_time = false;
                    for (ci, chunk) in todo.chunks(n_batch.max(1)).enumerate() {
                        // A long prompt takes a while too: stop between chunks at the deadline.
                        if req.past_deadline() {
                            out_of_time = true;
                            break;
                        }
                        batch.clear();
                        let last_chunk = (ci + 1) * n_batch >= todo.len();
                        for (i, &t) in chunk.iter().enumerate() {
                            let pos = (reuse + ci * n_batch + i) as i32;
                            let want_logits = last_chunk && i + 1 == chunk.len();
                            batch
                                .add(t, pos, &[0], want_logits)
                                .map_err(|e| ModelError::Inference(e.to_string()))?;
                        }
                        ctx.decode(&mut batch)
                            .map_err(|e| ModelError::Inference(format!("prompt decode: {e}")))?;
                        cached.extend_from_slice(chunk);
                    }
                    let prompt_seconds = t0.elapsed().as_secs_f64();
                    if out_of_time {
                        return Ok(Generation {
                            text: String::new(),
                            prompt_tokens: tokens.len() as u32,
                            reused_tokens: reuse as u32,
                            evaluated_tokens: (cached.len() - reuse) as u32,
                            generated_tokens: 0,
                            prompt_seconds,
                            generate_seconds: 0.0,
                            finish: Finish::Deadline,
                        });
                    }

                    let t1 = Instant::now();
                    let vocab = model.vocab();
                    let mut sampler = sampler_for(sampling, model.n_vocab());
                    let mut stopper = Stopper::new(&sampling.stop, sampling.stop_on_repetition);
                    let mut generated = 0u32;
                    let mut finish = Finish::Length;
                    let mut logits_idx = batch.n_tokens() - 1;
                    let mut cut: Option<usize> = None;
                    // Bytes of a character split across tokens, held until it is complete.
                    let mut pending: Vec<u8> = Vec::new();
                    while (generated as usize) < vocab_max {
                        if req.past_deadline() {
                            finish = Finish::Deadline;
                            break;
                        }
                        if cached.len() >= n_ctx {
                            finish = Finish::ContextFull;
                            break;
                        }
                        let token = sampler.sample(ctx, logits_idx);
                        if vocab.is_eog(token) && !sampling.ignore_eos {
                            finish = Finish::EndOfText;
                            break;
                        }
                        generated += 1;
                        let piece = vocab.token_to_piece(token, false, None);
                        if let Some(p) = &progress {
                            pending.extend_from_slice(&piece);
                            let text = take_utf8(&mut pending);
                            p.event(&crate::progress::Event::Token {
                                agent: req.agent,
                                text: &text,
                            });
                        }
                        let stop = stopper.push(&piece);
                        // Every sampled token goes into the KV cache, so a following prompt that
                        // contains this reply reuses it.
                        batch.clear();
                        batch
                            .add(token, cached.len() as i32, &[0], true)
                            .map_err(|e| ModelError::Inference(e.to_string()))?;
                        ctx.decode(&mut batch)
                            .map_err(|e| ModelError::Inference(format!("decode: {e}")))?;
                        cached.push(token);
                        logits_idx = 0;
                        if let Some((why, at)) = stop {
                            finish = why;
                            cut = Some(at);
                            break;
                        }
                    }
                    let text = stopper.text(cut);
                    Ok(Generation {
                        text,
                        prompt_tokens: tokens.len() as u32,
                        reused_tokens: reuse as u32,
                        evaluated_tokens: (tokens.len() - reuse) as u32,
                        generated_tokens: generated,
                        prompt_seconds,
                        generate_seconds: t1.elapsed().as_secs_f64(),
                        finish,
                    })
                });
        if result.is_err() {
            // The cache state is unknown after a failed decode: start afresh next time.
            self.cached.clear();
            let _ = self
                .loaded
                .with_dependent_mut(|_, ctx| ctx.clear_kv_cache_seq(Some(0), None, None));
        }
        result
    }

    fn count_tokens(&self, text: &str) -> usize {
        self.tokenize(text, false).len()
    }

    fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    fn engine_timings(&mut self) -> Option<super::EngineTimings> {
        let t = self.loaded.with_dependent_mut(|_, ctx| ctx.timings());
        Some(super::EngineTimings {
            prompt_ms: t.t_p_eval_ms(),
            prompt_tokens: t.n_p_eval().max(0) as u64,
            eval_ms: t.t_eval_ms(),
            eval_tokens: t.n_eval().max(0) as u64,
        })
    }

    fn reset_engine_timings(&mut self) {
        self.loaded.with_dependent_mut(|_, ctx| ctx.reset_timings());
    }

    fn set_progress(&mut self, sink: Option<crate::progress::SharedSink>) -> bool {
        self.progress = sink;
        true
    }

    fn clear_cache(&mut self) {
        self.cached.clear();
        self.loaded
            .with_dependent_mut(|_, ctx| ctx.clear_kv_cache());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chatml_fallback_renders_roles_and_opens_assistant_turn() {
        let s = chatml(&[Message::system("sys"), Message::user("hi")]);
        assert!(
            s.starts_with("<|im_start|>system\nsys<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n")
        );
        assert!(s.ends_with("<|im_start|>assistant\n"));
    }

    #[test]
    fn streamed_text_holds_a_character_split_across_tokens() {
        let mut pending = "é".as_bytes()[..1].to_vec();
        assert_eq!(take_utf8(&mut pending), "");
        pending.extend_from_slice(&"é".as_bytes()[1..]);
        pending.extend_from_slice(b"x");
        assert_eq!(take_utf8(&mut pending), "éx");
        assert!(pending.is_empty());
        let mut bad = vec![b'a', 0xff, b'b'];
        assert_eq!(take_utf8(&mut bad), "a\u{fffd}b");
    }

    #[test]
    fn common_prefix_counts_shared_tokens() {
        let a = [LlamaToken(1), LlamaToken(2), LlamaToken(3)];
        let b = [LlamaToken(1), LlamaToken(2), LlamaToken(9), LlamaToken(4)];
        assert_eq!(common_prefix(&a, &b), 2);
        assert_eq!(common_prefix(&a, &a), 3);
        assert_eq!(common_prefix(&[], &a), 0);
    }
}

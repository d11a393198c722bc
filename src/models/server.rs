//! The second model backend: any OpenAI-compatible inference server (llama.cpp's
//! `llama-server`, vLLM, SGLang, Ollama) over its chat completions API. Prompt prefixes are
//! reused where the server supports it (`cache_prompt` for llama-server; vLLM and SGLang cache
//! prefixes themselves), token counts come from `usage`, transient failures (429, 502, 503,
//! broken connections) are retried with backoff, and a wrong URL, a missing model or a server
//! without a chat template is a clear error with the fix.
//!
//! A model argument of the form `http://HOST:PORT[/v1][#MODEL]` selects this backend (for the
//! whole run with `--server URL`, or per role in the config's `[models]` table).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{ChatRole, Finish, GenRequest, Generation, Model, ModelError};

/// How the backend talks to the server.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Longest wait for one completion.
    pub timeout: Duration,
    /// Retries of a transient failure (each waits twice as long, from `backoff`).
    pub retries: u32,
    pub backoff: Duration,
    /// Context window assumed when the server does not say (`/props` of llama-server does).
    pub default_ctx: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(600),
            retries: 5,
            backoff: Duration::from_secs(1),
            default_ctx: 8192,
        }
    }
}

pub struct ServerModel {
    name: String,
    /// `http://host:port` without a trailing `/` or `/v1`.
    base: String,
    model: String,
    agent: ureq::Agent,
    settings: ServerSettings,
    n_ctx: usize,
    /// The server answers `/tokenize` (llama-server); otherwise counts are estimated.
    tokenize: bool,
    /// With a sink, replies are streamed (`"stream": true`) and each chunk reported.
    progress: Option<crate::progress::SharedSink>,
}

/// Whether a model argument names a server.
pub fn is_server_arg(arg: &str) -> bool {
    arg.starts_with("http://") || arg.starts_with("https://")
}

fn err(msg: impl Into<String>) -> ModelError {
    ModelError::Server(msg.into())
}

impl ServerModel {
    /// Connect to `arg` (`URL[#MODEL]`): list the served models, pick `MODEL` (or the only /
    /// first one), and read the context window where the server reports it.
    pub fn connect(arg: &str, settings: ServerSettings) -> Result<Self, ModelError> {
        let (url, wanted) = match arg.split_once('#') {
            Some((u, m)) if !m.is_empty() => (u, Some(m.to_string())),
            Some((u, _)) => (u, None),
            None => (arg, None),
        };
        if url.starts_with("https://") {
            return Err(err(format!(
                "{url}: this build speaks plain HTTP to inference servers; run the server on this machine or a trusted network and use http://, or put a TLS-terminating proxy in front"
            )));
        }
        let base = url
            .trim_end_matches('/')
            .trim_end_matches("/v1")
            .trim_end_matches('/')
            .to_string();
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .build();
        let models_url = format!("{base}/v1/models");
        let listed: Value = match agent.get(&models_url).timeout(Duration::from_secs(30)).call() {
            Ok(r) => r.into_json().map_err(|e| {
                err(format!(
                    "{models_url}: the answer is not JSON ({e}); is this an OpenAI-compatible server?"
                ))
            })?,
            Err(ureq::Error::Status(404, _)) => {
                return Err(err(format!(
                    "{models_url}: 404; {url} does not serve the OpenAI API (give the server's base URL, e.g. http://127.0.0.1:8080)"
                )))
            }
            Err(ureq::Error::Status(code, r)) => {
                return Err(err(format!(
                    "{models_url}: HTTP {code}: {}",
                    r.into_string().unwrap_or_default().chars().take(300).collect::<String>()
                )))
            }
            Err(ureq::Error::Transport(t)) => {
                return Err(ModelError::Unreachable(format!(
                    "cannot reach {url}: {t}\n  fix: start the server (e.g. `llama-server -m MODEL.gguf --host 127.0.0.1 --port 8080`) or pass the right --server URL"
                )))
            }
        };
        let ids: Vec<String> = listed["data"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m["id"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let model = match (wanted, ids.first()) {
            (Some(w), _) if ids.is_empty() || ids.contains(&w) => w,
            (Some(w), _) => {
                return Err(err(format!(
                "{url} does not serve the model `{w}`; it serves: {}\n  fix: --server '{url}#{}'",
                ids.join(", "),
                ids[0]
            )))
            }
            (None, Some(first)) => first.clone(),
            (None, None) => {
                return Err(err(format!(
                    "{url} lists no models at /v1/models; name one: --server '{url}#MODEL'"
                )))
            }
        };
        // llama-server reports its context window; others do not.
        let n_ctx = agent
            .get(&format!("{base}/props"))
            .timeout(Duration::from_secs(10))
            .call()
            .ok()
            .and_then(|r| r.into_json::<Value>().ok())
            .and_then(|v| v["default_generation_settings"]["n_ctx"].as_u64())
            .map(|n| n as usize)
            .unwrap_or(settings.default_ctx);
        let tokenize = agent
            .post(&format!("{base}/tokenize"))
            .timeout(Duration::from_secs(10))
            .send_json(json!({"content": "def f():"}))
            .ok()
            .and_then(|r| r.into_json::<Value>().ok())
            .is_some_and(|v| v["tokens"].is_array());
        Ok(Self {
            name: format!("{model}@{base}"),
            base,
            model,
            agent,
            settings,
            n_ctx,
            tokenize,
            progress: None,
        })
    }

    fn body(&self, req: &GenRequest<'_>) -> Value {
        let s = req.sampling;
        let messages: Vec<Value> = req
            .messages
            .iter()
            .map(|m| {
                json!({
                    "role": match m.role {
                        ChatRole::System => "system",
                        ChatRole::User => "user",
                        ChatRole::Assistant => "assistant",
                    },
                    "content": m.content,
                })
            })
            .collect();
        let mut body = json!({
            "model": self.model,
            "messages": messages,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
            "seed": s.seed,
            "stream": self.progress.is_some(),
            // llama-server: keep the KV cache of the shared prompt prefix between calls.
            "cache_prompt": true,
        });
        if self.progress.is_some() {
            // The token counts come in a last chunk (vLLM, SGLang; llama-server sends its own
            // `timings` and `usage` there too).
            body["stream_options"] = json!({"include_usage": true});
        }
        if s.top_k > 0 {
            body["top_k"] = json!(s.top_k);
        }
        if !s.stop.is_empty() {
            body["stop"] = json!(s.stop);
        }
        if (s.repeat_penalty - 1.0).abs() > f32::EPSILON {
            body["repeat_penalty"] = json!(s.repeat_penalty);
        }
        body
    }

    /// One POST with retries; `Ok(None)` when the deadline passed first.
    fn post(
        &self,
        body: &Value,
        deadline: Option<Instant>,
    ) -> Result<Option<ureq::Response>, ModelError> {
        let url = format!("{}/v1/chat/completions", self.base);
        let mut wait = self.settings.backoff;
        let mut attempt = 0;
        loop {
            let mut timeout = self.settings.timeout;
            if let Some(d) = deadline {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(None);
                }
                timeout = timeout.min(left);
            }
            let result = self.agent.post(&url).timeout(timeout).send_json(body);
            // What went wrong, worded to name the URL once: ureq's transport errors start
            // with the URL when they know it.
            let transient = match result {
                Ok(r) => return Ok(Some(r)),
                Err(ureq::Error::Status(code @ (429 | 502 | 503 | 504), _)) => {
                    format!("{url}: HTTP {code}")
                }
                Err(ureq::Error::Status(code, r)) => {
                    let text = r.into_string().unwrap_or_default();
                    let short: String = text.chars().take(400).collect();
                    let lower = text.to_lowercase();
                    if lower.contains("template") {
                        return Err(ModelError::Template(format!(
                            "{}: the server cannot apply a chat template ({short})\n  fix: start llama-server with --jinja (or --chat-template chatml), or use a model that ships one",
                            self.base
                        )));
                    }
                    if code == 404 && lower.contains("model") {
                        return Err(err(format!(
                            "{}: the server has no model `{}` ({short})",
                            self.base, self.model
                        )));
                    }
                    return Err(err(format!("{url}: HTTP {code}: {short}")));
                }
                Err(ureq::Error::Transport(t)) => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Ok(None);
                    }
                    match t.url() {
                        Some(_) => t.to_string(),
                        None => format!("{url}: {t}"),
                    }
                }
            };
            attempt += 1;
            if attempt > self.settings.retries {
                return Err(ModelError::Unreachable(format!(
                    "{transient}, still after {} retries; is the server up? (a batch retries the instance, then defers it to the next run)",
                    self.settings.retries
                )));
            }
            tracing::warn!(server = %self.base, attempt, error = %transient, "retrying");
            if deadline.is_some_and(|d| Instant::now() + wait >= d) {
                return Ok(None);
            }
            std::thread::sleep(wait);
            wait *= 2;
        }
    }
}

impl Model for ServerModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn generate(&mut self, req: &GenRequest<'_>) -> Result<Generation, ModelError> {
        let started = Instant::now();
        let url = format!("{}/v1/chat/completions", self.base);
        let answer = match self.post(&self.body(req), req.deadline)? {
            None => None,
            Some(r) => match &self.progress {
                Some(sink) => Some(read_stream(r, &|text| {
                    sink.event(&crate::progress::Event::Token {
                        agent: req.agent,
                        text,
                    })
                })),
                None => Some(
                    r.into_json::<Value>()
                        .map_err(|e| err(format!("{url}: the answer is not JSON: {e}")))?,
                ),
            },
        };
        let Some(v) = answer else {
            return Ok(Generation {
                text: String::new(),
                prompt_tokens: 0,
                reused_tokens: 0,
                evaluated_tokens: 0,
                generated_tokens: 0,
                prompt_seconds: 0.0,
                generate_seconds: started.elapsed().as_secs_f64(),
                finish: Finish::Deadline,
            });
        };
        parse_completion(&v, started.elapsed().as_secs_f64())
    }

    fn count_tokens(&self, text: &str) -> usize {
        if self.tokenize {
            if let Some(n) = self
                .agent
                .post(&format!("{}/tokenize", self.base))
                .timeout(Duration::from_secs(30))
                .send_json(json!({ "content": text }))
                .ok()
                .and_then(|r| r.into_json::<Value>().ok())
                .and_then(|v| v["tokens"].as_array().map(Vec::len))
            {
                return n;
            }
        }
        // About four characters per token for code and English.
        text.len().div_ceil(4)
    }

    fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    fn set_progress(&mut self, sink: Option<crate::progress::SharedSink>) -> bool {
        self.progress = sink;
        true
    }
}

/// Read a streamed chat completion (server-sent events: `data: {chunk}` lines, then
/// `data: [DONE]`), reporting each piece of content to `on_text`, and assemble the answer in
/// the non-streamed shape for [`parse_completion`]. A stream cut short (the deadline's timeout,
/// a dropped connection) keeps what arrived.
pub fn read_stream(response: ureq::Response, on_text: &dyn Fn(&str)) -> Value {
    read_events(std::io::BufReader::new(response.into_reader()), on_text)
}

/// [`read_stream`] over any reader of server-sent events.
pub fn read_events(reader: impl std::io::BufRead, on_text: &dyn Fn(&str)) -> Value {
    let mut text = String::new();
    let mut finish: Option<String> = None;
    let mut usage = Value::Null;
    let mut timings = Value::Null;
    let mut chunks = 0u64;
    let mut events = 0u64;
    // A server that ignores `"stream": true` answers with one JSON document.
    let mut plain = String::new();
    for line in reader.lines() {
        let Ok(line) = line else { break };
        let Some(data) = line.strip_prefix("data:").map(str::trim) else {
            if events == 0 {
                plain.push_str(&line);
                plain.push('\n');
            }
            continue;
        };
        events += 1;
        if data == "[DONE]" {
            break;
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            continue;
        };
        let choice = &chunk["choices"][0];
        if let Some(piece) = choice["delta"]["content"].as_str() {
            if !piece.is_empty() {
                chunks += 1;
                on_text(piece);
                text.push_str(piece);
            }
        }
        if let Some(f) = choice["finish_reason"].as_str() {
            finish = Some(f.to_string());
        }
        if chunk["usage"].is_object() {
            usage = chunk["usage"].clone();
        }
        if chunk["timings"].is_object() {
            timings = chunk["timings"].clone();
        }
    }
    if events == 0 {
        if let Ok(v) = serde_json::from_str::<Value>(&plain) {
            if let Some(t) = v["choices"][0]["message"]["content"].as_str() {
                on_text(t);
            }
            return v;
        }
    }
    if usage.is_null() {
        // No usage chunk: one chunk per token is what these servers send.
        usage = json!({"completion_tokens": chunks});
    }
    json!({
        "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": finish}],
        "usage": usage,
        "timings": timings,
    })
}

/// A chat completion's text, finish reason and token accounting (`usage`, and llama-server's
/// `timings` for the prompt tokens taken from its cache).
pub fn parse_completion(v: &Value, seconds: f64) -> Result<Generation, ModelError> {
    let choice = &v["choices"][0];
    let Some(text) = choice["message"]["content"].as_str() else {
        return Err(err(format!(
            "the server's answer has no choices[0].message.content: {}",
            v.to_string().chars().take(300).collect::<String>()
        )));
    };
    let finish = match choice["finish_reason"].as_str() {
        Some("length") => Finish::Length,
        _ => Finish::EndOfText,
    };
    let prompt = v["usage"]["prompt_tokens"].as_u64().unwrap_or(0) as u32;
    let generated = v["usage"]["completion_tokens"].as_u64().unwrap_or(0) as u32;
    let t = &v["timings"];
    let reused = t["cache_n"].as_u64().unwrap_or(0) as u32;
    let prompt_ms = t["prompt_ms"].as_f64();
    let gen_ms = t["predicted_ms"].as_f64();
    Ok(Generation {
        text: text.to_string(),
        prompt_tokens: prompt.max(reused),
        reused_tokens: reused,
        evaluated_tokens: prompt.saturating_sub(reused),
        generated_tokens: generated,
        prompt_seconds: prompt_ms.map(|m| m / 1000.0).unwrap_or(0.0),
        generate_seconds: gen_ms.map(|m| m / 1000.0).unwrap_or(seconds),
        finish,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_are_parsed_with_usage_and_cache_timings() {
        let v = json!({
            "choices": [{"message": {"role": "assistant", "content": "def f(): pass"}, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 7},
            "timings": {"cache_n": 100, "prompt_ms": 50.0, "predicted_ms": 250.0}
        });
        let g = parse_completion(&v, 9.0).unwrap();
        assert_eq!(g.text, "def f(): pass");
        assert_eq!(g.finish, Finish::Length);
        assert_eq!(
            (
                g.prompt_tokens,
                g.reused_tokens,
                g.evaluated_tokens,
                g.generated_tokens
            ),
            (120, 100, 20, 7)
        );
        assert_eq!(g.generate_seconds, 0.25);
        let bare = json!({"choices": [{"message": {"content": "x"}, "finish_reason": "stop"}]});
        let g = parse_completion(&bare, 2.0).unwrap();
        assert_eq!((g.finish, g.generate_seconds), (Finish::EndOfText, 2.0));
        assert!(parse_completion(&json!({"error": "x"}), 1.0).is_err());
    }

    #[test]
    fn a_stream_is_reported_piece_by_piece_and_assembled() {
        let sse = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n\
                   data: {\"choices\":[{\"delta\":{\"content\":\"def \"}}]}\n\n\
                   data: {\"choices\":[{\"delta\":{\"content\":\"f(): pass\"},\"finish_reason\":\"length\"}]}\n\n\
                   data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3}}\n\n\
                   data: [DONE]\n\n";
        let seen = std::sync::Mutex::new(Vec::new());
        let v = read_events(sse.as_bytes(), &|t| {
            seen.lock().unwrap().push(t.to_string())
        });
        assert_eq!(*seen.lock().unwrap(), ["def ", "f(): pass"]);
        let g = parse_completion(&v, 1.0).unwrap();
        assert_eq!(g.text, "def f(): pass");
        assert_eq!(g.finish, Finish::Length);
        assert_eq!((g.prompt_tokens, g.generated_tokens), (12, 3));
        // Cut short, without usage: what arrived, counted by chunks.
        let cut = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n";
        let g = parse_completion(&read_events(cut.as_bytes(), &|_| {}), 1.0).unwrap();
        assert_eq!((g.text.as_str(), g.generated_tokens), ("x", 1));
        // A server that does not stream: its one JSON answer, reported whole.
        let whole = r#"{"choices":[{"message":{"content":"y"},"finish_reason":"stop"}],"usage":{"completion_tokens":4}}"#;
        let seen = std::sync::Mutex::new(Vec::new());
        let v = read_events(whole.as_bytes(), &|t| {
            seen.lock().unwrap().push(t.to_string())
        });
        let g = parse_completion(&v, 1.0).unwrap();
        assert_eq!((g.text.as_str(), g.generated_tokens), ("y", 4));
        assert_eq!(*seen.lock().unwrap(), ["y"]);
    }

    #[test]
    fn server_arguments_are_urls() {
        assert!(is_server_arg("http://127.0.0.1:8080#qwen"));
        assert!(!is_server_arg("qwen2.5-coder-0.5b-instruct"));
        assert!(!is_server_arg("/models/x.gguf"));
    }

    #[test]
    fn an_unreachable_server_says_how_to_start_one() {
        // Port 9 (discard) on loopback: nothing listens there.
        let e = ServerModel::connect("http://127.0.0.1:9", ServerSettings::default())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("cannot reach http://127.0.0.1:9"), "{e}");
        assert!(e.contains("llama-server -m"), "{e}");
    }
}

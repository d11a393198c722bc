//! The OpenAI-compatible server backend against a small fake server on loopback: the whole
//! pipeline runs through it (the ModelManager picks the backend from the URL; nothing else
//! knows), a 503 is retried, `cache_prompt` and the sampling go out with each request, token
//! counts come from `usage`, a reply is streamed chunk by chunk to a progress sink, and a wrong
//! model or a server without a chat template is a clear error.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use codeswarm::agents::prompts::Prompts;
use codeswarm::config::Config;
use codeswarm::models::{AgentRole, ManagerSettings, ModelManager, Registry};

/// Requests seen: (path, body).
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// Serve `replies` (chat completion contents, in order) and answer the first completion
/// request with 503 when `flaky`; `template_error` makes every completion a 500 about the
/// chat template.
fn fake_server(replies: Vec<String>, flaky: bool, template_error: bool) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let log = seen.clone();
    std::thread::spawn(move || {
        let mut replies = replies.into_iter();
        let mut failed_once = !flaky;
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .to_string();
            let mut len = 0;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h == "\r\n" || h.is_empty() {
                    break;
                }
                if let Some(v) = h.to_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let body = String::from_utf8_lossy(&body).into_owned();
            let streaming = body.contains(r#""stream":true"#);
            log.lock().unwrap().push((path.clone(), body));
            let (status, json) = match path.as_str() {
                "/v1/models" => (
                    "200 OK",
                    r#"{"object":"list","data":[{"id":"tiny-coder"}]}"#.to_string(),
                ),
                "/props" => (
                    "200 OK",
                    r#"{"default_generation_settings":{"n_ctx":4096}}"#.to_string(),
                ),
                "/v1/chat/completions" if template_error => (
                    "500 Internal Server Error",
                    r#"{"error":{"message":"this model has no chat template"}}"#.to_string(),
                ),
                "/v1/chat/completions" if !failed_once => {
                    failed_once = true;
                    (
                        "503 Service Unavailable",
                        r#"{"error":"loading"}"#.to_string(),
                    )
                }
                "/v1/chat/completions" if streaming => {
                    // Server-sent events: the reply in two chunks, then usage, then [DONE].
                    let text = replies.next().unwrap_or_else(|| "VERDICT: approve".into());
                    let (a, b) = text.split_at(text.len() / 2);
                    let mut sse = String::new();
                    for piece in [a, b] {
                        let chunk = serde_json::json!({"choices": [{"delta": {"content": piece}}]});
                        sse += &format!("data: {chunk}\n\n");
                    }
                    sse += "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
                    sse += "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":2}}\n\n";
                    sse += "data: [DONE]\n\n";
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n{sse}"
                    );
                    continue;
                }
                "/v1/chat/completions" => {
                    let text = replies.next().unwrap_or_else(|| "VERDICT: approve".into());
                    (
                        "200 OK",
                        serde_json::json!({
                            "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                            "usage": {"prompt_tokens": 50, "completion_tokens": 10},
                            "timings": {"cache_n": 20, "prompt_ms": 5.0, "predicted_ms": 40.0}
                        })
                        .to_string(),
                    )
                }
                _ => ("404 Not Found", r#"{"error":"not found"}"#.to_string()),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
                json.len()
            );
        }
    });
    (url, seen)
}

fn manager(model: &str) -> ModelManager {
    ModelManager::new(
        Registry::builtin(),
        ManagerSettings {
            model: Some(model.to_string()),
            quiet: true,
            ..Default::default()
        },
    )
}

#[test]
fn the_pipeline_runs_through_an_openai_compatible_server() {
    let replies = vec![
        r#"{"subtasks": [{"role": "code_generator", "goal": "add"}, {"role": "reviewer", "goal": "review"}]}"#.to_string(),
        "```python\ndef add(a, b):\n    return a + b\n```".to_string(),
        "```python\ndef test_add():\n    assert add(1, 2) == 3\n```".to_string(),
        "VERDICT: approve".to_string(),
    ];
    let (url, seen) = fake_server(replies, true, false);
    let mut m = manager(&url);
    let config = Config::defaults();
    let prompts = Prompts::load(Some(std::path::Path::new("/nonexistent"))).unwrap();
    let out =
        codeswarm::pipeline::run_task("Write add(a, b).", &mut m, &config, &prompts, None).unwrap();
    assert!(out.code.unwrap().contains("return a + b"));
    let r = &out.report;
    assert_eq!(r.model, format!("tiny-coder@{url}"));
    // Token accounting from `usage` and llama-server's cache timings.
    assert_eq!(r.calls[0].prompt_tokens, 50);
    assert_eq!(r.calls[0].reused_tokens, 20);
    assert_eq!(r.calls[0].generated_tokens, 10);
    assert_eq!(m.model_for(AgentRole::Coordinator).unwrap().n_ctx(), 4096);
    let seen = seen.lock().unwrap();
    let completions: Vec<&String> = seen
        .iter()
        .filter(|(p, _)| p == "/v1/chat/completions")
        .map(|(_, b)| b)
        .collect();
    // The first completion was refused with 503 and retried with the same body.
    assert_eq!(completions[0], completions[1]);
    let first: serde_json::Value = serde_json::from_str(completions[0]).unwrap();
    assert_eq!(first["model"], "tiny-coder");
    assert_eq!(first["cache_prompt"], true);
    assert_eq!(first["temperature"], 0.0);
    assert_eq!(first["seed"], 42);
    assert_eq!(first["messages"][0]["role"], "system");
}

#[test]
fn a_missing_model_and_a_missing_chat_template_are_clear_errors() {
    let (url, _) = fake_server(vec![], false, false);
    let mut m = manager(&format!("{url}#big-coder"));
    let e = m
        .model_for(AgentRole::CodeGenerator)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("does not serve the model `big-coder`"), "{e}");
    assert!(e.contains("tiny-coder"), "{e}");

    let (url, _) = fake_server(vec![], false, true);
    let mut m = manager(&url);
    let config = Config::defaults();
    let prompts = Prompts::load(Some(std::path::Path::new("/nonexistent"))).unwrap();
    let e = codeswarm::pipeline::run_task("Write add(a, b).", &mut m, &config, &prompts, None)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("chat template"), "{e}");
    assert!(e.contains("--jinja"), "{e}");
}

#[test]
fn with_a_progress_sink_replies_are_streamed_chunk_by_chunk() {
    use codeswarm::models::{GenRequest, Message, Sampling};
    use codeswarm::progress::events::{OwnedEvent, Recorder};
    let (url, seen) = fake_server(vec!["def add(a, b): return a + b".into()], false, false);
    let mut m = manager(&url);
    let recorder = Arc::new(Recorder::default());
    m.set_progress(recorder.clone());
    let messages = [Message::user("Write add(a, b).")];
    let g = m
        .model_for(AgentRole::CodeGenerator)
        .unwrap()
        .generate(&GenRequest {
            agent: AgentRole::CodeGenerator,
            messages: &messages,
            sampling: &Sampling::default(),
            deadline: None,
        })
        .unwrap();
    assert_eq!(g.text, "def add(a, b): return a + b");
    assert_eq!((g.prompt_tokens, g.generated_tokens), (50, 2));
    let tokens: Vec<String> = recorder
        .events()
        .into_iter()
        .filter_map(|e| match e {
            OwnedEvent::Token { agent, text } => {
                assert_eq!(agent, AgentRole::CodeGenerator);
                Some(text)
            }
            _ => None,
        })
        .collect();
    assert_eq!(tokens, ["def add(a, b)", ": return a + b"]);
    let events = recorder.events();
    assert!(
        matches!(events.first(), Some(OwnedEvent::GenerationStarted { .. })),
        "{events:?}"
    );
    assert!(
        matches!(
            events.last(),
            Some(OwnedEvent::GenerationFinished {
                tokens: 2,
                ok: true,
                ..
            })
        ),
        "{events:?}"
    );
    let seen = seen.lock().unwrap();
    let body = &seen
        .iter()
        .find(|(p, _)| p == "/v1/chat/completions")
        .unwrap()
        .1;
    assert!(body.contains(r#""stream":true"#), "{body}");
}

//! The OpenAI-compatible backend against a real `llama-server` (built from the llama.cpp source
//! the crate vendors by `scripts/build-llama-server.sh`; `scripts/setup.sh test` builds it)
//! serving the default model on 127.0.0.1 with two slots: `codeswarm run` finishes with a
//! solution that passes, and `batch --workers 2` on two fixture instances records both
//! predictions whole.
//!
//! Skipped, saying so, when the server binary is absent (set `CODESWARM_LLAMA_SERVER` to use
//! one built elsewhere). One model process at a time: the server is the only one, and this
//! file has one test.

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn server_binary() -> Option<PathBuf> {
    let path = std::env::var_os("CODESWARM_LLAMA_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("target/llama-server/build/bin/llama-server")
        });
    path.is_file().then_some(path)
}

/// The server process, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `llama-server` on a free loopback port with `slots` parallel slots and wait until it
/// answers `/health`.
fn start(bin: &PathBuf, model: &PathBuf, slots: u32, log: &std::path::Path) -> (Server, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(log).unwrap();
    let child = Command::new(bin)
        .args(["-m", model.to_str().unwrap()])
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        // 8192 tokens per slot, like the in-process plan's preferred context.
        .args(["-np", &slots.to_string(), "-c", &(8192 * slots).to_string()])
        .args(["-t", "2", "--seed", "42"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start llama-server");
    let server = Server(child);
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        let ok = ureq::get(&format!("{url}/health"))
            .timeout(Duration::from_secs(5))
            .call()
            .is_ok();
        if ok {
            return (server, url);
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "llama-server did not become ready"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn run_and_a_two_worker_batch_through_llama_server() {
    let Some(bin) = server_binary() else {
        eprintln!(
            "skipped: no llama-server binary (build it with scripts/build-llama-server.sh, which scripts/setup.sh test runs, or set CODESWARM_LLAMA_SERVER)"
        );
        return;
    };
    let model = common::default_model();
    let dir = tempfile::tempdir().unwrap();
    let (server, url) = start(&bin, &model, 2, &dir.path().join("server.log"));

    // `run`: an easy task, short limits; the verdict must be `passed`.
    let config = dir.path().join("limits.toml");
    std::fs::write(
        &config,
        "[limits]\ndebug_rounds = 1\nresample = 1\nmax_model_calls = 12\nsyntax_retries = 1\n",
    )
    .unwrap();
    let out = dir.path().join("run");
    let o = common::codeswarm(
        &[
            "run",
            "--server",
            &url,
            "--task",
            "Write a Python function add(a, b) that returns the sum of a and b.",
            "--out",
            out.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ],
        &[],
    );
    let err = common::stderr(&o);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap_or_default())
            .unwrap_or_else(|e| panic!("no report ({e}): {err}"));
    assert_eq!(report["status"], "passed", "{err}");
    assert_eq!(o.status.code(), Some(0), "{err}");
    let code = std::fs::read_to_string(out.join("solution.py")).unwrap();
    assert!(codeswarm::syntax::defined_names(&code).contains(&"add".to_string()));
    assert!(
        report["model"].as_str().unwrap().ends_with(&url),
        "{}",
        report["model"]
    );

    // `batch --workers 2` on two fixture instances.
    let fixtures = dir.path().join("fixtures");
    let o = common::codeswarm(&["fixtures", "--out", fixtures.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let template = format!("{}/{{name}}", fixtures.join("repos").display());
    let preds = dir.path().join("preds.jsonl");
    let o = common::codeswarm(
        &[
            "batch",
            "--server",
            &url,
            "--workers",
            "2",
            "--instances",
            fixtures.join("instances.jsonl").to_str().unwrap(),
            "--limit",
            "2",
            "--predictions",
            preds.to_str().unwrap(),
            "--repo-url-template",
            &template,
            "--time-limit",
            "900",
            "--config",
            config.to_str().unwrap(),
        ],
        &[],
    );
    let err = common::stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let text = std::fs::read_to_string(&preds).unwrap();
    assert!(text.ends_with('\n'), "{text}");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    for l in &lines {
        let id = l["instance_id"].as_str().unwrap();
        assert!(id.starts_with("codeswarm-fixtures__"), "{id}");
        let patch = l["model_patch"].as_str().unwrap();
        assert!(
            patch.is_empty() || patch.starts_with("diff --git"),
            "{patch}"
        );
        let result: serde_json::Value = serde_json::from_slice(
            &std::fs::read(
                dir.path()
                    .join("preds.run/instances")
                    .join(id)
                    .join("result.json"),
            )
            .unwrap(),
        )
        .unwrap();
        assert_ne!(result["status"], "deferred", "{result}");
        assert!(result["tokens"].as_u64().unwrap() > 0, "{result}");
    }
    assert!(common::stdout(&o).contains("2 selected: 2 solved now"));
    drop(server);
}

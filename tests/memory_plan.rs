//! Memory-plan arithmetic against the real default model's metadata and a 7B-shaped GGUF
//! header written by the test, and GGUF validation (truncated, corrupt, not GGUF).

mod common;

use codeswarm::models::gguf::GgufInfo;
use codeswarm::models::memory::{kv_bytes, Device, KvType, MemoryPlan, PlanRequest, GIB, MIB};
use common::gguf_writer;

fn cpu(budget: u64) -> PlanRequest {
    PlanRequest {
        device: Device::Cpu { ram_budget: budget },
        ..PlanRequest::default()
    }
}

#[test]
fn default_model_metadata_and_plan() {
    let path = common::default_model();
    let info = GgufInfo::read(&path).unwrap();
    assert_eq!(info.architecture, "qwen2");
    assert_eq!(info.n_layer, 24);
    assert_eq!(info.quantization, "Q4_K_M");
    assert_eq!((info.n_head, info.n_head_kv, info.head_dim_k), (14, 2, 64));
    assert_eq!(info.ctx_train, 32768);
    assert!(info.has_chat_template);
    assert_eq!(info.n_vocab, 151936);
    // Weights: every tensor byte; the header takes the rest of the 491,400,064-byte file.
    assert!(
        info.weights_bytes < info.file_size && info.weights_bytes > info.file_size - 8 * MIB,
        "{}",
        info.weights_bytes
    );
    // KV cache: layers x ctx x kv_heads x (k_dim + v_dim) x 2 bytes (f16).
    assert_eq!(
        kv_bytes(&info, 8192, 24, KvType::F16),
        24 * 8192 * 2 * 128 * 2
    );
    assert_eq!(kv_bytes(&info, 8192, 24, KvType::F16), 96 * MIB);
    assert_eq!(
        kv_bytes(&info, 8192, 24, KvType::Q8_0),
        24 * 8192 * 2 * 128 * 34 / 32
    );

    let roomy = MemoryPlan::compute(&info, &cpu(16 * GIB)).unwrap();
    assert_eq!(roomy.n_ctx, 8192);
    assert_eq!(
        roomy.ram_bytes,
        roomy.weights_bytes + roomy.kv_bytes + roomy.compute_bytes
    );
    assert!(roomy.describe().contains("ctx 8192"));

    // A tighter budget shrinks the context before refusing.
    let mid_budget = roomy.ram_bytes - 1;
    let smaller = MemoryPlan::compute(&info, &cpu(mid_budget)).unwrap();
    assert!(
        smaller.n_ctx < 8192 && smaller.ram_bytes <= mid_budget,
        "{smaller:?}"
    );

    let err = MemoryPlan::compute(&info, &cpu(300 * MIB)).unwrap_err().0;
    assert!(
        err.contains("weights 463.0 MiB") && err.contains("RAM budget 300.0 MiB"),
        "{err}"
    );

    // A fixed context that does not fit is refused, not shrunk.
    let fixed = PlanRequest {
        ctx: Some(32768),
        ..cpu(smaller.ram_bytes)
    };
    assert!(MemoryPlan::compute(&info, &fixed).is_err());
}

#[test]
fn seven_b_shaped_header_plans_for_an_8_gib_gpu() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qwen7b-like.gguf");
    let data = gguf_writer::qwen7b_like(&path, 152064);
    let info = GgufInfo::read(&path).unwrap();
    assert_eq!(info.weights_bytes, data);
    assert_eq!(info.n_layer, 28);
    assert_eq!(info.quantization, "Q4_K_M");
    assert_eq!((info.n_head, info.n_head_kv, info.head_dim_k), (28, 4, 128));
    assert!(
        info.n_params > 7_000_000_000 && info.n_params < 8_000_000_000,
        "{}",
        info.n_params
    );
    assert!(
        info.weights_bytes > 4 * GIB && info.weights_bytes < 5 * GIB,
        "{}",
        info.weights_bytes
    );
    // 28 layers x 32768 tokens x 4 heads x 256 x 2 bytes = 1.75 GiB at the trained context.
    assert_eq!(
        kv_bytes(&info, 32768, 28, KvType::F16),
        28 * 32768 * 4 * 256 * 2
    );

    let gpu = |vram: u64, ram: u64| PlanRequest {
        device: Device::Gpu {
            vram_budget: vram,
            ram_budget: ram,
        },
        ..PlanRequest::default()
    };
    let plan = MemoryPlan::compute(&info, &gpu(8 * GIB, 16 * GIB)).unwrap();
    assert_eq!(plan.n_ctx, 8192);
    assert_eq!(
        plan.n_gpu_layers,
        29,
        "every block and the output layer fit 8 GiB: {}",
        plan.describe()
    );
    assert!(plan.vram_bytes <= 8 * GIB);
    // Input embeddings stay in RAM; every other tensor, the KV cache and compute go to the GPU.
    let token_embd = 3584 * 152064 / 256 * 144;
    assert_eq!(
        plan.vram_bytes,
        info.weights_bytes - token_embd + plan.kv_bytes + plan.compute_bytes
    );

    // 4 GiB of VRAM: partial offload, the rest in RAM.
    let partial = MemoryPlan::compute(&info, &gpu(4 * GIB, 16 * GIB)).unwrap();
    assert!(
        partial.n_gpu_layers > 0 && partial.n_gpu_layers < 28,
        "{}",
        partial.describe()
    );
    assert!(partial.vram_bytes <= 4 * GIB);
    assert!(partial.ram_bytes > 0);

    // Neither the GPU nor the RAM can hold it: refused with the numbers.
    let err = MemoryPlan::compute(&info, &gpu(2 * GIB, 2 * GIB))
        .unwrap_err()
        .0;
    assert!(err.contains("RAM budget 2.00 GiB"), "{err}");
    let err = MemoryPlan::compute(&info, &cpu(4 * GIB)).unwrap_err().0;
    assert!(
        err.contains("weights 4.") && err.contains("> RAM budget 4.00 GiB"),
        "{err}"
    );
}

#[test]
fn truncated_corrupt_and_foreign_files_are_rejected_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let ok = dir.path().join("tiny.gguf");
    gguf_writer::tiny(&ok, false);
    GgufInfo::read(&ok).unwrap();

    let trunc = dir.path().join("trunc.gguf");
    gguf_writer::tiny(&trunc, true);
    let e = GgufInfo::read(&trunc).unwrap_err().to_string();
    assert!(e.contains("truncated"), "{e}");

    let corrupt = dir.path().join("corrupt.gguf");
    let mut bytes = std::fs::read(&ok).unwrap();
    for b in bytes.iter_mut().skip(24).take(64) {
        *b = 0xff;
    }
    std::fs::write(&corrupt, &bytes).unwrap();
    let e = GgufInfo::read(&corrupt).unwrap_err().to_string();
    assert!(e.contains("corrupt") || e.contains("missing"), "{e}");

    let foreign = dir.path().join("foreign.gguf");
    std::fs::write(&foreign, b"PK\x03\x04 not a model at all").unwrap();
    let e = GgufInfo::read(&foreign).unwrap_err().to_string();
    assert!(e.contains("not a GGUF file"), "{e}");

    let empty = dir.path().join("empty.gguf");
    std::fs::write(&empty, b"").unwrap();
    assert!(GgufInfo::read(&empty)
        .unwrap_err()
        .to_string()
        .contains("too short"));
    assert!(GgufInfo::read(&dir.path().join("missing.gguf")).is_err());
}

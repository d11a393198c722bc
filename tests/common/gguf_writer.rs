//! A minimal GGUF v3 writer for tests: metadata and tensor infos, with tensor data left as a
//! sparse hole (the file has its full size but costs no disk).

use std::io::Write;
use std::path::Path;

pub enum Val {
    U32(u32),
    F32(f32),
    Str(String),
    StrArr(usize),
}

pub struct Tensor {
    pub name: String,
    pub dims: Vec<u64>,
    /// ggml type id: 0 = F32, 12 = Q4_K, 14 = Q6_K.
    pub ty: u32,
}

/// Bytes of a tensor of type `ty` with `n` elements.
pub fn tensor_bytes(ty: u32, n: u64) -> u64 {
    match ty {
        0 => n * 4,
        1 => n * 2,
        12 => n / 256 * 144,
        14 => n / 256 * 210,
        _ => panic!("type {ty} not supported by the test writer"),
    }
}

fn s(out: &mut Vec<u8>, v: &str) {
    out.extend((v.len() as u64).to_le_bytes());
    out.extend(v.as_bytes());
}

/// Write the file; returns the total tensor data size.
pub fn write(path: &Path, kv: &[(&str, Val)], tensors: &[Tensor], truncate_data: bool) -> u64 {
    let mut h = vec![];
    h.extend(b"GGUF");
    h.extend(3u32.to_le_bytes());
    h.extend((tensors.len() as u64).to_le_bytes());
    h.extend((kv.len() as u64).to_le_bytes());
    for (k, v) in kv {
        s(&mut h, k);
        match v {
            Val::U32(x) => {
                h.extend(4u32.to_le_bytes());
                h.extend(x.to_le_bytes());
            }
            Val::F32(x) => {
                h.extend(6u32.to_le_bytes());
                h.extend(x.to_le_bytes());
            }
            Val::Str(x) => {
                h.extend(8u32.to_le_bytes());
                s(&mut h, x);
            }
            Val::StrArr(n) => {
                h.extend(9u32.to_le_bytes());
                h.extend(8u32.to_le_bytes());
                h.extend((*n as u64).to_le_bytes());
                for i in 0..*n {
                    s(&mut h, &format!("t{i}"));
                }
            }
        }
    }
    let mut offset = 0u64;
    for t in tensors {
        s(&mut h, &t.name);
        h.extend((t.dims.len() as u32).to_le_bytes());
        for d in &t.dims {
            h.extend(d.to_le_bytes());
        }
        h.extend(t.ty.to_le_bytes());
        h.extend(offset.to_le_bytes());
        let n: u64 = t.dims.iter().product();
        offset += tensor_bytes(t.ty, n);
        offset = offset.div_ceil(32) * 32;
    }
    while h.len() % 32 != 0 {
        h.push(0);
    }
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(&h).unwrap();
    let total = if truncate_data {
        h.len() as u64 + offset / 2
    } else {
        h.len() as u64 + offset
    };
    f.set_len(total).unwrap();
    tensors
        .iter()
        .map(|t| tensor_bytes(t.ty, t.dims.iter().product()))
        .sum()
}

/// A GGUF with the shape of Qwen2.5-Coder-7B-Instruct Q4_K_M (28 layers, 3584 wide, 4 KV
/// heads). Returns the tensor data bytes.
pub fn qwen7b_like(path: &Path, vocab: usize) -> u64 {
    let (e, ff, kvd, nv, layers) = (3584u64, 18944u64, 512u64, vocab as u64, 28);
    let kv = vec![
        ("general.architecture", Val::Str("qwen2".into())),
        ("general.name", Val::Str("test 7B-shaped".into())),
        ("general.file_type", Val::U32(15)),
        ("qwen2.block_count", Val::U32(layers)),
        ("qwen2.context_length", Val::U32(32768)),
        ("qwen2.embedding_length", Val::U32(e as u32)),
        ("qwen2.feed_forward_length", Val::U32(ff as u32)),
        ("qwen2.attention.head_count", Val::U32(28)),
        ("qwen2.attention.head_count_kv", Val::U32(4)),
        ("qwen2.rope.freq_base", Val::F32(1_000_000.0)),
        ("tokenizer.ggml.tokens", Val::StrArr(vocab)),
        ("tokenizer.chat_template", Val::Str("{{ messages }}".into())),
    ];
    let t = |name: String, dims: Vec<u64>, ty: u32| Tensor { name, dims, ty };
    let mut ts = vec![t("token_embd.weight".into(), vec![e, nv], 12)];
    for i in 0..layers {
        let b = |n: &str| format!("blk.{i}.{n}");
        ts.push(t(b("attn_norm.weight"), vec![e], 0));
        ts.push(t(b("attn_q.weight"), vec![e, e], 12));
        ts.push(t(b("attn_q.bias"), vec![e], 0));
        ts.push(t(b("attn_k.weight"), vec![e, kvd], 12));
        ts.push(t(b("attn_k.bias"), vec![kvd], 0));
        ts.push(t(b("attn_v.weight"), vec![e, kvd], 14));
        ts.push(t(b("attn_v.bias"), vec![kvd], 0));
        ts.push(t(b("attn_output.weight"), vec![e, e], 12));
        ts.push(t(b("ffn_norm.weight"), vec![e], 0));
        ts.push(t(b("ffn_gate.weight"), vec![e, ff], 12));
        ts.push(t(b("ffn_up.weight"), vec![e, ff], 12));
        ts.push(t(b("ffn_down.weight"), vec![ff, e], 14));
    }
    ts.push(t("output_norm.weight".into(), vec![e], 0));
    ts.push(t("output.weight".into(), vec![e, nv], 14));
    write(path, &kv, &ts, false)
}

/// A tiny but complete GGUF (2 layers), for corruption tests.
pub fn tiny(path: &Path, truncate_data: bool) -> u64 {
    let kv = vec![
        ("general.architecture", Val::Str("qwen2".into())),
        ("qwen2.block_count", Val::U32(2)),
        ("qwen2.context_length", Val::U32(4096)),
        ("qwen2.embedding_length", Val::U32(256)),
        ("qwen2.feed_forward_length", Val::U32(512)),
        ("qwen2.attention.head_count", Val::U32(4)),
        ("qwen2.attention.head_count_kv", Val::U32(2)),
        ("tokenizer.ggml.tokens", Val::StrArr(512)),
    ];
    let mut ts = vec![Tensor {
        name: "token_embd.weight".into(),
        dims: vec![256, 512],
        ty: 0,
    }];
    for i in 0..2 {
        ts.push(Tensor {
            name: format!("blk.{i}.attn_q.weight"),
            dims: vec![256, 256],
            ty: 0,
        });
        ts.push(Tensor {
            name: format!("blk.{i}.ffn_up.weight"),
            dims: vec![256, 512],
            ty: 0,
        });
    }
    write(path, &kv, &ts, truncate_data)
}

//! GGUF inspection without loading weights: the metadata `codeswarm models info` prints and the
//! memory planner needs. Parsing is done by ggml's own GGUF reader (through llama-cpp-sys-2,
//! with `no_alloc`), plus a bounds check that catches truncated files before llama.cpp sees them.

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::ModelError;
use llama_cpp_sys_2 as sys;

/// Metadata of a GGUF model file.
#[derive(Debug, Clone, Serialize)]
pub struct GgufInfo {
    pub path: PathBuf,
    pub file_size: u64,
    pub version: u32,
    pub architecture: String,
    pub name: Option<String>,
    pub size_label: Option<String>,
    pub file_type: Option<u32>,
    /// Quantization, from `general.file_type` (e.g. `Q4_K_M`), else the dominant tensor type.
    pub quantization: String,
    pub n_params: u64,
    pub n_tensors: u64,
    /// Sum of all tensor data.
    pub weights_bytes: u64,
    /// Bytes of each transformer block (`blk.N.*`), in order.
    #[serde(skip)]
    pub layer_bytes: Vec<u64>,
    /// Bytes of the output head (`output.*`, `output_norm.*`; the tied embedding when the
    /// file has no `output.weight`).
    pub output_bytes: u64,
    pub n_layer: u32,
    pub n_embd: u32,
    pub n_ff: u32,
    pub n_head: u32,
    pub n_head_kv: u32,
    pub head_dim_k: u32,
    pub head_dim_v: u32,
    pub n_vocab: u32,
    pub ctx_train: u32,
    pub has_chat_template: bool,
}

struct Ctx(*mut sys::gguf_context);

impl Drop for Ctx {
    fn drop(&mut self) {
        unsafe { sys::gguf_free(self.0) }
    }
}

impl Ctx {
    fn key(&self, key: &str) -> Option<i64> {
        let c = CString::new(key).ok()?;
        let id = unsafe { sys::gguf_find_key(self.0, c.as_ptr()) };
        (id >= 0).then_some(id)
    }

    fn str(&self, key: &str) -> Option<String> {
        let id = self.key(key)?;
        if unsafe { sys::gguf_get_kv_type(self.0, id) } != sys::GGUF_TYPE_STRING {
            return None;
        }
        let p = unsafe { sys::gguf_get_val_str(self.0, id) };
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    }

    /// An unsigned integer of any integer type; for arrays (per-layer values) the maximum.
    fn uint(&self, key: &str) -> Option<u64> {
        let id = self.key(key)?;
        let ty = unsafe { sys::gguf_get_kv_type(self.0, id) };
        unsafe {
            Some(match ty {
                sys::GGUF_TYPE_UINT8 => sys::gguf_get_val_u8(self.0, id) as u64,
                sys::GGUF_TYPE_INT8 => sys::gguf_get_val_i8(self.0, id).max(0) as u64,
                sys::GGUF_TYPE_UINT16 => sys::gguf_get_val_u16(self.0, id) as u64,
                sys::GGUF_TYPE_INT16 => sys::gguf_get_val_i16(self.0, id).max(0) as u64,
                sys::GGUF_TYPE_UINT32 => sys::gguf_get_val_u32(self.0, id) as u64,
                sys::GGUF_TYPE_INT32 => sys::gguf_get_val_i32(self.0, id).max(0) as u64,
                sys::GGUF_TYPE_UINT64 => sys::gguf_get_val_u64(self.0, id),
                sys::GGUF_TYPE_INT64 => sys::gguf_get_val_i64(self.0, id).max(0) as u64,
                sys::GGUF_TYPE_ARRAY => {
                    let n = sys::gguf_get_arr_n(self.0, id);
                    let at = sys::gguf_get_arr_type(self.0, id);
                    let data = sys::gguf_get_arr_data(self.0, id);
                    if data.is_null() {
                        return None;
                    }
                    let mut max = 0u64;
                    for i in 0..n {
                        let v = match at {
                            sys::GGUF_TYPE_UINT32 => *(data as *const u32).add(i) as u64,
                            sys::GGUF_TYPE_INT32 => (*(data as *const i32).add(i)).max(0) as u64,
                            _ => return None,
                        };
                        max = max.max(v);
                    }
                    max
                }
                _ => return None,
            })
        }
    }

    fn arr_len(&self, key: &str) -> Option<u64> {
        let id = self.key(key)?;
        (unsafe { sys::gguf_get_kv_type(self.0, id) } == sys::GGUF_TYPE_ARRAY)
            .then(|| unsafe { sys::gguf_get_arr_n(self.0, id) } as u64)
    }
}

/// Name of a llama.cpp file type (`general.file_type`).
pub fn file_type_name(ft: u32) -> &'static str {
    match ft {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4_MOE",
        _ => "unknown",
    }
}

impl GgufInfo {
    /// Read and check the metadata of `path`.
    pub fn read(path: &Path) -> Result<GgufInfo, ModelError> {
        let bad = |reason: String| ModelError::BadGguf {
            path: path.to_path_buf(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| bad(format!("cannot read file: {e}")))?;
        if !meta.is_file() {
            return Err(bad("not a regular file".into()));
        }
        let file_size = meta.len();
        let mut magic = [0u8; 4];
        {
            use std::io::Read;
            let mut f = std::fs::File::open(path).map_err(|e| bad(format!("cannot open: {e}")))?;
            f.read_exact(&mut magic)
                .map_err(|_| bad(format!("file is too short to be GGUF ({file_size} bytes)")))?;
        }
        if &magic != b"GGUF" {
            return Err(bad(format!(
                "not a GGUF file (magic {:?}, expected \"GGUF\")",
                String::from_utf8_lossy(&magic)
            )));
        }
        super::llama::route_logs();
        let cpath = CString::new(path.to_string_lossy().as_bytes())
            .map_err(|_| bad("path contains a NUL byte".into()))?;
        let params = sys::gguf_init_params {
            no_alloc: true,
            ctx: std::ptr::null_mut(),
        };
        let raw = unsafe { sys::gguf_init_from_file(cpath.as_ptr(), params) };
        if raw.is_null() {
            return Err(bad(
                "corrupt or truncated GGUF header (ggml's reader rejected it)".into(),
            ));
        }
        let ctx = Ctx(raw);

        let architecture = ctx
            .str("general.architecture")
            .ok_or_else(|| bad("missing general.architecture".into()))?;
        let a = |k: &str| format!("{architecture}.{k}");
        let need = |k: &str| {
            ctx.uint(&a(k))
                .ok_or_else(|| bad(format!("missing {}", a(k))))
        };
        let n_layer = need("block_count")? as u32;
        let n_embd = need("embedding_length")? as u32;
        let n_head = need("attention.head_count")? as u32;
        let n_head_kv = ctx
            .uint(&a("attention.head_count_kv"))
            .unwrap_or(n_head as u64) as u32;
        let n_ff = ctx
            .uint(&a("feed_forward_length"))
            .unwrap_or(4 * n_embd as u64) as u32;
        let ctx_train = need("context_length")? as u32;
        let head_dim = if n_head > 0 { n_embd / n_head } else { 0 };
        let head_dim_k = ctx
            .uint(&a("attention.key_length"))
            .map(|v| v as u32)
            .unwrap_or(head_dim);
        let head_dim_v = ctx
            .uint(&a("attention.value_length"))
            .map(|v| v as u32)
            .unwrap_or(head_dim);
        let file_type = ctx.uint("general.file_type").map(|v| v as u32);

        let n_tensors = unsafe { sys::gguf_get_n_tensors(ctx.0) }.max(0) as u64;
        let data_offset = unsafe { sys::gguf_get_data_offset(ctx.0) } as u64;
        let mut weights_bytes = 0u64;
        let mut n_params = 0u64;
        let mut data_end = data_offset;
        let mut layer_bytes = vec![0u64; n_layer as usize];
        let mut output_bytes = 0u64;
        let mut token_embd_bytes = 0u64;
        let mut has_output_weight = false;
        let mut by_type: std::collections::BTreeMap<String, u64> = Default::default();
        let mut n_vocab = ctx.arr_len("tokenizer.ggml.tokens").unwrap_or(0) as u32;
        for i in 0..n_tensors as i64 {
            let (name, size, offset, ty, ne) = unsafe {
                let name = CStr::from_ptr(sys::gguf_get_tensor_name(ctx.0, i))
                    .to_string_lossy()
                    .into_owned();
                let size = sys::gguf_get_tensor_size(ctx.0, i) as u64;
                let offset = sys::gguf_get_tensor_offset(ctx.0, i) as u64;
                let ty = sys::gguf_get_tensor_type(ctx.0, i);
                let ne_ptr = sys::gguf_get_tensor_ne(ctx.0, i);
                let ne: Vec<i64> = if ne_ptr.is_null() {
                    vec![]
                } else {
                    std::slice::from_raw_parts(ne_ptr, 4).to_vec()
                };
                (name, size, offset, ty, ne)
            };
            let elems: u64 = ne.iter().map(|&d| d.max(1) as u64).product();
            n_params += elems;
            weights_bytes += size;
            data_end = data_end.max(data_offset + offset + size);
            let tname = unsafe { CStr::from_ptr(sys::ggml_type_name(ty)) }
                .to_string_lossy()
                .to_uppercase();
            *by_type.entry(tname).or_default() += size;
            if let Some(rest) = name.strip_prefix("blk.") {
                if let Some(idx) = rest.split('.').next().and_then(|s| s.parse::<usize>().ok()) {
                    if let Some(slot) = layer_bytes.get_mut(idx) {
                        *slot += size;
                    }
                }
            } else if name.starts_with("output.") || name.starts_with("output_norm.") {
                has_output_weight |= name == "output.weight";
                output_bytes += size;
            } else if name.starts_with("token_embd.") {
                token_embd_bytes += size;
                if n_vocab == 0 {
                    n_vocab = ne.get(1).copied().unwrap_or(0).max(0) as u32;
                }
            }
        }
        if !has_output_weight {
            output_bytes += token_embd_bytes; // tied embeddings
        }
        if data_end > file_size {
            return Err(bad(format!(
                "truncated: tensor data ends at byte {data_end} but the file has {file_size} bytes"
            )));
        }
        let quantization = match file_type {
            Some(ft) if file_type_name(ft) != "unknown" => file_type_name(ft).to_string(),
            _ => by_type
                .iter()
                .max_by_key(|(_, b)| **b)
                .map(|(t, _)| t.clone())
                .unwrap_or_else(|| "unknown".into()),
        };
        Ok(GgufInfo {
            path: path.to_path_buf(),
            file_size,
            version: unsafe { sys::gguf_get_version(ctx.0) },
            name: ctx.str("general.name"),
            size_label: ctx.str("general.size_label"),
            architecture,
            file_type,
            quantization,
            n_params,
            n_tensors,
            weights_bytes,
            layer_bytes,
            output_bytes,
            n_layer,
            n_embd,
            n_ff,
            n_head,
            n_head_kv,
            head_dim_k,
            head_dim_v,
            n_vocab,
            ctx_train,
            has_chat_template: ctx.str("tokenizer.chat_template").is_some(),
        })
    }

    /// Parameter count in a short human form (e.g. `494M`, `7.6B`).
    pub fn params_human(&self) -> String {
        let p = self.n_params as f64;
        if p >= 1e9 {
            format!("{:.2}B", p / 1e9)
        } else {
            format!("{:.0}M", p / 1e6)
        }
    }

    /// The lines `codeswarm models info` prints.
    pub fn describe(&self) -> String {
        use super::memory::human;
        let mut s = String::new();
        s += &format!("file:           {}\n", self.path.display());
        s += &format!(
            "size:           {} ({} bytes), GGUF v{}\n",
            human(self.file_size),
            self.file_size,
            self.version
        );
        if let Some(n) = &self.name {
            s += &format!("name:           {n}\n");
        }
        s += &format!("architecture:   {}\n", self.architecture);
        s += &format!(
            "parameters:     {} ({})\n",
            self.params_human(),
            self.n_params
        );
        s += &format!("quantization:   {}\n", self.quantization);
        s += &format!("layers:         {}\n", self.n_layer);
        s += &format!("embedding:      {} (ffn {})\n", self.n_embd, self.n_ff);
        s += &format!(
            "heads:          {} (KV heads {}, head dim {})\n",
            self.n_head, self.n_head_kv, self.head_dim_k
        );
        s += &format!("vocabulary:     {}\n", self.n_vocab);
        s += &format!("trained ctx:    {}\n", self.ctx_train);
        s += &format!(
            "chat template:  {}\n",
            if self.has_chat_template {
                "present"
            } else {
                "absent"
            }
        );
        s
    }
}

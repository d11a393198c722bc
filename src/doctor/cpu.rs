//! The CPU features this binary was built for (the `-C target-feature` list that
//! `scripts/cpu-flags.sh` writes into `.cargo/config.toml`, as compiled in) against the ones
//! this CPU offers. A feature built in but missing here crashes on the first vector
//! instruction; one offered but not built in leaves speed unused.

use serde::Serialize;

/// One feature: built in, offered by this CPU.
#[derive(Debug, Clone, Serialize)]
pub struct Feature {
    pub name: &'static str,
    pub built: bool,
    pub cpu: bool,
}

/// The vector features `scripts/cpu-flags.sh` considers, for this architecture, with whether
/// the build enabled each one and whether this CPU has it.
pub fn features() -> Vec<Feature> {
    #[allow(unused_mut)]
    let mut out = Vec::new();
    macro_rules! probe {
        ($detect:ident, $($name:tt),*) => {
            $(out.push(Feature {
                name: $name,
                built: cfg!(target_feature = $name),
                cpu: std::arch::$detect!($name),
            });)*
        };
    }
    #[cfg(target_arch = "x86_64")]
    probe!(
        is_x86_feature_detected,
        "sse3",
        "ssse3",
        "sse4.1",
        "sse4.2",
        "popcnt",
        "avx",
        "avx2",
        "fma",
        "f16c",
        "bmi1",
        "bmi2",
        "lzcnt",
        "avx512f",
        "avx512cd",
        "avx512bw",
        "avx512dq",
        "avx512vl",
        "avx512vnni",
        "avx512bf16",
        "avx512vbmi",
        "avxvnni"
    );
    #[cfg(target_arch = "aarch64")]
    probe!(
        is_aarch64_feature_detected,
        "neon",
        "dotprod",
        "fp16",
        "i8mm"
    );
    out
}

/// `GGML_*` options set for the llama.cpp build through `.cargo/config.toml`'s `[env]`.
pub fn ggml_options() -> Vec<(&'static str, &'static str)> {
    [
        ("GGML_AVX512", option_env!("GGML_AVX512")),
        ("GGML_NATIVE", option_env!("GGML_NATIVE")),
        ("GGML_CUDA", option_env!("GGML_CUDA")),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect()
}

/// The verdict on a feature list: the built-in features this CPU lacks (fatal) and the offered
/// ones the build leaves unused.
pub fn compare(features: &[Feature]) -> (Vec<&'static str>, Vec<&'static str>) {
    let unsupported = features
        .iter()
        .filter(|f| f.built && !f.cpu)
        .map(|f| f.name)
        .collect();
    let unused = features
        .iter()
        .filter(|f| f.cpu && !f.built)
        .map(|f| f.name)
        .collect();
    (unsupported, unused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_built_but_missing_are_fatal_and_unused_ones_are_listed() {
        let f = |name, built, cpu| Feature { name, built, cpu };
        let list = [
            f("avx2", true, true),
            f("avx512f", true, false),
            f("fma", false, true),
            f("avxvnni", false, false),
        ];
        let (unsupported, unused) = compare(&list);
        assert_eq!(unsupported, ["avx512f"]);
        assert_eq!(unused, ["fma"]);
    }

    #[test]
    fn this_binary_runs_so_every_built_feature_is_offered() {
        // A feature built in that the CPU lacked would have crashed before this line.
        let list = features();
        let (unsupported, _) = compare(&list);
        assert!(unsupported.is_empty(), "{unsupported:?}");
    }
}

#!/usr/bin/env bash
# Builds llama.cpp's own `llama-bench` against the llama.cpp source vendored in the
# llama-cpp-sys-2 crate that codeswarm links (same library version), with the same GGML CPU
# options the crate build uses (derived from .cargo/config.toml, see scripts/cpu-flags.sh).
# The crate ships llama.cpp without the llama-bench tool, so the tool's two source files come
# from the llama-cpp-python source package (fetched with pip, like every other asset).
# `codeswarm bench engine --llama-bench PATH` runs it in the same run as its reference.
#
# Usage: scripts/build-llama-bench.sh [OUT_DIR]   (prints the binary's path; idempotent)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mkdir -p "${1:-target/llama-bench}" && cd "${1:-target/llama-bench}" && pwd)
LCP_VERSION=0.3.36
[ -f .cargo/config.toml ] || scripts/cpu-flags.sh >/dev/null
if [ -x "$out/build/bin/llama-bench" ]; then echo "$out/build/bin/llama-bench"; exit 0; fi

crate_src=$(cargo metadata --format-version 1 --locked 2>/dev/null | python3 -c '
import json, sys, os
m = json.load(sys.stdin)
p = next(p for p in m["packages"] if p["name"] == "llama-cpp-sys-2")
print(os.path.join(os.path.dirname(p["manifest_path"]), "llama.cpp"))')
rm -rf "$out/src" && cp -r "$crate_src" "$out/src" && chmod -R u+w "$out/src"
if [ ! -f "$out/llama-cpp-python-$LCP_VERSION.tar.gz" ]; then
  python3 -m pip download --no-deps --no-binary :all: -q -d "$out/pip" "llama-cpp-python==$LCP_VERSION"
  mv "$out"/pip/llama_cpp_python-*.tar.gz "$out/llama-cpp-python-$LCP_VERSION.tar.gz"
fi
tar xzf "$out/llama-cpp-python-$LCP_VERSION.tar.gz" -C "$out" --wildcards '*/vendor/llama.cpp/tools/llama-bench/*'
cp "$out"/llama_cpp_python-*/vendor/llama.cpp/tools/llama-bench/* "$out/src/tools/llama-bench/"
echo 'add_subdirectory(llama-bench)' > "$out/src/tools/CMakeLists.txt"

feats=$(sed -n 's/.*target-feature=\([^"]*\)".*/\1/p' .cargo/config.toml | tr ',' ' ')
flags=(-DGGML_NATIVE=OFF -DGGML_OPENMP=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_COMMON=ON -DLLAMA_BUILD_TOOLS=ON
       -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF
       -DBUILD_SHARED_LIBS=OFF -DCMAKE_BUILD_TYPE=Release)
for f in $feats; do
  case "$f" in
    +avx) flags+=(-DGGML_AVX=ON) ;;
    +avx2) flags+=(-DGGML_AVX2=ON) ;;
    +fma) flags+=(-DGGML_FMA=ON) ;;
    +f16c) flags+=(-DGGML_F16C=ON) ;;
    +bmi2) flags+=(-DGGML_BMI2=ON) ;;
    +sse4.2) flags+=(-DGGML_SSE42=ON) ;;
    +avx512f) flags+=(-DGGML_AVX512=ON) ;;
    +avx512vbmi) flags+=(-DGGML_AVX512_VBMI=ON) ;;
    +avx512vnni) flags+=(-DGGML_AVX512_VNNI=ON) ;;
    +avx512bf16) flags+=(-DGGML_AVX512_BF16=ON) ;;
    +avxvnni) flags+=(-DGGML_AVX_VNNI=ON) ;;
  esac
done
cmake -S "$out/src" -B "$out/build" "${flags[@]}" >"$out/cmake.log" 2>&1 || { tail -20 "$out/cmake.log" >&2; exit 1; }
cmake --build "$out/build" --target llama-bench -j "$(nproc)" >"$out/build.log" 2>&1 || { tail -30 "$out/build.log" >&2; exit 1; }
echo "$out/build/bin/llama-bench"

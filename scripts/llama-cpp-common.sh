#!/usr/bin/env bash
# Shared by the scripts that build llama.cpp's own tools (build-llama-bench.sh,
# build-llama-server.sh) against the llama.cpp source vendored in the llama-cpp-sys-2 crate that
# codeswarm links, so the tools run the same library version with the same GGML CPU options.
# Source it from the repository root; it defines functions only.
#
# The crate ships llama.cpp without the tools' own sources; those come from the llama-cpp-python
# source package (fetched with pip, like every other asset), cached once in
# target/llama-cpp-python/.

LCP_VERSION=0.3.36

# Prints the llama.cpp directory of the llama-cpp-sys-2 crate this checkout locks.
llama_crate_src() {
  cargo metadata --format-version 1 --locked 2>/dev/null | python3 -c '
import json, sys, os
m = json.load(sys.stdin)
p = next(p for p in m["packages"] if p["name"] == "llama-cpp-sys-2")
print(os.path.join(os.path.dirname(p["manifest_path"]), "llama.cpp"))'
}

# Prints the path of the llama-cpp-python source package, downloading it once.
llama_sdist() {
  local cache="$PWD/target/llama-cpp-python"
  local tarball="$cache/llama-cpp-python-$LCP_VERSION.tar.gz"
  if [ ! -f "$tarball" ]; then
    mkdir -p "$cache/pip"
    python3 -m pip download --no-deps --no-binary :all: -q -d "$cache/pip" "llama-cpp-python==$LCP_VERSION" >&2
    mv "$cache"/pip/llama_cpp_python-*.tar.gz "$tarball"
  fi
  echo "$tarball"
}

# Copies the crate's llama.cpp tree to OUT/src (writable), replacing what was there.
llama_copy_src() {
  local out=$1 crate_src
  crate_src=$(llama_crate_src)
  [ -d "$crate_src" ] || { echo "error: llama-cpp-sys-2 source not found; run 'cargo fetch --locked' first" >&2; return 1; }
  rm -rf "$out/src" && cp -r "$crate_src" "$out/src" && chmod -R u+w "$out/src"
}

# Extracts the given paths (relative to llama.cpp/) from the source package into OUT/src.
llama_add_from_sdist() {
  local out=$1; shift
  local tarball pats=() p
  tarball=$(llama_sdist)
  for p in "$@"; do pats+=("*/vendor/llama.cpp/$p"); done
  rm -rf "$out"/llama_cpp_python-*
  tar xzf "$tarball" -C "$out" --wildcards "${pats[@]}"
  (cd "$out"/llama_cpp_python-*/vendor/llama.cpp && tar cf - .) | (cd "$out/src" && tar xf -)
}

# Sets the array LLAMA_CMAKE_FLAGS: the GGML options matching .cargo/config.toml's target
# features (what llama-cpp-sys-2 derives for the crate build), never GGML_NATIVE.
llama_cmake_cpu_flags() {
  [ -f .cargo/config.toml ] || scripts/cpu-flags.sh >/dev/null
  local feats f
  feats=$(sed -n 's/.*target-feature=\([^"]*\)".*/\1/p' .cargo/config.toml | tr ',' ' ')
  LLAMA_CMAKE_FLAGS=(-DGGML_NATIVE=OFF -DGGML_OPENMP=ON -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF
                     -DCMAKE_BUILD_TYPE=Release)
  for f in $feats; do
    case "$f" in
      +avx) LLAMA_CMAKE_FLAGS+=(-DGGML_AVX=ON) ;;
      +avx2) LLAMA_CMAKE_FLAGS+=(-DGGML_AVX2=ON) ;;
      +fma) LLAMA_CMAKE_FLAGS+=(-DGGML_FMA=ON) ;;
      +f16c) LLAMA_CMAKE_FLAGS+=(-DGGML_F16C=ON) ;;
      +bmi2) LLAMA_CMAKE_FLAGS+=(-DGGML_BMI2=ON) ;;
      +sse4.2) LLAMA_CMAKE_FLAGS+=(-DGGML_SSE42=ON) ;;
      +avx512f) LLAMA_CMAKE_FLAGS+=(-DGGML_AVX512=ON) ;;
      +avx512vbmi) LLAMA_CMAKE_FLAGS+=(-DGGML_AVX512_VBMI=ON) ;;
      +avx512vnni) LLAMA_CMAKE_FLAGS+=(-DGGML_AVX512_VNNI=ON) ;;
      +avx512bf16) LLAMA_CMAKE_FLAGS+=(-DGGML_AVX512_BF16=ON) ;;
      +avxvnni) LLAMA_CMAKE_FLAGS+=(-DGGML_AVX_VNNI=ON) ;;
    esac
  done
}

# Configures OUT/src into OUT/build with the CPU flags plus the given options, then builds
# TARGET. Logs go to OUT/cmake.log and OUT/build.log; their tails are printed on failure.
llama_cmake_build() {
  local out=$1 target=$2; shift 2
  llama_cmake_cpu_flags
  cmake -S "$out/src" -B "$out/build" "${LLAMA_CMAKE_FLAGS[@]}" "$@" >"$out/cmake.log" 2>&1 \
    || { tail -20 "$out/cmake.log" >&2; return 1; }
  cmake --build "$out/build" --target "$target" -j "$(nproc)" >"$out/build.log" 2>&1 \
    || { tail -30 "$out/build.log" >&2; return 1; }
}

#!/usr/bin/env bash
# Builds llama.cpp's own `llama-bench` against the llama.cpp source vendored in the
# llama-cpp-sys-2 crate that codeswarm links (same library version), with the same GGML CPU
# options the crate build uses (derived from .cargo/config.toml, see scripts/cpu-flags.sh).
# The crate ships llama.cpp without the llama-bench tool, so the tool's two source files come
# from the llama-cpp-python source package (see scripts/llama-cpp-common.sh, shared with
# build-llama-server.sh). `codeswarm bench engine --llama-bench PATH` runs it in the same run
# as its reference.
#
# Usage: scripts/build-llama-bench.sh [OUT_DIR]   (prints the binary's path; idempotent)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/llama-cpp-common.sh
out=$(mkdir -p "${1:-target/llama-bench}" && cd "${1:-target/llama-bench}" && pwd)
if [ -x "$out/build/bin/llama-bench" ]; then echo "$out/build/bin/llama-bench"; exit 0; fi

llama_copy_src "$out"
llama_add_from_sdist "$out" 'tools/llama-bench/*'
echo 'add_subdirectory(llama-bench)' > "$out/src/tools/CMakeLists.txt"
llama_cmake_build "$out" llama-bench \
  -DLLAMA_BUILD_COMMON=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF
echo "$out/build/bin/llama-bench"

#!/usr/bin/env bash
# Builds llama.cpp's `llama-server` (an OpenAI-compatible inference server) against the
# llama.cpp source vendored in the llama-cpp-sys-2 crate that codeswarm links (same library
# version), with the same GGML CPU options as the crate build (from .cargo/config.toml, see
# scripts/cpu-flags.sh). The crate ships llama.cpp without the server's sources; they come from
# the llama-cpp-python source package (see scripts/llama-cpp-common.sh). Built without the web UI
# and without TLS: codeswarm's scripts and tests start it on 127.0.0.1 only.
#
#   scripts/build-llama-server.sh [OUT_DIR]   (prints the binary's path; idempotent)
#
# Then: llama-server -m MODEL.gguf --host 127.0.0.1 --port 8080 -np 2
#       codeswarm batch --server http://127.0.0.1:8080 --workers 2 ...
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/llama-cpp-common.sh
out=$(mkdir -p "${1:-target/llama-server}" && cd "${1:-target/llama-server}" && pwd)
bin="$out/build/bin/llama-server"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

llama_copy_src "$out"
llama_add_from_sdist "$out" 'tools/server/*' 'tools/ui/CMakeLists.txt' 'tools/ui/sources.cmake' 'tools/ui/*.in' \
  'scripts/ui-assets.cmake'
rm -rf "$out/src/tools/server/tests" "$out/src/tools/server/bench"
# The server source of the package differs by a few commits from the crate's llama.cpp: adapt
# it to the crate's API (mtmd_get_memory_usage returns a struct holding the map; no
# fs_open_ifstream helper in common/).
sed -i 's/mmproj_mem\.empty()/mmproj_mem.backend_mem_usage.empty()/; s/: mmproj_mem)/: mmproj_mem.backend_mem_usage)/g' \
  "$out/src/tools/server/server-context.cpp"
sed -i 's/fs_open_ifstream(/std::ifstream(/' "$out/src/tools/server/server-mcp.cpp"
printf 'add_subdirectory(mtmd)\nadd_subdirectory(ui)\nadd_subdirectory(server)\n' > "$out/src/tools/CMakeLists.txt"

llama_cmake_build "$out" llama-server \
  -DLLAMA_BUILD_COMMON=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_UI=OFF \
  -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF
echo "$bin"

#!/usr/bin/env bash
# One command for everything on a fresh machine. Idempotent: a second run only rebuilds what
# changed and skips what is already fetched and verified.
#
#   scripts/setup.sh demo   install what is missing, build (release), fetch the default model and
#                           the sandbox runtime, run `codeswarm demo` on the real default model
#   scripts/setup.sh test   the same set-up, then builds llama-server (scripts/build-llama-server.sh)
#                           and runs the whole test suite (`cargo test --release`)
#   scripts/setup.sh build  set-up and build only
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-build}
case "$mode" in demo|test|build) ;; *) echo "usage: $0 demo|test|build" >&2; exit 2 ;; esac

say() { printf '\n== %s\n' "$*"; }

# 1. System packages: llama.cpp builds with cmake and bindgen needs libclang; binaryen's
#    wasm-opt makes the faster copy of the sandbox's Python runtime (src/sandbox/optimize.rs).
need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v clang >/dev/null 2>&1 || need+=(clang)
ls /usr/lib/llvm-*/lib/libclang*.so* /usr/lib/*/libclang*.so* >/dev/null 2>&1 || need+=(libclang-dev)
command -v python3 >/dev/null 2>&1 || need+=(python3)
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
command -v git >/dev/null 2>&1 || need+=(git)
# GNU patch: the fuzz test tests/fuzz_patch.rs compares the patch applier with it (docs/fuzzing.md).
command -v patch >/dev/null 2>&1 || need+=(patch)
command -v wasm-opt >/dev/null 2>&1 || need+=(binaryen)
if ((${#need[@]})); then
  say "installing system packages: ${need[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
if ! command -v cargo >/dev/null 2>&1; then
  [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
fi
command -v cargo >/dev/null 2>&1 || { echo "error: cargo not found; install Rust with rustup first" >&2; exit 2; }

# 2. Build for this CPU's vector units (never -C target-cpu=native: see scripts/cpu-flags.sh).
say "CPU features for llama.cpp"
scripts/cpu-flags.sh
say "building (release)"
cargo build --release --locked

# Put `codeswarm` on PATH: a link in cargo's bin dir (rustup puts it on PATH), refreshed on
# every run so it always points at this checkout's build.
bin=target/release/codeswarm
bindir="${CARGO_HOME:-$HOME/.cargo}/bin"
if mkdir -p "$bindir" 2>/dev/null && ln -sf "$PWD/$bin" "$bindir/codeswarm" 2>/dev/null; then
  case ":$PATH:" in
    *":$bindir:"*) say "codeswarm is on PATH ($bindir/codeswarm -> $PWD/$bin)" ;;
    *) say "linked $bindir/codeswarm; add it to PATH: export PATH=\"$bindir:\$PATH\"" ;;
  esac
else
  say "could not link codeswarm into $bindir; run it as $PWD/$bin"
fi

# 3. Fetch and verify the default model and the sandbox runtime (no-ops when present).

say "default model"
"$bin" models pull
if "$bin" sandbox --help >/dev/null 2>&1; then
  say "sandbox runtime"
  "$bin" sandbox --setup
fi

case "$mode" in
  demo)
    say "codeswarm demo"
    "$bin" demo
    ;;
  test)
    # The inference-server test (tests/llama_server.rs) runs llama.cpp's own llama-server,
    # built from the llama.cpp source the crate vendors (idempotent: built once).
    say "llama-server (for the inference-server test)"
    CODESWARM_LLAMA_SERVER=$(scripts/build-llama-server.sh)
    export CODESWARM_LLAMA_SERVER
    say "tests"
    cargo test --release --locked
    ;;
  build) ;;
esac

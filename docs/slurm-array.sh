#!/usr/bin/env bash
# codeswarm SWE-bench batch as a Slurm job array: task i runs shard i (0-based, like --shard)
# on one GPU node. It starts its own llama-server on 127.0.0.1 (loopback: nothing outside the
# node reaches it) with WORKERS slots, runs `codeswarm batch --workers WORKERS` against it, and
# writes out/preds-i.jsonl and out/run-i/. Submit and merge (docs/scale-out.md):
#   array=$(sbatch --parsable docs/slurm-array.sh)
#   sbatch --dependency=afterany:$array --wrap 'codeswarm merge-preds out/preds.jsonl out/preds-*.jsonl'
# Resubmitting a task (or --requeue) resumes it: finished instances are skipped.
#SBATCH --job-name=codeswarm-swebench
#SBATCH --array=0-3
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --mem=32G
#SBATCH --time=24:00:00
#SBATCH --requeue
#SBATCH --signal=B:TERM@120
#SBATCH --output=logs/%x-%A_%a.out

set -euo pipefail

INSTANCES=${INSTANCES:-data/swe-bench-lite.jsonl}
OUT=${OUT:-out}
MODEL_FILE=${MODEL_FILE:-models/qwen2.5-coder-7b-instruct-q4_k_m.gguf}
LLAMA_SERVER=${LLAMA_SERVER:-target/llama-server/build/bin/llama-server}  # scripts/build-llama-server.sh
WORKERS=${WORKERS:-4}
PORT=${PORT:-$((8080 + ${SLURM_ARRAY_TASK_ID:-0}))}

i=${SLURM_ARRAY_TASK_ID:?run this script with sbatch --array}
# Shard count: the array's size (the array must start at 0).
n=${SLURM_ARRAY_TASK_COUNT:-$(( ${SLURM_ARRAY_TASK_MAX:?} + 1 ))}

mkdir -p "$OUT" logs
"$LLAMA_SERVER" -m "$MODEL_FILE" --host 127.0.0.1 --port "$PORT" \
    -np "$WORKERS" -c $((8192 * WORKERS)) -ngl 99 >"$OUT/server-$i.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$PORT/health" >/dev/null; do
  kill -0 "$server" 2>/dev/null || { echo "llama-server exited, see $OUT/server-$i.log" >&2; exit 1; }
  sleep 2
done

# Slurm's SIGTERM goes to this shell; pass it on so codeswarm stops cleanly (exit 130).
codeswarm batch \
    --instances "$INSTANCES" \
    --predictions "$OUT/preds-$i.jsonl" \
    --run-dir "$OUT/run-$i" \
    --shard "$i/$n" \
    --server "http://127.0.0.1:$PORT" \
    --workers "$WORKERS" \
    --time-limit 1800 &
batch=$!
trap 'kill -TERM "$batch" 2>/dev/null || true' TERM INT
status=0
wait "$batch" || status=$?
# A signal interrupts the first wait; wait for codeswarm to finish stopping.
if kill -0 "$batch" 2>/dev/null; then wait "$batch" || status=$?; fi
exit "$status"

#!/usr/bin/env bash
# codeswarm SWE-bench batch as a Slurm job array: task i runs shard i (0-based, like --shard)
# on one GPU and writes out/preds-i.jsonl and out/run-i/. Submit and merge (docs/scale-out.md):
#   array=$(sbatch --parsable docs/slurm-array.sh)
#   sbatch --dependency=afterany:$array --wrap 'codeswarm merge-preds out/preds.jsonl out/preds-*.jsonl'
# Resubmitting a task (or --requeue) resumes it: finished instances are skipped.
#SBATCH --job-name=codeswarm-swebench
#SBATCH --array=0-7
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
MODEL=${MODEL:-qwen2.5-coder-7b-instruct-q4_k_m}

i=${SLURM_ARRAY_TASK_ID:?run this script with sbatch --array}
# Shard count: the array's size (the array must start at 0).
n=${SLURM_ARRAY_TASK_COUNT:-$(( ${SLURM_ARRAY_TASK_MAX:?} + 1 ))}

mkdir -p "$OUT" logs
# exec: codeswarm itself receives Slurm's SIGTERM and stops cleanly.
exec codeswarm batch \
    --instances "$INSTANCES" \
    --predictions "$OUT/preds-$i.jsonl" \
    --run-dir "$OUT/run-$i" \
    --shard "$i/$n" \
    --model "$MODEL" \
    --time-limit 1800

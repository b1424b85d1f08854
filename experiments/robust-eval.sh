#!/usr/bin/env bash
# The worst-case columns of the README's Fashion defense table: for each run directory given,
# a plain rob28 swipe and `swipe --robust-eval` on the same first query batches, with wall
# times; summary.md collects the PGD and worst-case ERS/ARS and the masking verdict.
#
#   experiments/robust-eval.sh RUN...
#
#   MAX_ITER=N   query batches of 128 (default 1)
#   THREADS=N    libtorch threads (default: every core)
#   OUT=DIR      default runs/robust-eval-q<MAX_ITER>
#
# Each run's fresh undefended surrogate (100 SPC-2 batches, seed 1) is trained once into
# OUT/<run>/surrogate and reused by a rerun; finished runs are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
MAX_ITER=${MAX_ITER:-1}
THREADS=${THREADS:-$(nproc)}
OUT=${OUT:-runs/robust-eval-q$MAX_ITER}
mkdir -p "$OUT"
for run in "$@"; do
  name=$(basename "$run")
  if [ -s "$OUT/$name.time.json" ]; then echo "done before: $name"; continue; fi
  t0=$SECONDS
  node bin/rankshield.js swipe "$run" --max-iter "$MAX_ITER" --threads "$THREADS" --quiet --json | tail -1 > "$OUT/$name.plain.json"
  t1=$SECONDS
  node bin/rankshield.js swipe "$run" --robust-eval --max-iter "$MAX_ITER" --threads "$THREADS" --quiet --json --out "$OUT/$name" | tail -1 > "$OUT/$name.robust.json"
  echo "{\"name\":\"$name\",\"plain_seconds\":$((t1 - t0)),\"robust_seconds\":$((SECONDS - t1))}" > "$OUT/$name.time.json"
  echo "done: $name (plain $((t1 - t0)) s, robust $((SECONDS - t1)) s)"
done
node experiments/summarize-robust.js "$OUT"

#!/usr/bin/env bash
# The worst-case columns of the Fashion defense table of docs/results.md: for each run directory given,
# a plain rob28 swipe and `swipe --robust-eval` on the same first query batches, with wall
# times; summary.md collects the PGD and worst-case ERS/ARS and the masking verdict.
#
#   experiments/robust-eval.sh RUN...
#
#   MAX_ITER=N   query batches of 128 (default 1)
#   BUDGET=B     cheap (default) or standard (docs/attacks-and-metrics.md §8)
#   JOBS=N       runs evaluated side by side, each on its share of the cores (default 1)
#   THREADS=N    libtorch threads per job (default: the cores divided by JOBS)
#   OUT=DIR      default runs/robust-eval-q<MAX_ITER>; a directory of experiments/fashion-defenses.sh
#                named OUT=DEFENSES_DIR/robust puts the columns into that run's summary.md
#
# The transfer component's surrogate is a fresh undefended c2f2 (100 SPC-2 batches, seed 1,
# where the attacked runs use seed 0), trained once into OUT/surrogate and shared by every run,
# so its training is not part of any run's time. Finished runs are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
MAX_ITER=${MAX_ITER:-1}
BUDGET=${BUDGET:-cheap}
JOBS=${JOBS:-1}
CORES=$(nproc)
THREADS=${THREADS:-$(( CORES / JOBS > 0 ? CORES / JOBS : 1 ))}
OUT=${OUT:-runs/robust-eval-q$MAX_ITER}
mkdir -p "$OUT"
if [ ! -e "$OUT/surrogate/checkpoint.json" ]; then
  node bin/rankshield.js train --dataset fashion --epochs 1 --max-batches 100 --seed 1 \
    --threads "$CORES" --out "$OUT/surrogate" --overwrite --quiet --json | tail -1 > "$OUT/surrogate.train.json"
fi

one() {
  local run=$1 name; name=$(basename "$1")
  if [ -s "$OUT/$name.time.json" ]; then echo "done before: $name"; return; fi
  local t0=$SECONDS
  node bin/rankshield.js swipe "$run" --max-iter "$MAX_ITER" --threads "$THREADS" --quiet --json | tail -1 > "$OUT/$name.plain.json"
  local t1=$SECONDS
  node bin/rankshield.js swipe "$run" --robust-eval "$BUDGET" --transfer-from "$OUT/surrogate" --max-iter "$MAX_ITER" --threads "$THREADS" \
    --quiet --json --out "$OUT/$name" | tail -1 > "$OUT/$name.robust.json"
  echo "{\"name\":\"$name\",\"threads\":$THREADS,\"plain_seconds\":$((t1 - t0)),\"robust_seconds\":$((SECONDS - t1))}" > "$OUT/$name.time.json"
  echo "done: $name (plain $((t1 - t0)) s, robust $((SECONDS - t1)) s)"
}
running=0
for run in "$@"; do
  one "$run" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
done
wait
node experiments/summarize-robust.js "$OUT"

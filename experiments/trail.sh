#!/usr/bin/env bash
# Robustness over training for one defense: ACT[R] on Fashion-MNIST c2f2 (η = 4 training PGD
# steps, 8 epochs of 80 batches: the defense table's budget in docs/results.md), every N-th epoch's checkpoint kept
# (train --keep-every N), then a rob28 swipe of each kept epoch (swipe --epochs all) on the first
# query batches; RUN/swipe-epochs/rob28/ gets the table (trail.md), the chart (trail.svg) and a page.
#
#   experiments/trail.sh
#
#   MAX_BATCHES=N   batches per epoch (default 80)
#   KEEP_EVERY=N    keep (and swipe) every N-th epoch and the last (default 1)
#   MAX_ITER=N      query batches of 128 per epoch's swipe (default 1)
#   THREADS=N       libtorch threads (default: all cores)
#   OUT=DIR         default runs/trail-act
# Both steps resume: a rerun trains only what is missing and swipes only the epochs not done.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
MAX_BATCHES=${MAX_BATCHES:-80}
MAX_ITER=${MAX_ITER:-1}
KEEP_EVERY=${KEEP_EVERY:-1}
THREADS=${THREADS:-$(nproc)}
OUT=${OUT:-runs/trail-act}
again=--overwrite
[ -e "$OUT/checkpoint.json" ] && again=--resume
t0=$SECONDS
node bin/rankshield.js train fashion:rc2f2p:ptripletN --pgd-steps 4 --epochs 8 --max-batches "$MAX_BATCHES" --keep-every "$KEEP_EVERY" \
  --eval-every 8 --threads "$THREADS" --out "$OUT" "$again" --quiet --json | tail -1 > "$OUT.train.json"
t1=$SECONDS
node bin/rankshield.js swipe "$OUT" --epochs all --max-iter "$MAX_ITER" --threads "$THREADS" --quiet --json | tail -1 > "$OUT.trail.json"
echo "{\"train_seconds\":$((t1 - t0)),\"swipe_seconds\":$((SECONDS - t1))}" > "$OUT.time.json"
cat "$OUT/swipe-epochs/rob28/trail.md"

#!/usr/bin/env bash
# The paired comparisons of docs/attacks-and-metrics.md §9: two undefended Fashion-MNIST c2f2 models
# of one config (training seeds 0 and 1) and one EST model, each at a small budget, then
# `rankshield compare` on the first 128 test queries (one rob28 batch), 1 thread.
#
#   results/compare-fashion/make.sh [RUNS_DIR]     (default runs/compare-fashion; checkpoints are not committed)
#
# The committed numbers come from models stopped early by SIGTERM (each writes a checkpoint at the
# step it stops): both N/A runs after their second epoch's checkpoint (before its evaluation), the
# EST run after 20 of its 40 steps; the checkpoints' SHA-256 are in README.md. `--max-batches 20` for
# EST is the same schedule without the stop.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-runs/compare-fashion}
OUT=results/compare-fashion
export RANKSHIELD_THREADS=1
for seed in 0 1; do
  node bin/rankshield.js train fashion:rc2f2:ptripletN --seed "$seed" --epochs 2 --max-batches 60 --threads 1 --out "$RUNS/na-s$seed" --quiet
done
node bin/rankshield.js train fashion:rc2f2d:ptripletN --seed 0 --epochs 1 --max-batches 20 --pgd-steps 4 --alpha 0.08 --threads 1 --out "$RUNS/est-s0" --quiet
# Same config, two training seeds: the swipes of both are kept as swipe-1.json, swipe-2.json.
node bin/rankshield.js compare "$RUNS/na-s0" "$RUNS/na-s1" --names "N/A seed 0,N/A seed 1" --max-batches 1 --threads 1 --quiet --out "$OUT/na-s0-vs-na-s1"
node bin/rankshield.js swipe "$RUNS/est-s0" --max-batches 1 --threads 1 --quiet --examples 0 --out "$OUT/est-s0"
# N/A against the defense, from the stored swipes (the same 128 queries and attack seed).
node bin/rankshield.js compare "$OUT/na-s0-vs-na-s1/swipe-1.json" "$OUT/est-s0/swipe.json" --names "N/A seed 0,EST seed 0" --quiet --out "$OUT/na-vs-est"

#!/usr/bin/env bash
# Certified versus empirical L2 robustness on Fashion-MNIST / c2f2 (docs/certification.md §6):
# three briefly trained models — N/A, Gaussian-noise training at σ = 0.25 and ACT (adversarial, a small
# L∞ budget) — each certified by `rankshield certify` at σ = 0.25 and attacked (APGD-L2 with a restart
# and EOT on the smoothed model) at the same radii; then the cost of `certify` over 512 queries, n = 1000.
#
#   experiments/certify.sh
#
#   MAX_BATCHES=N   training batches of each model (default 60; ACT 24, its steps cost twice as much)
#   QUERIES=Q       queries of the certified-vs-empirical table (default 32)
#   THREADS=T       libtorch threads per job (default 1); the three models run side by side
#   ONLY=timing     only the 512-query timing run (needs runs/certify-gauss)
#
# Results: results/certify/<model>/certify.{json,md,svg} and results/certify/timing-512/…; the table of
# docs/certification.md §6 is `node experiments/summarize-certify.js`.
set -euo pipefail
cd "$(dirname "$0")/.."
MAX_BATCHES=${MAX_BATCHES:-60}
QUERIES=${QUERIES:-32}
THREADS=${THREADS:-1}
ONLY=${ONLY:-}
RS="node bin/rankshield.js"
export RANKSHIELD_THREADS=$THREADS

train() { # name, batches, defense flags…
  local name=$1 batches=$2; shift 2
  [ -f "runs/certify-$name/checkpoint.json" ] || $RS train --dataset fashion --epochs 1 --max-batches "$batches" --seed 0 "$@" --out "runs/certify-$name" --overwrite --quiet
}

certify() { # name
  $RS certify "runs/certify-$1" --sigma 0.25 --samples 1000 --alpha 0.001 --radii 0,0.02,0.05,0.1 --k 1,10 --queries "$QUERIES" --seed 0 \
    --empirical --attack-steps 8 --restarts 1 --eot 2 --judge-samples 100 --out "results/certify/$1" --json > "results/certify/$1.log"
}

if [ "$ONLY" != timing ]; then
  (train na "$MAX_BATCHES" --defense none && certify na) &
  (train gauss "$MAX_BATCHES" --defense gaussian --sigma 0.25 && certify gauss) &
  (train act 24 --defense act --pgd-steps 1 --epsilon 0.0627 && certify act) &
  wait
fi
# The cost of certify at the documented scale: 512 queries, n = 1000, one thread, no attack.
$RS certify runs/certify-gauss --sigma 0.25 --samples 1000 --alpha 0.001 --radii 0,0.02,0.05,0.1 --k 1,10 --queries 512 --seed 0 \
  --out results/certify/timing-512 --json > results/certify/timing-512.log

#!/usr/bin/env bash
# The 2-rank speed-up of data-parallel training on this machine: `rankshield bench train`
# (c2f2 SPC-2 triplet training on Fashion-MNIST, 128 pairs per batch, no evaluation) with
# 1 process × 1 thread and with 2 c10d Gloo ranks × 1 thread on the same global batches,
# each beside PyTorch on the same loop (DistributedDataParallel for 2 ranks). Writes
# experiments/results/distributed-speedup.json with its provenance (command, commit,
# CPU, cores, load average before and after, libtorch).
#   bash experiments/distributed-speedup.sh [ITERS] [ROUNDS]     (defaults 30 1)
set -euo pipefail
cd "$(dirname "$0")/.."
iters=${1:-30}
rounds=${2:-1}
out=experiments/results/distributed-speedup.json
mkdir -p "$(dirname "$out")"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
one=$(node bin/rankshield.js bench train --nproc 1 --threads 1 --iters "$iters" --rounds "$rounds" --json | tail -1)
two=$(node bin/rankshield.js bench train --nproc 2 --threads 1 --iters "$iters" --rounds "$rounds" --json | tail -1)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
info=$(node bin/rankshield.js info --json)
ONE="$one" TWO="$two" INFO="$info" LOAD_BEFORE="$load_before" LOAD_AFTER="$load_after" STARTED="$started" \
COMMAND="bash experiments/distributed-speedup.sh $iters $rounds" COMMIT="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src bench native || echo '+changes')" \
CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" CORES="$(nproc)" node -e '
const one = JSON.parse(process.env.ONE), two = JSON.parse(process.env.TWO), info = JSON.parse(process.env.INFO);
const r = (x) => Math.round(x * 1000) / 1000;
const result = {
  what: "2-rank speed-up of data-parallel training (rankshield bench train: c2f2, Fashion-MNIST, SPC-2 triplet, 128 pairs/batch)",
  rankshield: { one_process_ms_per_batch: one.rankshield_ms_per_batch, two_ranks_ms_per_batch: two.rankshield_ms_per_batch, speedup: r(one.rankshield_ms_per_batch / two.rankshield_ms_per_batch) },
  pytorch: { one_process_ms_per_batch: one.pytorch_ms_per_batch, ddp_two_ranks_ms_per_batch: two.pytorch_ms_per_batch, speedup: r(one.pytorch_ms_per_batch / two.pytorch_ms_per_batch) },
  provenance: {
    command: process.env.COMMAND, commit: process.env.COMMIT, started: process.env.STARTED,
    cpu: process.env.CPU, cores: Number(process.env.CORES), threads_per_process: 1,
    timed_batches: one.timed_batches, rounds: Number(process.argv[1]),
    load_average_before: process.env.LOAD_BEFORE, load_average_after: process.env.LOAD_AFTER,
    libtorch: info.libtorch?.version ?? null,
  },
  runs: { one_process: one, two_ranks: two },
};
console.log(JSON.stringify(result, null, 2));
' "$rounds" >"$out"
cat "$out"

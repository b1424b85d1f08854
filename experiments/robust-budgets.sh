#!/usr/bin/env bash
# How much the cheap robust evaluation overstates ERS against the standard one, and what each
# costs: `swipe --robust-eval cheap` and `--robust-eval standard` on the same first queries of
# each run given (docs/attacks-and-metrics.md §8), one after the other, with wall times; then
# OUT/budgets.md and OUT/budgets.json (per run: PGD, cheap and standard worst-case ERS/ARS, the
# overstatement cheap − standard, both findings, seconds and passes per image).
#
#   experiments/robust-budgets.sh RUN...
#
#   QUERIES=N    the first N test queries (default 16; one batch of N below rob28's 128)
#   THREADS=N    libtorch threads (default 1)
#   OUT=DIR      default runs/robust-budgets-q<QUERIES>
#
# results/robust-budgets/ was made on two runs at the reduced budget (8 epochs of 80 batches):
#   N/A:    rankshield reproduce fashion na-n --scale reduced          (runs/reproduce/<key>)
#   HM&ICS: rankshield train fashion:rc2f2ghmetsmi:ptripletN --pgd-steps 4 --skip-satisfied \
#             --max-batches 80 --eval-every 8 --threads 1 --out runs/hm-ics
# then `QUERIES=16 OUT=results/robust-budgets experiments/robust-budgets.sh runs/none runs/hm-ics`,
# runs/none being a link to the N/A run's directory (a run is named by its directory's name). The transfer component's surrogate is trained
# once into OUT/surrogate (a fresh undefended c2f2, 100 SPC-2 batches, seed 1) and shared.
# Cost on one core: about five plain swipes of the same queries for cheap, and ten times that for standard
# (Square's 5,000 queries per image dominate); a finished run is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
QUERIES=${QUERIES:-16}
THREADS=${THREADS:-1}
OUT=${OUT:-runs/robust-budgets-q$QUERIES}
mkdir -p "$OUT"
if [ ! -e "$OUT/surrogate/checkpoint.json" ]; then
  node bin/rankshield.js train --dataset fashion --epochs 1 --max-batches 100 --seed 1 \
    --threads "$THREADS" --out "$OUT/surrogate" --overwrite --quiet --json | tail -1 > "$OUT/surrogate.train.json"
fi
for run in "$@"; do
  name=$(basename "$run")
  for budget in cheap standard; do
    if [ -s "$OUT/$name.$budget.time.json" ]; then echo "done before: $name $budget"; continue; fi
    # CPU seconds (user + system, bash's `time`) beside the wall time: they do not grow when other
    # work shares the cores.
    TIMEFORMAT='%R %U %S'
    { time node bin/rankshield.js swipe "$run" --robust-eval "$budget" --max-queries "$QUERIES" --transfer-from "$OUT/surrogate" \
      --threads "$THREADS" --quiet --json --out "$OUT/$name-$budget" 2> "$OUT/$name.$budget.err" | tail -1 > "$OUT/$name.$budget.json"; } 2> "$OUT/$name.$budget.times"
    read -r wall user system < "$OUT/$name.$budget.times"
    echo "{\"name\":\"$name\",\"budget\":\"$budget\",\"threads\":$THREADS,\"seconds\":$wall,\"cpuSeconds\":$(awk "BEGIN { print $user + $system }")}" > "$OUT/$name.$budget.time.json"
    echo "done: $name $budget ($(cat "$OUT/$name.$budget.time.json"))"
  done
done
node experiments/summarize-budgets.js "$OUT"

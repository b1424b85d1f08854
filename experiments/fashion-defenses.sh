#!/usr/bin/env bash
# Reproduce-and-rank on Fashion-MNIST / c2f2: N/A, EST, ACT[R], HM[S,g_LGA]&ICS,
# CA-TRIDE, AMD, SES, FreeAT[AMD] and HM + free, 8 code epochs each (free AT: 2
# epochs × 4 replays), then benign metrics and a rob28 swipe (ERS, ARS) per
# model; summary.md collects them.
#
#   experiments/fashion-defenses.sh [ETA]
#
#   ETA              training PGD steps η (default 32, as RobRank's Fashion table; CA-TRIDE uses min(η, 16))
#   MAX_BATCHES=N    stop each of the 8 epochs after N batches (default 0 = full epochs of 469 batches)
#   SWIPE_MAX_ITER=N attack only the first N query batches of 128 (default 0 = all 10,000 queries)
#   JOBS=N           defenses trained side by side, each on its share of the cores (default 1)
#   LAMBDAS="5 10"   extra CA-TRIDE runs at these λ beside the rule's (docs/methods.md §8.3's small sweep)
#   OUT=DIR          default runs/defenses-eta<ETA>[-b<MAX_BATCHES>][-q<SWIPE_MAX_ITER>]
#   ONLY="hm-ics catride"  train and swipe only these jobs (N/A always runs first: CA-TRIDE's λ reads it)
#   NONE_FROM=DIR    reuse the N/A checkpoint of another run with the same MAX_BATCHES (η does not
#                    touch N/A training, and training is seeded, so it is the same model); its swipe reruns
#   SEEDS="0 1 2"    train every model once per training seed (default "0"); seed 0 keeps the plain
#                    names (none, est, …), seed s the names none-s<s>, est-s<s>, …; summary.md then shows
#                    mean ± sd over the seeds beside each seed-0 swipe's per-query 95 % intervals
#
# CA-TRIDE's λ follows the project rule of docs/methods.md §8.3: the entanglement
# of the N/A model of this run, interpolated through the published points.
#
# Cost on 2 CPU cores: an undefended epoch takes ~150 s; an adversarial epoch
# costs about (η + 2)× that, i.e. ~1 h per epoch at η = 32, and a full rob28
# swipe ~1 h per model. The tables of docs/results.md come from the reduced runs
#   ETA=4 MAX_BATCHES=80 SWIPE_MAX_ITER=4 JOBS=2 experiments/fashion-defenses.sh
#   ETA=8 MAX_BATCHES=80 SWIPE_MAX_ITER=4 JOBS=2 NONE_FROM=runs/defenses-eta4-b80-q4 experiments/fashion-defenses.sh
#   ETA=16 MAX_BATCHES=80 SWIPE_MAX_ITER=4 JOBS=2 NONE_FROM=runs/defenses-eta4-b80-q4 experiments/fashion-defenses.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
ETA=${1:-${ETA:-32}}
MAX_BATCHES=${MAX_BATCHES:-0}
SWIPE_MAX_ITER=${SWIPE_MAX_ITER:-0}
JOBS=${JOBS:-1}
CORES=$(nproc)
THREADS=$(( CORES / JOBS > 0 ? CORES / JOBS : 1 ))
SUFFIX=""
[ "$MAX_BATCHES" != 0 ] && SUFFIX="$SUFFIX-b$MAX_BATCHES"
[ "$SWIPE_MAX_ITER" != 0 ] && SUFFIX="$SUFFIX-q$SWIPE_MAX_ITER"
OUT=${OUT:-runs/defenses-eta$ETA$SUFFIX}
mkdir -p "$OUT"
SEEDS=${SEEDS:-0}
SEEDS_JSON=$(printf '%s\n' $SEEDS | paste -sd, -)
echo "{\"eta\":$ETA,\"maxBatches\":$MAX_BATCHES,\"swipeMaxIter\":$SWIPE_MAX_ITER,\"jobs\":$JOBS,\"threads\":$THREADS,\"seeds\":[$SEEDS_JSON]}" > "$OUT/settings.json"
# A job's name for a training seed: the plain name for seed 0, <name>-s<seed> otherwise.
seeded() { if [ "$2" = 0 ]; then echo "$1"; else echo "$1-s$2"; fi; }

# One defense: train (resumable), then the swipe; wall times beside the results.
# A defense whose results are complete is skipped, so a rerun (e.g. with LAMBDAS) adds only what is new.
run() {
  local name=$1 threads=$2; shift 2
  if [ -s "$OUT/$name.time.json" ]; then echo "done before: $name"; return; fi
  local t0=$SECONDS
  local again=--overwrite  # a directory without a checkpoint holds nothing worth keeping
  [ -e "$OUT/$name/checkpoint.json" ] && again=--resume
  node bin/rankshield.js train "$@" --max-batches "$MAX_BATCHES" --eval-every 8 --threads "$threads" \
    --out "$OUT/$name" "$again" --quiet --json | tail -1 > "$OUT/$name.train.json"
  local t1=$SECONDS
  local swipe=(--profile rob28 --json --out "$OUT/$name/swipe-rob28")
  [ "$SWIPE_MAX_ITER" != 0 ] && swipe+=(--max-iter "$SWIPE_MAX_ITER")
  RANKSHIELD_THREADS=$threads node bin/rankshield.js swipe "$OUT/$name" "${swipe[@]}" 2>/dev/null | tail -1 > "$OUT/$name.swipe.json"
  echo "{\"name\":\"$name\",\"train_seconds\":$((t1 - t0)),\"swipe_seconds\":$((SECONDS - t1))}" > "$OUT/$name.time.json"
  echo "done: $name (train $((t1 - t0)) s, swipe $((SECONDS - t1)) s)"
}

# N/A first, on every core: CA-TRIDE's λ is read from its embedding space.
if [ -n "${NONE_FROM:-}" ] && [ ! -e "$OUT/none" ]; then
  cp -r "$NONE_FROM/none" "$OUT/none"
  rm -rf "$OUT/none/swipe-rob28"
  echo "{\"from\":\"$NONE_FROM\"}" > "$OUT/none.reused.json"
fi
for seed in $SEEDS; do run "$(seeded none "$seed")" "$CORES" fashion:rc2f2:ptripletN --seed "$seed"; done
RANKSHIELD_THREADS=$CORES node bin/rankshield.js eval "$OUT/none" --entanglement --json | tail -1 > "$OUT/none.entanglement.json"
LAMBDA=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).catrideLambda)' "$OUT/none.entanglement.json")
echo "CA-TRIDE λ from the N/A model's entanglement: $LAMBDA"

jobs_list=(
  "est fashion:rc2f2d:ptripletN --pgd-steps $ETA"
  "act fashion:rc2f2p:ptripletN --pgd-steps $ETA"
  "hm-ics fashion:rc2f2ghmetsmi:ptripletN --pgd-steps $ETA --skip-satisfied"
  "catride fashion:rc2f2p:pgtripletN --pgd-steps $((ETA < 16 ? ETA : 16)) --lambda $LAMBDA"
  "amd fashion:rc2f2amd:ptripletN --pgd-steps $ETA"
  "ses fashion:rc2f2e:ptripletN --pgd-steps $ETA"
  # Free AT replays each batch 4 times: 8/4 epochs make as many optimizer steps as the others' 8 (RobRank's rule).
  "free-amd fashion:rc2f2fatamd:ptripletN --epochs 2"
  "hm-free fashion:rc2f2:ptripletN --defense free --free-base hm --source softhard --destination lga --gradual-base semihard --ics 0.5 --epochs 2"
)
for l in ${LAMBDAS:-}; do
  jobs_list+=("catride-l$l fashion:rc2f2p:pgtripletN --pgd-steps $((ETA < 16 ? ETA : 16)) --lambda $l")
done
running=0
for seed in $SEEDS; do
  for job in "${jobs_list[@]}"; do
    if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" ${job%% *} "* ]]; then continue; fi
    # shellcheck disable=SC2086  # the job string is a word list by construction
    run "$(seeded ${job%% *} "$seed")" "$THREADS" ${job#* } --seed "$seed" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
  done
done
wait
node experiments/summarize.js "$OUT"

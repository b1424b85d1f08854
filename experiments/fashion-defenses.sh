#!/usr/bin/env bash
# Reproduce-and-rank on Fashion-MNIST / c2f2 (issue 6): N/A, EST, ACT[R],
# HM[S,g_LGA]&ICS and CA-TRIDE, 8 code epochs each, then benign metrics and a
# full rob28 swipe (ERS, ARS) per model. Results land in runs/defenses/<name>/.
#
#   experiments/fashion-defenses.sh [ETA]      ETA = training PGD steps (default 32, as RobRank's Fashion table)
#
# Cost on 2 CPU cores: an undefended epoch takes ~100 s; an adversarial epoch
# costs about (η + 2)× that (η PGD forward/backward passes per step), i.e.
# ~1 h per epoch at η = 32. Set ETA=4 or 8 for a run that fits an afternoon.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
ETA=${1:-32}
OUT=runs/defenses-eta$ETA
run() {
  local name=$1; shift
  local t0=$SECONDS
  node bin/rankshield.js train "$@" --out "$OUT/$name" --resume --quiet --json | tail -1 > "$OUT/$name.train.json"
  echo "{\"name\":\"$name\",\"train_seconds\":$((SECONDS - t0))}" > "$OUT/$name.time.json"
  node bin/rankshield.js swipe "$OUT/$name" --profile rob28 --json | tail -1 > "$OUT/$name.swipe.json"
}
mkdir -p "$OUT"
run none     fashion:rc2f2:ptripletN
run est      fashion:rc2f2d:ptripletN --pgd-steps "$ETA"
run act      fashion:rc2f2p:ptripletN --pgd-steps "$ETA"
run hm-ics   fashion:rc2f2ghmetsmi:ptripletN --pgd-steps "$ETA" --skip-satisfied
run catride  fashion:rc2f2p:pgtripletN --pgd-steps "$((ETA < 16 ? ETA : 16))"
node experiments/summarize.js "$OUT"

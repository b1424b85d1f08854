#!/usr/bin/env bash
# Fashion-MNIST / c2f2 (issue 23): N/A, ACT and HM[S,g_LGA]&ICS, each trained with
# the triplet, contrastive, margin and multi-similarity losses (metric N), then
# benign metrics and a rob28 swipe (ERS) per model; losses.md collects the table.
#
#   experiments/fashion-losses.sh
#
#   ETA=N            training PGD steps η (default 4, the reduced defense table of docs/results.md)
#   EPOCHS=N         code epochs (default 8)
#   MAX_BATCHES=N    stop each epoch after N batches (default 80, as the defense table of docs/results.md)
#   SWIPE_MAX_ITER=N attack only the first N query batches of 128 (default 4)
#   OUT=DIR          default runs/losses-eta<ETA>-e<EPOCHS>-b<MAX_BATCHES>-q<SWIPE_MAX_ITER>
#   DEFENSES="..."   a subset of "none act hm" (default all); LOSSES="..." likewise: two instances with
#                    disjoint subsets and the same OUT share the cores; a last plain run writes the table
#   REUSE_FROM=DIR   a run of experiments/fashion-defenses.sh at the same budget: its none, act and
#                    hm-ics checkpoints are the triplet cells when `train --resume` accepts them
#                    (the same config, so the same seeded model); their swipes are rerun here
#   SEEDS="0 1 2"    train every cell once per training seed (default "0"; seed s > 0 names the cell
#                    <defense>-<loss>-s<s>); the table then adds ERS mean ± sd over the seeds
#
# The margin loss trains in RobRank's form (--loss-form robrank, the form of RobRank's pmarginN), the
# form the README's margin column was measured with; FORMS="margin=published" (space-separated
# loss=form pairs) trains another form.
#
# Refused cells are recorded, not run: ACT and HM perturb mined triplets and refuse
# multi-similarity (a loss on the whole batch), and HM's gradual destination (g_LGA)
# is a function of the triplet loss, so HM[S,g_LGA] refuses every other loss; the
# refusal message comes from the defense entry (rankshield train says it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
ETA=${ETA:-4}
EPOCHS=${EPOCHS:-8}
MAX_BATCHES=${MAX_BATCHES:-80}
SWIPE_MAX_ITER=${SWIPE_MAX_ITER:-4}
THREADS=${RANKSHIELD_THREADS:-$(nproc)}
OUT=${OUT:-runs/losses-eta$ETA-e$EPOCHS-b$MAX_BATCHES-q$SWIPE_MAX_ITER}
mkdir -p "$OUT"
echo "{\"eta\":$ETA,\"epochs\":$EPOCHS,\"maxBatches\":$MAX_BATCHES,\"swipeMaxIter\":$SWIPE_MAX_ITER,\"threads\":$THREADS}" > "$OUT/settings.json"

# One cell: train, then the swipe; a refused combination writes the reason instead.
run() {
  local name=$1; shift
  if [ -s "$OUT/$name.swipe.json" ] || [ -s "$OUT/$name.refused.txt" ]; then echo "done before: $name"; return; fi
  local again=--overwrite from=${REUSE[$name]:-}
  # A twin still training (fashion-defenses.sh running beside this) is waited for, not trained twice.
  while [ -n "${REUSE_FROM:-}" ] && [ -n "$from" ] && [ -d "$REUSE_FROM/$from" ] && [ ! -s "$REUSE_FROM/$from.train.json" ]; do sleep 30; done
  if [ -n "${REUSE_FROM:-}" ] && [ -n "$from" ] && [ -s "$REUSE_FROM/$from.train.json" ]; then
    rm -rf "${OUT:?}/$name" && cp -r "$REUSE_FROM/$from" "$OUT/$name" && rm -rf "$OUT/$name/swipe-rob28"
    again=--resume
  fi
  if [ "$again" = --resume ] && ! node bin/rankshield.js train "$@" --epochs "$EPOCHS" --max-batches "$MAX_BATCHES" --eval-every "$EPOCHS" \
      --threads "$THREADS" --out "$OUT/$name" --resume --quiet --json 2> "$OUT/$name.train.err" | tail -1 > "$OUT/$name.train.json"; then
    echo "not reused ($REUSE_FROM/$from has another config): $name"; again=--overwrite
  elif [ "$again" = --resume ]; then
    echo "{\"from\":\"$REUSE_FROM/$from\"}" > "$OUT/$name.reused.json"
  fi
  if [ "$again" = --overwrite ] && ! node bin/rankshield.js train "$@" --epochs "$EPOCHS" --max-batches "$MAX_BATCHES" --eval-every "$EPOCHS" --threads "$THREADS" \
      --out "$OUT/$name" --overwrite --quiet --json 2> "$OUT/$name.train.err" | tail -1 > "$OUT/$name.train.json"; then
    if grep -q "refuse\|not defined\|is computed on the whole batch\|has no meaning" "$OUT/$name.train.err"; then
      grep -m1 "^rankshield train:" "$OUT/$name.train.err" | sed "s/^rankshield train: //" > "$OUT/$name.refused.txt"; rm -f "$OUT/$name.train.json"; echo "refused: $name"; return
    fi
    cat "$OUT/$name.train.err" >&2; exit 1
  fi
  local swipe=(--profile rob28 --json --out "$OUT/$name/swipe-rob28")
  [ "$SWIPE_MAX_ITER" != 0 ] && swipe+=(--max-iter "$SWIPE_MAX_ITER")
  RANKSHIELD_THREADS=$THREADS node bin/rankshield.js swipe "$OUT/$name" "${swipe[@]}" 2>/dev/null | tail -1 > "$OUT/$name.swipe.json"
  echo "done: $name"
}

# The triplet cells' twins in a fashion-defenses.sh run (REUSE_FROM).
declare -A REUSE=([none-triplet]=none [act-triplet]=act [hm-triplet]=hm-ics)
LOSSES=${LOSSES:-"triplet contrastive margin multi-similarity"}
declare -A FORM=([margin]=robrank)
for pair in ${FORMS:-}; do FORM[${pair%%=*}]=${pair#*=}; done
# --loss and, for a loss with forms, --loss-form
lossArgs() { echo "--loss $1${FORM[$1]:+ --loss-form ${FORM[$1]}}"; }
DEFENSES=${DEFENSES:-"none act hm"}
SEEDS=${SEEDS:-0}
for seed in $SEEDS; do
  tag=""; [ "$seed" != 0 ] && tag="-s$seed"
  for defense in $DEFENSES; do
    for loss in $LOSSES; do
      case $defense in
        none) run "$defense-$loss$tag" --dataset fashion $(lossArgs "$loss") --seed "$seed" ;;
        act) run "$defense-$loss$tag" --dataset fashion $(lossArgs "$loss") --defense act --pgd-steps "$ETA" --seed "$seed" ;;
        hm) run "$defense-$loss$tag" --dataset fashion $(lossArgs "$loss") --defense hm --source softhard --destination lga --gradual-base semihard --ics 0.5 --skip-satisfied --pgd-steps "$ETA" --seed "$seed" ;;
      esac
    done
  done
done

# The table: benign R@1 / mAP (%) and rob28 ERS per cell.
node -e '
const fs = require("fs"), path = require("path");
const [dir, losses, defenses, seeds] = [process.argv[1], process.argv[2].split(" "), process.argv[3].split(" "), process.argv[5].split(" ").filter((x) => x !== "")];
const forms = Object.fromEntries((process.argv[4] || "").trim().split(" ").filter(Boolean).map((p) => p.split("=")));
const label = (l) => (forms[l] ? `${l} (${forms[l]} form)` : l);
const names = { none: "N/A", act: "ACT", hm: "HM[S,g_LGA]&ICS" };
const read = (f) => { try { return JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")); } catch { return undefined; } };
const cell = (d, l) => {
  if (fs.existsSync(path.join(dir, `${d}-${l}.refused.txt`))) return "refused";
  const t = read(`${d}-${l}.train.json`), s = read(`${d}-${l}.swipe.json`);
  if (t === undefined) return "not run";
  const r = (100 * t["R@1"]).toFixed(1), m = (100 * t.mAP).toFixed(1);
  const ci = s && s.intervals && s.intervals.ERS ? ` [${s.intervals.ERS.lo.toFixed(1)}, ${s.intervals.ERS.hi.toFixed(1)}]` : "";
  return `${r} / ${m} / ${s && typeof s.ERS === "number" ? s.ERS.toFixed(1) + ci : "–"}${seeds.length > 1 ? ` (ERS over seeds ${spread(d, l)})` : ""}`;
};
// ERS mean ± sample sd over the training seeds whose swipe finished, with their count.
function spread(d, l) {
  const v = seeds.map((k) => read(`${d}-${l}${k === "0" ? "" : `-s${k}`}.swipe.json`)).filter((s) => s && typeof s.ERS === "number").map((s) => s.ERS);
  if (v.length === 0) return "–";
  const mean = v.reduce((a, x) => a + x, 0) / v.length;
  const sd = v.length > 1 ? Math.sqrt(v.reduce((a, x) => a + (x - mean) ** 2, 0) / (v.length - 1)) : NaN;
  return `${mean.toFixed(1)} ± ${Number.isNaN(sd) ? "–" : sd.toFixed(1)}, n = ${v.length}`;
}
const rows = [`| defense | ${losses.map(label).join(" | ")} |`, `| --- | ${losses.map(() => "---").join(" | ")} |`, ...defenses.map((d) => `| ${names[d]} | ${losses.map((l) => cell(d, l)).join(" | ")} |`)];
const refusals = defenses.flatMap((d) => losses.flatMap((l) => { const f = path.join(dir, `${d}-${l}.refused.txt`); return fs.existsSync(f) ? [`- ${names[d]} × ${l}: ${fs.readFileSync(f, "utf8").trim()}`] : []; }));
const reused = defenses.flatMap((d) => losses.flatMap((l) => { const r = read(`${d}-${l}.reused.json`); return r ? [`- ${names[d]} × ${l}: the checkpoint of ${r.from} (the same config; train --resume accepted it), swiped here`] : []; }));
const out = ["Cells: benign R@1 / mAP (%) / rob28 ERS [per-query 95 % interval of the seed-0 swipe]" + (seeds.length > 1 ? " (mean ± sd of ERS over the training seeds " + seeds.join(", ") + ")" : "") + ". Settings: " + fs.readFileSync(path.join(dir, "settings.json"), "utf8").trim(), "", ...rows, "", ...refusals, ...reused, ""].join("\n");
fs.writeFileSync(path.join(dir, "losses.md"), out);
process.stdout.write(out);
' "$OUT" "$LOSSES" "$DEFENSES" "$(for l in $LOSSES; do [ -n "${FORM[$l]:-}" ] && echo -n "$l=${FORM[$l]} "; done)" "$SEEDS"

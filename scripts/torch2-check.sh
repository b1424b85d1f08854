#!/usr/bin/env bash
# The PyTorch 2.x check (not part of `npm test` or CI; it downloads a few GB once):
#
#   bash scripts/torch2-check.sh [--torch VERSION]... [--suites "NAME ..."] [--bench] [--no-parity]
#
# For each VERSION (default: the newest torch that `pip index versions torch` lists for this
# Python) it
#   1. installs torch==VERSION from PyPI with pip into a venv of its own,
#      ${XDG_CACHE_HOME:-~/.cache}/rankshield/torch2-venv-VERSION (the wheel is a CUDA build: it
#      pulls the nvidia-* packages; CUDA 13's split packages leave cuda_runtime_api.h's crt/
#      headers to nvidia-cuda-crt and cuda_fp16.h's nv/target to nvidia-cuda-cccl, which are added
#      at the runtime's CUDA major.minor when native/libtorch.js reports them missing);
#   2. builds the addon against it with scripts/build-addon.sh into .../torch2-build-VERSION,
#      every flag from native/libtorch.js (C++ standard, ABI from torch, CUDA headers, NCCL,
#      Gloo); the default build in native/build (Debian's 1.13) is not touched;
#   3. runs `rankshield info`, the suites (default: tensor nn attack defense checkpoint
#      torchscript; autograd is tested inside tensor, nn and attack) against that build,
#      and checks that `--device cuda` is refused with its message on a machine without a GPU;
#   4. parity: the same short training (1 epoch of 10 SPC-2 batches, seed 0), its evaluation
#      and a rob28 swipe of its first query batch on 1.13 and on VERSION, numbers side by side;
#   5. with --bench: bench engine and bench swipe (1 thread) with rankshield on 1.13 and on
#      VERSION, both against the venv's PyTorch VERSION.
# Results: .../torch2-check-VERSION/result.json (also the last line of stdout), one step at a time.
# The Python that makes the venvs: TORCH2_PYTHON (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
cache=${XDG_CACHE_HOME:-$HOME/.cache}/rankshield
base_python=${TORCH2_PYTHON:-python3}
versions=()
suites=(tensor nn attack defense checkpoint torchscript)
bench=0
parity=1
while (($#)); do
  case $1 in
    --torch) versions+=("$2"); shift 2 ;;
    --suites) read -r -a suites <<<"$2"; shift 2 ;;
    --bench) bench=1; shift ;;
    --no-parity) parity=0; shift ;;
    *) echo "torch2-check: unknown argument $1 (--torch VERSION, --suites \"...\", --bench, --no-parity)" >&2; exit 2 ;;
  esac
done
export RANKSHIELD_THREADS=${RANKSHIELD_THREADS:-1}

bash scripts/setup.sh >&2   # the default build (Debian's 1.13) and dist/, as always
default_addon=$repo/native/build/Release/rankshield_native.node
if ((${#versions[@]} == 0)); then
  newest=$("$base_python" -m pip index versions torch 2>/dev/null | sed -n 's/^torch (\(.*\))$/\1/p')
  [[ -n $newest ]] || { echo "torch2-check: \`$base_python -m pip index versions torch\` listed nothing (no network?)" >&2; exit 1; }
  versions=("$newest")
fi

json() { node -e "$1" "${@:2}"; }   # small JSON helpers in Node (no jq needed)

# parity_run ADDON DIR: the short training, its evaluation and a one-batch rob28 swipe; writes DIR/parity.json.
parity_run() {
  local addon=$1 dir=$2
  mkdir -p "$dir"
  RANKSHIELD_ADDON=$addon node bin/rankshield.js train fashion:rc2f2:ptripletN --epochs 1 --max-batches 10 --seed 0 \
    --out "$dir/run" --overwrite --json >"$dir/train.out" 2>"$dir/train.err"
  RANKSHIELD_ADDON=$addon node bin/rankshield.js swipe "$dir/run" --profile rob28 --max-iter 1 --json --quiet >"$dir/swipe.out" 2>"$dir/swipe.err"
  json '
    const fs = require("fs"), dir = process.argv[1];
    const last = (f) => JSON.parse(fs.readFileSync(f, "utf8").trim().split("\n").pop());
    const losses = fs.readFileSync(dir + "/run/log.jsonl", "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((e) => e.event === "step").map((e) => e.loss);
    const sha = require("crypto").createHash("sha256").update(fs.readFileSync(dir + "/run/model.safetensors")).digest("hex");
    fs.writeFileSync(dir + "/parity.json", JSON.stringify({ train: last(dir + "/train.out"), swipe: last(dir + "/swipe.out"), losses, modelSha256: sha }));
  ' "$dir"
}

for v in "${versions[@]}"; do
  venv=$cache/torch2-venv-$v
  build=$cache/torch2-build-$v
  out=$cache/torch2-check-$v
  mkdir -p "$out"
  steps=$out/steps.jsonl
  : >"$steps"
  result() { # writes result.json from the steps so far (partial results survive a failure)
    json 'const fs=require("fs");const s=fs.readFileSync(process.argv[1],"utf8").trim().split("\n").filter(Boolean).map(JSON.parse);
          fs.writeFileSync(process.argv[2],JSON.stringify({torch2Check:1,torch:process.argv[3],ok:s.length>0&&s.every(x=>x.ok),steps:s})+"\n")' "$steps" "$out/result.json" "$v"
  }
  record() { # record NAME OK SECONDS DETAIL-JSON
    printf '{"step":"%s","ok":%s,"seconds":%d,"detail":%s}\n' "$1" "$2" "$3" "$4" >>"$steps"
    result
  }
  t0=$SECONDS
  echo "torch2-check: torch $v: venv $venv" >&2
  if ! "$venv/bin/python" -c "import torch,sys; sys.exit(torch.__version__.split('+')[0] != '$v')" 2>/dev/null; then
    [[ -x $venv/bin/python ]] || "$base_python" -m venv "$venv"
    "$venv/bin/pip" install -q --progress-bar off "torch==$v" numpy >&2
  fi
  # CUDA headers that the wheel's dependencies lack (libtorch.js names them).
  missing=$(cd native && RANKSHIELD_LIBTORCH=python PYTHON=$venv/bin/python node libtorch.js json | json 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log((JSON.parse(s).cudaMissing??[]).join(" ")))')
  added=""
  rt=$("$venv/bin/pip" show nvidia-cuda-runtime 2>/dev/null | sed -n 's/^Version: //p')
  mm=$(echo "$rt" | cut -d. -f1,2)   # the runtime's CUDA major.minor (its exact build is not always published)
  for need in "crt/host_defines.h nvidia-cuda-crt" "nv/target nvidia-cuda-cccl"; do
    read -r header package <<<"$need"
    if [[ " $missing " == *" $header "* && -n $rt ]]; then
      echo "torch2-check: the wheel's dependencies lack $header (nvidia-cuda-runtime $rt): adding $package==$mm.*" >&2
      "$venv/bin/pip" install -q --progress-bar off "$package==$mm.*" >&2
      added+="$package==$("$venv/bin/pip" show "$package" | sed -n 's/^Version: //p') "
    fi
  done
  pkgs=$("$venv/bin/pip" list --format=json 2>/dev/null | json 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.stringify(Object.fromEntries(JSON.parse(s).filter(p=>/^(torch|nvidia-)/.test(p.name)).map(p=>[p.name,p.version])))))')
  record install true $((SECONDS - t0)) "{\"missingCudaHeaders\":\"$missing\",\"added\":\"$added\",\"packages\":$pkgs}"

  t0=$SECONDS
  if RANKSHIELD_LIBTORCH=python PYTHON=$venv/bin/python bash scripts/build-addon.sh "$build" >"$out/build.log" 2>&1; then
    record build true $((SECONDS - t0)) "$(cat "$build/libtorch.json")"
  else
    record build false $((SECONDS - t0)) "$(tail -5 "$out/build.log" | json 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.stringify(s.trim())))')"
    cat "$out/result.json"; continue
  fi
  addon=$build/Release/rankshield_native.node

  t0=$SECONDS
  info=$(RANKSHIELD_ADDON=$addon node bin/rankshield.js info --json)
  record info true $((SECONDS - t0)) "$info"

  t0=$SECONDS
  ok=true
  RANKSHIELD_ADDON=$addon node scripts/test.js "${suites[@]}" >"$out/suites.log" 2>&1 || ok=false
  counts=$(grep -E '^# (tests|pass|fail|skipped|todo) ' "$out/suites.log" | json 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const o={};for(const l of s.trim().split("\n")){const m=/^# (\w+) (\d+)/.exec(l);if(m)o[m[1]]=+m[2]}o.failed=(require("fs").readFileSync(process.argv[1],"utf8").match(/^not ok .*/gm)??[]);console.log(JSON.stringify(o))})' "$out/suites.log")
  record suites $ok $((SECONDS - t0)) "{\"suites\":\"${suites[*]}\",\"counts\":$counts}"

  t0=$SECONDS
  set +e
  msg=$(RANKSHIELD_ADDON=$addon node bin/rankshield.js train fashion:rc2f2:ptripletN --device cuda --out "$out/cuda-run" --overwrite 2>&1)
  rc=$?
  set -e
  gpus=$(echo "$info" | json 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).cuda.devices.length))')
  ok=false
  if ((gpus == 0)); then [[ $rc == 2 && $msg == *"no CUDA device is visible"* ]] && ok=true; else ok=skipped-gpu-present; fi
  [[ $ok == skipped-gpu-present ]] && ok=true
  record cuda-refused $ok $((SECONDS - t0)) "$(printf '%s' "exit $rc: ${msg%%$'\n'*}" | json 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.stringify(s)))')"

  if ((parity)); then
    t0=$SECONDS
    ref=$cache/torch2-parity-1.13
    if [[ ! -f $ref/parity.json || $ref/parity.json -ot $default_addon ]]; then parity_run "$default_addon" "$ref"; fi
    parity_run "$addon" "$out/parity"
    cmp=$(json '
      const fs = require("fs");
      const a = JSON.parse(fs.readFileSync(process.argv[1], "utf8")), b = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
      const nums = (o, p = "") => Object.entries(o).flatMap(([k, v]) => typeof v === "number" ? [[p + k, v]] : v && typeof v === "object" && !Array.isArray(v) ? nums(v, p + k + ".") : []);
      const A = Object.fromEntries([...nums(a.train, "train."), ...nums(a.swipe, "swipe.")]), B = Object.fromEntries([...nums(b.train, "train."), ...nums(b.swipe, "swipe.")]);
      const rows = Object.keys(A).filter((k) => k in B && !/seconds|_s$|Seconds|time/i.test(k)).map((k) => ({ key: k, v113: A[k], v2: B[k], diff: +(B[k] - A[k]).toPrecision(3) }));
      const loss = a.losses.map((l, i) => Math.abs(l - b.losses[i]));
      console.log(JSON.stringify({ sameWeights: a.modelSha256 === b.modelSha256, firstLoss: [a.losses[0], b.losses[0]], maxLossDiff: Math.max(...loss), rows }));
    ' "$ref/parity.json" "$out/parity/parity.json")
    record parity true $((SECONDS - t0)) "$cmp"
  fi

  if ((bench)); then
    for b in "engine --threads 1" "swipe --threads 1 --batches 1"; do
      for side in 1.13 "$v"; do
        t0=$SECONDS
        a=$default_addon; [[ $side != 1.13 ]] && a=$addon
        name="bench-${b%% *}-rankshield-$side"
        # shellcheck disable=SC2086  # $b is a word list
        if line=$(RANKSHIELD_ADDON=$a node bin/rankshield.js bench $b --python "$venv/bin/python" 2>"$out/$name.err" | tail -1); then
          record "$name" true $((SECONDS - t0)) "$line"
        else
          record "$name" false $((SECONDS - t0)) "\"$(tail -1 "$out/$name.err" | tr -d '"\\')\""
        fi
      done
    done
  fi
  cat "$out/result.json"
done

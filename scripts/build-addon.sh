#!/usr/bin/env bash
# Builds the native addon with g++ directly (no node-gyp), into a build folder
# of its own, with exactly the flags native/libtorch.js detects for the libtorch
# RANKSHIELD_LIBTORCH chooses (the same lists binding.gyp asks for):
#
#   RANKSHIELD_LIBTORCH=python PYTHON=venv/bin/python bash scripts/build-addon.sh DIR
#
# writes DIR/Release/rankshield_native.node and DIR/libtorch.json (what it was built against);
# run rankshield with RANKSHIELD_ADDON=DIR/Release/rankshield_native.node to use it. The default
# build (native/build, made by scripts/setup.sh) is left alone. Used by scripts/torch2-check.sh and
# scripts/gpu-check.sh. Node's headers: RANKSHIELD_NODEDIR, else /usr (Debian), else beside `node`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out=${1:?usage: build-addon.sh DIR}
mkdir -p "$out/Release"
out=$(cd "$out" && pwd)

nodedir=${RANKSHIELD_NODEDIR:-}
if [[ -z $nodedir ]]; then
  for d in /usr "$(dirname "$(dirname "$(command -v node)")")"; do
    [[ -f $d/include/node/node_api.h ]] && { nodedir=$d; break; }
  done
fi
[[ -n $nodedir && -f $nodedir/include/node/node_api.h ]] || { echo "build-addon: no Node headers (include/node/node_api.h) under /usr or beside node; set RANKSHIELD_NODEDIR" >&2; exit 1; }
napi=$(cd "$root" && node -p "require('path').resolve(require('node-addon-api').include_dir)")

cd "$root/native"
all=$(node libtorch.js all)   # one detection: every list, and the description
lines() { node -e 'for (const x of JSON.parse(process.argv[1])[process.argv[2]]) console.log(x)' "$all" "$1"; }
torch=$(node -e 'console.log(JSON.stringify(JSON.parse(process.argv[1]).libtorch))' "$all")
mapfile -t incs < <(lines include_dirs)
mapfile -t defs < <(lines defines)
mapfile -t cflags < <(lines cflags)
mapfile -t libs < <(lines libraries)
echo "build-addon: $(node -e 'const d=JSON.parse(process.argv[1]);console.log(`libtorch ${d.version} (${d.root ?? "Debian"}), ${d.cxxStd}, ABI ${d.abi} (${d.abiSource}), cuda ${d.cuda}, nccl ${d.nccl}, gloo ${d.gloo}`)' "$torch")" >&2
g++ -shared -fPIC -O2 "${cflags[@]}" -fexceptions -frtti -Wno-unused-parameter \
  -DNAPI_CPP_EXCEPTIONS -DNAPI_VERSION=8 -DBUILDING_NODE_EXTENSION \
  -I"$nodedir/include/node" -I"$napi" "${incs[@]/#/-I}" "${defs[@]/#/-D}" \
  src/bridge.cc -o "$out/Release/rankshield_native.node.tmp" "${libs[@]}"
mv "$out/Release/rankshield_native.node.tmp" "$out/Release/rankshield_native.node"
echo "$torch" >"$out/libtorch.json"
echo "$out/Release/rankshield_native.node"

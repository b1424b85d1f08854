#!/usr/bin/env bash
# Idempotent set-up on Debian: system packages, npm dependencies, the native
# addon and the TypeScript build. Each step runs only when something is missing
# or stale, so `npm test` / `npm run demo` can call it every time.
#   scripts/setup.sh            everything needed to run and test
#   scripts/setup.sh --bench    also python3-torch (the PyTorch side of benchmarks)
#   scripts/setup.sh --test     also chromium (the explorer page's browser test drives Debian's Chromium),
#                               python3-torch (its torchrun starts the launcher tests' ranks) and
#                               iproute2 (ip: the cut-link test's network namespaces)
set -euo pipefail
cd "$(dirname "$0")/.."

# libgloo-dev: the headers of c10d's Gloo backend (the library itself is inside libtorch).
want=(libtorch-dev libopenblas0-pthread libgloo-dev)
[[ "${1:-}" == "--bench" ]] && want+=(python3-torch)
[[ "${1:-}" == "--test" ]] && want+=(chromium python3-torch iproute2)

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# npm ci when node_modules is absent or older than the lockfile.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi

# The addon: rebuild when missing or older than its sources. --nodedir=/usr uses
# Debian's Node headers (node-gyp would otherwise try to download them).
# The libtorch it builds against is RANKSHIELD_LIBTORCH's (see native/libtorch.js); a different
# choice than the last build's also triggers a rebuild.
addon=native/build/Release/rankshield_native.node
stamp=native/build/libtorch.json
want_torch=$(cd native && node libtorch.js json)
if [[ ! -f $addon || native/src/bridge.cc -nt $addon || native/binding.gyp -nt $addon || native/libtorch.js -nt $addon \
      || "$(cat "$stamp" 2>/dev/null)" != "$want_torch" ]]; then
  echo "setup: building the native addon (about 40 s of compiling)"
  npx --no-install node-gyp rebuild --nodedir="${RANKSHIELD_NODEDIR:-/usr}" --directory native >native-build.log 2>&1 || {
    tail -40 native-build.log
    echo "setup: native build failed (full log: native-build.log)" >&2
    exit 1
  }
  echo "$want_torch" >"$stamp"
fi

npx --no-install tsc -p tsconfig.json
# The explorer page (browser modules, DOM types) reads the declarations the line above wrote.
npx --no-install tsc -p src/web/tsconfig.json

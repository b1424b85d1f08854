#!/usr/bin/env node
// The package's npm `install` step: builds the native addon (native/, C++
// against libtorch) with node-gyp, a dependency of the package. Needs a C++
// compiler and libtorch: on Debian `apt-get install g++ make libtorch-dev
// libopenblas0-pthread` (native/libtorch.js explains RANKSHIELD_LIBTORCH for
// other libtorch trees).
//
// A checkout of the repository is left alone: scripts/setup.sh builds its
// addon (and installs the Debian packages), only when the sources changed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
if (!root.split(path.sep).includes('node_modules')) {
  console.log('rankshield: a checkout builds its native addon with scripts/setup.sh (npm test and npm run demo call it)');
  process.exit(0);
}

/**
 * Node's C headers: node-gyp would download them, which fails offline, so use
 * the ones installed with Node (Debian: /usr/include/node; a tarball or nvm
 * install: <prefix>/include/node). RANKSHIELD_NODEDIR overrides, as in setup.sh.
 */
function nodeDir() {
  if (process.env.RANKSHIELD_NODEDIR) return process.env.RANKSHIELD_NODEDIR;
  const candidates = ['/usr', path.resolve(path.dirname(process.execPath), '..')];
  return candidates.find((d) => existsSync(path.join(d, 'include', 'node', 'node_api.h'))) ?? null;
}

function run(args, what) {
  const r = spawnSync(process.execPath, args, { cwd: path.join(root, 'native'), stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`rankshield: ${what} failed (exit ${r.status ?? r.signal}); the library cannot load without its native addon.`);
    process.exit(1);
  }
}

// Which libtorch, or a clear message that there is none, before a long compile.
run(['libtorch.js', 'json'], 'finding libtorch (install libtorch-dev, or set RANKSHIELD_LIBTORCH)');
const dir = nodeDir();
if (dir === null) console.warn('rankshield: no Node headers found next to this Node; node-gyp will try to download them');
const nodeGyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
console.log('rankshield: building the native addon against libtorch (about 40 s of compiling)');
run([nodeGyp, 'rebuild', ...(dir === null ? [] : [`--nodedir=${dir}`])], 'building the native addon');

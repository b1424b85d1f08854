#!/usr/bin/env node
// Runs the compiled node:test suites (dist/test/*.test.js). Each file is its own
// process; two at a time matches the 2-core CI machine, and every suite pins
// libtorch to 1 thread. The two tiers are defined here and nowhere else:
//
//   node scripts/test.js            the fast tier (`npm test`): every suite except the SLOW ones
//                                   (a change to the CLI's flags or to the service: add `catalogue serve`)
//   node scripts/test.js --all      every suite (`npm run test:all`, what CI runs)
//   node scripts/test.js NAME…      the suites whose file names contain a NAME (any tier)
//   node scripts/test.js --list     the tiers, one suite a line
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

/** The suites only `--all` runs, each with why it is slow or needs more than the fast tier installs. */
export const SLOW = {
  explorer: 'drives the explorer page in a real headless Chromium (scripts/setup.sh --test installs it)',
  package: 'npm pack, then npm install of the tarball in an empty project (builds the addon again)',
  fuzz: 'the parser fuzzer for 20 s',
  soak: '2,000 training steps watching RSS',
  'train-kill': 'training killed with SIGKILL at random points, in child processes',
  distributed: 'c10d ranks as child processes over loopback',
  launchers: "Debian's torchrun (scripts/setup.sh --test) restarting ranks killed mid-run; two ranks from srun's variables",
  'cut-link': 'two network namespaces joined by a veth pair, the link cut mid-epoch (root and iproute2: scripts/setup.sh --test)',
  // End to end through child processes, and the two longest suites: with them the fast tier measured
  // 11.5 min on the shared 2-core machine (9.5 min of CPU), without them it fits in 5 minutes.
  catalogue: "every command's flags through the CLI, configs rerun, the photo datasets trained end to end (ResNet-18)",
  serve: 'a real server and its worker processes over loopback HTTP',
  'attack-seeds': 'two swipes of every attack in child processes, one with the catalogue reversed (byte-identical JSON)',
  'certify-attack': 'APGD-L2 with restarts and EOT against every certified query of a Gaussian-trained c2f2 (the certificate never broken)',
  compare: 'three models trained and swiped through the CLI on a Fashion-MNIST slice, compared and refused',
  'reproduce-smoke': '`reproduce fashion` (N/A and ACT rows) at smoke scale end to end, then again reusing the runs',
  'robust-eval': 'three robust evaluations (nine attacks × PGD, APGD, Square, transfer, ε sweep) on real c2f2 models',
};

const dir = path.join(process.cwd(), 'dist', 'test');
const argv = process.argv.slice(2);
const all = argv.includes('--all');
const list = argv.includes('--list');
const names = argv.filter((a) => !a.startsWith('--'));
const unknown = argv.filter((a) => a.startsWith('--') && a !== '--all' && a !== '--list');
if (unknown.length > 0) {
  console.error(`scripts/test.js: unknown option ${unknown.join(' ')} (--all, --list, or suite names)`);
  process.exit(2);
}

const suite = (f) => f.replace(/\.test\.js$/, '');
const slow = (f) => Object.hasOwn(SLOW, suite(f));
const every = readdirSync(dir)
  .filter((f) => f.endsWith('.test.js'))
  .sort();
for (const s of Object.keys(SLOW)) {
  if (!every.includes(`${s}.test.js`)) {
    console.error(`scripts/test.js: SLOW names ${s}, but dist/test/${s}.test.js does not exist`);
    process.exit(2);
  }
}
if (list) {
  for (const f of every) console.log(`${slow(f) ? 'all ' : 'fast'}  ${suite(f)}${slow(f) ? `  (${SLOW[suite(f)]})` : ''}`);
  process.exit(0);
}
const chosen = every.filter((f) => (names.length > 0 ? names.some((n) => f.includes(n)) : all || !slow(f)));
if (chosen.length === 0) {
  console.error(`scripts/test.js: no suite matches ${names.join(' ')}`);
  process.exit(2);
}
const t0 = Date.now();
// The formatter and linter (Biome, biome.json) gate both tiers: a second, and it names the file and line.
if (names.length === 0) {
  const lint = spawnSync(path.join('node_modules', '.bin', 'biome'), ['ci', '.'], { stdio: 'inherit' });
  if (lint.status !== 0) {
    console.error('scripts/test.js: biome ci failed (npm run format fixes formatting; see CONTRIBUTING.md)');
    process.exit(lint.status ?? 1);
  }
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...chosen.map((f) => path.join(dir, f))], {
  stdio: 'inherit',
  env: { ...process.env, RANKSHIELD_THREADS: process.env.RANKSHIELD_THREADS ?? '1' },
});
const tier = names.length > 0 ? names.join(' ') : all ? 'all suites' : 'fast tier';
console.error(`scripts/test.js: ${tier}: ${chosen.length} suite(s) in ${((Date.now() - t0) / 1000).toFixed(0)} s, exit ${r.status ?? r.signal}`);
process.exit(r.status ?? 1);

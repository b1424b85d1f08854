// The npm package as a user gets it: `npm pack` carries what users need and
// nothing else, `npm install` of the tarball in an empty project builds the
// native addon, and a strict TypeScript consumer — the first example of
// docs/api.md — type-checks against the shipped declarations and runs: it loads
// a checkpoint, embeds the test split and attacks one batch. Needs the npm
// registry for the dependencies (npm's cache is preferred) and libtorch-dev;
// about two minutes on two cores, most of it compiling the addon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { manualSeed } from '../src/tensor/index.js';
import { Adam } from '../src/optim/index.js';
import { createModel } from '../src/run/model-factory.js';
import { saveCheckpoint } from '../src/run/commit.js';
import { defaultConfig } from '../src/run/config.js';
import { CONSUMER_TSCONFIG, ROOT, tsBlocks, tsc } from './helpers/consumer.js';

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: { path: string }[];
}

/** npm with the environment of a user's shell: no lifecycle variables of the `npm test` that runs us. */
function npm(args: string[], cwd: string, timeoutMs: number): SpawnSyncReturns<string> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_')));
  return spawnSync('npm', args, { cwd, env, encoding: 'utf8', timeout: timeoutMs });
}

const tail = (r: SpawnSyncReturns<string>): string => `${r.stdout}\n${r.stderr}`.slice(-4000);

test('packed, installed and used from a strict TypeScript project', { timeout: 400_000 }, () => {
  const work = mkdtempSync(path.join(os.tmpdir(), 'rankshield-package-'));

  const pack = npm(['pack', '--json', '--pack-destination', work], ROOT, 60_000);
  assert.equal(pack.status, 0, tail(pack));
  const packed = (JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as PackResult[])[0]!;
  const files = packed.files.map((f) => f.path);
  console.log(`npm pack: ${packed.filename}, ${packed.size} bytes packed, ${packed.unpackedSize} unpacked, ${packed.entryCount} files`);
  for (const needed of [
    'LICENSE',
    'README.md',
    'package.json',
    'bin/rankshield.js',
    'dist/src/index.js',
    'dist/src/index.d.ts',
    'dist/src/cli/main.js',
    'native/binding.gyp',
    'native/libtorch.js',
    'native/src/bridge.cc',
    'scripts/install-addon.js',
    'docs/api.md',
    'docs/cli.md',
    'docs/methods.md',
    'docs/attacks-and-metrics.md',
    'docs/datasets.md',
    'src/web/index.html',
    'src/web/style.css',
    'dist/src/web/app.js',
    'dist/src/web/api-client.js',
  ]) {
    assert.ok(files.includes(needed), `the package lacks ${needed}`);
  }
  assert.deepEqual(
    files.filter((f) => /^(test|bench|dist\/test|dist\/bench)\/|\.map$|\.tsbuildinfo$/.test(f)),
    [],
    'tests, benchmarks and source maps stay out',
  );
  // Compiled files whose source is gone (dist/ is not cleaned between builds) must not ship either.
  const stale = files.filter(
    (f) => f.startsWith('dist/src/') && f.endsWith('.js') && !existsSync(path.join(ROOT, f.slice('dist/'.length).replace(/\.js$/, '.ts'))),
  );
  assert.deepEqual(stale, [], 'compiled files without a source');
  assert.match(readFileSync(path.join(ROOT, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0, January 2004/);

  // A checkpoint for the consumer to load, written by this checkout (any weights will do for an attack).
  const run = path.join(work, 'run');
  const config = { ...defaultConfig('fashion'), epochs: 1 };
  manualSeed(0);
  const model = createModel(config);
  const opt = new Adam(model.parameters(), { lr: config.lr });
  saveCheckpoint(run, model, opt, {
    config,
    epoch: 0,
    position: { epoch: 1, step: 0 },
    pendingEval: false,
    metrics: {},
    defenseState: {},
    rngState: null,
    epochProgress: null,
    logBytes: 0,
  });
  opt.dispose();
  model.dispose();

  const consumer = path.join(work, 'consumer');
  mkdirSync(consumer);
  writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  const typesNode = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies[
    '@types/node'
  ]!;
  const started = Date.now();
  const install = npm(
    ['install', path.join(work, packed.filename), `@types/node@${typesNode}`, '--prefer-offline', '--no-audit', '--no-fund'],
    consumer,
    300_000,
  );
  assert.equal(install.status, 0, `npm install of the tarball failed:\n${tail(install)}`);
  console.log(`npm install of the tarball (dependencies and the addon build): ${((Date.now() - started) / 1000).toFixed(0)} s`);
  assert.ok(
    existsSync(path.join(consumer, 'node_modules', 'rankshield', 'native', 'build', 'Release', 'rankshield_native.node')),
    'the install step built the addon',
  );

  // The guide's first example, as the consumer's program, type-checked with the consumer's strict settings.
  const example = tsBlocks(readFileSync(path.join(ROOT, 'docs', 'api.md'), 'utf8'))[0]!;
  writeFileSync(path.join(consumer, 'attack.ts'), example);
  writeFileSync(path.join(consumer, 'tsconfig.json'), JSON.stringify(CONSUMER_TSCONFIG));
  const compiled = tsc(path.join(consumer, 'tsconfig.json'));
  assert.equal(compiled.status, 0, `the consumer does not type-check against the shipped declarations:\n${compiled.output}`);

  const ran = spawnSync(process.execPath, [path.join('out', 'attack.js'), run], {
    cwd: consumer,
    encoding: 'utf8',
    timeout: 180_000,
    env: { ...process.env, RANKSHIELD_CACHE: path.join(work, 'cache') },
  });
  assert.equal(ran.status, 0, `the consumer failed:\n${tail(ran)}`);
  assert.match(ran.stdout, /^QA\+ after the attack: rank percentile \d+\.\d % /m);
  console.log(ran.stdout.trim());

  const cli = spawnSync(path.join(consumer, 'node_modules', '.bin', 'rankshield'), ['eval', '--help'], { encoding: 'utf8' });
  assert.equal(cli.status, 0, tail(cli));
  assert.match(cli.stdout, /mAP@10 is RobRank's "mAP@R"/);
});

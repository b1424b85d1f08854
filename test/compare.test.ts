// `rankshield compare` end to end on real small swipes (slow tier): two c2f2 models trained on a
// Fashion-MNIST slice with different seeds, swiped by the CLI (one batch of 128 queries). A model
// against itself differs by exactly 0 on [0, 0] in every row; against the other model the rows are
// the paired differences of the two swipes; stored JSONs pair the same way as checkpoints; and
// results made with another attack seed or on other queries are refused, naming what differs.
// The swipe JSON carries its intervals and what it was made on.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fashionSlice } from './helpers/fashion-slice.js';
import type { CompareResult } from '../src/eval/compare.js';
import type { SwipeResult } from '../src/eval/swipe.js';

const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'rankshield.js');
let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'rankshield-compare-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, RANKSHIELD_THREADS: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const lastJson = <T>(stdout: string): T => JSON.parse(stdout.trim().split('\n').pop()!) as T;

test('compare: itself → 0 on [0, 0]; another seed → paired differences; stored JSONs pair; other seeds or queries are refused', async () => {
  const root = await fashionSlice(path.join(tmp, 'slice'), { train: 1000, test: 128 });
  const runs = ['a', 'b'].map((n) => path.join(tmp, n));
  for (const [i, out] of runs.entries()) {
    const t = await run([
      'train',
      'fashion:rc2f2:ptripletN',
      '--root',
      root,
      '--epochs',
      '1',
      '--batch',
      '32',
      '--max-batches',
      '4',
      '--seed',
      String(i),
      '--out',
      out,
      '--quiet',
      '--json',
    ]);
    assert.equal(t.code, 0, t.stderr);
  }
  const cmpDir = path.join(tmp, 'cmp');
  const c = await run(['compare', runs[0]!, runs[0]!, runs[1]!, '--max-iter', '1', '--resamples', '300', '--json', '--out', cmpDir]);
  assert.equal(c.code, 0, c.stderr);
  const r = lastJson<CompareResult>(c.stdout);
  assert.deepEqual(r.models, ['a (#1)', 'a (#2)', 'b']);
  assert.equal(r.madeOn.queries, 128);
  const [self, other] = r.comparisons;
  assert.ok(self!.rows.length >= 13, 'ten ERS columns, benign R@1, ERS and ARS');
  for (const row of self!.rows) {
    assert.equal(row.difference, 0, row.column);
    assert.deepEqual(row.interval, { lo: 0, hi: 0 }, row.column);
    assert.equal(row.excludesZero, false);
  }
  // Against the other model: each difference is the difference of the two swipes' points, inside its interval's neighbourhood.
  const swipes = [1, 3].map(async (k) => JSON.parse(await readFile(path.join(cmpDir, `swipe-${k}.json`), 'utf8')) as SwipeResult);
  const [sa, sb] = await Promise.all(swipes);
  const ers = other!.rows.find((x) => x.column === 'ERS')!;
  assert.equal(ers.difference, sb!.ERS! - sa!.ERS!);
  assert.ok(ers.interval.lo < ers.interval.hi, 'two models: an interval of positive width');
  assert.ok(
    other!.rows.some((x) => x.difference !== 0),
    'the models differ somewhere',
  );
  // The swipe JSON: intervals of every column and score, the bootstrap, what it was made on.
  for (const k of [...Object.keys(sa!.attacks), 'ERS', 'ARS', 'benignRecallAt1']) {
    const i = sa!.intervals[k]!;
    assert.ok(i.lo <= i.hi, k);
  }
  assert.ok(sa!.intervals.ERS!.lo <= sa!.ERS! + 1 && sa!.intervals.ERS!.hi >= sa!.ERS! - 1, 'the interval sits around the point');
  assert.deepEqual(sa!.bootstrap, { resamples: 1000, seed: 0, confidence: 0.95, unit: 'query' });
  assert.equal(sa!.estimator, 'mean of batch means');
  assert.equal(sa!.madeOn.dataset, 'fashion');
  assert.equal(sa!.perQuery['CA+']!.length, 128);
  const md = await readFile(path.join(cmpDir, 'compare.md'), 'utf8');
  assert.match(md, /## b − a \(#1\)/);
  assert.match(await readFile(path.join(cmpDir, 'compare.svg'), 'utf8'), /ERS score points/);

  // Stored JSONs pair like checkpoints: the same numbers.
  const stored = await run(['compare', path.join(cmpDir, 'swipe-1.json'), path.join(cmpDir, 'swipe-3.json'), '--resamples', '300', '--json']);
  assert.equal(stored.code, 0, stored.stderr);
  assert.deepEqual(lastJson<CompareResult>(stored.stdout).comparisons[0]!.rows, other!.rows);
  // Swipe flags with stored JSONs only would change nothing: refused, naming them.
  const ignored = await run(['compare', path.join(cmpDir, 'swipe-1.json'), path.join(cmpDir, 'swipe-3.json'), '--seed', '3', '--profile', 'rob28']);
  assert.equal(ignored.code, 2, ignored.stderr);
  assert.match(ignored.stderr, /--profile, --seed only set how checkpoints are swiped here; every model given is a stored swipe JSON/);

  // Another attack seed, other queries (another test slice): refused, naming the field.
  const seeded = await run(['swipe', runs[1]!, '--max-iter', '1', '--seed', '1', '--json']);
  assert.equal(seeded.code, 0, seeded.stderr);
  await writeFile(path.join(tmp, 'seed1.json'), seeded.stdout.trim().split('\n').pop()!);
  const refusedSeed = await run(['compare', path.join(cmpDir, 'swipe-1.json'), path.join(tmp, 'seed1.json')]);
  assert.equal(refusedSeed.code, 2, refusedSeed.stderr);
  assert.match(refusedSeed.stderr, /seed1 was made on another attack seed than swipe-1: 1 vs 0/);
  // Another slice of the test split (every 39th image instead of every 78th): the same query count, other content.
  // (A gallery under 100 images is refused by CA−'s top-1 % list, so the slice keeps 256.)
  const otherSlice = await fashionSlice(path.join(tmp, 'slice256'), { train: 1000, test: 256 });
  const moved = await run(['swipe', runs[1]!, '--root', otherSlice, '--max-iter', '1', '--json']);
  assert.equal(moved.code, 0, moved.stderr);
  await writeFile(path.join(tmp, 'other-queries.json'), moved.stdout.trim().split('\n').pop()!);
  const refusedQueries = await run(['compare', path.join(cmpDir, 'swipe-1.json'), path.join(tmp, 'other-queries.json')]);
  assert.notEqual(refusedQueries.code, 0);
  assert.match(refusedQueries.stderr, /other-queries was made on another split content \(SHA-256\) than swipe-1/);
  const one = await run(['compare', runs[0]!]);
  assert.equal(one.code, 2);
  assert.match(one.stderr, /compare needs at least two models/);
});

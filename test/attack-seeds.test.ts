// Fixed seeds: an attack's random choices (candidates, queries, targets) are
// seeded by its entry's seedId, never by its position in ATTACKS, so re-sorting
// the catalogue changes no number. The swipe check runs the same small swipe in
// two processes, the second with the catalogue reversed as it loads, on a real
// c2f2 model trained for a few steps, and compares the JSON byte for byte.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { ATTACKS, seedIdOf } from '../src/attack/index.js';
import { attackSeed } from '../src/eval/swipe.js';
import { trainTinyRun } from './helpers/tiny-run.js';

const HELPERS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'helpers');

test('seed ids are fixed: unique, and each is the position its kind had when seeds were positions', () => {
  // The catalogue's order when seeds were positions: these ids keep every swipe number published since.
  assert.deepEqual(Object.fromEntries(ATTACKS.map((a) => [a.kind, a.seedId])), {
    'CA+': 0,
    'CA-': 1,
    'QA+': 2,
    'QA-': 3,
    TMA: 4,
    ES: 5,
    LTM: 6,
    GTM: 7,
    GTT: 8,
    'SPQA+': 9,
    'SPQA-': 10,
  });
  assert.equal(new Set(ATTACKS.map((a) => a.seedId)).size, ATTACKS.length, 'two attacks share a seed id');
  assert.equal(seedIdOf('TMA'), 4);
  assert.notEqual(attackSeed(0, 'CA+', 0), attackSeed(0, 'CA-', 0));
  assert.notEqual(attackSeed(0, 'CA+', 0), attackSeed(0, 'CA+', 1));
});

test('a swipe of every attack gives the same JSON with the catalogue reversed', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rankshield-seeds-'));
  try {
    const { dir: run } = await trainTinyRun(dir, { steps: 6, gallery: 64 });
    const swipe = (imports: string[]): { catalogue: string[]; swipe: unknown; text: string } => {
      const r = spawnSync(process.execPath, [...imports, path.join(HELPERS, 'swipe-json.js'), run], {
        encoding: 'utf8',
        env: { ...process.env, RANKSHIELD_THREADS: '1' },
      });
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { catalogue: string[]; swipe: unknown };
      return { ...out, text: JSON.stringify(out.swipe) };
    };
    const sorted = swipe([]);
    const reversed = swipe(['--import', path.join(HELPERS, 'reversed-attacks.js')]);
    assert.deepEqual(
      sorted.catalogue,
      ATTACKS.map((a) => a.kind),
    );
    assert.deepEqual(reversed.catalogue, [...sorted.catalogue].reverse(), 'the hook did not re-sort the catalogue');
    const attacks = (sorted.swipe as { attacks: Record<string, number> }).attacks;
    assert.equal(Object.keys(attacks).length, 15, 'every attack reported its columns');
    assert.equal(reversed.text, sorted.text);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

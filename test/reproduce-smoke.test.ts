// `rankshield reproduce fashion na-n act-n --scale smoke` end to end in a child
// process: both rows trained and swiped, the comparison written with the
// published columns and the benign columns' intervals; the planner's passes per batch agree with what training
// logged; a second run reuses both runs (same config key) and trains nothing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Comparison } from '../src/reproduce/compare.js';
import { passesPerBatch } from '../src/reproduce/plan.js';
import { configKey, rowConfig } from '../src/reproduce/scale.js';
import { selectRows, tableByName } from '../src/reproduce/tables/index.js';

const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'rankshield.js');
const table = tableByName('fashion');
const rows = selectRows(table, ['na-n', 'act-n']);
let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'rankshield-reproduce-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function reproduce(...extra: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(
    process.execPath,
    [cli, 'reproduce', 'fashion', 'na-n', 'act-n', '--scale', 'smoke', '--runs', path.join(tmp, 'runs'), '--out', path.join(tmp, 'out'), ...extra],
    {
      encoding: 'utf8',
      env: { ...process.env, RANKSHIELD_THREADS: process.env.RANKSHIELD_THREADS ?? '2' },
    },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('smoke scale: both rows run and the comparison holds the published columns', async () => {
  const r = reproduce('--json');
  assert.equal(r.status, 0, r.stderr);
  const c = JSON.parse(await readFile(path.join(tmp, 'out', 'comparison.json'), 'utf8')) as Comparison;
  assert.equal(c.table, 'fashion');
  assert.deepEqual(
    c.rows.map((x) => [x.id, x.status, x.queries]),
    [
      ['na-n', 'measured', 32],
      ['act-n', 'measured', 32],
    ],
  );
  for (const [i, row] of rows.entries()) {
    const cells = c.rows[i]!.cells;
    assert.deepEqual(
      cells.map((x) => x.key),
      table.columns.map((x) => x.key),
    );
    for (const cell of cells) {
      assert.equal(cell.published, row.published[cell.key], `${row.id} ${cell.key} published`);
      if (cell.role === 'compared') {
        assert.ok(Number.isFinite(cell.measured), `${row.id} ${cell.key} measured`);
        assert.ok(Math.abs(cell.difference! - (cell.measured! - cell.published!)) < 1e-9);
      } else assert.equal(cell.measured, null);
    }
    const r1Cell = cells.find((x) => x.key === 'R@1')!;
    const r1 = r1Cell.measured!;
    assert.ok(r1 > 10 && r1 <= 100, `R@1 ${r1} is a percentage of a trained model`);
    // The benign columns carry intervals from the run's own evaluation of the whole test split.
    assert.equal(c.rows[i]!.benignQueries, 10_000);
    assert.ok(r1Cell.interval !== null && r1Cell.interval.lo <= r1 && r1 <= r1Cell.interval.hi, `${row.id} R@1 ${r1} in ${JSON.stringify(r1Cell.interval)}`);
    assert.ok(r1Cell.interval.hi - r1Cell.interval.lo < 5, `${row.id} R@1 interval over 10,000 queries is narrow`);
    assert.equal(c.rows[i]!.key, configKey(rowConfig(row, 'smoke')));
  }
  const md = await readFile(path.join(tmp, 'out', 'comparison.md'), 'utf8');
  assert.match(md, /\| rc2f2p:ptripletN \(ACT\) \(`act-n`\) \| measured, 32 queries \| 78\.7 \| /);
  assert.match(md, /Provenance: `rankshield reproduce fashion na-n act-n --scale smoke/);
  assert.match(md, /the benign columns over the 10,000 test queries of each row's benign evaluation, the attack columns and scores over the 32 swiped queries/);
  const html = await readFile(path.join(tmp, 'out', 'comparison.html'), 'utf8');
  assert.match(html, /^<!doctype html>/);
  assert.match(html, /Adversarial Attack and Defense in Deep Ranking/);
  const last = JSON.parse(r.stdout.trim().split('\n').pop()!) as { rows: { id: string; ERS: { published: number } }[] };
  assert.deepEqual(
    last.rows.map((x) => [x.id, x.ERS.published]),
    [
      ['na-n', 4.2],
      ['act-n', 63.3],
    ],
  );
});

test("the planner's passes per batch are what training logged (upper bound: PGD may stop early)", async () => {
  for (const row of rows) {
    const c = rowConfig(row, 'smoke');
    const log = (await readFile(path.join(tmp, 'runs', configKey(c), 'log.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; forwardPasses?: number; backwardPasses?: number; pgdIterations?: number });
    const steps = log.filter((e) => e.event === 'step');
    assert.equal(steps.length, 2);
    const planned = passesPerBatch(c);
    for (const s of steps) {
      // What PGD skipped comes off both counts; with all η steps run they are the planner's.
      const skipped = ('steps' in c.defense ? (c.defense.steps ?? 0) : 0) - s.pgdIterations!;
      assert.deepEqual([s.forwardPasses, s.backwardPasses], [planned.forward - skipped, planned.backward - skipped], row.id);
    }
  }
});

test('a second run reuses both runs and trains nothing; --plan shows them done', async () => {
  const runs = rows.map((row) => path.join(tmp, 'runs', configKey(rowConfig(row, 'smoke')), 'model.safetensors'));
  const before = await Promise.all(runs.map(async (f) => (await stat(f)).mtimeMs));
  const r = reproduce();
  assert.equal(r.status, 0, r.stderr);
  assert.equal((r.stderr.match(/done before \(reused\)/g) ?? []).length, 2, r.stderr);
  assert.deepEqual(await Promise.all(runs.map(async (f) => (await stat(f)).mtimeMs)), before);
  const plan = reproduce('--plan');
  assert.equal(plan.status, 0, plan.stderr);
  assert.match(plan.stdout, /^na-n +[0-9a-f]{16} +measured +1×2 +1\+1 /m);
  assert.match(plan.stdout, /^act-n +[0-9a-f]{16} +measured +1×2 +5\+3 /m);
  assert.match(plan.stdout, /cost here, c2f2 on 1×28×28 .*forward [0-9.]+ ms\/image/);
});

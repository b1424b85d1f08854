// The published tables as data (every row resolves through the real config
// resolver, every transcribed row reproduces its own printed ERS), the planner's
// pass counts against hand-computed ones, and the comparison's arithmetic.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ATTACK_NAMES, empiricalRobustnessScore, type AttackResults } from '../src/eval/robustness.js';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { compareRow, comparisonMarkdown, measuredValue, type ComparedRow, type Comparison, type MeasuredResult } from '../src/reproduce/compare.js';
import { BENIGN_FILE, readMeasured, type BenignResult } from '../src/reproduce/runs.js';
import { passesPerBatch, rowWork, secondsOf } from '../src/reproduce/plan.js';
import { configKey, rowConfig, SCALES } from '../src/reproduce/scale.js';
import { selectRows, TABLES, tableByName } from '../src/reproduce/tables/index.js';
import { BENIGN_COLUMNS } from '../src/eval/benign.js';

const WEIGHTS = { pretrained: '/weights/resnet18-imagenet.pth' };
const row = (table: string, id: string) => selectRows(tableByName(table), [id])[0]!;

describe('published tables', () => {
  test('every row of every table resolves at every scale through the config resolver', () => {
    let n = 0;
    for (const t of TABLES) {
      for (const r of t.rows) {
        for (const s of SCALES) {
          const c = rowConfig(r, s, WEIGHTS);
          assert.equal(c.dataset, r.run.shorthand.split(':')[0], `${t.name}/${r.id}`);
          if (s === 'full') {
            assert.equal(c.epochs, r.run.epochs, `${t.name}/${r.id} epochs`);
            assert.equal(c.batchPairs, r.run.batchPairs, `${t.name}/${r.id} batch`);
            assert.equal(c.maxBatches, 0);
            assert.equal(c.shards ?? 1, r.run.shards ?? 1);
            assert.equal('steps' in c.defense ? c.defense.steps : null, r.run.eta, `${t.name}/${r.id} η`);
            assert.equal(c.pretrained !== undefined, r.run.pretrained !== null);
          }
          n++;
        }
      }
    }
    assert.equal(n, (9 + 27 + 12) * SCALES.length);
  });

  test('row ids are unique and each row records every column of its table (null = not recorded)', () => {
    for (const t of TABLES) {
      assert.equal(new Set(t.rows.map((r) => r.id)).size, t.rows.length, t.name);
      const keys = t.columns.map((c) => c.key);
      for (const r of t.rows) assert.deepEqual(Object.keys(r.published), keys, `${t.name}/${r.id}`);
      // A compared column must be something a swipe result holds.
      const measurable = new Set<string>([...ATTACK_NAMES, ...BENIGN_COLUMNS, 'r@M', 'ERS', 'ARS']);
      for (const c of t.columns) if (c.role === 'compared') assert.ok(measurable.has(c.key), `${t.name}: ${c.key}`);
    }
  });

  test('each transcribed row with all ten ERS columns reproduces its printed ERS within ±0.1', () => {
    let checked = 0;
    for (const t of TABLES) {
      if (!ATTACK_NAMES.every((a) => t.columns.some((c) => c.key === a))) continue;
      for (const r of t.rows) {
        if (r.published.ERS === null || r.published.ERS === undefined || r.run.shorthand.endsWith('E')) continue; // ERS is only meaningful for N/C
        const attacks = Object.fromEntries(ATTACK_NAMES.map((a) => [a, r.published[a]!])) as unknown as AttackResults;
        const ers = empiricalRobustnessScore(attacks);
        assert.ok(Math.abs(ers - r.published.ERS) <= 0.1 + 1e-9, `${t.name}/${r.id}: ERS from the row ${ers.toFixed(3)} vs printed ${r.published.ERS}`);
        checked++;
      }
    }
    assert.equal(checked, 6 + 27); // Fashion N and C rows, every CVPR'22 row
  });

  test('rows the tables share are one run (one config key)', () => {
    assert.equal(configKey(rowConfig(row('catride', 'cub-act'), 'full', WEIGHTS)), configKey(rowConfig(row('cvpr22', 'cub-act-32'), 'full', WEIGHTS)));
    assert.equal(configKey(rowConfig(row('catride', 'sop-hm'), 'full', WEIGHTS)), configKey(rowConfig(row('cvpr22', 'sop-hm-ics-32'), 'full', WEIGHTS)));
    assert.notEqual(configKey(rowConfig(row('cvpr22', 'cub-act-8'), 'full', WEIGHTS)), configKey(rowConfig(row('cvpr22', 'cub-act-32'), 'full', WEIGHTS)));
    // The published readings that change a config are in it: SOP's ICS weight 0.05, CA-TRIDE's λ and 16 steps.
    const sop = rowConfig(row('cvpr22', 'sop-hm-ics-32'), 'full', WEIGHTS).defense;
    assert.equal(sop.kind === 'hm' ? sop.ics : null, 0.05);
    const ct = rowConfig(row('catride', 'cars-catride'), 'full', WEIGHTS).defense;
    assert.deepEqual(ct.kind === 'catride' ? [ct.lambda, ct.steps] : null, [9.5, 16]);
  });

  test('a photo row without ImageNet weights is refused, naming the flag', () => {
    assert.throws(() => rowConfig(row('cvpr22', 'cub-na'), 'smoke'), /--pretrained FILE/);
  });

  test('unknown tables and rows are errors listing the known ones', () => {
    assert.throws(() => tableByName('imagenet'), /tables: fashion, cvpr22, catride/);
    assert.throws(() => selectRows(tableByName('fashion'), ['act-x']), /rows: na-n, na-e/);
  });
});

describe('planner', () => {
  test('Fashion ACT at the reduced scale: hand-computed passes', () => {
    const c = rowConfig(row('fashion', 'act-n'), 'reduced');
    // ACT per batch: a clean forward, η = 4 PGD steps (forward + backward), the anchor and the trained forward: 7 + 5.
    assert.deepEqual(passesPerBatch(c), { forward: 7, backward: 5 });
    const w = rowWork(c, 'reduced', 'rob28');
    assert.equal(w.batchesPerEpoch, 80);
    assert.equal(w.batches, 640); // 8 epochs × 80
    assert.equal(w.batchImages, 256); // 128 pairs
    assert.equal(w.trainForward, 640 * 7 * 256); // 1,146,880
    assert.equal(w.trainBackward, 640 * 5 * 256); // 819,200
    assert.equal(w.evalForward, 10_000); // one evaluation (eval-every = epochs) of the 10,000 test images
    assert.equal(w.benignForward, 10_000); // reproduce's benign evaluation with intervals: the test split once more
    assert.equal(w.queries, 512); // 4 batches of 128
    assert.equal(w.swipeForward, 10_000 + 512 * 9 * 33);
    assert.equal(w.swipeBackward, 512 * 9 * 32);
  });

  test('full-scale photo rows count the published steps per epoch (53 on CUB, 532 on SOP)', () => {
    // The published checkpoints are named epoch=74-step=3975 (CUB) and epoch=74-step=39900 (SOP).
    const cub = rowWork(rowConfig(row('cvpr22', 'cub-act-32'), 'full', WEIGHTS), 'full', 'rob224');
    assert.equal(cub.batches, 3975);
    assert.deepEqual(cub.perBatch, { forward: 35, backward: 33 });
    assert.equal(cub.queries, 5924);
    const sop = rowWork(rowConfig(row('cvpr22', 'sop-na'), 'full', WEIGHTS), 'full', 'rob224');
    assert.equal(sop.batches, 39_900);
    assert.deepEqual(sop.perBatch, { forward: 1, backward: 1 });
    // HM&ICS: one more forward for the ICS term; EST: no separate anchor forward.
    assert.deepEqual(passesPerBatch(rowConfig(row('cvpr22', 'cub-hm-ics-8'), 'full', WEIGHTS)), { forward: 11, backward: 9 });
    assert.deepEqual(passesPerBatch(rowConfig(row('cvpr22', 'cub-est-8'), 'full', WEIGHTS)), { forward: 10, backward: 9 });
  });

  test('time = image passes × seconds per image', () => {
    const w = rowWork(rowConfig(row('fashion', 'na-n'), 'smoke'), 'smoke', 'rob28');
    // smoke: 1 epoch of 2 batches of 16 pairs, 32 queries.
    assert.deepEqual([w.batches, w.batchImages, w.queries], [2, 32, 32]);
    const t = secondsOf(w, { forward: 1, backward: 10 });
    assert.equal(t.train, 2 * 32 * 1 + 2 * 32 * 10);
    assert.equal(t.swipe, 10_000 + 32 * 9 * 33 + 10 * 32 * 9 * 32);
    assert.equal(t.benign, 10_000);
    assert.equal(t.total, t.train + t.eval + t.benign + t.swipe);
  });
});

describe('comparison', () => {
  const t = tableByName('fashion');
  const r = row('fashion', 'act-n');
  const comparison = (rows: ComparedRow[]): Comparison => ({
    table: t.name,
    summary: t.summary,
    source: t.source,
    scale: 'smoke',
    scaleSummary: 'x',
    notes: t.notes,
    seedPolicy: t.seedPolicy,
    columns: t.columns,
    rows,
    provenance: {
      command: 'rankshield reproduce fashion',
      commit: 'abc',
      cpu: 'cpu',
      threads: 1,
      libtorch: '1',
      device: 'cpu',
      scale: 'smoke',
      seeds: '0',
      date: '2026-01-01',
    },
  });
  const measured: MeasuredResult = {
    benign: { 'R@1': 0.8, 'R@2': 0.9, mAP: 0.7, 'mAP@10': 0.7, NMI: 0.65, 'r@M': 3 },
    attacks: { 'CA+': 30, 'CA-': 20, 'QA+': 30, 'QA-': 20, TMA: 0.3, 'ES:D': 0.6, 'ES:R': 40, LTM: 50, GTM: 50, GTT: 0 },
    ERS: 60,
    ARS: 55,
    queries: 512,
    intervals: { ERS: { lo: 58, hi: 62.5 }, 'CA+': { lo: 28, hi: 32 } },
  };

  test('difference = measured − published; the interval moves with it; benign fractions are shown ×100', () => {
    const cells = compareRow(t, r, measured);
    const ers = cells.find((c) => c.key === 'ERS')!;
    assert.equal(ers.published, 63.3);
    assert.ok(Math.abs(ers.difference! - (60 - 63.3)) < 1e-9);
    assert.deepEqual(ers.interval, { lo: 58, hi: 62.5 });
    assert.ok(Math.abs(ers.differenceInterval!.lo - (58 - 63.3)) < 1e-9 && Math.abs(ers.differenceInterval!.hi - (62.5 - 63.3)) < 1e-9);
    const r1 = cells.find((c) => c.key === 'R@1')!;
    assert.ok(Math.abs(r1.measured! - 80) < 1e-9 && Math.abs(r1.difference! - 1.3) < 1e-9);
    assert.equal(r1.interval, null); // the result has no interval for it: shown as —
    const rank = cells.find((c) => c.key === 'r@M')!;
    assert.deepEqual([rank.role, rank.measured, rank.difference], ['published-only', null, null]);
    assert.equal(measuredValue(measured, 'no-such-column'), null);
  });

  test("a run's benign evaluation gives the benign columns their intervals; the swipe keeps the rest", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'rankshield-measured-'));
    try {
      const p = { key: 'k', dir, configFile: path.join(dir, 'k.config.json'), swipeDir: path.join(dir, 'swipe') };
      await mkdir(p.swipeDir);
      await writeFile(path.join(p.swipeDir, 'swipe.json'), JSON.stringify(measured));
      const before = readMeasured(p)!;
      assert.equal(measuredValue(before, 'R@1')!.interval, null); // the trainer's numbers: no interval
      assert.equal(before.benignQueries, undefined);
      const benign: BenignResult = {
        metrics: { 'R@1': 0.81, 'R@2': 0.9, mAP: 0.7, 'mAP@10': 0.7, 'mAP@R': 0.6, NMI: 0.66, 'r@M': 3 },
        intervals: { 'R@1': { lo: 0.8, hi: 0.82 }, NMI: { lo: 0.65, hi: 0.67 } },
        bootstrap: { resamples: 1000, seed: 0, confidence: 0.95, unit: 'query' },
        estimator: 'mean of batch means',
        queries: 10_000,
      };
      await writeFile(path.join(dir, BENIGN_FILE), JSON.stringify(benign));
      const after = readMeasured(p)!;
      const r1 = measuredValue(after, 'R@1')!;
      assert.ok(Math.abs(r1.value - 81) < 1e-9);
      assert.ok(Math.abs(r1.interval!.lo - 80) < 1e-9 && Math.abs(r1.interval!.hi - 82) < 1e-9);
      assert.deepEqual(measuredValue(after, 'ERS'), { value: 60, interval: { lo: 58, hi: 62.5 } });
      assert.equal(after.benignQueries, 10_000);
      const cells = compareRow(t, r, after);
      const c = comparison([{ id: r.id, label: r.label, key: 'k', run: dir, status: 'measured', queries: 512, benignQueries: 10_000, cells }]);
      assert.match(
        comparisonMarkdown(c),
        /Intervals: 95 % per-query bootstrap intervals: the benign columns over the 10,000 test queries of each row's benign evaluation, the attack columns and scores over the 512 swiped queries\./,
      );
      assert.match(comparisonMarkdown(c), /\| R@1 \| 78\.7 \| 81\.0 \| \+2\.3 \| \[80\.0, 82\.0\] \| \[\+1\.3, \+3\.3\] \|/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a row not run has every measured cell empty; Markdown says — and not compared', () => {
    const cells = compareRow(t, r, null);
    assert.ok(cells.every((c) => c.measured === null && c.difference === null));
    const c = comparison([{ id: r.id, label: r.label, key: 'k', run: 'runs/k', status: 'not run', queries: null, benignQueries: null, cells }]);
    const md = comparisonMarkdown(c);
    assert.match(md, /\| ERS \| 63\.3 \| — \| — \| — \| — \|/);
    assert.match(md, /\| r@M \| 4\.1 \| not compared \|/);
    assert.match(md, /Adversarial Attack and Defense in Deep Ranking/);
  });
});

// The trainer end to end on real Fashion-MNIST with a few batches per epoch:
// the loss falls, checkpoints are complete and load back, a resumed run equals
// an uninterrupted one, and the CLI prints the metrics JSON; --keep-every keeps
// epochs through a resume, and their swipes (swipe --epochs) are stored and reused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { keepsEpoch, train } from '../src/train/trainer.js';
import { defaultConfig, parseShorthand } from '../src/run/config.js';
import { keptEpochs } from '../src/run/kept-epochs.js';
import { loadCheckpoint } from '../src/run/model-factory.js';
import { readCheckpoint } from '../src/run/checkpoint.js';
import { getProfile, type Profile } from '../src/attack/profiles.js';
import { epochSwipeCurrent, readEpochSwipe, swipeKeptEpochs } from '../src/eval/trail.js';
import { runSwipe } from '../src/eval/swipe.js';
import { openDataset } from '../src/data/index.js';
import { metricByName } from '../src/metric/metric.js';
import { fashionSlice } from './helpers/fashion-slice.js';
import { main } from '../src/cli/main.js';

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'rankshield-train-'));
const quick = { ...defaultConfig('fashion'), batchPairs: 32, maxBatches: 6, evalEvery: 100 };

test('shorthand parses RobRank names and rejects unknown ones', () => {
  const c = parseShorthand('fashion:rc2f2:pstripletE');
  assert.equal(c.miner, 'softhard');
  assert.equal(c.metric, 'E');
  assert.equal(c.margin, 1.0);
  const k = parseShorthand('fashion:rc2f2:pcontrastN');
  assert.equal(k.loss, 'contrastive');
  assert.equal(k.margin, 1.0);
  const r = parseShorthand('cub:rres18:pmtripletN');
  assert.deepEqual([r.model, r.miner, r.lr, r.weightDecay, r.batchPairs, r.epochs], ['resnet18', 'semihard', 1e-5, 4e-4, 56, 75]);
  assert.throws(() => parseShorthand('fashion:rc2f2:pfooN'), /loss 'pfooN' is not supported/);
  assert.throws(() => parseShorthand('fashion:rres18zz:ptripletN'), /model 'rres18zz' is not supported/);
  assert.throws(() => parseShorthand('fashion:rres18:ptripletN'), /model resnet18 does not fit dataset fashion|does not fit/);
  assert.throws(() => parseShorthand('fashion-ptripletN'), /expected dataset:model:loss/);
});

test('training writes complete checkpoints and resuming equals an uninterrupted run', async () => {
  const a = tmp();
  const full = await train({ config: { ...quick, epochs: 2 }, outDir: a });
  assert.equal(full.epochs.length, 2);
  assert.ok(full.epochs[1]!.loss < full.epochs[0]!.loss + 0.05, 'loss should not blow up');
  for (const f of ['model.safetensors', 'checkpoint.json', 'checkpoints', 'log.jsonl', 'report.json', 'report.md']) {
    assert.ok(existsSync(path.join(a, f)), `${f} missing`);
  }
  assert.deepEqual(
    readdirSync(a).filter((f) => f.includes('.tmp')),
    [],
  );
  assert.ok(full.final['R@1'] > 0.3, `R@1 after 12 tiny steps should beat chance (0.1), got ${full.final['R@1']}`);

  const b = tmp();
  await train({ config: { ...quick, epochs: 1 }, outDir: b });
  const resumed = await train({ config: { ...quick, epochs: 2 }, outDir: b, resume: true });
  assert.equal(resumed.epochs.length, 1);
  // the report of the resumed run still covers both epochs (read back from log.jsonl)
  const report = JSON.parse(readFileSync(path.join(b, 'report.json'), 'utf8')) as { epochs: { epoch: number }[] };
  assert.deepEqual(
    report.epochs.map((e) => e.epoch),
    [0, 1],
  );
  const wa = loadCheckpoint(a);
  const wb = loadCheckpoint(b);
  for (const [k, t] of wa.model.stateDict()) {
    assert.deepEqual(t.toArray(), wb.model.stateDict().get(k)!.toArray(), `${k} differs after resume`);
  }
  wa.model.dispose();
  wb.model.dispose();
  await assert.rejects(train({ config: { ...quick, epochs: 2, lr: 0.5 }, outDir: b, resume: true }), /different config/);
});

test('CLI: train --json and eval --json print the metrics; bad options are usage errors', async () => {
  const out = tmp();
  const logs: string[] = [];
  const orig = console.log;
  console.log = (s: unknown) => void logs.push(String(s));
  try {
    assert.equal(
      await main(['train', 'fashion:rc2f2:ptripletN', '--epochs', '1', '--batch', '32', '--max-batches', '3', '--out', out, '--json', '--quiet']),
      0,
    );
    assert.equal(await main(['eval', out, '--json']), 0);
  } finally {
    console.log = orig;
  }
  const { intervals, bootstrap, estimator, queries, ...m } = JSON.parse(logs[logs.length - 1]!) as Record<string, number> & {
    intervals: Record<string, { lo: number; hi: number }>;
    bootstrap: unknown;
    estimator: string;
    queries: number;
  };
  assert.deepEqual(Object.keys(m), ['R@1', 'R@2', 'mAP', 'mAP@10', 'mAP@R', 'NMI']);
  for (const v of Object.values(m)) assert.ok(v >= 0 && v <= 1);
  // Each metric's 95 % interval, same keys, around its point (a per-query bootstrap over the 10,000 test images).
  assert.deepEqual(Object.keys(intervals), Object.keys(m));
  for (const [k, i] of Object.entries(intervals))
    assert.ok(i.lo <= i.hi && i.lo <= m[k]! + 0.01 && i.hi >= m[k]! - 0.01 && i.hi - i.lo < 0.05, `${k} ${JSON.stringify(i)} around ${m[k]}`);
  assert.deepEqual(bootstrap, { resamples: 1000, seed: 0, confidence: 0.95, unit: 'query' });
  assert.equal(estimator, 'mean of batch means');
  assert.equal(queries, 10000);
  const sidecar = JSON.parse(readFileSync(path.join(out, 'checkpoint.json'), 'utf8')) as { config: { dataset: string } };
  assert.equal(sidecar.config.dataset, 'fashion');
  assert.equal(await main(['train', '--epochs', 'x']), 2);
  assert.equal(await main(['train', '--bogus']), 2);
  assert.equal(await main(['train', '--lr', '-1']), 2);
  assert.equal(await main(['eval', '/nonexistent/ckpt']), 1);
});

// ------------------------------------------------------------------ robustness over training (--keep-every, swipe --epochs)

test('--keep-every keeps exactly epochs N, 2N, … and the last as verified commits; resuming keeps the same ones, bit for bit; their swipes are stored and not redone', async () => {
  assert.deepEqual(
    [0, 1, 2, 3, 4].filter((e) => keepsEpoch(2, e, 5)).map((e) => e + 1),
    [2, 4, 5],
    'every 2nd and the last',
  );
  assert.deepEqual(
    [0, 1, 2].filter((e) => keepsEpoch(1, e, 3)).map((e) => e + 1),
    [1, 2, 3],
    '--trail: every epoch',
  );
  const root = await fashionSlice(path.join(tmp(), 'fashion'), { train: 1000, test: 128 });
  const config = { ...quick, root, maxBatches: 2, evalEvery: 100 };
  const full = tmp();
  await train({ config: { ...config, epochs: 4 }, outDir: full, keepEvery: 2 });
  assert.deepEqual(readdirSync(path.join(full, 'epochs')).sort(), ['0002', '0004']);
  assert.equal(readdirSync(path.join(full, 'checkpoints')).length, 2, 'pruning still keeps only the newest two commits');
  const kept = keptEpochs(full);
  assert.deepEqual(
    kept.map((k) => [k.epoch, k.path, k.problem]),
    [
      [2, 'epochs/0002', null],
      [4, 'epochs/0004', null],
    ],
  );
  // Each kept commit holds its own evaluation (kept epochs are always evaluated) and verifies on its own.
  const info2 = readCheckpoint(path.join(full, 'epochs', '0002')).info;
  assert.equal(info2.epoch, 1);
  assert.ok(info2.metrics['R@1']! > 0, 'the kept epoch was evaluated');
  // Resumed: 2 epochs, then on to 4 — the same kept epochs with the same model SHA-256.
  const resumed = tmp();
  await train({ config: { ...config, epochs: 2 }, outDir: resumed, keepEvery: 2 });
  await assert.rejects(
    train({ config: { ...config, epochs: 4 }, outDir: resumed, resume: true, keepEvery: 3 }),
    /started with --keep-every 2, not --keep-every 3/,
  );
  await train({ config: { ...config, epochs: 4 }, outDir: resumed, resume: true });
  assert.deepEqual(
    keptEpochs(resumed).map((k) => [k.epoch, k.sha256, k.problem]),
    kept.map((k) => [k.epoch, k.sha256, null]),
  );
  // A flipped byte in a kept model is named.
  const victim = path.join(resumed, 'epochs', '0002', 'model.safetensors');
  const bytes = readFileSync(victim);
  bytes[bytes.length - 1] ^= 0xff;
  rmSync(victim);
  writeFileSync(victim, bytes);
  assert.match(keptEpochs(resumed)[0]!.problem ?? '', /SHA-256 differs/);

  // swipe --epochs (the library under the CLI) with a 2-step profile: each epoch's stored result equals a direct swipe of its checkpoint.
  const rob28 = getProfile('rob28');
  const profile: Profile = { ...rob28, name: 'rob28-quick', runs: rob28.runs.map((r) => ({ ...r, budget: { ...r.budget, steps: 2 } })) };
  const first = await swipeKeptEpochs(full, [2], { profile, maxIter: 1 });
  assert.deepEqual([first.swiped, first.reused], [[2], []]);
  const stored = JSON.parse(readFileSync(path.join(full, 'swipe-epochs', 'rob28-quick', 'epoch-2.json'), 'utf8')) as {
    result: { attacks: Record<string, number>; ERS: number };
  };
  const direct = loadCheckpoint(path.join(full, 'epochs', '0002'));
  try {
    const data = await openDataset('fashion', { root });
    const r = await runSwipe(direct.model, data.test, metricByName(direct.info.config.metric), { profile, maxIter: 1 });
    assert.deepEqual(stored.result.attacks, r.attacks, 'the stored epoch equals swiping that checkpoint directly');
    assert.equal(stored.result.ERS, r.ERS);
  } finally {
    direct.model.dispose();
  }
  const mtime = statSync(path.join(full, 'swipe-epochs', 'rob28-quick', 'epoch-2.json')).mtimeMs;
  const second = await swipeKeptEpochs(full, [2, 4], { profile, maxIter: 1 });
  assert.deepEqual([second.swiped, second.reused], [[4], [2]], 'a rerun swipes only what is missing');
  assert.equal(statSync(path.join(full, 'swipe-epochs', 'rob28-quick', 'epoch-2.json')).mtimeMs, mtime, 'epoch 2 was not rewritten');
  assert.deepEqual(
    second.table.rows.map((r) => r.epoch),
    [2, 4],
  );
  assert.equal(second.table.rows[0]!.ERS, stored.result.ERS);
  assert.match(readFileSync(second.files.svg, 'utf8'), /Robustness scores per kept epoch/);
  assert.match(readFileSync(second.files.page, 'utf8'), /<table data-testid="trail">.*<th scope="row">2<\/th>.*<th scope="row">4<\/th>/s);
  assert.match(readFileSync(path.join(full, 'report.md'), 'utf8'), /## Robustness over training — profile rob28-quick\n[\s\S]*\| 4 \| /);
  // Other settings are other numbers: such a stored result is not current (it would be swiped again).
  const e2 = readEpochSwipe(path.join(full, 'swipe-epochs', 'rob28-quick', 'epoch-2.json'));
  assert.ok(epochSwipeCurrent(e2, keptEpochs(full)[0]!, e2!.settings));
  assert.equal(epochSwipeCurrent(e2, keptEpochs(full)[0]!, { ...e2!.settings, seed: 3 }), false);
  assert.equal(epochSwipeCurrent(e2, { ...keptEpochs(full)[0]!, sha256: '0'.repeat(64) }, e2!.settings), false, 'a retrained epoch is swiped again');
});

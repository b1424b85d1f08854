// The trainer end to end on real Fashion-MNIST with a few batches per epoch:
// the loss falls, checkpoints are complete and load back, a resumed run equals
// an uninterrupted one, and the CLI prints the metrics JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { train } from '../src/train/trainer.js';
import { defaultConfig, parseShorthand } from '../src/train/config.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
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
  assert.deepEqual(readdirSync(a).filter((f) => f.includes('.tmp')), []);
  assert.ok(full.final['R@1'] > 0.3, `R@1 after 12 tiny steps should beat chance (0.1), got ${full.final['R@1']}`);

  const b = tmp();
  await train({ config: { ...quick, epochs: 1 }, outDir: b });
  const resumed = await train({ config: { ...quick, epochs: 2 }, outDir: b, resume: true });
  assert.equal(resumed.epochs.length, 1);
  // the report of the resumed run still covers both epochs (read back from log.jsonl)
  const report = JSON.parse(readFileSync(path.join(b, 'report.json'), 'utf8')) as { epochs: { epoch: number }[] };
  assert.deepEqual(report.epochs.map((e) => e.epoch), [0, 1]);
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
    assert.equal(await main(['train', 'fashion:rc2f2:ptripletN', '--epochs', '1', '--batch', '32', '--max-batches', '3', '--out', out, '--json', '--quiet']), 0);
    assert.equal(await main(['eval', out, '--json']), 0);
  } finally {
    console.log = orig;
  }
  const m = JSON.parse(logs[logs.length - 1]!) as Record<string, number>;
  assert.deepEqual(Object.keys(m), ['R@1', 'R@2', 'mAP', 'mAP@10', 'mAP@R', 'NMI']);
  for (const v of Object.values(m)) assert.ok(v >= 0 && v <= 1);
  const sidecar = JSON.parse(readFileSync(path.join(out, 'checkpoint.json'), 'utf8')) as { config: { dataset: string } };
  assert.equal(sidecar.config.dataset, 'fashion');
  assert.equal(await main(['train', '--epochs', 'x']), 2);
  assert.equal(await main(['train', '--bogus']), 2);
  assert.equal(await main(['train', '--lr', '-1']), 2);
  assert.equal(await main(['eval', '/nonexistent/ckpt']), 1);
});

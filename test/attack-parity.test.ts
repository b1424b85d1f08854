// Parity of the ES attack with the reference's loop (docs/attacks-and-metrics.md §4.5), on a
// DEFENDED model, where the difference showed: a c2f2 trained for a few ACT steps by the CLI,
// then ES run by the library and by a loop written out here step by step with plain tensor
// ops — PyTorch's pairwise_distance spelled as √Σ(q − t + 1e-6)², the target nudged by 1e-7 at
// iteration 0, the signed step, the ε-ball then [0, 1] — compared per iteration.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { dispose, gradOf, keep, manualSeed, noGrad, tidy, type Tensor } from '../src/tensor/index.js';
import { InMemoryImageDataset, loadSmallDataset } from '../src/data/index.js';
import { l2normalize, metricByName } from '../src/metric/metric.js';
import { loadCheckpoint } from '../src/run/model-factory.js';
import {
  attackBatch,
  buildBatchContext,
  createAttack,
  disposeBatchContext,
  makeGallery,
  recallAt1SelfMasked,
  ES_FIRST_TARGET_SHIFT,
  type BatchContext,
} from '../src/attack/index.js';
import type { EmbeddingModel } from '../src/models/model.js';

const mN = metricByName('N');
const BUDGET = { epsilon: 77 / 255, alpha: 3 / 255, steps: 6 };
/** Relative tolerance per iteration: the two loops do the same float32 math in a different op order. */
const TOLERANCE = 1e-5;

let tmp: string;
let model: EmbeddingModel;
let ctx: BatchContext;

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'rankshield-es-parity-'));
  // ACT (RobRank's `p` suffix), 6 SPC-2 steps of 32 pairs with η = 4: a defended model in seconds.
  const run = path.join(tmp, 'act');
  const r = spawnSync(
    process.execPath,
    [
      'bin/rankshield.js',
      'train',
      'fashion:rc2f2p:ptripletN',
      '--pgd-steps',
      '4',
      '--epochs',
      '1',
      '--max-batches',
      '6',
      '--batch',
      '32',
      '--quiet',
      '--out',
      run,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  model = loadCheckpoint(run).model;
  const { test: t } = await loadSmallDataset('fashion');
  const bytes = t.channels * t.height * t.width;
  const first = new InMemoryImageDataset({
    name: 'fashion',
    split: 'test',
    source: 'first 512 test images',
    channels: t.channels,
    height: t.height,
    width: t.width,
    pixels: t.pixels.slice(0, 512 * bytes),
    labels: t.labels.slice(0, 512),
  });
  const all = Array.from({ length: 512 }, (_, i) => i);
  const images = first.batch(all);
  model.eval();
  const embeddings = noGrad(() => tidy(() => mN.embed(model.forward(images))));
  images.dispose();
  const gallery = makeGallery(embeddings, first.labelBatch(all), mN);
  ctx = buildBatchContext(model, gallery, first.batch(all.slice(0, 64)), first.labelBatch(all.slice(0, 64)));
});

after(() => {
  disposeBatchContext(ctx);
  dispose([ctx.images, ctx.labels, ctx.gallery.embeddings, ctx.gallery.labels]);
  model.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

/** The reference's ES loop, op by op: returns J per iteration and the embedding at the start of the last one. */
function referenceEmbeddingShift(): { values: number[]; lastStart: Tensor; final: Tensor } {
  const x0 = ctx.images;
  let x = x0.clone();
  const values: number[] = [];
  let lastStart: Tensor | undefined;
  for (let it = 0; it < BUDGET.steps; it++) {
    const next = tidy(() => {
      const xa = x.detach().requiresGrad_();
      const e = l2normalize(model.forward(xa));
      if (it === BUDGET.steps - 1) lastStart = keep(e.detach());
      const target = it === 0 ? ctx.clean.add(ES_FIRST_TARGET_SHIFT) : ctx.clean;
      const j = e.sub(target).add(1e-6).square().sum(1).sqrt().sum().neg();
      values.push(j.item());
      const g = gradOf(j, xa);
      return noGrad(() => xa.sub(g.sign().mul(BUDGET.alpha)).minimum(x0.add(BUDGET.epsilon)).maximum(x0.sub(BUDGET.epsilon)).clamp(0, 1));
    });
    x.dispose();
    x = next;
  }
  const final = noGrad(() => tidy(() => l2normalize(model.forward(x))));
  x.dispose();
  return { values, lastStart: lastStart!, final };
}

test('ES on an ACT-defended c2f2 follows the reference loop step by step (objective per iteration, ES:D, ES:R)', () => {
  const ref = referenceEmbeddingShift();
  try {
    manualSeed(0);
    const r = attackBatch(model, createAttack('ES'), ctx, BUDGET);
    const values = r.objective;
    assert.equal(values.length, BUDGET.steps);
    for (const [i, v] of values.entries()) {
      const want = ref.values[i]!;
      assert.ok(Math.abs(v - want) <= TOLERANCE * Math.max(1, Math.abs(want)), `iteration ${i}: J = ${v}, reference ${want}`);
    }
    // The attack really moves the embeddings (so the comparison is not of two zeros).
    assert.ok(-values[values.length - 1]! > 64 * 0.05, `ES moved the batch: J = ${values[values.length - 1]}`);
    const esD = noGrad(() => tidy(() => ref.lastStart.sub(ctx.clean).norm(2, -1).mean().item()));
    assert.ok(Math.abs(r.values['ES:D']! - esD) <= 1e-5, `ES:D ${r.values['ES:D']} vs the reference's ${esD}`);
    const g = ctx.gallery;
    const esR = noGrad(() => tidy(() => 100 * recallAt1SelfMasked(ref.final, g.embeddings, g.labels, ctx.labels, ctx.selfIndex, g.metric).mean().item()));
    assert.equal(r.values['ES:R'], esR);
  } finally {
    dispose([ref.lastStart, ref.final]);
  }
});

test('ES without the reference eps (a plain ‖q̃ − e0‖) leaves the reference trajectory after the first step', () => {
  // The deviation the parity test guards: the same loop with the eps left out takes the first step the
  // other way. If it did not, the test above would not pin anything.
  const ref = referenceEmbeddingShift();
  try {
    const x0 = ctx.images;
    let x = x0.clone();
    const plain: number[] = [];
    for (let it = 0; it < 2; it++) {
      const next = tidy(() => {
        const xa = x.detach().requiresGrad_();
        const e = l2normalize(model.forward(xa));
        const target = it === 0 ? ctx.clean.add(ES_FIRST_TARGET_SHIFT) : ctx.clean;
        const j = e.sub(target).norm(2, -1).sum().neg();
        plain.push(j.item());
        const g = gradOf(j, xa);
        return noGrad(() => xa.sub(g.sign().mul(BUDGET.alpha)).minimum(x0.add(BUDGET.epsilon)).maximum(x0.sub(BUDGET.epsilon)).clamp(0, 1));
      });
      x.dispose();
      x = next;
    }
    x.dispose();
    assert.ok(Math.abs(plain[1]! - ref.values[1]!) > 100 * TOLERANCE * Math.abs(ref.values[1]!), `plain ${plain[1]} vs reference ${ref.values[1]}`);
  } finally {
    dispose([ref.lastStart, ref.final]);
  }
});

// What an attack did, kept: the adversarial images and the neighbour lists
// before/after come back from the library, match the swipe's own numbers for
// the same batch and seed, and are written as PNGs plus rankings.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { openDataset } from '../src/data/index.js';
import { C2F2 } from '../src/models/c2f2.js';
import { manualSeed } from '../src/tensor/index.js';
import { attackExamples, runSwipe } from '../src/eval/swipe.js';
import { saveAttackImages } from '../src/eval/attack-images.js';
import { metricByName } from '../src/metric/metric.js';

test('attackExamples keeps the swipe batch’s adversarial images and rankings; saveAttackImages writes them', async () => {
  manualSeed(0);
  const model = new C2F2();
  const { test: split } = await openDataset('fashion');
  const run = { attack: 'QA+' as const, budget: { epsilon: 0.1, alpha: 0.05, steps: 2 } };
  const swipe = await runSwipe(model, split, metricByName('N'), { profile: { name: 'qa', usedFor: 'test', batchSize: 16, runs: [run] }, maxIter: 1, seed: 3 });
  const ex = await attackExamples(model, split, metricByName('N'), { run, batchSize: 16, seed: 3, topK: 5 });
  try {
    assert.deepEqual(ex.values, swipe.attacks, 'the kept batch is the swipe’s batch 0, same seed');
    const delta = ex.examples.adversarial.sub(ex.clean);
    assert.ok(delta.abs().max().item() <= 0.1 + 1e-6, 'inside the ε-ball');
    delta.dispose();
    assert.equal(ex.examples.topBefore.length, 16);
    assert.equal(ex.examples.topAfter[0]!.length, 5);
    assert.ok(ex.examples.topBefore.some((b, i) => b.join() !== ex.examples.topAfter[i]!.join()), 'the attack moved some ranking');
    for (const [i, list] of ex.examples.topBefore.entries()) assert.ok(!list.includes(ex.indices[i]!), 'an image is not its own neighbour');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rankshield-attack-images-'));
    const files = await saveAttackImages(dir, { attack: 'QA+', budget: run.budget, clean: ex.clean, examples: ex.examples, indices: ex.indices, labels: split.labels, limit: 2 });
    assert.equal(files.length, 7);
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('0-')).map((f) => f.replace(/x\d+(\.\d+)?/, 'xS')).sort(), ['0-adversarial.png', '0-perturbation-xS.png', '0-query.png']);
    const meta = await sharp(path.join(dir, '0-query.png')).metadata();
    assert.deepEqual([meta.width, meta.height], [28, 28]);
    const rankings = JSON.parse(readFileSync(path.join(dir, 'rankings.json'), 'utf8')) as { images: { before: { label: number }[]; after: unknown[] }[] };
    assert.equal(rankings.images.length, 2);
    assert.equal(rankings.images[0]!.before.length, 5);
  } finally {
    ex.clean.dispose();
    ex.examples.adversarial.dispose();
    model.dispose();
  }
});

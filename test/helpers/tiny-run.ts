// A real checkpoint in seconds, for tests that serve or load one: c2f2 on
// Fashion-MNIST trained for a few SPC-2 steps, its benign metrics measured on
// the first `gallery` test images (what a test serves; the whole split would
// take most of a minute on one thread), saved as the run `<parent>/<name>/`
// with its training.svg (loss per step, the evaluated metrics).
import { metricByName } from '../../src/metric/metric.js';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { manualSeed } from '../../src/tensor/index.js';
import { Adam } from '../../src/optim/index.js';
import { openDataset } from '../../src/data/index.js';
import { defaultConfig } from '../../src/run/config.js';
import { createModel } from '../../src/run/model-factory.js';
import { saveCheckpoint } from '../../src/run/commit.js';
import { trainEpoch } from '../../src/train/trainer.js';
import { trainingCurvesSvg, type StepRecord } from '../../src/eval/plot.js';
import { buildDefense } from '../../src/defense/registry.js';
import { BENIGN_COLUMNS, evaluateBenign } from '../../src/eval/benign.js';
import { writeFileAtomicSync } from '../../src/io/atomic.js';
import { firstImages } from '../../src/serve/source.js';

/** Trains and saves the tiny run; returns its directory and the benign metrics it stores (fractions). */
export async function trainTinyRun(
  parent: string,
  o: { name?: string; gallery?: number; steps?: number; seed?: number } = {},
): Promise<{ dir: string; metrics: Record<string, number> }> {
  const dir = path.join(parent, o.name ?? 'tiny-fashion');
  mkdirSync(parent, { recursive: true });
  const config = { ...defaultConfig('fashion'), batchPairs: 32, maxBatches: o.steps ?? 12, epochs: 1, seed: o.seed ?? 0 };
  const data = await openDataset('fashion');
  manualSeed(config.seed);
  const model = createModel(config);
  const opt = new Adam(model.parameters(), { lr: config.lr });
  try {
    const steps: StepRecord[] = [];
    let lossSum = 0;
    await trainEpoch({
      model,
      opt,
      defense: buildDefense(config),
      train: data.train,
      config,
      epoch: 0,
      afterStep: async (p) => {
        steps.push({ step: p.steps - 1, epoch: 0, loss: p.lossSum - lossSum });
        lossSum = p.lossSum;
      },
    });
    const benign = await evaluateBenign(model, firstImages(data.test, o.gallery ?? 400), metricByName(config.metric));
    const metrics = Object.fromEntries(BENIGN_COLUMNS.map((k) => [k, benign[k]]));
    saveCheckpoint(dir, model, opt, {
      config,
      epoch: 0,
      position: { epoch: 1, step: 0 },
      pendingEval: false,
      metrics,
      defenseState: {},
      rngState: null,
      epochProgress: null,
      logBytes: 0,
    });
    const svg = trainingCurvesSvg({
      title: `tiny run: c2f2 on fashion, ${steps.length} steps`,
      steps,
      evaluated: [{ epoch: 0, 'R@1': benign['R@1'], mAP: benign.mAP }],
    });
    writeFileAtomicSync(path.join(dir, 'training.svg'), svg);
    return { dir, metrics };
  } finally {
    opt.dispose();
    model.dispose();
  }
}

// `node swipe-json.js CHECKPOINT`: a small swipe of every attack of the catalogue
// (in a fixed order of its own, 4 PGD steps) on the first two batches of 16 test
// images against a gallery of the first 640 (SPQA− needs six in the top 1 %), printed as one JSON line with the catalogue's order as this
// process sees it. Its timings are zeroed: the rest must match byte for byte
// between runs that differ only in how the catalogue is sorted.
import { metricByName } from '../../src/metric/metric.js';
import { openDataset } from '../../src/data/index.js';
import { loadCheckpoint } from '../../src/run/model-factory.js';
import { firstImages } from '../../src/serve/source.js';
import { runSwipe } from '../../src/eval/swipe.js';
import { ATTACKS, type AttackKind } from '../../src/attack/index.js';
import { setNumThreads } from '../../src/tensor/index.js';

/** Every kind, in an order written here (not the catalogue's). */
const KINDS: readonly AttackKind[] = ['CA+', 'CA-', 'QA+', 'QA-', 'TMA', 'ES', 'LTM', 'GTM', 'GTT', 'SPQA+', 'SPQA-'];

const checkpoint = process.argv[2];
if (checkpoint === undefined) throw new Error('usage: swipe-json.js CHECKPOINT');
setNumThreads(1);
const { model, info } = loadCheckpoint(checkpoint);
try {
  const data = await openDataset(info.config.dataset);
  const budget = { epsilon: 0.1, alpha: 0.03, steps: 4 };
  const result = await runSwipe(model, firstImages(data.test, 640), metricByName(info.config.metric), {
    profile: { name: 'every-attack', usedFor: 'catalogue order check', batchSize: 16, runs: KINDS.map((attack) => ({ attack, budget })) },
    seed: 3,
    maxIter: 2,
  });
  console.log(JSON.stringify({ catalogue: ATTACKS.map((a) => a.kind), swipe: { ...result, seconds: 0, gallerySeconds: 0 } }));
} finally {
  model.dispose();
}

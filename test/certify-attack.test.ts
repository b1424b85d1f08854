// The certificate against the strongest attack rankshield has for it (slow tier): a c2f2 trained briefly
// on Gaussian-noised Fashion-MNIST, its smoothed model certified per query (a gallery of three
// well-separated classes, so that a briefly trained model has margins to certify), then every certified query
// attacked right up to its certified radius by APGD-L2 with restarts on the Monte Carlo smoothed model
// (EOT). The attacked query is judged by ĝ from fresh samples, whose own error τ_e is paid for by
// attacking at (certified radius − τ_e/L): the certificate then says no point of the judged ball can put
// an irrelevant item first. The same attack at a large radius must break queries (it is not a no-op).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dispose, manualSeed, noGrad, tidy } from '../src/tensor/index.js';
import { loadSmallDataset, spc2Loader, InMemoryImageDataset } from '../src/data/index.js';
import { C2F2 } from '../src/models/c2f2.js';
import { Adam } from '../src/optim/index.js';
import { metricByName, l2normalize } from '../src/metric/metric.js';
import { minerByName } from '../src/metric/miners.js';
import { buildDefense } from '../src/defense/registry.js';
import { meanDeviationBound, smoothedEmbeddings, smoothedLipschitz, unionAlpha } from '../src/eval/smoothing.js';
import { certifiedAt, certifyQuery, type CertificateConstants } from '../src/eval/certificate.js';
import { attackSmoothedRecall, smoothedTopOneRelevant } from '../src/eval/smoothed-attack.js';

const SIGMA = 0.1;
/** Three well-separated Fashion-MNIST classes (trouser, sandal, bag): margins a briefly trained model can certify. */
const CLASSES = [1, 5, 8];
const PER_CLASS = 30;
const QUERIES = 9;
const SAMPLES = 1000;
const ALPHA = 0.05;

test('no certified query is broken by APGD-L2 (restarts, EOT) on the smoothed model within its certified radius', async () => {
  const { train, test: t } = await loadSmallDataset('fashion');
  const mN = metricByName('N');
  manualSeed(0);
  const model = new C2F2();
  const opt = new Adam(model.parameters(), { lr: 1e-3, weightDecay: 1e-7 });
  const defense = buildDefense({ defense: { kind: 'gaussian', sigma: SIGMA }, loss: 'triplet', metric: 'N', margin: 0.2 });
  let steps = 0;
  for await (const b of spc2Loader(train, { seed: 0, batchPairs: 32 })) {
    tidy(() => {
      const s = defense.step({
        model,
        images: b.images,
        labels: b.labels,
        metric: mN,
        margin: 0.2,
        miner: minerByName('random'),
        epoch: 0,
        maxEpochs: 1,
        step: steps,
      });
      opt.zeroGrad();
      s.loss.backward();
    });
    opt.step();
    dispose([b.images, b.labels]);
    if (++steps === 30) break;
  }
  opt.dispose();
  model.eval();
  // The gallery: the first PER_CLASS test images of each class, interleaved so the first QUERIES cover all three.
  const byClass = CLASSES.map((c) =>
    Array.from(t.labels.keys())
      .filter((i) => t.labels[i] === c)
      .slice(0, PER_CLASS),
  );
  const picked = Array.from({ length: PER_CLASS }, (_, k) => byClass.map((ids) => ids[k]!)).flat();
  const bytes = 784;
  const pixels = new Uint8Array(picked.length * bytes);
  picked.forEach((j, i) => pixels.set(t.pixels.subarray(j * bytes, (j + 1) * bytes), i * bytes));
  const ds = new InMemoryImageDataset({
    name: 'fashion',
    split: 'test',
    source: 'three classes',
    channels: 1,
    height: 28,
    width: 28,
    pixels,
    labels: Int32Array.from(picked, (j) => t.labels[j]!),
  });
  const all = Array.from({ length: picked.length }, (_, i) => i);
  const gallery = noGrad(() => tidy(() => l2normalize(model.forward(ds.batch(all))).double()));
  const labels = Array.from(ds.labels.slice(0, QUERIES));
  const queries = ds.batch(all.slice(0, QUERIES));
  try {
    const L = smoothedLipschitz(SIGMA);
    const tau = meanDeviationBound(SAMPLES, unionAlpha(ALPHA, QUERIES));
    const k: CertificateConstants = { lipschitz: L, queryError: tau, galleryError: 0, gallery: 'clean' };
    const estimates = smoothedEmbeddings(model, queries, { sigma: SIGMA, samples: SAMPLES, seed: 1 });
    const radius = labels.map((label, i) =>
      tidy(
        () =>
          certifyQuery(estimates.narrow(0, i, 1).reshape(-1), label, i, { embeddings: gallery, labels: ds.labels }, k, {
            ks: [1],
            radii: [0],
            qaPlus: 0,
            qaMinusPosition: 0,
          }).recallRadius[0]!,
      ),
    );
    estimates.dispose();
    // The judge's error (fresh samples, its own union bound) costs τ_e/L of radius.
    const judgeTau = meanDeviationBound(SAMPLES, unionAlpha(ALPHA, QUERIES));
    const attackable = radius.map((r, i) => ({ i, r: r - judgeTau / L })).filter((q) => q.r > 0);
    assert.ok(attackable.length >= 2, `only ${attackable.length} queries certified beyond the judge's error (radii ${radius.map((r) => r.toFixed(3))})`);
    let broken = 0;
    for (const { i, r } of attackable) {
      assert.ok(certifiedAt(radius[i]!, r));
      const one = tidy(() => queries.narrow(0, i, 1).clone());
      const target = { images: one, labels: [labels[i]!], selves: [i], gallery, galleryLabels: ds.labels };
      const { adversarial } = attackSmoothedRecall(model, target, { sigma: SIGMA, radius: r * (1 - 1e-6), steps: 24, restarts: 1, eot: 8, seed: 10 + i });
      try {
        const [ok] = smoothedTopOneRelevant(model, adversarial, target, { sigma: SIGMA, samples: SAMPLES });
        if (!ok) broken++;
      } finally {
        dispose([adversarial, one]);
      }
    }
    assert.equal(broken, 0, `${broken} of ${attackable.length} certified queries lost their relevant top-1 inside the certified radius`);
    // The attack is real: at L2 radius 5 (far outside any certificate) it breaks queries the smoothed model got right.
    const first = tidy(() => queries.narrow(0, 0, QUERIES).clone());
    const target = { images: first, labels: labels.slice(0, QUERIES), selves: all.slice(0, QUERIES), gallery, galleryLabels: ds.labels };
    const clean = smoothedTopOneRelevant(model, first, target, { sigma: SIGMA, samples: 100 });
    const { adversarial } = attackSmoothedRecall(model, target, { sigma: SIGMA, radius: 5, steps: 16, restarts: 0, eot: 4, seed: 3 });
    const attacked = smoothedTopOneRelevant(model, adversarial, target, { sigma: SIGMA, samples: 100 });
    dispose([adversarial, first]);
    const flipped = clean.filter((c, j) => c && !attacked[j]).length;
    assert.ok(
      flipped >= Math.ceil(clean.filter(Boolean).length / 2),
      `the attack at radius 5 broke only ${flipped} of ${clean.filter(Boolean).length} correct queries`,
    );
  } finally {
    dispose([gallery, queries]);
    model.dispose();
  }
});

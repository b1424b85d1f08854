// Defenses on real Fashion-MNIST batches with c2f2: adversarial examples stay
// in the ε-ball and [0,1]; HM[R,R] equals regular training; LGA follows the
// previous loss; the exact HM shortcut changes nothing; CA-TRIDE alternates and
// warms up; the PGD core itself; the collapseness objective's gradient. EST's
// and ACT's objectives, adversarial batches and losses against hand-computed
// values on a two-pixel "model" whose embedding is its image.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { liveTensors, manualSeed, noGrad, randn, tensor, tidy, type Tensor } from '../src/tensor/index.js';
import { loadSmallDataset, type InMemoryImageDataset } from '../src/data/index.js';
import { C2F2 } from '../src/models/c2f2.js';
import { minerByName } from '../src/metric/miners.js';
import type { EmbeddingModel } from '../src/models/model.js';
import { estObjective } from '../src/defense/est.js';
import { actObjective } from '../src/defense/act.js';
import type { DefenseContext } from '../src/defense/defense.js';
import { buildDefense, defenseFromModelSuffix, DEFENSES, resolveDefense, type DefenseConfig } from '../src/defense/registry.js';
import { defaultLossMargin } from '../src/metric/losses.js';
import type { MetricName } from '../src/metric/metric.js';
import { weightedDistance } from '../src/defense/catride.js';
import { pgd } from '../src/attack/pgd.js';
import { parseShorthand } from '../src/run/config.js';
import { checkGradient } from './helpers/gradcheck.js';
import { metricByName } from '../src/metric/metric.js';
import { allNear, maxAbsDiff, near } from './helpers/assert.js';
import { jsDistance } from './helpers/distances.js';
import { handTripletLoss, pairsOf, PIXELS, PixelModel, pixelBatch } from './helpers/pixel-model.js';

let train: InMemoryImageDataset;
before(async () => {
  train = (await loadSmallDataset('fashion')).train;
});

/** An SPC-2-shaped batch of 8 pairs: images 2k and 2k+1 share a label. */
function batch(): { images: Tensor; labels: Tensor } {
  const idx: number[] = [];
  for (let k = 0; k < 8; k++) idx.push(k, k + 10); // Fashion's round-robin order: i and i+10 share the class
  return { images: train.batch(idx), labels: train.labelBatch(idx) };
}

/** A defense as a run builds it: resolved for 28×28 images (CA-TRIDE with its code's λ 10 unless given), with the run's loss. */
function build(cfg: DefenseConfig, imageSide = 28, loss = 'triplet', metric: MetricName = 'N') {
  const defense = resolveDefense(cfg, { imageSide, paper: { catrideLambda: 10 }, metric, dataset: 'test' });
  return buildDefense({ defense, loss, metric, margin: DEFENSES[cfg.kind].defaultMargin ?? defaultLossMargin(loss, metric) });
}

function context(model: EmbeddingModel, b: { images: Tensor; labels: Tensor }, over: Partial<DefenseContext> = {}): Omit<DefenseContext, 'loss'> {
  return {
    model,
    images: b.images,
    labels: b.labels,
    metric: metricByName('N'),
    margin: 0.2,
    miner: minerByName('random'),
    epoch: 1,
    maxEpochs: 2,
    step: 0,
    ...over,
  };
}

const EPS = 77 / 255;

test('every defense keeps its adversarial examples in the ε-ball and in [0,1], and returns a finite loss', () => {
  manualSeed(0);
  const model = new C2F2();
  const configs: DefenseConfig[] = [
    { kind: 'est', steps: 3 },
    { kind: 'act', steps: 3 },
    { kind: 'hm', source: 'softhard', destination: 'lga', gradualBase: 'semihard', ics: 0.5, steps: 3 },
    { kind: 'catride', steps: 3, lambda: 5 },
  ];
  const live = liveTensors();
  for (const cfg of configs) {
    const defense = build(cfg);
    for (const step of [0, 1]) {
      const seen: string[] = [];
      tidy(() => {
        const b = batch();
        const out = defense.step(
          context(model, b, {
            step,
            miner: minerByName(cfg.kind === 'catride' ? 'gradual-semihard' : 'random'),
            inspect: (role, clean, adv) => {
              seen.push(role);
              const diff = noGrad(() => adv.sub(clean).abs().max().item());
              assert.ok(diff <= EPS + 1e-6, `${defense.name} ${role}: |x̃ − x|∞ = ${diff} > ε`);
              assert.ok(adv.min().item() >= 0 && adv.max().item() <= 1, `${defense.name} ${role}: outside [0,1]`);
              assert.deepEqual(adv.shape, clean.shape);
            },
          }),
        );
        assert.ok(Number.isFinite(out.loss.item()), `${defense.name}: loss ${out.loss.item()}`);
        out.loss.backward();
        assert.ok(out.stats.pgdIterations >= 1 && out.stats.pgdIterations <= 3, `${defense.name}: ${out.stats.pgdIterations} PGD iterations`);
      });
      model.zeroGrad();
      assert.ok(seen.length >= 1, `${defense.name}: no adversarial batch was built`);
      if (cfg.kind === 'catride') assert.deepEqual(seen, [step === 0 ? 'candidates' : 'anchors'], 'CA-TRIDE alternates CAP, ANP');
    }
  }
  assert.equal(liveTensors(), live);
  model.dispose();
});

test('HM with source = destination is regular training (no PGD, same loss)', () => {
  manualSeed(1);
  const model = new C2F2();
  tidy(() => {
    const b = batch();
    manualSeed(7);
    const plain = build({ kind: 'none' }).step(context(model, b));
    manualSeed(7);
    const same = build({ kind: 'hm', source: 'random', destination: 'random', steps: 8 }).step(context(model, b));
    assert.equal(same.stats.pgdIterations, 0);
    assert.equal(same.stats.perturbedFraction, 0);
    near(same.loss.item(), plain.loss.item(), 1e-6, 'HM[R,R] loss vs regular training');
  });
  model.dispose();
});

test('the LGA destination follows the previous step loss: H_D = −0.2·min(max(ℓ, 0), 0.2)/0.2', () => {
  manualSeed(2);
  const model = new C2F2();
  const hm = build({ kind: 'hm', source: 'random', destination: 'lga', gradualBase: 'semihard', steps: 2 });
  tidy(() => {
    const b = batch();
    const first = hm.step(context(model, b));
    // the reference starts from a previous loss of 2.0, i.e. ℓ̄ = 1
    near(first.stats.destinationHardness!, -0.2, 1e-6, 'H_D of the first step');
    const l = first.loss.item();
    const second = hm.step(context(model, b, { step: 1 }));
    const expected = -0.2 * (Math.min(Math.max(l, 0), 0.2) / 0.2);
    near(second.stats.destinationHardness!, expected, 1e-6, 'H_D of the second step');
    assert.deepEqual(hm.state!(), { previousLoss: second.loss.item() });
  });
  model.dispose();
});

test('skipping triplets already at their destination changes nothing (exact shortcut)', () => {
  manualSeed(3);
  const model = new C2F2();
  const run = (skip: boolean): { adv: number[]; work: number } =>
    tidy(() => {
      manualSeed(11);
      let adv: number[] = [];
      const hm = build({ kind: 'hm', source: 'softhard', destination: 'semihard', steps: 6, skipSatisfied: skip });
      const out = hm.step(context(model, batch(), { inspect: (_r, _c, a) => void (adv = a.toArray()) }));
      return { adv, work: out.stats.pgdWorkFraction! };
    });
  const { adv: reference, work: fullWork } = run(false);
  const { adv: fast, work: skippedWork } = run(true);
  assert.equal(fullWork, 1, 'the reference pushes every triplet through every PGD pass');
  assert.ok(skippedWork > 0 && skippedWork < 1, `skipSatisfied did ${skippedWork} of the PGD work`);
  const maxDiff = maxAbsDiff(fast, reference);
  assert.ok(maxDiff < 1e-6, `adversarial batches differ by ${maxDiff}`);
  model.dispose();
});

test('CA-TRIDE: no perturbation in epoch 0 (step α·e/E)', () => {
  const model = new C2F2();
  tidy(() => {
    const d = build({ kind: 'catride', steps: 4 });
    let built = false;
    const out = d.step(context(model, batch(), { epoch: 0, miner: minerByName('gradual-semihard'), inspect: () => void (built = true) }));
    assert.equal(built, false);
    assert.equal(out.stats.pgdIterations, 0);
  });
  model.dispose();
});

test('PGD core: ε-ball, FGSM step ε, sign(0) = 0, early stops, bad budgets', () => {
  tidy(() => {
    const x = tensor([[0.5, 0.0, 1.0, 0.2]]);
    // minimise −sum(x): every pixel goes up by α per step, capped by ε and 1
    const up = pgd({ images: x, objective: (xa) => xa.sum().neg(), epsilon: 0.1, alpha: 0.03, steps: 5 });
    assert.deepEqual(
      up.adversarial.toArray().map((v) => Math.round(v * 1e6) / 1e6),
      [0.6, 0.1, 1, 0.3],
    );
    const fgsm = pgd({ images: x, objective: (xa) => xa.sum(), epsilon: 0.1, alpha: 0.001, steps: 1 });
    assert.deepEqual(
      fgsm.adversarial.toArray().map((v) => Math.round(v * 1e6) / 1e6),
      [0.4, 0, 0.9, 0.1],
    );
    const flat = pgd({ images: x, objective: (xa) => xa.sum().mul(0), epsilon: 0.1, alpha: 0.05, steps: 3 });
    assert.deepEqual(flat.adversarial.toArray(), x.toArray());
    const early = pgd({ images: x, objective: (xa) => xa.sum(), epsilon: 0.1, alpha: 0.01, steps: 10, after: (it) => it === 2 });
    assert.equal(early.iterations, 3);
    const skip = pgd({ images: x, objective: (xa) => xa.sum(), epsilon: 0.1, alpha: 0.01, steps: 10, before: () => true });
    assert.equal(skip.iterations, 1);
    assert.deepEqual(skip.adversarial.toArray(), x.toArray());
    assert.throws(() => pgd({ images: x, objective: (xa) => xa.sum(), epsilon: 1.5, alpha: 0.01, steps: 1 }), /epsilon must be in \[0, 1\]/);
    assert.throws(() => pgd({ images: x, objective: (xa) => xa.sum(), epsilon: 0.1, alpha: 0.01, steps: 0 }), /steps must be a positive integer/);
    assert.throws(() => pgd({ images: x, objective: (xa) => xa, epsilon: 0.1, alpha: 0.01, steps: 1 }), /objective must be a scalar/);
  });
});

test('collapseness weights: gradient by finite differences, soft-max vs soft-min', () => {
  manualSeed(4);
  tidy(() => {
    const d = randn([6], { dtype: 'float64' }).abs();
    for (const w of ['softmax', 'softmin'] as const) checkGradient((x) => weightedDistance(x, 10, w), d);
    const v = tensor([0.1, 0.5, 0.9], [3], 'float64');
    // λ → large: soft-max → max, soft-min → min
    near(weightedDistance(v, 200, 'softmax').item(), 0.9, 1e-6);
    near(weightedDistance(v, 200, 'softmin').item(), 0.1, 1e-6);
  });
});

test('RobRank / robdml / CA-TRIDE shorthands map to the defenses', () => {
  assert.deepEqual(parseShorthand('fashion:rc2f2p:ptripletN').defense, { kind: 'act' });
  assert.deepEqual(parseShorthand('fashion:rc2f2d:ptripletN').defense, { kind: 'est' });
  assert.deepEqual(parseShorthand('fashion:rc2f2pf:ptripletN').defense, { kind: 'act', steps: 1 });
  assert.deepEqual(parseShorthand('cub:rres18ghmetsmi:ptripletN').defense, {
    kind: 'hm',
    source: 'softhard',
    destination: 'lga',
    gradualBase: 'semihard',
    ics: 0.5,
  });
  assert.deepEqual(parseShorthand('cub:rres18hmetrm:ptripletN').defense, { kind: 'hm', source: 'random', destination: 'semihard', ics: 0 });
  const ct = parseShorthand('cub:rres18p:pgtripletN');
  assert.deepEqual([ct.defense.kind, ct.miner], ['catride', 'gradual-semihard']);
  assert.throws(() => defenseFromModelSuffix('rhmetsm'), /not supported/);
  assert.equal(defenseFromModelSuffix('xyz'), null);
  assert.throws(() => build({ kind: 'act', epsilon: 2 }), /ACT: epsilon must be in \[0, 1\]/);
  // The same validator as the attacks': α above 1 and a NaN ε are refused, naming the field.
  assert.throws(() => build({ kind: 'est', alpha: 1.5 }), /EST: alpha must be in \(0, 1\]/);
  assert.throws(() => build({ kind: 'catride', epsilon: NaN }), /CA-TRIDE: epsilon must be in \[0, 1\]/);
  assert.throws(() => build({ kind: 'hm', source: 'random', destination: 3 }), /constant destination hardness must be in \[-2, 2\]/);
});

// ------------------------------------------------------------------ EST and ACT by hand

test('EST and ACT objectives on hand embeddings: −Σ d(x̃, t) and mean d(p̃, ñ)', () => {
  tidy(() => {
    const E = metricByName('E');
    const f64 = (rows: number[][]): Tensor => tensor(rows, undefined, 'float64');
    // distances 5 = |(3, 4)| and 1 = |(0, 1)|
    assert.equal(
      estObjective(
        f64([
          [3, 4],
          [1, 1],
        ]),
        f64([
          [0, 0],
          [1, 2],
        ]),
        E,
      ).item(),
      -(5 + 1),
      'EST: a sum, negated (PGD minimises it)',
    );
    assert.equal(
      actObjective(
        f64([
          [0, 0],
          [1, 1],
        ]),
        f64([
          [3, 4],
          [1, 2],
        ]),
        E,
      ).item(),
      (5 + 1) / 2,
      'ACT: a mean, not negated',
    );
    // In metric space (the caller embeds): N on unit vectors (1, 0) and (0, 1) is √2 apart.
    near(actObjective(f64([[1, 0]]), f64([[0, 1]]), metricByName('N')).item(), Math.SQRT2, 1e-15, 'ACT under N');
  });
});

test('ACT by hand: FGSM moves p and n towards each other by ε; the loss is the benign anchor against them', () => {
  const model = new PixelModel();
  tidy(() => {
    const eps = 0.05;
    let adversarial: number[] = [];
    const out = build({ kind: 'act', steps: 1, epsilon: eps }).step({
      ...context(model, pixelBatch()),
      metric: metricByName('E'),
      margin: 0.2,
      miner: minerByName('hardest'),
      inspect: (role, _clean, adv) => {
        assert.equal(role, 'candidates');
        adversarial = adv.toArray();
      },
    });
    // Hardest negatives on clean pixels: anchor x0 → x1 (0.2 < 0.4), anchor x1 → x0 (0.2 < |(−.1, .2)| ≈ 0.224).
    const [x0, x0p, x1, x1p] = PIXELS as [number[], number[], number[], number[]];
    // Candidates [p0, p1, n0, n1] = [x0', x1', x1, x0]; one signed step of ε along −∇ d(p, n): p and n approach each other
    // in every coordinate where they differ.
    const p = [
      [x0p[0]! - eps, x0p[1]! + eps],
      [x1p[0]!, x1p[1]! - eps],
    ];
    const n = [
      [x1[0]! + eps, x1[1]! - eps],
      [x0[0]!, x0[1]! + eps],
    ];
    allNear(adversarial, [...p.flat(), ...n.flat()], 1e-6, 'ACT candidates');
    allNear(adversarial, [0.55, 0.55, 0.5, 0.85, 0.55, 0.65, 0.5, 0.55], 1e-6, 'ACT candidates, in numbers');
    // Benign anchors x0, x1 against the collapsed candidates: (0.0707 − 0.1581 + 0.2 + 0.15 − 0.15 + 0.2) / 2.
    const expected = handTripletLoss([x0, x1], p, n, 0.2);
    near(expected, (Math.hypot(0.05, 0.05) - Math.hypot(0.05, 0.15) + 0.2 + 0.2) / 2, 1e-5, 'the hand value itself');
    near(out.loss.item(), expected, 1e-6, 'ACT loss');
    // Hardness: clean triplets (0.1 − 0.2, 0.2 − 0.2); trained ones (0.0707 − 0.1581, 0.15 − 0.15).
    near(out.stats.sourceHardness, (-0.1 + 0) / 2, 1e-6, 'source hardness');
    near(out.stats.trainedHardness, (jsDistance(x0, p[0]!) - jsDistance(x0, n[0]!) + 0) / 2, 1e-6, 'trained hardness');
    assert.deepEqual([out.stats.pgdIterations, out.stats.forwardPasses, out.stats.backwardPasses], [1, 4, 2]);
  });
  model.dispose();
});

test('EST by hand: PGD pushes every image 2α away from itself in two steps; the loss is on mined adversarial triplets', () => {
  const model = new PixelModel();
  tidy(() => {
    const alpha = 0.03;
    let adversarial: number[] = [];
    manualSeed(5); // the first iteration aims at e0 + 1e-7·u, u ∈ {−1, 0, 1}² drawn here
    const out = build({ kind: 'est', steps: 2, epsilon: 0.1, alpha }).step({
      ...context(model, pixelBatch()),
      metric: metricByName('E'),
      margin: 0.2,
      miner: minerByName('hardest'),
      inspect: (role, _clean, adv) => {
        assert.equal(role, 'all');
        adversarial = adv.toArray();
      },
    });
    // Step 0 moves x by −α·sign(u) (away from the nudged target), step 1 by another −α·sign(u) (away from x):
    // each coordinate ends 0 or ±2α from where it started, never back at ±0 after moving.
    const shift = adversarial.map((v, i) => v - PIXELS.flat()[i]!);
    for (const [i, d] of shift.entries())
      assert.ok(Math.abs(d) < 1e-6 || Math.abs(Math.abs(d) - 2 * alpha) < 1e-6, `coordinate ${i} moved by ${d}, not 0 or ±2α`);
    assert.ok(shift.filter((d) => Math.abs(d) > 1e-6).length >= 4, `most coordinates move away: ${shift.map((d) => d.toFixed(3))}`);
    // Mining and loss on the adversarial embeddings (= images): anchors 0, 2, positives 1, 3, the hardest other-class negative.
    const z = pairsOf(adversarial);
    const negative = (anchor: number): number =>
      [0, 1, 2, 3].filter((j) => j < 2 !== anchor < 2).reduce((best, j) => (jsDistance(z[anchor]!, z[j]!) < jsDistance(z[anchor]!, z[best]!) ? j : best));
    const expected = handTripletLoss([z[0]!, z[2]!], [z[1]!, z[3]!], [z[negative(0)]!, z[negative(2)]!], 0.2);
    near(out.loss.item(), expected, 1e-6, 'EST loss');
    assert.deepEqual([out.stats.pgdIterations, out.stats.forwardPasses, out.stats.backwardPasses], [2, 4, 3]);
  });
  model.dispose();
});

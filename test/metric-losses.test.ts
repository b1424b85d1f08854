// Metric layer, the loss catalogue: every loss against pytorch-metric-learning
// (PML) on the same embeddings, labels and triplets (values and gradients baked
// into test/fixtures/losses-pml.json by bench/losses_reference.py; no Python
// here), against plain-JS implementations of the formulas and hand-computed
// cases, by finite differences, the margin loss's learnable β, and the
// catalogue's rules (shorthand words, metrics, miners, margins, defenses' refusals).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gradOf, liveTensors, manualSeed, noGrad, randn, tensor, tidy, type Tensor } from '../src/tensor/index.js';
import {
  contrastiveLoss,
  defaultLossMargin,
  liftedLoss,
  LOSSES,
  LOSS_NAMES,
  lossEntry,
  marginLoss,
  marginTerms,
  metricByName,
  minerByName,
  multiSimilarityLoss,
  npairLoss,
  quadrupletLoss,
  secondNegatives,
  snrLoss,
  tripletLoss,
  buildTrainingLoss,
  type LossEntry,
  type Metric,
} from '../src/metric/index.js';
import { defaultConfig, parseConfig, parseRecordedConfig, parseShorthand, resolveConfig, shorthandOf } from '../src/run/config.js';
import { circleLoss } from '../src/metric/circle.js';
import { checkGradient } from './helpers/gradcheck.js';
import { near } from './helpers/assert.js';

const f64 = (rows: number[][]): Tensor => tensor(rows, undefined, 'float64');
const i64 = (v: number[]): Tensor => tensor(v, undefined, 'int64');
const [mN, mE, mC] = (['N', 'E', 'C'] as const).map(metricByName);

interface Fixture {
  versions: Record<string, string>;
  z: number[][];
  labels: number[];
  triplets: { anchors: number[]; positives: number[]; negatives: number[] };
  cases: { loss: string; form: string; metric: 'N' | 'E' | 'C'; params: Record<string, number>; reduction: string; value: number; grad: number[][] }[];
}
const FIX = JSON.parse(readFileSync(new URL('../../test/fixtures/losses-pml.json', import.meta.url), 'utf8')) as Fixture;

/**
 * Our side of each PML case (keyed loss or loss/form), as a function of the raw
 * embeddings z (metric.embed first), reduced as the case's `reduction` says. A
 * published form is PML's class itself; a `robrank` case recomposes RobRank's
 * reduction from PML's per-element terms. Tolerance: the losses on
 * `metric.lossRows` (triplet, spectral, contrastive, margin) use PyTorch's
 * pairwise_distance, which adds eps 1e-6 to every component (PML's LpDistance
 * does not), so 2e-5 absolute; the others compute the same distances, 1e-9.
 */
const OURS: Record<
  string,
  { tol: number; f: (x: Tensor, labels: Tensor, t: { a: Tensor; p: Tensor; n: Tensor }, metric: Metric, params: Record<string, number>) => Tensor }
> = {
  triplet: { tol: 2e-5, f: (_x, _l, t, metric) => tripletLoss(t.a, t.p, t.n, { metric }) },
  'spectral-triplet': { tol: 2e-5, f: (_x, _l, t, metric) => tripletLoss(t.a, t.a, t.p, { metric, margin: 1.5 }) },
  contrastive: { tol: 2e-5, f: (_x, _l, t, metric) => contrastiveLoss(t.a, t.p, t.n, { metric }) },
  // β as the case says (both hinge sets non-empty there), and both sides' counts checked below.
  'margin/published': {
    tol: 2e-5,
    f: (_x, _l, t, metric, params) => marginLoss(t.a, t.p, t.n, { metric, beta: params.beta!, margin: 0.2, form: 'published' }),
  },
  'multi-similarity': { tol: 1e-9, f: (x, l) => multiSimilarityLoss(x, l, { alpha: 2, beta: 40, lambda: 0.5, epsilon: 0.1 }) },
  'lifted/robrank': { tol: 1e-9, f: (x, l, _t, metric) => liftedLoss(x, l, { metric, margin: metric.defaultMargin, form: 'robrank', l2Weight: 5e-3 }) },
  'lifted/published': { tol: 1e-9, f: (x, l, _t, metric) => liftedLoss(x, l, { metric, margin: metric.defaultMargin, form: 'published' }) },
  'lifted/generalized': { tol: 1e-9, f: (x, l, _t, metric) => liftedLoss(x, l, { metric, margin: metric.defaultMargin, form: 'generalized' }) },
  'npair/published': { tol: 1e-9, f: (x, l) => npairLoss(x, l, { form: 'published' }) },
  'snr/robrank': { tol: 1e-9, f: (_x, _l, t) => snrLoss(t.a, t.p, t.n, { margin: 0.2, regLambda: 0.005, form: 'robrank' }) },
  'snr/published': { tol: 1e-9, f: (_x, _l, t) => snrLoss(t.a, t.p, t.n, { margin: 1, regLambda: 0.005, form: 'published' }) },
  circle: { tol: 1e-9, f: (x, l) => circleLoss(x, l, { relaxation: 0.4, gamma: 80 }) },
};
const caseKey = (c: { loss: string; form: string }): string => (c.form === '' ? c.loss : `${c.loss}/${c.form}`);

test(`every loss PML has equals PML's value and gradient on the same batch (PML ${FIX.versions.pytorch_metric_learning}, torch ${FIX.versions.torch})`, (t) => {
  const labels = i64(FIX.labels);
  const idx = { a: i64(FIX.triplets.anchors), p: i64(FIX.triplets.positives), n: i64(FIX.triplets.negatives) };
  for (const c of FIX.cases) {
    const ours = OURS[caseKey(c)];
    assert.ok(ours !== undefined, `a TS side for ${caseKey(c)}`);
    const metric = metricByName(c.metric);
    tidy(() => {
      const z = f64(FIX.z).requiresGrad_();
      const x = metric.embed(z);
      const t3 = { a: x.indexSelect(0, idx.a), p: x.indexSelect(0, idx.p), n: x.indexSelect(0, idx.n) };
      const value = ours.f(x, labels, t3, metric, c.params);
      if (c.loss === 'margin') {
        const [pos, neg] = marginTerms(t3.a, t3.p, t3.n, { metric, beta: c.params.beta!, margin: 0.2 });
        assert.ok(pos.gt(0).any().item() && neg.gt(0).any().item(), `margin ${c.metric}: both hinge sets have non-zero terms`);
      }
      const grad = gradOf(value, z).toArray();
      const dv = Math.abs(value.item() - c.value);
      const dg = Math.max(...c.grad.flat().map((g, i) => Math.abs(g - grad[i]!)));
      t.diagnostic(
        `${caseKey(c)} ${c.metric}: value ${value.item().toFixed(9)} vs PML ${c.value.toFixed(9)} (|Δ| ${dv.toExponential(1)}), max |Δ grad| ${dg.toExponential(1)}, tolerance ${ours.tol}`,
      );
      assert.ok(dv < ours.tol, `${caseKey(c)} ${c.metric}: value ${value.item()} vs PML ${c.value}`);
      assert.ok(dg < ours.tol, `${caseKey(c)} ${c.metric}: gradient differs from PML's by ${dg}`);
      assert.ok(
        c.grad.flat().some((g) => Math.abs(g) > 1e-3),
        `${caseKey(c)} ${c.metric}: the case has a gradient to compare`,
      );
    });
  }
  for (const key of Object.keys(OURS))
    assert.ok(
      FIX.cases.some((c) => caseKey(c) === key),
      `fixture has ${key}`,
    );
  // Every published form of the catalogue has its PML case.
  for (const l of LOSSES as readonly LossEntry[]) {
    for (const v of l.forms?.values ?? [])
      if (v.name !== l.forms!.robrank)
        assert.ok(
          FIX.cases.some((c) => c.loss === l.name && c.form === v.name),
          `fixture has ${l.name}/${v.name}`,
        );
  }
  labels.dispose();
  Object.values(idx).forEach((v) => v.dispose());
});

/** Plain JS, the formulas only. */
const sub = (u: number[], v: number[]): number[] => u.map((x, i) => x - v[i]!);
const dot = (u: number[], v: number[]): number => u.reduce((s, x, i) => s + x * v[i]!, 0);
const norm = (u: number[]): number => Math.sqrt(dot(u, u));
const unit = (u: number[]): number[] => u.map((x) => x / norm(u));
const variance = (u: number[]): number => {
  const m = u.reduce((s, x) => s + x, 0) / u.length;
  return u.reduce((s, x) => s + (x - m) ** 2, 0) / (u.length - 1);
};
const lse = (v: number[]): number => {
  const m = Math.max(...v);
  return m + Math.log(v.reduce((s, x) => s + Math.exp(x - m), 0));
};
const mean = (v: number[]): number => v.reduce((s, x) => s + x, 0) / v.length;
const meanPositive = (v: number[]): number => v.reduce((s, x) => s + x, 0) / Math.max(1, v.filter((x) => x > 0).length);

test('the margin loss: hand-computed cases of both forms, β as a tensor or a number', () => {
  tidy(() => {
    // E; d(a,p) = 1, 0.3; d(a,n) = 2, 0.5; β 0.6, m 0.2: l⁺ = [0.6, 0] → 0.6, l⁻ = [0, 0.3] → 0.3.
    const a = f64([
      [0, 0],
      [0, 0],
    ]);
    const p = f64([
      [1, 0],
      [0, 0.3],
    ]);
    const n = f64([
      [2, 0],
      [0.5, 0],
    ]);
    const robrank = { metric: mE, margin: 0.2, form: 'robrank' } as const;
    const published = { metric: mE, margin: 0.2, form: 'published' } as const;
    near(marginLoss(a, p, n, { ...robrank, beta: 0.6 }).item(), 0.9, 1e-5, 'hand case');
    near(marginLoss(a, p, n, { ...robrank, beta: tensor([0.6], undefined, 'float64').view() }).item(), 0.9, 1e-5, 'β as a tensor');
    // Published: (0.6 + 0.3) / 2 non-zero terms.
    near(marginLoss(a, p, n, { ...published, beta: 0.6 }).item(), 0.45, 1e-5, 'hand case, published');
    // Swapping p and n: l⁺ = [1.6, 0.1] → 0.85, l⁻ = [0, 0.5] → 0.5; published (1.6 + 0.1 + 0.5) / 3.
    near(marginLoss(a, n, p, { ...robrank, beta: 0.6 }).item(), 1.35, 1e-5, 'swapped');
    near(marginLoss(a, n, p, { ...published, beta: 0.6 }).item(), 2.2 / 3, 1e-5, 'swapped, published');
    for (const o of [robrank, published])
      near(
        marginLoss(
          a,
          a,
          f64([
            [5, 0],
            [5, 0],
          ]),
          { ...o, beta: 0.6 },
        ).item(),
        0,
        1e-12,
        `nothing violates: 0, not NaN (${o.form})`,
      );
  });
});

test('the circle loss: a hand-computed case, and the plain-JS formula on random batches (N and C)', () => {
  tidy(() => {
    // Two classes at right angles: S = 1 within a class, 0 across. m 0.4, γ 1: α_p = 1.4 − 1 = 0.4,
    // α_n = 0 + 0.4 = 0.4; logits −0.4·(1 − 0.6) = −0.16 (one positive) and 0.4·(0 − 0.4) = −0.16
    // (two negatives); every anchor: softplus(−0.16 + (−0.16 + ln 2)) = ln(1 + 2e^−0.32) = 0.8970256.
    const x = f64([
      [1, 0],
      [1, 0],
      [0, 1],
      [0, 1],
    ]);
    near(circleLoss(x, i64([0, 0, 1, 1]), { relaxation: 0.4, gamma: 1 }).item(), 0.8970255743673397, 1e-12, 'hand case');
    // Negatives past their optimum (S_n = −1 ≤ −m): α_n = 0, so each negative's logit is 0 whatever S_n;
    // the positive's is −80·0.4·0.4 = −12.8: ln(1 + 2e^−12.8).
    near(
      circleLoss(
        f64([
          [1, 0],
          [1, 0],
          [-1, 0],
          [-1, 0],
        ]),
        i64([0, 0, 1, 1]),
        { relaxation: 0.4, gamma: 80 },
      ).item(),
      Math.log1p(2 * Math.exp(-12.8)),
      1e-12,
      'negatives past −m',
    );
  });
  manualSeed(4);
  tidy(() => {
    const z = randn([8, 5], { dtype: 'float64' });
    const labelsJs = [0, 0, 1, 1, 2, 2, 1, 1];
    for (const metric of [mN, mC]) {
      const X = metric.embed(z).toArray();
      const rows = Array.from({ length: 8 }, (_, i) => Array.from({ length: 5 }, (_, k) => X[i * 5 + k]!));
      const [m, g] = [0.25, 32];
      const circle = mean(
        rows.map((r, i) => {
          const lp = rows.flatMap((q, j) => (j !== i && labelsJs[j] === labelsJs[i] ? [-g * Math.max(0, 1 + m - dot(r, q)) * (dot(r, q) - 1 + m)] : []));
          const ln = rows.flatMap((q, j) => (labelsJs[j] !== labelsJs[i] ? [g * Math.max(0, dot(r, q) + m) * (dot(r, q) - m)] : []));
          return Math.log1p(Math.exp(lse(lp) + lse(ln)));
        }),
      );
      near(circleLoss(metric.embed(z), i64(labelsJs), { relaxation: m, gamma: g }).item(), circle, 1e-10, `circle ${metric.name}`);
      // Its gradient holds the weights α constant (the paper's): finite differences with α fixed at z's.
      const held = noGrad(() =>
        tidy(() => {
          const x = metric.embed(z);
          return x.matmul(x.t());
        }),
      );
      checkGradient((v) => tidy(() => circleLoss(metric.embed(v), i64(labelsJs), { relaxation: m, gamma: g, weightsFrom: held })), z, { tol: 1e-5 });
      // and that gradient is not the derivative of the value with α live: the weights are held, not differentiated.
      assert.throws(() => checkGradient((v) => circleLoss(metric.embed(v), i64(labelsJs), { relaxation: m, gamma: g }), z, { tol: 1e-5 }), /gradient mismatch/);
    }
  });
});

test("SNR, quadruplet, lifted, n-pair (RobRank's forms) and multi-similarity equal plain-JS implementations of their formulas", () => {
  manualSeed(3);
  tidy(() => {
    const z = randn([8, 5], { dtype: 'float64' });
    const labelsJs = [0, 0, 1, 1, 2, 2, 1, 1];
    const labels = i64(labelsJs);
    for (const metric of [mN, mE, mC]) {
      const x = metric.embed(z);
      const X = x.toArray();
      const rowsJs = Array.from({ length: 8 }, (_, i) => Array.from({ length: 5 }, (_, k) => X[i * 5 + k]!));
      const d = (u: number[], v: number[]): number => (metric.name === 'C' ? 1 - dot(u, v) : norm(sub(u, v)));
      // lifted
      const m = metric.defaultMargin;
      const lifted =
        mean(
          [0, 2, 4, 6].map((k) => {
            const pos = rowsJs.flatMap((r, j) => (j !== k && labelsJs[j] === labelsJs[k] ? [d(rowsJs[k]!, r)] : []));
            const neg = rowsJs.flatMap((r, j) => (labelsJs[j] !== labelsJs[k] ? [m - d(rowsJs[k]!, r)] : []));
            return Math.max(0, lse(pos) + lse(neg));
          }),
        ) +
        5e-3 * mean(rowsJs.map(norm));
      near(liftedLoss(x, labels, { metric, margin: m, form: 'robrank', l2Weight: 5e-3 }).item(), lifted, 1e-10, `lifted ${metric.name}`);
      // n-pair
      const npair =
        mean(
          [0, 2, 4, 6].map((k) => {
            const a = unit(rowsJs[k]!);
            const sp = dot(a, rowsJs[k + 1]!);
            return Math.log(1 + rowsJs.reduce((s, r, j) => s + (labelsJs[j] !== labelsJs[k] ? Math.exp(dot(a, r) - sp) : 0), 0));
          }),
        ) +
        5e-3 * mean(rowsJs.map(norm));
      near(npairLoss(x, labels, { form: 'robrank', l2Weight: 5e-3 }).item(), npair, 1e-10, `n-pair ${metric.name}`);
      // SNR and quadruplet on triplets (k, k^1, a fixed other-class row)
      const A = [0, 1, 2, 3, 4, 5, 6, 7],
        P = [1, 0, 3, 2, 5, 4, 7, 6],
        Nn = [2, 4, 0, 5, 0, 2, 0, 4];
      const ta = x.indexSelect(0, i64(A)),
        tp = x.indexSelect(0, i64(P)),
        tn = x.indexSelect(0, i64(Nn));
      const snrD = (u: number[], v: number[]): number => variance(sub(u, v)) / variance(u);
      const hinge = A.map((_, i) => Math.max(0, snrD(rowsJs[A[i]!]!, rowsJs[P[i]!]!) - snrD(rowsJs[A[i]!]!, rowsJs[Nn[i]!]!) + 0.2));
      const snr = meanPositive(hinge) + 0.005 * mean(A.map((i) => Math.abs(rowsJs[i]!.reduce((s, v) => s + v, 0))));
      near(snrLoss(ta, tp, tn, { margin: 0.2, regLambda: 0.005, form: 'robrank' }).item(), snr, 1e-10, `SNR ${metric.name}`);
      const second = [1, 2, 3, 0, 5, 6, 7, 4];
      const m2 = metric.name === 'E' ? 0.5 : 0.1;
      const quad =
        mean(A.map((_, i) => Math.max(0, d(rowsJs[A[i]!]!, rowsJs[P[i]!]!) - d(rowsJs[A[i]!]!, rowsJs[Nn[i]!]!) + m))) +
        mean(A.map((_, i) => Math.max(0, d(rowsJs[A[i]!]!, rowsJs[P[i]!]!) - d(rowsJs[Nn[i]!]!, rowsJs[Nn[second[i]!]!]!) + m2)));
      // the loss's distances carry PyTorch's eps (1e-6 per component)
      near(quadrupletLoss(ta, tp, tn, i64(second), { metric, margin: m, margin2: m2 }).item(), quad, 2e-5, `quadruplet ${metric.name}`);
      if (metric.name !== 'E') {
        // multi-similarity, with its miner
        const ms = mean(
          rowsJs.map((r, i) => {
            const sp = rowsJs.flatMap((q, j) => (j !== i && labelsJs[j] === labelsJs[i] ? [dot(r, q)] : []));
            const sn = rowsJs.flatMap((q, j) => (labelsJs[j] !== labelsJs[i] ? [dot(r, q)] : []));
            const keptP = sp.filter((s) => s - 0.1 < Math.max(...sn));
            const keptN = sn.filter((s) => s + 0.1 > Math.min(...sp));
            return (
              Math.log(1 + keptP.reduce((s, v) => s + Math.exp(-2 * (v - 0.5)), 0)) / 2 +
              Math.log(1 + keptN.reduce((s, v) => s + Math.exp(40 * (v - 0.5)), 0)) / 40
            );
          }),
        );
        near(multiSimilarityLoss(x, labels, { alpha: 2, beta: 40, lambda: 0.5, epsilon: 0.1 }).item(), ms, 1e-10, `multi-similarity ${metric.name}`);
      }
    }
  });
});

test('every loss: its gradient matches finite differences (float64), for each metric it is defined for', () => {
  manualSeed(5);
  const labels = i64([0, 0, 1, 1, 2, 2, 1, 1]);
  const idx = { a: i64([0, 1, 2, 3, 4, 5, 6, 7]), p: i64([1, 0, 3, 2, 5, 4, 7, 6]), n: i64([2, 4, 0, 5, 0, 2, 0, 4]) };
  const z = randn([8, 5], { dtype: 'float64' });
  const formsChecked = new Set<string>();
  // The circle loss's gradient holds its weights constant by design; its own test checks it that way.
  for (const entry of (LOSSES as readonly LossEntry[]).filter((e) => e.name !== 'circle')) {
    for (const name of entry.metrics) {
      const metric = metricByName(name);
      // spectral: both branches (p_switch 0: the plain batch; 1: the switched one)
      // every form of a loss that has several
      for (const [pSwitch, form] of (entry.name === 'spectral-triplet' ? [0, 1] : [undefined]).flatMap((ps) =>
        (entry.forms?.values ?? [{ name: undefined }]).map((v) => [ps, v.name] as const),
      )) {
        const margin = entry.name === 'spectral-triplet' ? 1.5 : defaultLossMargin(entry.name, name, form);
        const loss = buildTrainingLoss(entry.name, {
          margin,
          metric,
          ...(form !== undefined ? { form } : {}),
          ...(pSwitch !== undefined ? { params: { pSwitch } } : {}),
        });
        const f = (v: Tensor): Tensor =>
          tidy(() => {
            const x = metric.embed(v);
            if (entry.input === 'batch') return loss.batch(x, labels, metric);
            manualSeed(11); // the quadruplet's second negatives: the same draw at every evaluation
            return loss.triplets(
              {
                a: x.indexSelect(0, idx.a),
                p: x.indexSelect(0, idx.p),
                n: x.indexSelect(0, idx.n),
                anchorLabels: labels.indexSelect(0, idx.a),
                negativeLabels: labels.indexSelect(0, idx.n),
              },
              metric,
            );
          });
        checkGradient(f, z, { tol: 1e-5 });
        formsChecked.add(`${entry.name}/${form ?? ''}`);
        loss.dispose();
      }
    }
  }
  for (const key of [
    'margin/published',
    'margin/robrank',
    'lifted/published',
    'lifted/generalized',
    'lifted/robrank',
    'npair/published',
    'npair/robrank',
    'snr/published',
    'snr/robrank',
  ])
    assert.ok(formsChecked.has(key), `checked ${key}`);
  [labels, z, ...Object.values(idx)].forEach((v) => v.dispose());
});

test("the margin loss's β: a learnable scalar with its own SGD step at lr_beta, in the run's state", () => {
  const live = liveTensors();
  const loss = buildTrainingLoss('margin', { margin: 0.2, metric: mE, form: 'robrank' });
  assert.deepEqual(loss.state(), { 'loss.beta': Math.fround(0.6) });
  // A case with l⁺ only: d/dβ = −1 under either form.
  tidy(() => {
    const t = { a: tensor([[0, 0]]), p: tensor([[1, 0]]), n: tensor([[5, 0]]), anchorLabels: i64([0]), negativeLabels: i64([1]) };
    loss.zeroGrad();
    loss.triplets(t, mE).backward();
  });
  loss.step();
  near(loss.state()['loss.beta']!, 0.6 + 5e-4, 1e-7, 'β − lr · (−1)');
  loss.loadState({ 'loss.beta': 0.75 });
  near(loss.state()['loss.beta']!, 0.75, 1e-7, 'restored from a checkpoint');
  loss.dispose();
  assert.equal(liveTensors(), live, 'no tensor leaked');
});

test("β learns under the published margin loss and stays put under RobRank's form, on a batch with both hinge sets non-empty", (tc) => {
  const live = liveTensors();
  manualSeed(21);
  // A real SPC-2 batch through the random miner: 16 pairs of 4 classes, embeddings N-normalised.
  const labels = i64(Array.from({ length: 32 }, (_, i) => Math.floor(i / 2) % 4));
  const z = randn([32, 3]);
  const x0 = mN.embed(z);
  const triplets = minerByName('random')(x0, labels, { metric: mN, margin: 0.2 });
  x0.dispose();
  const step = (form: string): { before: number; after: number; pos: number; neg: number; value: number } => {
    const loss = buildTrainingLoss('margin', { margin: 0.2, metric: mN, form });
    assert.equal(loss.form, form);
    const before = loss.state()['loss.beta']!;
    const r = tidy(() => {
      const x = mN.embed(z);
      const t = {
        a: x.indexSelect(0, triplets.anchors),
        p: x.indexSelect(0, triplets.positives),
        n: x.indexSelect(0, triplets.negatives),
        anchorLabels: labels.indexSelect(0, triplets.anchors),
        negativeLabels: labels.indexSelect(0, triplets.negatives),
      };
      const [pos, neg] = marginTerms(t.a, t.p, t.n, { metric: mN, beta: before, margin: 0.2 });
      loss.zeroGrad();
      const value = loss.triplets(t, mN);
      value.backward();
      return { pos: pos.gt(0).sum().item(), neg: neg.gt(0).sum().item(), value: value.item() };
    });
    loss.step();
    const after = loss.state()['loss.beta']!;
    loss.dispose();
    return { before, after, ...r };
  };
  const published = step('published');
  const robrank = step('robrank');
  tc.diagnostic(
    `${published.pos} l⁺ and ${published.neg} l⁻ non-zero; β after one step: published ${published.before} → ${published.after}, robrank ${robrank.before} → ${robrank.after}`,
  );
  assert.ok(
    published.pos > 0 && published.neg > 0 && published.pos !== published.neg,
    `both hinge sets non-empty and unequal (${published.pos} l⁺, ${published.neg} l⁻)`,
  );
  // published: dL/dβ = (#l⁻ − #l⁺) / (#l⁺ + #l⁻); one SGD step at lr 5e-4 moves β by −lr · dL/dβ.
  const expected = (-5e-4 * (published.neg - published.pos)) / (published.pos + published.neg);
  near(published.after - published.before, expected, 1e-7, 'published: β moves by −lr · (#l⁻ − #l⁺)/(#l⁺ + #l⁻)');
  assert.ok(Math.abs(published.after - published.before) > 1e-5, `published: β moved (${published.before} → ${published.after})`);
  assert.equal(robrank.after, robrank.before, "RobRank's form: dL/dβ = −1 + 1 = 0, β stays put");
  assert.notEqual(published.value, robrank.value, 'the two reductions differ on this batch');
  [labels, z, triplets.anchors, triplets.positives, triplets.negatives].forEach((v) => v.dispose());
  assert.equal(liveTensors(), live, 'no tensor leaked');
});

test('the quadruplet second negatives: another triplet, of another class than the first negative', () => {
  manualSeed(0);
  for (let r = 0; r < 5; r++) {
    const s = secondNegatives(i64([0, 0, 1, 2, 2])).toArray();
    s.forEach((j, i) => assert.notEqual([0, 0, 1, 2, 2][j]!, [0, 0, 1, 2, 2][i]!, `row ${i}: ${j}`));
  }
  const same = secondNegatives(i64([3, 3, 3])).toArray();
  same.forEach((j, i) => assert.notEqual(j, i, 'a single class falls back to any other triplet'));
  assert.throws(() => secondNegatives(i64([1])), /at least 2 triplets/);
});

test('the catalogue: names once, RobRank words parse, each loss has its metrics, miner and margin rules', () => {
  assert.equal(new Set(LOSS_NAMES).size, LOSS_NAMES.length);
  assert.equal(LOSS_NAMES[0], 'triplet', 'the default first');
  for (const l of LOSSES as readonly LossEntry[]) {
    assert.ok(l.summary.length > 10 && l.metrics.length > 0 && l.robrankWords.length > 0, l.name);
    assert.equal(new Set(l.hypers.map((h) => h.flag)).size, l.hypers.length, `${l.name}: flags once`);
    for (const s of l.learnable ?? [])
      assert.ok(l.hypers.some((h) => h.name === s.init) && l.hypers.some((h) => h.name === s.lr), `${l.name}.${s.name} init and lr are hyper-parameters`);
  }
  const cases: [string, string, string, string][] = [
    ['fashion:rc2f2:pdmarginN', 'margin', 'distance', 'N'],
    ['fashion:rc2f2:pmarginC', 'margin', 'random', 'C'],
    ['fashion:rc2f2:pmsN', 'multi-similarity', 'random', 'N'],
    ['fashion:rc2f2:pgliftE', 'lifted', 'random', 'E'],
    ['fashion:rc2f2:pnpairC', 'npair', 'random', 'C'],
    ['fashion:rc2f2p:psnrN', 'snr', 'random', 'N'],
    ['fashion:rc2f2:pdquadN', 'quadruplet', 'distance', 'N'],
    ['fashion:rc2f2:pDtripletN', 'spectral-triplet', 'distance', 'N'],
    ['fashion:rc2f2p:pcontrastN', 'contrastive', 'random', 'N'],
    ['fashion:rc2f2:pcircleC', 'circle', 'random', 'C'],
  ];
  for (const [s, loss, miner, metric] of cases) {
    const c = parseShorthand(s);
    assert.deepEqual([c.loss, c.miner, c.metric], [loss, miner, metric], s);
    assert.equal(c.margin, lossEntry(loss).margin?.(c.metric) ?? 0, `${s}: the entry's margin`);
    assert.equal(shorthandOf(c), s, 'printed back from the entries');
  }
  for (const s of [
    'fashion:rc2f2d:pmtripletE',
    'fashion:rc2f2pf:ptripletN',
    'fashion:rc2f2ghmetsmi:ptripletN',
    'fashion:rc2f2hmetrd:pdsnrN',
    'cub:rres18p:pgtripletN',
    'cub:rres18df:pstripletC',
  ]) {
    assert.equal(shorthandOf(parseShorthand(s)), s, `${s}: parsed and printed by the defense entries`);
  }
  assert.throws(() => parseShorthand('fashion:rc2f2:pmsE'), /multi-similarity is defined for metrics N and C only/);
  assert.throws(() => parseShorthand('fashion:rc2f2:pDtripletE'), /spectral-triplet is defined for metric N only/);
  assert.throws(() => parseShorthand('fashion:rc2f2:pmmsN'), /not supported/);
  const base = defaultConfig('fashion');
  assert.throws(() => resolveConfig({ ...base, loss: 'multi-similarity', miner: 'semihard', margin: 0 }), /forms its own pairs/);
  assert.throws(() => resolveConfig({ ...base, loss: 'spectral-triplet', miner: 'random' }), /always mines with the distance miner/);
  assert.throws(() => resolveConfig({ ...base, loss: 'npair', margin: 0.2 }), /npair has no margin/);
  assert.throws(() => resolveConfig({ ...base, loss: 'margin', lossParams: { gamma: 1 } }), /lossParams.gamma: loss margin has no such hyper-parameter/);
  assert.throws(() => resolveConfig({ ...base, loss: 'margin', lossParams: { lrBeta: 0 } }), /lossParams.lrBeta \(--lr-beta\) is out of range/);
  assert.deepEqual(
    resolveConfig({ ...base, loss: 'margin', margin: 0.2 }).lossParams,
    { beta: 0.6, lrBeta: 5e-4 },
    'a resolved config holds every hyper-parameter',
  );
});

test("loss forms: the published form by default, RobRank's by its shorthand, checked like every other field", () => {
  const base = defaultConfig('fashion');
  for (const [loss, published, robrank] of [
    ['margin', 'published', 'robrank'],
    ['lifted', 'published', 'robrank'],
    ['npair', 'published', 'robrank'],
    ['snr', 'published', 'robrank'],
  ] as const) {
    const entry = lossEntry(loss);
    assert.equal(entry.forms?.default, published, `${loss}: the published form is the default`);
    assert.equal(entry.forms?.robrank, robrank, `${loss}: RobRank's form`);
    const miner = entry.input === 'batch' ? ('random' as const) : ('random' as const);
    const r = resolveConfig({ ...base, loss, miner, margin: defaultLossMargin(loss, 'N') });
    assert.equal(r.lossForm, published, `${loss}: a resolved config names its form`);
    assert.equal(shorthandOf(r), null, `${loss}: RobRank has no name for the published form`);
  }
  // RobRank's shorthand names RobRank's form, and prints back only from it.
  for (const s of ['fashion:rc2f2:pdmarginN', 'fashion:rc2f2:pgliftE', 'fashion:rc2f2:pnpairC', 'fashion:rc2f2p:psnrN']) {
    const c = resolveConfig(parseShorthand(s));
    assert.equal(c.lossForm, 'robrank', s);
    assert.equal(shorthandOf(c), s, s);
  }
  assert.equal(parseShorthand('fashion:rc2f2:psnrN').margin, 0.2, "RobRank's SNR margin");
  assert.equal(defaultLossMargin('snr', 'N'), 1, "the published SNR contrastive loss's negative margin (PML's default)");
  // Forms own their hyper-parameters: the norm penalties are RobRank's.
  assert.deepEqual(resolveConfig({ ...base, loss: 'lifted', margin: 0.2 }).lossParams, {}, 'published lifted: no norm term');
  assert.deepEqual(resolveConfig({ ...base, loss: 'lifted', lossForm: 'robrank', margin: 0.2 }).lossParams, { l2Weight: 5e-3 });
  assert.throws(
    () => resolveConfig({ ...base, loss: 'npair', margin: 0, lossParams: { l2Weight: 0.01 } }),
    /lossParams.l2Weight \(--npair-l2\): loss npair has it in form robrank only, not in form published/,
  );
  assert.throws(
    () => resolveConfig({ ...base, loss: 'margin', lossForm: 'wu', margin: 0.2 }),
    /lossForm \(--loss-form\): loss margin has no form 'wu' \(its forms: published, robrank\)/,
  );
  assert.throws(
    () => resolveConfig({ ...base, lossForm: 'published' }),
    /loss triplet comes in one form: --loss-form published does not apply \(losses with forms: margin, lifted, npair, snr\)/,
  );
  assert.throws(
    () => buildTrainingLoss('lifted', { margin: 0.2, metric: mN, params: { l2Weight: 1 } }),
    /loss lifted \(form published\) has no hyper-parameter l2Weight/,
  );
  // A run recorded before forms existed (its config names none) trained RobRank's form and is read back so;
  // the same JSON as a new config gets today's default.
  const before = { ...resolveConfig({ ...base, loss: 'lifted', lossForm: 'robrank', margin: 0.2 }) };
  delete before.lossForm;
  assert.equal(parseRecordedConfig(JSON.parse(JSON.stringify(before))).lossForm, 'robrank');
  assert.throws(() => parseConfig(JSON.parse(JSON.stringify(before))), /lossParams.l2Weight \(--lifted-l2\): loss lifted has it in form robrank only/);
  assert.equal(resolveConfig(parseConfig({ ...before, lossParams: {} })).lossForm, 'published');
});

test("defenses with any loss: each entry's refusal, with its reason", () => {
  const base = { ...defaultConfig('fashion') };
  const withLoss = (loss: string, defense: Parameters<typeof resolveConfig>[0]['defense'], metric: 'N' | 'E' | 'C' = 'N') =>
    resolveConfig({
      ...base,
      loss: loss as typeof base.loss,
      metric,
      miner: lossEntry(loss).input === 'batch' ? 'random' : (lossEntry(loss).miner ?? 'random'),
      margin: lossEntry(loss).margin?.(metric) ?? 0,
      defense,
    });
  for (const loss of ['triplet', 'contrastive', 'margin', 'snr', 'quadruplet', 'spectral-triplet']) {
    assert.equal(withLoss(loss, { kind: 'act' }).loss, loss, `ACT trains ${loss}`);
    assert.equal(withLoss(loss, { kind: 'hm', source: 'softhard', destination: 'semihard' }).loss, loss, `HM trains ${loss}`);
  }
  for (const loss of ['multi-similarity', 'lifted', 'npair', 'circle']) {
    assert.equal(withLoss(loss, { kind: 'est' }).loss, loss, `EST trains ${loss} on the adversarial batch`);
    assert.throws(
      () => withLoss(loss, { kind: 'act' }),
      /ACT perturbs the positive and negative of each mined triplet; loss .* is computed on the whole batch/,
    );
    assert.throws(() => withLoss(loss, { kind: 'hm', source: 'random', destination: 'semihard' }), /HM manipulates the hardness of mined triplets/);
  }
  // A loss's forms consume the same input: a defense accepts or refuses every form alike.
  for (const form of ['published', 'robrank']) {
    for (const loss of ['margin', 'snr'])
      assert.equal(
        resolveConfig({ ...base, loss: loss as typeof base.loss, lossForm: form, margin: defaultLossMargin(loss, 'N', form), defense: { kind: 'act' } })
          .lossForm,
        form,
        `ACT trains ${loss} (${form})`,
      );
    for (const loss of ['lifted', 'npair']) {
      const c = { ...base, loss: loss as typeof base.loss, lossForm: form, margin: defaultLossMargin(loss, 'N', form) };
      assert.equal(resolveConfig({ ...c, defense: { kind: 'est' } }).lossForm, form, `EST trains ${loss} (${form})`);
      assert.throws(() => resolveConfig({ ...c, defense: { kind: 'act' } }), /is computed on the whole batch/, `ACT refuses ${loss} (${form})`);
    }
  }
  assert.throws(
    () => withLoss('margin', { kind: 'hm', source: 'random', destination: 'lga', gradualBase: 'semihard' }),
    /gradual destination lga is a function of the previous step's triplet loss/,
  );
  assert.throws(() => withLoss('snr', { kind: 'catride', lambda: 10 }), /CA-TRIDE adds its separation term inside the triplet loss/);
  assert.equal(parseShorthand('cub:rres18p:pgtripletN').margin, 0.2, "CA-TRIDE's margin");
  assert.equal(parseShorthand('cub:rres18p:pgtripletE').margin, 0.2, "CA-TRIDE's margin for E too (the released code's)");
});

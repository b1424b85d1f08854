// Metric layer, losses: the triplet loss against hand-computed values (with
// PyTorch's eps conventions), its gradient against finite differences,
// hardness, per-metric margins, the contrastive loss, the CA-TRIDE term, input
// errors, and no leaked tensors. Miners are in metric-miners.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { liveTensors, manualSeed, randn, tensor, tidy, type Tensor } from '../src/tensor/index.js';
import {
  catrideSeparationTerm,
  contrastiveLoss,
  l2normalize,
  metricByName,
  METRICS,
  parseMetric,
  requireMetric,
  tripletHardness,
  tripletLoss,
  tripletLossPerTriplet,
} from '../src/metric/index.js';
import { checkGradient } from './helpers/gradcheck.js';
import { allNear, near } from './helpers/assert.js';
import { jsCosineDistance, jsEpsDistance } from './helpers/distances.js';

const f64 = (rows: number[][]): Tensor => tensor(rows, undefined, 'float64');
const [mN, mE, mC] = (['N', 'E', 'C'] as const).map(metricByName);

test('the METRICS catalogue: N, E, C once each, with their names, codes, margins, and JSON as the name', () => {
  assert.deepEqual(
    METRICS.map((m) => m.name),
    ['N', 'E', 'C'],
  );
  assert.deepEqual(
    METRICS.map((m) => m.code),
    ['N', 'E', 'C'],
    'the letter ending a RobRank loss name',
  );
  assert.deepEqual(
    METRICS.map((m) => m.defaultMargin),
    [0.2, 1.0, 0.2],
  );
  assert.deepEqual(
    METRICS.map((m) => m.referenceMinerMargin),
    [1.0, 1.0, undefined],
    "RobRank's ACT miner margin",
  );
  for (const m of METRICS) {
    assert.ok(m.summary.length > 10, `${m.name} has a summary`);
    assert.equal(`${m}`, m.name);
    assert.equal(JSON.stringify({ metric: m }), `{"metric":"${m.name}"}`, 'configs and JSON keep the name');
    assert.ok(Object.isFrozen(m), `${m.name} is immutable`);
  }
});

test('metricByName: case-insensitive, the same instances; an unknown name is refused with the names listed', () => {
  for (const m of METRICS) {
    assert.equal(metricByName(m.name), m);
    assert.equal(metricByName(m.name.toLowerCase()), m);
  }
  assert.equal(parseMetric('c'), 'C');
  for (const bad of ['Z', '', 'NE', ' N', 'cosine']) {
    assert.throws(
      () => metricByName(bad),
      (e: unknown) => e instanceof Error && e.message === `unknown metric '${bad}' (expected one of N, E, C)`,
      JSON.stringify(bad),
    );
  }
  assert.throws(() => requireMetric(mC, ['N', 'E'], 'X'), /^Error: X is defined for metrics N and E only \(got C\), as in the reference$/);
  assert.doesNotThrow(() => requireMetric(mE, ['N', 'E'], 'X'));
});

test("each metric's pairwise, gallery, rows, lossRows and fromGram agree with each other and with a hand-computed 2×2 case", () => {
  tidy(() => {
    // Raw rows a = (3, 4), (0, 2) and b = (0, 5), (1, 0); normalised: â = (0.6, 0.8), (0, 1), b̂ = (0, 1), (1, 0).
    const a = f64([
      [3, 4],
      [0, 2],
    ]);
    const b = f64([
      [0, 5],
      [1, 0],
    ]);
    const hand: Record<string, number[]> = {
      // ||a_i − b_j||: (3, −1), (2, 4); (0, −3), (−1, 2)
      E: [Math.sqrt(10), Math.sqrt(20), 3, Math.sqrt(5)],
      // ||â_i − b̂_j||: (0.6, −0.2), (−0.4, 0.8); (0, 0), (−1, 1)
      N: [Math.sqrt(0.4), Math.sqrt(0.8), 0, Math.SQRT2],
      // 1 − â_i·b̂_j: 1 − 0.8, 1 − 0.6; 1 − 1, 1 − 0
      C: [0.2, 0.4, 0, 1],
    };
    for (const m of METRICS) {
      const [x, y] = [m.embed(a), m.embed(b)];
      const want = hand[m.name]!;
      allNear(m.pairwise(x, y).toArray(), want, 1e-12, `${m.name} pairwise`);
      allNear(m.gallery(x, y).toArray(), want, 1e-12, `${m.name} gallery`);
      allNear(m.rows(x, y).toArray(), [want[0]!, want[3]!], 1e-12, `${m.name} rows = the diagonal of pairwise`);
      allNear(m.lossRows(x, y).toArray(), [want[0]!, want[3]!], 1e-5, `${m.name} lossRows = rows up to the eps`);
      allNear(m.fromGram(x.mm(x.t())).toArray(), m.pairwise(x, x).toArray(), 1e-12, `${m.name} fromGram = pairwise(x, x)`);
    }
    // N and C on unit vectors: ||û − v̂||² = 2(1 − û·v̂).
    allNear(
      hand.N!.map((d) => d * d),
      hand.C!.map((d) => 2 * d),
      1e-12,
      'N² = 2C',
    );
    // E keeps the raw embedding (a copy); N and C normalise.
    allNear(mE.embed(a).toArray(), [3, 4, 0, 2], 0, 'E embed');
    allNear(mN.embed(a).toArray(), [0.6, 0.8, 0, 1], 1e-15, 'N embed');
    allNear(mC.embed(a).toArray(), [0.6, 0.8, 0, 1], 1e-15, 'C embed');
  });
});

// Two 2-D triplets (rows): one with an active hinge, one inactive for E with γ = 1.
const A = [
  [0, 0],
  [1, 1],
];
const P = [
  [3, 0],
  [1, 2],
];
const N = [
  [0, 2.5],
  [4, 5],
];

test('triplet loss, E: mean of max(0, ||a-p+eps|| - ||a-n+eps|| + γ), eps added to every component', () => {
  tidy(() => {
    const per = [0, 1].map((i) => Math.max(0, jsEpsDistance(A[i]!, P[i]!) - jsEpsDistance(A[i]!, N[i]!) + 1.0));
    // hand check of the JS reference itself: triplet 0 ≈ 3 - 2.5 + 1, triplet 1 inactive (1 - 5 + 1 < 0)
    near(per[0]!, 1.5, 1e-5);
    assert.equal(per[1], 0);
    const loss = tripletLoss(f64(A), f64(P), f64(N), { metric: mE, margin: 1.0 }).item();
    near(loss, (per[0]! + per[1]!) / 2, 1e-12, 'E loss');
    assert.deepEqual(
      tripletLossPerTriplet(f64(A), f64(P), f64(N), { metric: mE, margin: 1.0 })
        .toArray()
        .map((v) => +v.toFixed(12)),
      per.map((v) => +v.toFixed(12)),
    );
    // the eps is inside the difference: d(u, u) = sqrt(D)·1e-6, not 0 and not 1e-6
    near(mE.lossRows(f64([[0.3, -2]]), f64([[0.3, -2]])).item(), Math.SQRT2 * 1e-6, 1e-18, 'd(u,u)');
    // ... and it is signed with the difference: d((0,0),(3,0)) = sqrt((−3+1e-6)² + 1e-12) < 3
    const d = mE.lossRows(f64([[0, 0]]), f64([[3, 0]])).item();
    near(d, Math.sqrt((-3 + 1e-6) ** 2 + 1e-12), 1e-15, 'd(a,p)');
    assert.ok(d < 3);
  });
});

test('triplet loss, N: the same formula on normalised embeddings, default margin 0.2', () => {
  tidy(() => {
    const [a, p, n] = [A.slice(1), P.slice(1), N.slice(1)].map((r) => l2normalize(f64(r)));
    const [av, pv, nv] = [a!, p!, n!].map((t) => t.toArray());
    const expected = Math.max(0, jsEpsDistance(av!, pv!) - jsEpsDistance(av!, nv!) + 0.2);
    assert.ok(expected > 0, 'this triplet is active under N');
    near(tripletLoss(a!, p!, n!, { metric: mN }).item(), expected, 1e-12, 'N loss');
  });
});

test('triplet loss, C: 1 - cosine similarity, scale invariant, margin 0.2', () => {
  tidy(() => {
    // cos(a,p) = 0.6 -> d = 0.4; cos(a,n1) = 0 -> d = 1 (inactive); cos(a,n2) = 0.8 -> d = 0.2 (0.4 - 0.2 + 0.2 = 0.4)
    const a = f64([
      [1, 0],
      [2, 0],
    ]);
    const p = f64([
      [0.6, 0.8],
      [3, 4],
    ]);
    const n = f64([
      [0, 1],
      [0.8, 0.6],
    ]);
    near(tripletLoss(a, p, n, { metric: mC }).item(), (0 + 0.4) / 2, 1e-12, 'C loss');
    near(jsCosineDistance([2, 0], [3, 4]), 0.4, 1e-15);
    // the cosine_similarity eps guards a zero vector: d = 1 - 0 instead of NaN
    near(mC.lossRows(f64([[0, 0]]), f64([[1, 0]])).item(), 1, 0, 'zero vector');
  });
});

test('the default margin is the metric table (N, C: 0.2; E: 1.0) and an explicit margin overrides it', () => {
  tidy(() => {
    // n = a, p far: the hinge is active, so loss - (d_ap - d_an) = γ exactly
    const a = f64([[1, 0]]);
    const p = f64([[0, 1]]);
    for (const [metric, gamma] of [
      [mN, 0.2],
      [mC, 0.2],
      [mE, 1.0],
    ] as const) {
      assert.equal(metric.defaultMargin, gamma, `${metric.name}: the table's margin`);
      const base = metric.lossRows(a, p).sub(metric.lossRows(a, a)).item();
      near(tripletLoss(a, p, a, { metric }).item() - base, gamma, 1e-12, `default ${metric}`);
      near(tripletLoss(a, p, a, { metric, margin: 1.7 }).item() - base, 1.7, 1e-12, `override ${metric}`);
    }
    // margin 0 (ICS): max(0, H); here H < 0
    assert.equal(tripletLoss(a, a, p, { metric: mN, margin: 0 }).item(), 0);
  });
});

test('triplet loss gradient matches central finite differences (float64)', () => {
  manualSeed(11);
  const B = 5;
  const D = 4;
  const x = randn([3 * B, D], { dtype: 'float64' });
  const split = (v: Tensor): Tensor[] => [v.narrow(0, 0, B), v.narrow(0, B, B), v.narrow(0, 2 * B, B)];
  // large margins keep every hinge active, so the loss is smooth at the sampled point
  checkGradient(
    (v) => {
      const [a, p, n] = split(v);
      return tripletLoss(a!, p!, n!, { metric: mE, margin: 10 });
    },
    x,
    { maxChecks: 60 },
  );
  checkGradient(
    (v) => {
      const [a, p, n] = split(l2normalize(v));
      return tripletLoss(a!, p!, n!, { metric: mN, margin: 3 });
    },
    x,
    { maxChecks: 60 },
  );
  checkGradient(
    (v) => {
      const [a, p, n] = split(v);
      return tripletLoss(a!, p!, n!, { metric: mC, margin: 3 });
    },
    x,
    { maxChecks: 60 },
  );
  x.dispose();
});

test('the gradient at a = p stays finite thanks to the eps (a plain norm would give NaN)', () => {
  tidy(() => {
    const a = f64([[0.5, 0.5]]).requiresGrad_();
    const p = f64([[0.5, 0.5]]);
    const n = f64([[1, 0]]);
    const loss = tripletLoss(a, p, n, { metric: mE });
    loss.backward();
    const g = a.grad!.toArray();
    assert.ok(g.every(Number.isFinite), `gradient ${g}`);
  });
});

test('hardness H = d(a,p) - d(a,n) uses the plain distances', () => {
  tidy(() => {
    // E: 3 - 2.5 = 0.5 exactly (no eps), and 1 - 5 = -4
    assert.deepEqual(tripletHardness(f64(A), f64(P), f64(N), mE).toArray(), [0.5, 1 - 5]);
    // C: 0.4 - 1 and 0.4 - 0.2 (inputs normalised: C assumes metric space)
    const a = l2normalize(
      f64([
        [1, 0],
        [1, 0],
      ]),
    );
    const p = l2normalize(
      f64([
        [0.6, 0.8],
        [0.6, 0.8],
      ]),
    );
    const n = l2normalize(
      f64([
        [0, 1],
        [0.8, 0.6],
      ]),
    );
    const h = tripletHardness(a, p, n, mC).toArray();
    near(h[0]!, -0.6, 1e-15);
    near(h[1]!, 0.2, 1e-15);
    // N: H ∈ [-2, 2]; the antipodal extreme reaches -2
    const hn = tripletHardness(f64([[1, 0]]), f64([[1, 0]]), f64([[-1, 0]]), mN).item();
    assert.equal(hn, -2);
    // L_T = max(0, H + γ) up to the eps of the loss distance
    const lt = tripletLoss(f64(A), f64(P), f64(N), { metric: mE, margin: 1 }).item();
    near(lt, (Math.max(0, 0.5 + 1) + Math.max(0, -4 + 1)) / 2, 1e-5);
  });
});

test('contrastive loss, N/E: mean d(a,p) + mean over violating pairs of (m - d(a,n)); margin 1 by default', () => {
  tidy(() => {
    // d(a,p): 3 and 1; d(a,n): 2.5 (no violation of m = 1) and 0.5 ((1,1)->(1,1.5): violation 0.5)
    const a = f64([
      [0, 0],
      [1, 1],
    ]);
    const p = f64([
      [3, 0],
      [1, 2],
    ]);
    const n = f64([
      [0, 2.5],
      [1, 1.5],
    ]);
    const dap = [jsEpsDistance([0, 0], [3, 0]), jsEpsDistance([1, 1], [1, 2])];
    const dan = [jsEpsDistance([0, 0], [0, 2.5]), jsEpsDistance([1, 1], [1, 1.5])];
    const expected = (dap[0]! + dap[1]!) / 2 + (1 - dan[1]!); // the mean over V = {1} only, not over both
    near(contrastiveLoss(a, p, n, { metric: mE }).item(), expected, 1e-12, 'E contrastive');
    // no violating pair: only the pull term, and no NaN from an empty mean
    const far = f64([
      [0, 9],
      [9, 9],
    ]);
    near(contrastiveLoss(a, p, far, { metric: mE }).item(), (dap[0]! + dap[1]!) / 2, 1e-12, 'no violation');
    // explicit margin 3: both violate (3 - 2.5 and 3 - 0.5)
    near(contrastiveLoss(a, p, n, { metric: mE, margin: 3 }).item(), (dap[0]! + dap[1]!) / 2 + (3 - dan[0]! + 3 - dan[1]!) / 2, 1e-12);
  });
});

test('contrastive loss, C: cosine_embedding_loss form; with the default m = 1 the negative term vanishes', () => {
  tidy(() => {
    const a = f64([
      [1, 0],
      [1, 0],
    ]);
    const p = f64([
      [0.6, 0.8],
      [1, 0],
    ]);
    const n = f64([
      [0.8, 0.6],
      [0, 1],
    ]);
    // pull: mean(1 - 0.6, 1 - 1) = 0.2; push with m = 1: max(0, cos - 1) = 0
    near(contrastiveLoss(a, p, n, { metric: mC }).item(), 0.2, 1e-12, 'C, m = 1');
    // m = 0.5: push = mean(max(0, 0.8 - 0.5), max(0, 0 - 0.5)) = 0.15
    near(contrastiveLoss(a, p, n, { metric: mC, margin: 0.5 }).item(), 0.2 + 0.15, 1e-12, 'C, m = 0.5');
  });
});

test('contrastive loss gradient matches finite differences (float64)', () => {
  manualSeed(12);
  const x = randn([12, 3], { dtype: 'float64' });
  for (const metric of [mE, mC]) {
    checkGradient((v) => contrastiveLoss(v.narrow(0, 0, 4), v.narrow(0, 4, 4), v.narrow(0, 8, 4), { metric, margin: 2 }), x);
  }
  x.dispose();
});

test('CA-TRIDE term: ½·max(0, low(d_ap) - low(d_an) + 0.04) with low = mean of the ⌊B/2⌋ smallest', () => {
  tidy(() => {
    // B = 5, ⌊B/2⌋ = 2. d_ap = 1, 2, 3, 0.5, 4 -> low = (0.5 + 1)/2; d_an = 0.7, 0.9, 5, 6, 0.8 -> low = (0.7 + 0.8)/2
    const a = f64([[0], [0], [0], [0], [0]]);
    const p = f64([[1], [2], [3], [0.5], [4]]);
    const n = f64([[0.7], [0.9], [5], [6], [0.8]]);
    const d = (xs: number[]): number[] => xs.map((x) => jsEpsDistance([0], [x]));
    const low = (xs: number[]): number => {
      const s = [...xs].sort((u, v) => u - v);
      return (s[0]! + s[1]!) / 2;
    };
    const expected = 0.5 * Math.max(0, low(d([1, 2, 3, 0.5, 4])) - low(d([0.7, 0.9, 5, 6, 0.8])) + 0.04);
    near(expected, 0.5 * (0.75 - 0.75 + 0.04), 1e-6); // sanity of the hand value
    near(catrideSeparationTerm(a, p, n, { metric: mE }).item(), expected, 1e-12, 'term');
    // separated halves: the hinge is off
    assert.equal(catrideSeparationTerm(a, p, f64([[9], [9], [9], [9], [9]]), { metric: mN }).item(), 0);
    assert.throws(() => catrideSeparationTerm(a, p, n, { metric: mC }), /metrics N and E only/);
    assert.throws(() => catrideSeparationTerm(f64([[0]]), f64([[1]]), f64([[2]]), { metric: mN }), /at least 2 triplets/);
  });
});

test('bad input is an Error that names the problem', () => {
  tidy(() => {
    const a = f64([
      [0, 0],
      [1, 1],
    ]);
    assert.throws(() => tripletLoss(a, f64([[1, 1]]), a, { metric: mN }), /positive embeddings have shape \[1, 2\], anchors have \[2, 2\]/);
    assert.throws(
      () =>
        tripletLoss(
          a,
          a,
          f64([
            [1, 1, 1],
            [0, 0, 0],
          ]),
          { metric: mN },
        ),
      /negative embeddings have shape/,
    );
    assert.throws(() => tripletLoss(tensor([1, 2], undefined, 'float64'), a, a, { metric: mE }), /2-D \[batch, dim\]/);
    assert.throws(
      () =>
        tripletLoss(
          f64([
            [0, NaN],
            [1, 1],
          ]),
          a,
          a,
          { metric: mE },
        ),
      /anchor embeddings contains NaN or infinite values/,
    );
    assert.throws(
      () =>
        tripletHardness(
          a,
          a,
          f64([
            [0, Infinity],
            [1, 1],
          ]),
          mE,
        ),
      /negative embeddings contains NaN or infinite/,
    );
    assert.throws(() => tripletLoss(a, a, a, { metric: mE, margin: NaN }), /margin must be a finite number/);
    assert.throws(
      () =>
        contrastiveLoss(
          a,
          a,
          tensor(
            [
              [0, 0],
              [1, 1],
            ],
            undefined,
            'int64',
          ),
          { metric: mE },
        ),
      /negative embeddings are int64/,
    );
  });
});

test('losses free every intermediate tensor', () => {
  manualSeed(13);
  const a = randn([6, 8]);
  const p = randn([6, 8]);
  const n = randn([6, 8]);
  const before = liveTensors();
  for (const metric of METRICS) {
    for (const t of [
      tripletLoss(a, p, n, { metric }),
      tripletLossPerTriplet(a, p, n, { metric }),
      tripletHardness(a, p, n, metric),
      contrastiveLoss(a, p, n, { metric }),
    ]) {
      const total = t.sum();
      assert.ok(Number.isFinite(total.item()));
      total.dispose();
      t.dispose();
    }
  }
  catrideSeparationTerm(a, p, n, { metric: mN }).dispose();
  const short = randn([5, 8]);
  assert.throws(() => tripletLoss(a, p, short, { metric: mN }));
  short.dispose();
  assert.equal(liveTensors(), before);
  for (const t of [a, p, n]) t.dispose();
});

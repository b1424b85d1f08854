// Metric layer, miners (docs/methods.md §2, §8.2): each rule on hand-built SPC-2
// batches where the choice is forced, the fallbacks, the reference's NaN
// behaviour, distance-weighted probabilities against a JS computation and
// empirical frequencies, the registry, determinism, input errors and leaks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dispose, liveTensors, manualSeed, randn, tensor, tidy, type Tensor } from '../src/tensor/index.js';
import {
  distanceWeightedMiner,
  distanceWeightedProbabilities,
  gradualSemihardMargin,
  gradualSemihardMiner,
  hardestMiner,
  hardestNegatives,
  minerByName,
  minerDistanceRows,
  MINER_NAMES,
  parseMinerName,
  randomMiner,
  semihardMiner,
  semihardNegatives,
  softhardMiner,
  softhardSelection,
  spc2MiningBatch,
  type Miner,
  type MinerOptions,
  type MiningBatch,
  type Triplets,
  metricByName,
  METRICS,
} from '../src/metric/index.js';
import { near, nearRelative } from './helpers/assert.js';

const [mN, mE] = (['N', 'E'] as const).map(metricByName);

/** 1-D points (metric E gives exact distances |x_i - x_j| for small integers and halves). */
const points = (xs: number[]): Tensor => tensor(xs.map((x) => [x]));
const labelsOf = (ys: number[]): Tensor => tensor(ys, undefined, 'int64');

/** Runs a miner and returns plain arrays, disposing the triplets. */
function mine(miner: Miner, emb: Tensor, labels: Tensor, opts: MinerOptions): { a: number[]; p: number[]; n: number[] } {
  const t: Triplets = miner(emb, labels, opts);
  const out = { a: t.anchors.toArray(), p: t.positives.toArray(), n: t.negatives.toArray() };
  dispose(t);
  return out;
}

/** Counts of the chosen index of one anchor over `draws` mining calls. */
function histogram(draws: number, pick: () => number, size: number): number[] {
  const counts = new Array<number>(size).fill(0);
  for (let i = 0; i < draws; i++) counts[pick()]! += 1;
  return counts;
}

/** Pearson's chi-square statistic of counts against probabilities (cells with p = 0 must be empty). */
function chiSquare(counts: number[], probs: number[]): number {
  const total = counts.reduce((s, c) => s + c, 0);
  let stat = 0;
  counts.forEach((c, i) => {
    const e = total * probs[i]!;
    if (e === 0) assert.equal(c, 0, `cell ${i} has probability 0 but was drawn ${c} times`);
    else stat += (c - e) ** 2 / e;
  });
  return stat;
}
// Upper 0.1% points of chi-square (df 1..7): the tests are seeded, so this only guards against a wrong law.
const CHI2_999 = [0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32];

const E = (margin = 1.0): MinerOptions => ({ metric: mE, margin });

test('every miner returns int64 [B] triplets with anchors at the even positions', () => {
  manualSeed(1);
  tidy(() => {
    const emb = randn([12, 8]);
    const labels = labelsOf([0, 0, 1, 1, 2, 2, 0, 0, 3, 3, 1, 1]);
    for (const name of MINER_NAMES) {
      for (const metric of METRICS) {
        const t = minerByName(name)(emb, labels, { metric, margin: 0.2, progress: { epoch: 3, maxEpochs: 8 } });
        for (const k of ['anchors', 'positives', 'negatives'] as const) {
          assert.deepEqual(t[k].shape, [6], `${name} ${k}`);
          assert.equal(t[k].dtype, 'int64');
        }
        assert.deepEqual(t.anchors.toArray(), [0, 2, 4, 6, 8, 10]);
        if (name !== 'softhard') assert.deepEqual(t.positives.toArray(), [1, 3, 5, 7, 9, 11], name);
        const y = labels.toArray();
        t.anchors.toArray().forEach((a, i) => {
          assert.equal(y[t.positives.toArray()[i]!], y[a], `${name}: positive shares the anchor's label`);
          // every anchor has negatives here, and distance-weighted only leaves Neg on the degenerate paths
          if (name !== 'distance' || metric.name !== 'E') assert.notEqual(y[t.negatives.toArray()[i]!], y[a], `${name}/${metric}: negative label`);
        });
      }
    }
  });
});

test("the miners' distance matrix is the reference sqrt(|x|²+|y|²-2x·y): exact-zero diagonal, N/C normalise", () => {
  manualSeed(2);
  tidy(() => {
    const emb = randn([6, 5]).mul(3);
    const x = emb.toArray();
    for (const metric of METRICS) {
      const d = minerDistanceRows(emb, metric);
      assert.deepEqual(d.shape, [3, 6]);
      const rows = d.toArray();
      for (let k = 0; k < 3; k++) {
        if (metric.name !== 'C') assert.equal(rows[k * 6 + 2 * k], 0, `${metric}: d(anchor, itself) is exactly 0`);
        for (let j = 0; j < 6; j++) {
          const u = x.slice(2 * k * 5, 2 * k * 5 + 5);
          const v = x.slice(j * 5, j * 5 + 5);
          const nu = metric.name === 'E' ? 1 : Math.hypot(...u);
          const nv = metric.name === 'E' ? 1 : Math.hypot(...v);
          const expected =
            metric.name === 'C' ? 1 - u.reduce((s, ui, i) => s + (ui / nu) * (v[i]! / nv), 0) : Math.hypot(...u.map((ui, i) => ui / nu - v[i]! / nv));
          nearRelative(rows[k * 6 + j]!, expected, 1e-3, `${metric} d(${2 * k},${j})`);
        }
      }
    }
  });
});

test('random: uniform over Neg, never a same-label item; all same label -> uniform over all 2B', () => {
  manualSeed(3);
  const emb = points([0, 1, 2, 3, 4, 5, 6, 7]);
  const labels = labelsOf([0, 0, 1, 1, 2, 2, 0, 0]);
  // anchor 0: Neg = {2, 3, 4, 5}; 6 and 7 share its label
  const counts = histogram(800, () => mine(randomMiner, emb, labels, E()).n[0]!, 8);
  assert.ok(chiSquare(counts, [0, 0, 0.25, 0.25, 0.25, 0.25, 0, 0]) < CHI2_999[3]!, `counts ${counts}`);
  const same = labelsOf([4, 4, 4, 4]);
  const emb4 = points([0, 1, 2, 3]);
  const all = histogram(800, () => mine(randomMiner, emb4, same, E()).n[0]!, 4);
  assert.ok(chiSquare(all, [0.25, 0.25, 0.25, 0.25]) < CHI2_999[3]!, `all-same counts ${all} (the anchor itself included)`);
  dispose([emb, labels, same, emb4]);
});

test('semihard: the one negative with d_ap < d_an < d_ap + m is chosen; both inequalities strict', () => {
  manualSeed(4);
  // anchor 0 at 0, partner at 2 (d_ap = 2), m = 1. Negatives: 2 (= d_ap: excluded), 2.5 (the only
  // semihard one), 3 (d_ap - d + m = 0: excluded), -1 (closer than the positive: hard, excluded)
  const emb = points([0, 2, 2, 2.5, 3, -1]);
  const labels = labelsOf([0, 0, 1, 1, 2, 2]);
  for (let i = 0; i < 40; i++) assert.equal(mine(semihardMiner, emb, labels, E(1)).n[0], 3);
  // the margin matters: with m = 0.4, 2 - 2.5 + 0.4 < 0, no candidate -> uniform over Neg
  const counts = histogram(600, () => mine(semihardMiner, emb, labels, E(0.4)).n[0]!, 6);
  assert.ok(chiSquare(counts, [0, 0, 0.25, 0.25, 0.25, 0.25]) < CHI2_999[3]!, `fallback counts ${counts}`);
  dispose([emb, labels]);
});

test('semihard fallbacks: no candidate -> uniform over Neg; no negative -> uniform over all', () => {
  manualSeed(5);
  const emb = points([0, 1, 5, 6, 7, 8]);
  const labels = labelsOf([0, 0, 1, 1, 2, 2]);
  const counts = histogram(600, () => mine(semihardMiner, emb, labels, E(1)).n[0]!, 6);
  assert.ok(chiSquare(counts, [0, 0, 0.25, 0.25, 0.25, 0.25]) < CHI2_999[3]!, `counts ${counts}`);
  const same = labelsOf([1, 1, 1, 1, 1, 1]);
  const all = histogram(600, () => mine(semihardMiner, emb, same, E(1)).n[0]!, 6);
  assert.ok(chiSquare(all, new Array(6).fill(1 / 6)) < CHI2_999[5]!, `all-same counts ${all}`);
  dispose([emb, labels, same]);
});

/** A MiningBatch built from explicit distances (to inject NaN the way the reference's sqrt can). */
function batchOf(distances: number[][], labels: number[], dim = 4): MiningBatch {
  const y = labels;
  const same = distances.map((_, k) => y.map((yj) => (yj === y[2 * k] ? 1 : 0)));
  return { pairs: distances.length, dim, distances: tensor(distances), sameLabel: tensor(same, undefined, 'bool') };
}

test('semihard ignores NaN distances (comparisons with NaN are false, as in the reference)', () => {
  manualSeed(6);
  tidy(() => {
    // anchor 0: partner at 2; item 2 would be semihard but its distance is NaN; item 3 is semihard
    const b = batchOf([[0, 2, NaN, 2.5, 9, 9]], [0, 0, 1, 1, 2, 2]);
    for (let i = 0; i < 30; i++) assert.equal(semihardNegatives(b, 1).item(), 3);
    // a NaN d_ap disables the rule for the row: fallback uniform over Neg
    const c = batchOf([[0, NaN, 2.2, 2.5, 9, 9]], [0, 0, 1, 1, 2, 2]);
    const seen = new Set(Array.from({ length: 60 }, () => semihardNegatives(c, 1).item()));
    assert.deepEqual([...seen].sort(), [2, 3, 4, 5]);
  });
});

test('softhard: negatives closer than the farthest positive, positives farther than the closest negative', () => {
  manualSeed(7);
  // anchor 0 at 0, partner at 3. Negatives at 1 (closer than the partner: the soft negative),
  // 3 (equal: strict, excluded), 4, 5. Positive rule: the partner (3² > 1²) qualifies, the anchor (0) does not.
  const emb = points([0, 3, 1, 3, 4, 5]);
  const labels = labelsOf([0, 0, 1, 1, 2, 2]);
  for (let i = 0; i < 40; i++) {
    const t = mine(softhardMiner, emb, labels, E());
    assert.equal(t.n[0], 2);
    assert.equal(t.p[0], 1);
  }
  dispose([emb, labels]);
});

test('softhard: with no soft positive the positive is uniform over Pos and may be the anchor itself', () => {
  manualSeed(8);
  // partner at 1 and every negative farther (>= 2): no positive beyond the closest negative,
  // and no negative inside the farthest positive -> both fall back
  const emb = points([0, 1, 2, 3, 4, 5]);
  const labels = labelsOf([0, 0, 1, 1, 2, 2]);
  const pos = [0, 0];
  const neg = new Array<number>(6).fill(0);
  for (let i = 0; i < 600; i++) {
    const t = mine(softhardMiner, emb, labels, E());
    pos[t.p[0]!]! += 1;
    neg[t.n[0]!]! += 1;
  }
  assert.ok(chiSquare(pos, [0.5, 0.5]) < CHI2_999[1]!, `positives ${pos}: the anchor itself is a fallback positive`);
  assert.ok(chiSquare(neg, [0, 0, 0.25, 0.25, 0.25, 0.25]) < CHI2_999[3]!, `negatives ${neg}`);
  // Pos larger than the pair: item 4 shares label 0 and lies beyond the closest negative -> the only soft positive
  const labels2 = labelsOf([0, 0, 1, 1, 0, 2]);
  for (let i = 0; i < 20; i++) assert.equal(mine(softhardMiner, emb, labels2, E()).p[0], 4);
  dispose([emb, labels, labels2]);
});

test('softhard: no negative in the batch -> positive 2k+1, negative uniform over all', () => {
  manualSeed(9);
  const emb = points([0, 1, 2, 3]);
  const labels = labelsOf([5, 5, 5, 5]);
  const neg = new Array<number>(4).fill(0);
  for (let i = 0; i < 400; i++) {
    const t = mine(softhardMiner, emb, labels, E());
    assert.deepEqual(t.p, [1, 3]);
    neg[t.n[1]!]! += 1;
  }
  assert.ok(chiSquare(neg, [0.25, 0.25, 0.25, 0.25]) < CHI2_999[3]!, `negatives of anchor 2: ${neg}`);
  dispose([emb, labels]);
});

test('softhard: a NaN among Pos poisons the max (reference torch.max), so the negative falls back to all of Neg', () => {
  manualSeed(10);
  tidy(() => {
    // without the NaN, item 2 (d = 1 < d_ap = 3) would be the only soft negative
    const clean = batchOf([[0, 3, 1, 4, 5, 6]], [0, 0, 1, 1, 2, 2]);
    for (let i = 0; i < 20; i++) assert.equal(softhardSelection(clean).negatives.item(), 2);
    const poisoned = batchOf([[NaN, 3, 1, 4, 5, 6]], [0, 0, 1, 1, 2, 2]);
    const seen = new Set(Array.from({ length: 80 }, () => softhardSelection(poisoned).negatives.item()));
    assert.deepEqual([...seen].sort(), [2, 3, 4, 5]);
  });
});

test('hardest: the closest negative, skipping zero distances and same-label items', () => {
  manualSeed(11);
  // anchor 0 at 0; partner at 0.5 and another label-0 item at 0.2 are closer but not negatives;
  // the negative at 0 (a duplicate under another label) has d = 0 and is skipped; the closest is 2
  const emb = points([0, 0.5, 3, 0, 2, 0.2, 4, 5]);
  const labels = labelsOf([0, 0, 1, 1, 2, 0, 3, 3]);
  for (let i = 0; i < 5; i++) assert.equal(mine(hardestMiner, emb, labels, E()).n[0], 4);
  dispose([emb, labels]);
});

test('hardest: NaN distances count as zero (skipped), even on same-label items; no candidate -> uniform over Neg', () => {
  manualSeed(12);
  tidy(() => {
    // NaN at the anchor itself (same label) and at a negative: the reference's mask·NaN would return one of them
    const b = batchOf([[NaN, 1, NaN, 0.7, 0.9, 3]], [0, 0, 1, 1, 2, 2]);
    assert.equal(hardestNegatives(b).item(), 3);
    // every negative at distance 0 or NaN: fallback uniform over Neg (the reference crashes here)
    const z = batchOf([[0, 1, 0, NaN, 0, 0]], [0, 0, 1, 1, 2, 2]);
    const seen = new Set(Array.from({ length: 80 }, () => hardestNegatives(z).item()));
    assert.deepEqual([...seen].sort(), [2, 3, 4, 5]);
    // no negative at all: uniform over everything
    const s = batchOf([[0, 1, 2, 3]], [7, 7, 7, 7]);
    const all = new Set(Array.from({ length: 80 }, () => hardestNegatives(s).item()));
    assert.deepEqual([...all].sort(), [0, 1, 2, 3]);
  });
});

/** The reference distance-weighted q of one anchor row, in float64 JS. */
function referenceQ(d: number[], pos: boolean[], D: number): number[] {
  let logq = d.map((x, j) => (pos[j] ? 0 : (2 - D) * Math.log(x) - ((D - 3) / 2) * Math.log(1 - 0.25 * x * x)));
  const max = logq.some(Number.isNaN) ? NaN : Math.max(...logq);
  logq = logq.map((l) => l - max);
  let w = logq.map((l, j) => (pos[j] ? 0 : Math.exp(l)));
  w = w.map((x) => (Number.isNaN(x) ? 0 : x === Infinity ? 3.4028234663852886e38 : x));
  if (w.reduce((s, x) => s + x, 0) === 0) w = w.map(() => 1e-7);
  const total = w.reduce((s, x) => s + x, 0);
  return w.map((x) => x / total);
}

test('distance-weighted: q matches the formula with D = embedding dim; Pos has probability 0', () => {
  manualSeed(13);
  tidy(() => {
    const D = 4;
    const emb = randn([8, D]);
    const labels = labelsOf([0, 0, 1, 1, 2, 2, 0, 0]);
    const batch = spc2MiningBatch(emb, labels, mN);
    const q = distanceWeightedProbabilities(batch).toArray();
    const d = batch.distances.toArray();
    const y = labels.toArray();
    for (let k = 0; k < 4; k++) {
      const row = d.slice(8 * k, 8 * k + 8);
      const pos = y.map((yj) => yj === y[2 * k]);
      const expected = referenceQ(row, pos, D);
      for (let j = 0; j < 8; j++) {
        near(q[8 * k + j]!, expected[j]!, 1e-5, `anchor ${2 * k}, item ${j}`);
        if (pos[j]) assert.equal(q[8 * k + j], 0, 'positives (the anchor, its partner, same-label items) are zeroed');
      }
      assert.ok(expected.filter((v) => v > 0.02).length >= 3, 'the case is not degenerate');
    }
  });
});

test('distance-weighted: empirical frequencies follow q (chi-square), positives never drawn', () => {
  manualSeed(14);
  const D = 4;
  const emb = randn([8, D]);
  const labels = labelsOf([0, 0, 1, 1, 2, 2, 0, 0]);
  const q = tidy(() => {
    const b = spc2MiningBatch(emb, labels, mN);
    return distanceWeightedProbabilities(b).toArray();
  });
  const draws = 1500;
  const counts = Array.from({ length: 4 }, () => new Array<number>(8).fill(0));
  for (let i = 0; i < draws; i++) {
    mine(distanceWeightedMiner, emb, labels, { metric: mN, margin: 0.2 }).n.forEach((j, k) => (counts[k]![j]! += 1));
  }
  for (let k = 0; k < 4; k++) {
    const probs = q.slice(8 * k, 8 * k + 8);
    const df = probs.filter((p) => p > 0).length - 1;
    const stat = chiSquare(counts[k]!, probs);
    assert.ok(stat < CHI2_999[df]!, `anchor ${2 * k}: chi2 ${stat.toFixed(2)} (df ${df}), counts ${counts[k]}, q ${probs.map((p) => p.toFixed(3))}`);
  }
  dispose([emb, labels]);
});

test('distance-weighted degenerate rows: NaN or d > 2 or d = 0 outside Pos -> uniform over all 2B, positives included', () => {
  tidy(() => {
    const labels = [0, 0, 1, 1, 2, 2];
    const uniform = new Array(6).fill(1 / 6);
    // metric E: distances beyond 2 make ln(1 - d²/4) NaN
    const far = distanceWeightedProbabilities(batchOf([[0, 1, 3, 0.5, 1, 1.2]], labels)).toArray();
    far.forEach((v, j) => near(v, uniform[j], 1e-6, `d > 2: q ${far}`));
    // a negative at distance 0: logq = +inf is the max, inf - inf = NaN
    const dup = distanceWeightedProbabilities(batchOf([[0, 1, 0, 0.5, 1, 1.2]], labels)).toArray();
    dup.forEach((v, j) => near(v, uniform[j], 1e-6, `d = 0: q ${dup}`));
    // a NaN distance from the sqrt formula
    const nan = distanceWeightedProbabilities(batchOf([[0, 1, NaN, 0.5, 1, 1.2]], labels)).toArray();
    nan.forEach((v, j) => near(v, uniform[j], 1e-6, `NaN: q ${nan}`));
    // healthy row for contrast: positives 0, 1 get nothing
    const ok = distanceWeightedProbabilities(batchOf([[0, 1, 0.9, 0.5, 1, 1.2]], labels)).toArray();
    assert.deepEqual(ok.slice(0, 2), [0, 0]);
    near(
      ok.reduce((s, v) => s + v, 0),
      1,
      1e-6,
    );
    // with a realistic D = 512, logq is smallest at d = √2 and steep: the mass goes to the item farthest from √2
    const row = [0, 1, 1.5, 1.6, 1.7, 1.8];
    const big = distanceWeightedProbabilities(batchOf([row], labels, 512)).toArray();
    const ref = referenceQ(row, [true, true, false, false, false, false], 512);
    big.forEach((v, j) => near(v, ref[j]!, 1e-6, `D = 512: q ${big} vs ${ref}`));
    assert.ok(big[5]! > 0.999);
  });
});

test('gradual semihard: m_e = 0.2·(1 - e/(2E))², and the miner uses it instead of opts.margin', () => {
  assert.equal(gradualSemihardMargin({ epoch: 0, maxEpochs: 75 }), 0.2);
  near(gradualSemihardMargin({ epoch: 75, maxEpochs: 75 }), 0.05, 1e-15);
  near(gradualSemihardMargin({ epoch: 30, maxEpochs: 60 }), 0.2 * 0.75 ** 2, 1e-15);
  assert.throws(() => gradualSemihardMargin({ epoch: 2, maxEpochs: 0 }), /maxEpochs must be a positive integer/);
  assert.throws(() => gradualSemihardMargin({ epoch: -1, maxEpochs: 5 }), /epoch must be an integer in \[0, 5\]/);
  manualSeed(15);
  // d_ap = 2; item 2 at 2.1 is semihard for m = 0.2 (2 - 2.1 + 0.2 > 0) but not for m = 0.05
  const emb = points([0, 2, 2.1, 10, 11, 12]);
  const labels = labelsOf([0, 0, 1, 1, 2, 2]);
  const early = { metric: mE, margin: 99, progress: { epoch: 0, maxEpochs: 10 } };
  for (let i = 0; i < 30; i++) assert.equal(mine(gradualSemihardMiner, emb, labels, early).n[0], 2, 'epoch 0, margin 0.2');
  const late = { ...early, progress: { epoch: 10, maxEpochs: 10 } };
  const seen = new Set(Array.from({ length: 80 }, () => mine(gradualSemihardMiner, emb, labels, late).n[0]));
  assert.deepEqual([...seen].sort(), [2, 3, 4, 5], 'last epoch, margin 0.05: no semihard candidate, uniform over Neg');
  assert.throws(() => gradualSemihardMiner(emb, labels, E()), /needs opts.progress/);
  dispose([emb, labels]);
});

test('the registry maps our names, RobRank letters and code ids; unknown names are errors', () => {
  const expected: [string, Miner][] = [
    ['random', randomMiner],
    ['r', randomMiner],
    ['spc2-random', randomMiner],
    ['semihard', semihardMiner],
    ['m', semihardMiner],
    ['spc2-semihard', semihardMiner],
    ['softhard', softhardMiner],
    ['s', softhardMiner],
    ['spc2-softhard', softhardMiner],
    ['distance', distanceWeightedMiner],
    ['d', distanceWeightedMiner],
    ['spc2-distance', distanceWeightedMiner],
    ['hardest', hardestMiner],
    ['h', hardestMiner],
    ['spc2-hard', hardestMiner],
    ['gradual-semihard', gradualSemihardMiner],
    ['spc2-ghard', gradualSemihardMiner],
  ];
  for (const [name, miner] of expected) assert.equal(minerByName(name), miner, name);
  assert.equal(parseMinerName('h'), 'hardest');
  assert.throws(() => minerByName('hard'), /unknown miner 'hard' \(expected one of random, semihard/);
  assert.throws(() => minerByName('M'), /unknown miner 'M'/);
});

test('the same seed gives the same triplets; another seed gives others', () => {
  const run = (seed: number): number[][] => {
    manualSeed(100);
    const emb = randn([40, 16]);
    const labels = tensor(
      Array.from({ length: 40 }, (_, i) => Math.floor(i / 2) % 7),
      undefined,
      'int64',
    );
    manualSeed(seed);
    const out = ['random', 'semihard', 'softhard', 'distance'].map((name) => {
      const t = mine(minerByName(name), emb, labels, { metric: mN, margin: 0.2 });
      return [...t.p, ...t.n];
    });
    dispose([emb, labels]);
    return out;
  };
  assert.deepEqual(run(5), run(5));
  assert.notDeepEqual(run(5), run(6));
});

test('bad batches are Errors that name the problem', () => {
  tidy(() => {
    const emb = randn([6, 3]);
    const labels = labelsOf([0, 0, 1, 1, 2, 2]);
    assert.throws(() => randomMiner(randn([5, 3]), labelsOf([0, 0, 1, 1, 2]), E()), /even number of embeddings .* got 5/);
    assert.throws(() => semihardMiner(emb, labelsOf([0, 0, 1, 1]), E()), /labels must have shape \[6\]/);
    assert.throws(() => softhardMiner(emb, tensor([0, 0, 1, 1, 2, 2]), E()), /labels must be an integer tensor, got float32/);
    assert.throws(
      () =>
        hardestMiner(
          tensor([
            [0, 1, NaN],
            [0, 0, 0],
          ]),
          labelsOf([0, 0]),
          E(),
        ),
      /embeddings contains NaN or infinite values/,
    );
    assert.throws(() => distanceWeightedMiner(randn([6]), labels, E()), /2-D \[batch, dim\]/);
    assert.throws(() => semihardMiner(emb, labels, { metric: mN, margin: Infinity }), /semihard margin must be a finite number/);
  });
});

test('miners free every intermediate tensor', () => {
  manualSeed(16);
  const emb = randn([16, 8]);
  const labels = labelsOf([0, 0, 1, 1, 2, 2, 0, 0, 3, 3, 4, 4, 1, 1, 5, 5]);
  const before = liveTensors();
  for (const name of MINER_NAMES) {
    for (const metric of METRICS) {
      const t = minerByName(name)(emb, labels, { metric, margin: 0.2, progress: { epoch: 1, maxEpochs: 4 } });
      dispose(t);
    }
  }
  const batch = spc2MiningBatch(emb, labels, mN);
  distanceWeightedProbabilities(batch).dispose();
  dispose(batch);
  assert.throws(() => gradualSemihardMiner(emb, labels, { metric: mN, margin: 0.2 }));
  assert.equal(liveTensors(), before);
  dispose([emb, labels]);
});

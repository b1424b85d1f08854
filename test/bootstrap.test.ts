// The per-query bootstrap (src/eval/bootstrap.ts) and the intervals built on it: the generator's
// known sequence, a resample replayed by hand, exactly computable cases (all-equal values, a
// two-valued vector against the binomial), intervals shrinking as real queries grow, determinism
// under the seed, and ERS/ARS bootstrapped THROUGH their formulas (a flipped sign in a term, or
// columns resampled independently, gives another interval). Real libtorch for the real numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapInfo, bootstrapIntervals, excludesZero, mulberry32, percentileInterval, resampleIndices, type Interval } from '../src/eval/bootstrap.js';
import { scoresOf, swipeIntervals } from '../src/eval/score-intervals.js';
import { compareSwipes, checkPairable, compareMarkdown, compareSvg } from '../src/eval/compare.js';
import { empiricalRobustnessScore, ATTACK_NAMES, type AttackResults } from '../src/eval/robustness.js';
import { retrievalMetrics } from '../src/eval/retrieval.js';
import { l2normalize, metricByName } from '../src/metric/metric.js';
import { openDataset } from '../src/data/index.js';
import { tidy, Tensor } from '../src/tensor/index.js';
import type { StoredSwipeResult } from '../src/eval/swipe.js';
import { swipeMarkdown, swipeSvg } from '../src/eval/report-svg.js';
import { formatScore } from '../src/eval/format.js';

const info = (resamples: number, seed = 0): ReturnType<typeof bootstrapInfo> => bootstrapInfo({ resamples, seed });
const width = (i: Interval): number => i.hi - i.lo;

test('mulberry32: the published sequence of seed 0, and indices floor(u·n/2^32)', () => {
  const next = mulberry32(0);
  // mulberry32(0)() / 2^32 = 0.26642920868471265 in every implementation of the generator.
  assert.equal(next() / 2 ** 32, 0.26642920868471265);
  const draws = [next(), next()];
  assert.deepEqual(draws, [1416247, 958946056]);
  const again = mulberry32(0);
  const idx = resampleIndices(10, again);
  const replay = mulberry32(0);
  assert.deepEqual(
    Array.from(idx),
    Array.from({ length: 10 }, () => Math.floor((replay() * 10) / 2 ** 32)),
  );
  assert.equal(idx[0], 2, '0.266… × 10');
  assert.throws(() => bootstrapInfo({ resamples: 0 }), /resamples must be a positive integer, got 0/);
  assert.throws(() => bootstrapInfo({ confidence: 1 }), /confidence must be in \(0, 1\), got 1/);
});

test('percentile interval: linear interpolation between order statistics (numpy default)', () => {
  assert.deepEqual(percentileInterval([5, 1, 4, 2, 3], 0.5), { lo: 2, hi: 4 });
  const p = percentileInterval(
    Array.from({ length: 101 }, (_, i) => i),
    0.95,
  );
  assert.ok(Math.abs(p.lo - 2.5) < 1e-12 && Math.abs(p.hi - 97.5) < 1e-12);
});

test('a tiny vector with three resamples, replayed by hand from the generator', () => {
  const v = [0, 10, 20, 30];
  const r = bootstrapIntervals({ x: v }, null, { resamples: 3, seed: 7, confidence: 0.5, unit: 'query' });
  const next = mulberry32(7);
  const means = [0, 1, 2]
    .map(() => {
      let s = 0;
      for (let i = 0; i < 4; i++) s += v[Math.floor((next() * 4) / 2 ** 32)]!;
      return s / 4;
    })
    .sort((a, b) => a - b);
  // Quantiles 0.25 and 0.75 of three sorted values: positions 0.5 and 1.5.
  assert.deepEqual(r.x, { lo: (means[0]! + means[1]!) / 2, hi: (means[1]! + means[2]!) / 2 });
});

test('all-equal values give a zero-width interval; a two-valued vector matches the binomial', () => {
  const flat = bootstrapIntervals({ x: new Array(50).fill(3.25) }, null, info(200));
  assert.deepEqual(flat.x, { lo: 3.25, hi: 3.25 });
  // n = 40 queries, 10 of them 1: a replicate's mean is Binomial(40, 0.25) / 40; its 2.5 % and 97.5 %
  // quantiles are 5/40 and 15/40 (cdf(4) = 0.016, cdf(5) = 0.043; cdf(14) = 0.946, cdf(15) = 0.974).
  const n = 40;
  const v = Array.from({ length: n }, (_, i) => (i < 10 ? 1 : 0));
  const r = bootstrapIntervals({ x: v }, null, info(20000, 3)).x!;
  assert.ok(Math.abs(r.lo - 5 / n) <= 1 / n + 1e-12, `lo ${r.lo} within one step of 5/40`);
  assert.ok(Math.abs(r.hi - 15 / n) <= 1 / n + 1e-12, `hi ${r.hi} within one step of 15/40`);
  // And the replicates' spread is the binomial's: sd = sqrt(p(1−p)/n).
  const next = mulberry32(3);
  const reps = Array.from({ length: 4000 }, () => Array.from(resampleIndices(n, next)).reduce((s, i) => s + v[i]!, 0) / n);
  const mean = reps.reduce((s, x) => s + x, 0) / reps.length;
  const sd = Math.sqrt(reps.reduce((s, x) => s + (x - mean) ** 2, 0) / (reps.length - 1));
  assert.ok(Math.abs(sd - Math.sqrt((0.25 * 0.75) / n)) < 0.004, `sd ${sd}`);
});

test('the same seed gives the same intervals; another seed other ones', () => {
  const v = Array.from({ length: 64 }, (_, i) => Math.sin(i) * 10);
  const a = bootstrapIntervals({ x: v }, null, info(300, 11));
  const b = bootstrapIntervals({ x: v }, null, info(300, 11));
  const c = bootstrapIntervals({ x: v }, null, info(300, 12));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('real queries: the R@1 interval of Fashion-MNIST pixels shrinks about as 1/sqrt(n)', async () => {
  // Real retrieval: the test images' raw pixels, normalised, as embeddings; per-query hits from retrievalMetrics.
  const test = (await openDataset('fashion')).test;
  const count = 1024;
  const pixels = test.kind === 'memory' ? test.pixels.subarray(0, count * 784) : new Uint8Array();
  const emb = tidy(() =>
    l2normalize(
      Tensor.fromTypedArray(
        Float32Array.from(pixels, (x) => x / 255),
        [count, 784],
      ),
    ),
  );
  const labels = tidy(() => Tensor.fromTypedArray(test.labels.subarray(0, count), [count]).long());
  try {
    const hits = retrievalMetrics(emb, emb, labels, labels, metricByName('N'), { perQuery: true, recallAt: [1] }).perQuery!.recallAt[1]!;
    assert.equal(hits.length, count);
    const widths = [64, 256, 1024].map((n) => width(bootstrapIntervals({ r1: hits.slice(0, n) }, null, info(1000)).r1!));
    assert.ok(widths[0]! > widths[1]! && widths[1]! > widths[2]!, `widths ${widths.join(', ')} shrink`);
    // ×4 the queries → about half the width (binomial-like spread), loosely.
    for (const k of [0, 1]) assert.ok(widths[k]! / widths[k + 1]! > 1.5 && widths[k]! / widths[k + 1]! < 2.7, `ratio ${widths[k]! / widths[k + 1]!}`);
  } finally {
    emb.dispose();
    labels.dispose();
  }
});

/** Per-query columns where CA− = 2·CA+ on every query: ERS's terms 2·CA+ + (100 − CA−) add to 100 whatever the draw. */
function coupledColumns(n: number): Record<string, number[]> {
  const x = Array.from({ length: n }, (_, i) => (i * 37) % 50);
  const constant = (v: number): number[] => new Array(n).fill(v);
  return {
    benignRecallAt1: Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 0 : 100)),
    'CA+': x,
    'CA-': x.map((v) => 2 * v),
    'QA+': constant(20),
    'QA-': constant(60),
    TMA: constant(0.5),
    'ES:D': constant(0.4),
    'ES:R': constant(30),
    LTM: constant(10),
    GTM: constant(12),
    GTT: constant(5),
  };
}

test('ERS is bootstrapped through its formula: coupled columns give a zero-width ERS interval', () => {
  const cols = coupledColumns(64);
  const r = swipeIntervals(cols, null, info(500, 5));
  const means = Object.fromEntries(Object.entries(cols).map(([k, v]) => [k, v.reduce((s, x) => s + x, 0) / v.length]));
  const ers = scoresOf(means, null).ERS!;
  assert.ok(width(r['CA+']!) > 5, 'the columns themselves vary');
  assert.ok(Math.abs(r.ERS!.lo - ers) < 1e-9 && Math.abs(r.ERS!.hi - ers) < 1e-9, `ERS interval [${r.ERS!.lo}, ${r.ERS!.hi}] is the point ${ers}`);
  // Bootstrapping each column with its own draw loses the coupling: the ERS interval opens up.
  const independent = (seed: number): number[] => {
    const ers: number[] = [];
    const gens = Object.keys(cols).map((_, j) => mulberry32(seed + j));
    for (let b = 0; b < 500; b++) {
      const m: Record<string, number> = {};
      Object.entries(cols).forEach(([k, v], j) => (m[k] = Array.from(resampleIndices(v.length, gens[j]!)).reduce((s, i) => s + v[i]!, 0) / v.length));
      ers.push(empiricalRobustnessScore(Object.fromEntries(ATTACK_NAMES.map((n) => [n, m[n]!])) as unknown as AttackResults));
    }
    return ers;
  };
  assert.ok(width(percentileInterval(independent(5), 0.95)) > 2, 'independent columns give a wide ERS interval');
  // A flipped sign in a term (CA− scored as 100 + x) is caught the same way: with the coupling it no longer cancels.
  const next = mulberry32(5);
  const flipped: number[] = [];
  for (let b = 0; b < 500; b++) {
    const idx = resampleIndices(64, next);
    const m = (k: string): number => Array.from(idx).reduce((s, i) => s + cols[k]![i]!, 0) / 64;
    flipped.push((2 * m('CA+') + (100 + m('CA-')) + 2 * 20 + 40 + 50 + 80 + 30 + 10 + 12 + 5) / 10);
  }
  assert.ok(width(percentileInterval(flipped, 0.95)) > 2, 'the flipped sign gives a wide interval, so the zero width above pins the signs');
  // ARS through its formula too: its replicate with R@1 from the same draw.
  assert.ok(r.ARS !== undefined && width(r.ARS) > 0);
});

test('ERS interval equals an independent replay: one draw per replicate, every column, then the formula', () => {
  const cols = coupledColumns(48);
  cols['CA+'] = cols['CA+']!.map((v, i) => (i % 5 === 0 ? 50 - v : v)); // break the coupling so the interval is not trivial
  const r = swipeIntervals(cols, null, info(200, 9));
  const next = mulberry32(9);
  const reps: number[] = [];
  for (let b = 0; b < 200; b++) {
    const idx = resampleIndices(48, next);
    const m = Object.fromEntries(Object.entries(cols).map(([k, v]) => [k, Array.from(idx).reduce((s, i) => s + v[i]!, 0) / 48]));
    reps.push(empiricalRobustnessScore(Object.fromEntries(ATTACK_NAMES.map((n) => [n, m[n]!])) as unknown as AttackResults));
  }
  const expected = percentileInterval(reps, 0.95);
  assert.ok(Math.abs(r.ERS!.lo - expected.lo) < 1e-9 && Math.abs(r.ERS!.hi - expected.hi) < 1e-9);
});

/** A stored swipe result from per-query columns (points = plain means, one batch). */
function swipeOf(cols: Record<string, number[]>, madeOn: Partial<StoredSwipeResult['madeOn']> = {}): StoredSwipeResult {
  const mean = (v: number[]): number => v.reduce((s, x) => s + x, 0) / v.length;
  const attacks = Object.fromEntries(
    Object.entries(cols)
      .filter(([k]) => k !== 'benignRecallAt1')
      .map(([k, v]) => [k, mean(v)]),
  );
  const s = scoresOf({ ...attacks, benignRecallAt1: mean(cols.benignRecallAt1!) }, null);
  return {
    profile: 'rob28',
    metric: 'N',
    queries: cols['CA+']!.length,
    batches: 1,
    budgets: [],
    attacks,
    benignRecallAt1: mean(cols.benignRecallAt1!),
    ERS: s.ERS,
    ARS: s.ARS,
    lowBenignRecall: false,
    seconds: 0,
    gallerySeconds: 0,
    perQuery: cols,
    madeOn: {
      dataset: 'fashion',
      split: 'test',
      splitSha256: 'a',
      queries: cols['CA+']!.length,
      queryIndicesSha256: 'b',
      profile: 'rob28',
      seed: 0,
      method: 'pgd',
      transfer: false,
      attackOptions: '{}',
      benignRecallAt1Given: null,
      ...madeOn,
    },
  };
}

test('compare: a model against itself differs by exactly 0 on [0, 0]; a shifted one on every shifted column; refusals name the difference', () => {
  const cols = coupledColumns(64);
  const self = compareSwipes(
    [
      { label: 'a', result: swipeOf(cols) },
      { label: 'b', result: swipeOf(cols) },
    ],
    info(300),
  );
  for (const row of self.comparisons[0]!.rows) {
    assert.equal(row.difference, 0, row.column);
    assert.deepEqual(row.interval, { lo: 0, hi: 0 }, row.column);
    assert.equal(row.excludesZero, false);
  }
  // The other model: LTM 5 points higher on every query (paired: a constant shift has a zero-width interval at 5).
  const shifted = { ...cols, LTM: cols.LTM!.map((v, i) => v + 5 + (i % 2)) };
  const c = compareSwipes(
    [
      { label: 'na', result: swipeOf(cols) },
      { label: 'def', result: swipeOf(shifted) },
    ],
    info(300),
  ).comparisons[0]!;
  const ltm = c.rows.find((r) => r.column === 'LTM')!;
  assert.ok(ltm.excludesZero && ltm.interval.lo >= 5 && ltm.interval.hi <= 6 && ltm.moreRobust === 'other', JSON.stringify(ltm));
  const ers = c.rows.find((r) => r.column === 'ERS')!;
  assert.ok(Math.abs(ers.difference - 0.55) < 1e-9 && ers.excludesZero, 'ERS gains a tenth of LTM’s 5.5');
  assert.equal(c.rows.find((r) => r.column === 'CA+')!.excludesZero, false);
  const md = compareMarkdown(
    compareSwipes(
      [
        { label: 'na', result: swipeOf(cols) },
        { label: 'def', result: swipeOf(shifted) },
      ],
      info(300),
    ),
  );
  assert.match(md, /\| LTM \| % R@1 \| 10\.0 \| 15\.5 \| \+5\.5 \| \[5\.\d, 5\.\d\] \| yes \| def more robust \|/);
  assert.match(
    compareSvg(
      compareSwipes(
        [
          { label: 'na', result: swipeOf(cols) },
          { label: 'def', result: swipeOf(shifted) },
        ],
        info(300),
      ),
    ),
    /difference, other − baseline \(ERS score points/,
  );
  for (const [field, value, words] of [
    ['seed', 1, /another attack seed than na: 1 vs 0/],
    ['queryIndicesSha256', 'c', /another queries \(SHA-256 of their indices\)/],
    ['profile', 'rob224', /another profile/],
    ['dataset', 'mnist', /another dataset/],
  ] as const) {
    assert.throws(
      () =>
        checkPairable([
          { label: 'na', result: swipeOf(cols) },
          { label: 'x', result: swipeOf(cols, { [field]: value }) },
        ]),
      words,
    );
  }
  const larger = { ...swipeOf(cols), budgets: [{ epsilon: 0.5, alpha: 0.01, steps: 32 }] };
  assert.throws(
    () =>
      checkPairable([
        { label: 'na', result: swipeOf(cols) },
        { label: 'x', result: larger },
      ]),
    /x was made with other attack budgets than na/,
  );
  const old = { ...swipeOf(cols), perQuery: undefined, madeOn: undefined };
  assert.throws(
    () =>
      checkPairable([
        { label: 'na', result: swipeOf(cols) },
        { label: 'old', result: old },
      ]),
    /old: the result records no per-query values/,
  );
  assert.ok(excludesZero({ lo: 0.1, hi: 1 }) && !excludesZero({ lo: 0, hi: 1 }));
});

test('swipe.md and swipe.svg show each interval: a column row, ERS and ARS with theirs, the bootstrap stated, whiskers', () => {
  const cols = coupledColumns(64);
  cols['CA+'] = cols['CA+']!.map((v, i) => (i % 5 === 0 ? 50 - v : v));
  const r = { ...swipeOf(cols), intervals: swipeIntervals(cols, null, info(200)), bootstrap: info(200), estimator: 'mean of batch means' as const };
  const md = swipeMarkdown(r);
  const ca = r.intervals['CA+']!;
  assert.ok(md.includes(`| CA+ | ${r.attacks['CA+']!.toFixed(1)} | [${ca.lo.toFixed(1)}, ${ca.hi.toFixed(1)}] |`), md);
  assert.ok(md.includes(`**ERS** ${formatScore(r.ERS!)} [${r.intervals.ERS!.lo.toFixed(1)}, ${r.intervals.ERS!.hi.toFixed(1)}]`));
  assert.match(md, /95 % percentile intervals of a per-query bootstrap \(B = 200, seed 0; the 64 queries resampled/);
  assert.match(md, /Point estimates: mean of batch means/);
  assert.match(swipeSvg(r), /whiskers: 95 % per-query bootstrap interval/);
  // A result stored before intervals existed still renders, without them.
  assert.doesNotMatch(swipeMarkdown(swipeOf(cols)), /percentile intervals/);
});

// Evaluation: benign retrieval metrics, k-means + NMI, ERS/ARS and score
// formatting, against hand-computed values and the worked examples of
// docs/attacks-and-metrics.md §1, §2, §5, §6 and published tables. Real libtorch, no mocks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cat, liveTensors, manualSeed, randn, randint, tensor, tidy, type Tensor } from '../src/tensor/index.js';
import { l2normalize, metricByName } from '../src/metric/metric.js';
import { retrievalMetrics, type RetrievalMetrics } from '../src/eval/retrieval.js';
import { kmeans } from '../src/eval/kmeans.js';
import { embeddingNmi, normalizedMutualInformation } from '../src/eval/nmi.js';
import {
  adjustedRobustnessScore,
  arsFromTerms,
  arsTerms,
  empiricalRobustnessScore,
  ersFromTerms,
  ersTerms,
  type AttackResults,
} from '../src/eval/robustness.js';
import { formatFixed, formatScore } from '../src/eval/format.js';
import { catrideLambdaFromEntanglement, entanglement } from '../src/eval/entanglement.js';
import { tradeoffSvg } from '../src/eval/report-svg.js';
import { near } from './helpers/assert.js';

const [mN, mE, mC] = (['N', 'E', 'C'] as const).map(metricByName);

function assertMetrics(actual: RetrievalMetrics, expected: RetrievalMetrics, what: string): void {
  near(actual.meanRank, expected.meanRank, 1e-12, `${what} r@M`);
  near(actual.mAP, expected.mAP, 1e-12, `${what} mAP`);
  near(actual.mAPAt10, expected.mAPAt10, 1e-12, `${what} mAP@10`);
  if (expected.mAPAtR !== undefined) near(actual.mAPAtR!, expected.mAPAtR, 1e-12, `${what} mAP@R`);
  assert.deepEqual(Object.keys(actual.recallAt), Object.keys(expected.recallAt), `${what} Recall@K keys`);
  for (const k of Object.keys(expected.recallAt)) {
    near(actual.recallAt[Number(k)]!, expected.recallAt[Number(k)]!, 1e-12, `${what} R@${k}`);
  }
}

// ------------------------------------------------------------------ retrieval

// Five points on the x axis of the plane (metric E), labels A = 0, B = 1:
//   p0 (0,0) A   p1 (1,0) A   p2 (3,0) B   p3 (7,0) B   p4 (12,0) A
// Each query's sorted list, self dropped, with rel_k:
//   q0 A: p1(1) A, p2(3) B, p3(7) B, p4(12) A -> rel 1 0 0 1
//   q1 A: p0(1) A, p2(2) B, p3(6) B, p4(11) A -> rel 1 0 0 1
//   q2 B: p1(2) A, p0(3) A, p3(4) B, p4(9) A  -> rel 0 0 1 0
//   q3 B: p2(4) B, p4(5) A, p1(6) A, p0(7) A  -> rel 1 0 0 0
//   q4 A: p3(5) B, p2(9) B, p1(11) A, p0(12) A -> rel 0 0 1 1
// Per query (rank r, AP = (1/n_rel) Σ j/pos_j, AP@10 = (1/10) Σ rel_k·P@k, AP@R with R = n_rel):
//   q0: r 0, AP (1/1 + 2/4)/2 = 0.75,  AP@10 (1 + 1/2)/10 = 0.15,  AP@R (R=2) 1/2 = 0.5
//   q1: r 0, AP 0.75,                  AP@10 0.15,                 AP@R 0.5
//   q2: r 2, AP (1/3)/1 = 1/3,         AP@10 (1/3)/10 = 1/30,      AP@R (R=1) 0
//   q3: r 0, AP 1,                     AP@10 1/10,                 AP@R (R=1) 1
//   q4: r 2, AP (1/3 + 2/4)/2 = 5/12,  AP@10 (1/3 + 1/2)/10 = 1/12, AP@R (R=2) 0
// Means over the 5 queries: r@M 4/5 = 0.8; R@1 = R@2 = 3/5 (r < 1 and r < 2 for q0, q1, q3);
// R@3 = 1; mAP 3.25/5 = 0.65; mAP@10 (0.15+0.15+1/30+0.1+1/12)/5 = 0.51667/5 = 0.103333; mAP@R 2/5 = 0.4.
const LINE_X = [0, 1, 3, 7, 12];
const LINE_LABELS = [0, 0, 1, 1, 0];
const LINE_PER_QUERY: RetrievalMetrics = {
  meanRank: 0.8,
  recallAt: { 1: 0.6, 2: 0.6, 3: 1 },
  mAP: 0.65,
  mAPAt10: (0.15 + 0.15 + 1 / 30 + 0.1 + 1 / 12) / 5,
  mAPAtR: 0.4,
};

function linePoints(): [Tensor, Tensor] {
  return [tensor(LINE_X.map((x) => [x, 0])), tensor(LINE_LABELS, [5], 'int64')];
}

test('retrieval metrics of five 2-D points match the hand computation', () => {
  tidy(() => {
    const [x, y] = linePoints();
    const report = retrievalMetrics(x, x, y, y, mE, { recallAt: [1, 2, 3], withMapAtR: true });
    assert.equal(report.queries, 5);
    assert.equal(report.batches, 1);
    // One batch: the batch mean is the query mean.
    assertMetrics(report.queryMean, LINE_PER_QUERY, 'per-query');
    assertMetrics(report.batchMean, LINE_PER_QUERY, 'batch');
  });
});

test('batch aggregation: unweighted mean over batches over-weights the short last batch', () => {
  tidy(() => {
    const [x, y] = linePoints();
    // batchSize 2 -> batches {q0,q1}, {q2,q3}, {q4}.
    //   r:     batch means 0, (2+0)/2 = 1, 2             -> (0+1+2)/3 = 1.0        (per query 0.8)
    //   R@1:   1, 1/2, 0                                  -> 0.5                    (per query 0.6)
    //   AP:    0.75, (1/3+1)/2 = 2/3, 5/12                -> (0.75+2/3+5/12)/3 = 11/18
    //   AP@10: 0.15, (1/30+1/10)/2 = 1/15, 1/12           -> (0.15+1/15+1/12)/3 = 0.1
    //   AP@R:  0.5, 0.5, 0                                -> 1/3
    const report = retrievalMetrics(x, x, y, y, mE, { batchSize: 2, withMapAtR: true });
    assert.equal(report.batches, 3);
    assertMetrics(report.batchMean, { meanRank: 1, recallAt: { 1: 0.5, 2: 0.5 }, mAP: 11 / 18, mAPAt10: 0.1, mAPAtR: 1 / 3 }, 'batch');
    assertMetrics(report.queryMean, { ...LINE_PER_QUERY, recallAt: { 1: 0.6, 2: 0.6 } }, 'per-query');
  });
});

test("drop-first quirk: an exact duplicate that sorts first is dropped instead of the query; 'index' drops the query", () => {
  tidy(() => {
    // Gallery: g0 = duplicate of p0 labelled B, g1 = p0 (A, the query's own copy), then p1..p4.
    const gallery = tensor([[0, 0], ...LINE_X.map((x) => [x, 0])]);
    const galleryLabels = tensor([1, ...LINE_LABELS], [6], 'int64');
    const query = tensor([[0, 0]]);
    const queryLabel = tensor([0], [1], 'int64');
    // 'first': the stable sort puts g0 (distance 0, lower index) first and drops it; the query's
    // own copy g1 (A) stays at position 0 -> r = 0, R@1 = 1: the self-match is counted.
    // List: g1 A, p1 A, p2 B, p3 B, p4 A -> AP = (1/1 + 2/2 + 3/5)/3 = 13/15.
    const first = retrievalMetrics(query, gallery, queryLabel, galleryLabels, mE);
    assert.equal(first.queryMean.meanRank, 0);
    assert.equal(first.queryMean.recallAt[1], 1);
    near(first.queryMean.mAP, 13 / 15, 1e-12, "'first' AP");
    // 'index' with the query at gallery index 1: list g0 B, p1 A, p2 B, p3 B, p4 A ->
    // r = 1, R@1 = 0, R@2 = 1, AP = (1/2 + 2/5)/2 = 0.45.
    const byIndex = retrievalMetrics(query, gallery, queryLabel, galleryLabels, mE, {
      excludeSelfBy: 'index',
      queryGalleryIndex: tensor([1], [1], 'int64'),
    });
    assert.equal(byIndex.queryMean.meanRank, 1);
    assert.equal(byIndex.queryMean.recallAt[1], 0);
    assert.equal(byIndex.queryMean.recallAt[2], 1);
    near(byIndex.queryMean.mAP, 0.45, 1e-12, "'index' AP");
  });
});

test("'index' without explicit indices equals 'first' when every query is first in its own ranking", () => {
  tidy(() => {
    const [x, y] = linePoints();
    const first = retrievalMetrics(x, x, y, y, mE, { withMapAtR: true });
    const byIndex = retrievalMetrics(x, x, y, y, mE, { withMapAtR: true, excludeSelfBy: 'index' });
    assertMetrics(byIndex.queryMean, first.queryMean, "'index'");
  });
});

test('mAP@R with R fixed to 10 reproduces the reference unit test (RobRank test_metric_get_ap_r)', () => {
  tidy(() => {
    // 101 gallery points at j/101 on a line; the query is point 0 (label 1), so after dropping
    // it the list is points 1..100 in order. Relevant gallery indices -> expected value:
    //   {0,1} -> 1/10; {0,1,10} -> (1/1 + 2/10)/10 = 0.12; {0,1,2} -> (1 + 1)/10 = 0.2; 0..10 -> 1.
    const gallery = tensor(Array.from({ length: 101 }, (_, j) => [j / 101]));
    const query = gallery.narrow(0, 0, 1);
    const cases: [number[], number][] = [
      [[0, 1], 0.1],
      [[0, 1, 10], 0.12],
      [[0, 1, 2], 0.2],
      [Array.from({ length: 11 }, (_, i) => i), 1],
    ];
    for (const [relevant, expected] of cases) {
      const labels = new Array<number>(101).fill(0);
      for (const j of relevant) labels[j] = 1;
      const r = retrievalMetrics(query, gallery, tensor([1], [1], 'int64'), tensor(labels, [101], 'int64'), mE);
      near(r.queryMean.mAPAt10, expected, 1e-12, `relevant {${relevant.join(',')}}`);
    }
  });
});

test('metric C and metric N rank identically on normalised embeddings', () => {
  tidy(() => {
    manualSeed(7);
    // N² = 2 − 2cos = 2·C on unit vectors: same order, hence identical metrics.
    const z = l2normalize(randn([60, 8], { dtype: 'float64' }));
    const labels = randint(0, 4, [60]);
    const n = retrievalMetrics(z, z, labels, labels, mN, { batchSize: 16, withMapAtR: true, recallAt: [1, 2, 4] });
    const c = retrievalMetrics(z, z, labels, labels, mC, { batchSize: 16, withMapAtR: true, recallAt: [1, 2, 4] });
    assertMetrics(c.batchMean, n.batchMean, 'C vs N batch');
    assertMetrics(c.queryMean, n.queryMean, 'C vs N per-query');
    assert.ok(n.queryMean.mAP > 0 && n.queryMean.mAP < 1);
  });
});

test('retrieval metrics reject bad input with errors naming the problem', () => {
  tidy(() => {
    const [x, y] = linePoints();
    assert.throws(() => retrievalMetrics(x, x, y.narrow(0, 0, 4), y, mE), /query labels must have shape \[5\]/);
    assert.throws(() => retrievalMetrics(x, x, y, y.narrow(0, 0, 4), mE), /gallery labels must have shape \[5\]/);
    assert.throws(() => retrievalMetrics(x, tensor([[0, 0, 0]]), y, y.narrow(0, 0, 1), mE), /2-d but gallery embeddings are 3-d/);
    assert.throws(() => retrievalMetrics(x, x, y, y, mE, { recallAt: [5] }), /Recall@5 asks for more items than the 4/);
    assert.throws(() => retrievalMetrics(x, x, y, y, mE, { recallAt: [0] }), /integer K >= 1/);
    assert.throws(() => retrievalMetrics(x, x, y.float(), y.float(), mE), /query labels must be an integer tensor/);
    const withNaN = cat([x.narrow(0, 0, 4), tensor([[NaN, 0]])]);
    assert.throws(() => retrievalMetrics(withNaN, withNaN, y, y, mE), /query embeddings contains NaN/);
    // Relabelling p2 as class 2 leaves q2 (and q3) without any other item of their class.
    const lonely = tensor([0, 0, 2, 1, 0], [5], 'int64');
    assert.throws(() => retrievalMetrics(x, x, lonely, lonely, mE, { batchSize: 2 }), /query 2 has no item of its label/);
    assert.throws(
      () => retrievalMetrics(x, x, y, y, mE, { excludeSelfBy: 'index', queryGalleryIndex: tensor([0, 1, 2, 3, 5], [5], 'int64') }),
      /queryGalleryIndex values must lie in \[0, 5\)/,
    );
    assert.throws(() => retrievalMetrics(x, x, y, y, mE, { batchSize: 0 }), /batchSize must be a positive integer/);
  });
});

// ------------------------------------------------------------------ NMI and k-means

test('NMI: perfect agreement is 1, independence is 0, and a 2×2 case matches the hand computation', () => {
  // Same partition under renamed ids.
  assert.equal(normalizedMutualInformation([0, 0, 1, 1, 2, 2], [5, 5, 3, 3, 9, 9]), 1);
  // Every class split evenly over both clusters: I(Y;C) = 0.
  near(normalizedMutualInformation([0, 0, 1, 1], [0, 1, 0, 1]), 0, 1e-15, 'independent');
  // labels 0 0 1 1, clusters 0 0 0 1 (N = 4): contingency [[2, 0], [1, 1]], class sizes (2, 2),
  // cluster sizes (3, 1).
  //   I = 2/4·ln(4·2/(2·3)) + 1/4·ln(4·1/(2·3)) + 1/4·ln(4·1/(2·1))
  //     = 0.5·ln(4/3) + 0.25·ln(2/3) + 0.25·ln 2 = 0.2157616
  //   H(Y) = ln 2 = 0.6931472; H(C) = −(3/4·ln 3/4 + 1/4·ln 1/4) = 0.5623351
  //   NMI = 0.2157616 / ((0.6931472 + 0.5623351)/2) = 0.3437110
  const hand = (0.5 * Math.log(4 / 3) + 0.25 * Math.log(2 / 3) + 0.25 * Math.log(2)) / ((Math.log(2) - (0.75 * Math.log(0.75) + 0.25 * Math.log(0.25))) / 2);
  near(hand, 0.343711, 1e-6, 'hand formula');
  near(normalizedMutualInformation([0, 0, 1, 1], [0, 0, 0, 1]), hand, 1e-12, '2×2');
  // NMI is symmetric.
  near(normalizedMutualInformation([0, 0, 0, 1], [0, 0, 1, 1]), hand, 1e-12, '2×2 swapped');
  // scikit-learn's limit case: one class and one cluster is a perfect match.
  assert.equal(normalizedMutualInformation([4, 4, 4], [1, 1, 1]), 1);
  assert.throws(() => normalizedMutualInformation([0, 1], [0]), /2 labels but 1 cluster ids/);
  assert.throws(() => normalizedMutualInformation([], []), /no samples/);
  assert.throws(() => normalizedMutualInformation([0, 0.5], [0, 1]), /labels\[1\] must be an integer id/);
});

function blobs(perBlob: number): [Tensor, Tensor] {
  return tidy(() => {
    manualSeed(3);
    const centres = tensor([
      [0, 0],
      [10, 0],
      [0, 10],
    ]);
    const points = centres.indexSelect(0, tensor([0, 1, 2], [3], 'int64').repeat(perBlob)).add(randn([3 * perBlob, 2]).mul(0.3));
    return [points, tensor([0, 1, 2], [3], 'int64').repeat(perBlob)];
  });
}

test('k-means recovers three well-separated blobs (NMI = 1) with both initialisations', () => {
  tidy(() => {
    const [points, labels] = blobs(30);
    for (const init of ['random', 'kmeans++'] as const) {
      const { nmi, clusters } = embeddingNmi(points, labels, { init, seed: 11 });
      assert.equal(clusters, 3);
      near(nmi, 1, 1e-12, `${init} NMI`);
    }
  });
});

test('k-means is deterministic for a seed and exact on a tiny case', () => {
  tidy(() => {
    const [points] = blobs(30);
    const a = kmeans(points, 3, { seed: 5 });
    const b = kmeans(points, 3, { seed: 5 });
    assert.deepEqual(Array.from(a.assignments), Array.from(b.assignments));
    assert.deepEqual(a.centroids.toArray(), b.centroids.toArray());
    assert.equal(a.inertia, b.inertia);
    assert.equal(a.trainingPoints, 90);

    // {0, 2} and {10, 12} on a line: centroids 1 and 11, inertia 1+1+1+1 = 4, from any random init.
    const line = tensor([[0], [2], [10], [12]]);
    const r = kmeans(line, 2, { seed: 1 });
    assert.deepEqual(
      r.centroids.toArray().sort((p, q) => p - q),
      [1, 11],
    );
    assert.equal(r.inertia, 4);
    const ids = Array.from(r.assignments);
    assert.ok(ids[0] === ids[1] && ids[2] === ids[3] && ids[0] !== ids[2], `assignments ${ids}`);
  });
});

test('k-means reseeds empty clusters and subsamples training points like faiss', () => {
  tidy(() => {
    // Three copies of the origin and one far point: a random init that picks two copies leaves
    // a cluster empty (ties go to the first centroid); it must be reseeded at the far point.
    const points = tensor([
      [0, 0],
      [0, 0],
      [0, 0],
      [10, 0],
    ]);
    let reseededSomewhere = false;
    for (let seed = 0; seed < 12; seed++) {
      const r = kmeans(points, 2, { seed });
      const ids = Array.from(r.assignments);
      assert.ok(ids[0] === ids[1] && ids[1] === ids[2] && ids[3] !== ids[0], `seed ${seed}: assignments ${ids}`);
      assert.equal(r.inertia, 0);
      reseededSomewhere ||= r.reseeded > 0;
    }
    assert.ok(reseededSomewhere, 'no seed produced an empty cluster; the reseed path was not exercised');

    const [blobPoints, labels] = blobs(30);
    const sub = kmeans(blobPoints, 3, { seed: 2, maxPointsPerCentroid: 5 });
    assert.equal(sub.trainingPoints, 15);
    assert.equal(sub.assignments.length, 90); // every point is still assigned
    near(normalizedMutualInformation(labels.toArray(), sub.assignments), 1, 1e-12, 'subsampled NMI');
  });
});

test('k-means rejects bad input', () => {
  tidy(() => {
    const points = tensor([
      [0, 0],
      [1, 1],
    ]);
    assert.throws(() => kmeans(points, 3), /integer k in \[1, 2\]/);
    assert.throws(
      () =>
        kmeans(
          tensor([
            [0, NaN],
            [1, 1],
          ]),
          1,
        ),
      /k-means points contains NaN/,
    );
    assert.throws(() => kmeans(points, 1, { iterations: 0 }), /iterations must be a positive integer/);
    assert.throws(() => embeddingNmi(points, tensor([0, 1, 1], [3], 'int64')), /labels must have shape \[2\]/);
  });
});

// ------------------------------------------------------------------ ERS / ARS / formatting

type Row = [number, number, number, number, number, number, number, number, number, number];
const ORDER = ['CA+', 'CA-', 'QA+', 'QA-', 'TMA', 'ES:D', 'ES:R', 'LTM', 'GTM', 'GTT'] as const;
const results = (row: Row): AttackResults => Object.fromEntries(ORDER.map((name, i) => [name, row[i]])) as unknown as AttackResults;

test('ERS worked example (§5.1, CUB ACT[R] η=32): normalised terms and 33.9', () => {
  const r = results([15.5, 37.7, 15.1, 32.2, 0.472, 0.821, 11.1, 9.4, 14.9, 1.0]);
  const expected = [31.0, 62.3, 30.2, 67.8, 52.8, 58.95, 11.1, 9.4, 14.9, 1.0];
  const terms = ersTerms(r);
  ORDER.forEach((name, i) => near(terms[name], expected[i]!, 1e-9, name));
  const ers = empiricalRobustnessScore(r);
  near(ers, 33.945, 1e-9, 'ERS');
  assert.equal(formatScore(ers), '33.9');
  near(ersFromTerms(terms), ers, 1e-12, 'ersFromTerms');
});

test('ERS test vectors of §5.1 print as published', () => {
  const vectors: [string, Row, number, string][] = [
    ['CUB N/A', [0.0, 100.0, 0.0, 99.9, 0.883, 1.762, 0.0, 0.0, 14.1, 0.0], 3.78, '3.8'],
    ['CUB Swin-T ACT', [19.9, 35.1, 20.0, 25.9, 0.485, 0.779, 15.4, 13.7, 20.7, 1.4], 38.255, '38.3'],
    ['Cars rswintghmetsmi', [23.1, 46.0, 23.0, 42.4, 0.753, 0.676, 5.0, 4.4, 19.3, 0.6], 32.4, '32.4'],
    ['Fashion rc2f2p:ptripletN', [33.6, 14.6, 38.5, 12.1, 0.259, 0.541, 48.5, 59.5, 60.2, 0.1], 63.285, '63.3'],
    ['Fashion rc2f2:ptripletN', [1.1, 96.8, 0.3, 97.8, 0.99, 1.604, 0.1, 0.0, 12.6, 0.0], 4.17, '4.2'],
  ];
  for (const [name, row, value, printed] of vectors) {
    const ers = empiricalRobustnessScore(results(row));
    near(ers, value, 1e-9, name);
    assert.equal(formatScore(ers), printed, name);
  }
});

test("ERS recomputed from the HM paper's comparison table (CVPR 2022) and CA-TRIDE rows is within ±0.1 of the published ERS", () => {
  // [row, published ERS, ERS recomputed from the rounded row values (2 decimals)]
  const rows: [string, Row, number, number | null][] = [
    ['CUB N/A', [0.0, 100.0, 0.0, 99.9, 0.883, 1.762, 0.0, 0.0, 14.1, 0.0], 3.8, 3.78],
    ['CUB EST η8', [0.5, 97.3, 0.5, 91.3, 0.875, 1.325, 3.9, 0.4, 14.9, 0.0], 7.9, 7.89],
    ['CUB ACT η8', [13.7, 46.8, 12.6, 39.3, 0.547, 0.902, 13.6, 9.8, 21.9, 1.3], 31.3, 31.33],
    ['CUB HM&ICS η32', [15.5, 37.7, 16.6, 30.9, 0.753, 0.506, 17.9, 16.7, 27.3, 2.9], 36.0, 35.98],
    ['CARS HM η8', [15.3, 32.0, 17.9, 33.9, 0.463, 0.653, 23.4, 28.5, 44.6, 5.8], 42.4, 42.38],
    ['CARS HM&ICS η32', [19.3, 25.9, 19.6, 25.7, 0.65, 0.446, 30.3, 36.7, 46.0, 8.8], 46.0, 46.07],
    ['SOP EST η8', [6.4, 69.7, 3.9, 64.6, 0.611, 1.053, 3.8, 2.2, 10.2, 1.3], 19.0, 19.0],
    ['SOP HM η32', [30.6, 4.7, 31.2, 3.5, 0.466, 0.266, 38.6, 40.3, 38.6, 44.3], 61.8, 61.73],
    ['SOP HM&ICS η32', [32.0, 4.2, 33.7, 3.0, 0.606, 0.207, 39.1, 39.8, 37.9, 45.6], 61.6, 61.56],
    ['CUB HM[S,0] (collapsed, §6)', [19.8, 92.4, 42.0, 51.9, 1.0, 0.0, 1.2, 1.2, 1.0, 14.1], 29.7, null],
  ];
  for (const [name, row, published, recomputed] of rows) {
    const ers = empiricalRobustnessScore(results(row));
    near(ers, published, 0.1 + 1e-9, `${name} vs published`);
    if (recomputed !== null) near(ers, recomputed, 0.005 + 1e-9, `${name} vs the recomputation from rounded values`);
  }
});

test('ERS is not clipped: metric E gives a negative ES:D term (RobRank Fashion-MNIST row rc2f2:ptripletE derives −40.1)', () => {
  const r = results([0.7, 96.8, 0.3, 93.3, 0.987, 10.91, 24.0, 0.3, 7.0, 0.0]);
  near(ersTerms(r)['ES:D'], -445.5, 1e-9, 'ES:D term');
  assert.equal(formatScore(empiricalRobustnessScore(r)), '-40.1');
});

test('ARS worked examples (§6.4): 40.3, 77.7, 51.6, and the low-recall flag', () => {
  const cubAct = { 'CA+': 15.5, 'CA-': 37.7, 'QA+': 15.1, 'QA-': 32.2, 'ES:R': 11.1, LTM: 9.4, GTM: 14.9, GTT: 1.0 };
  const terms = arsTerms(cubAct, 27.5);
  const expectedTerms = { 'CA+': 31.0, 'CA-': 62.93, 'QA+': 30.2, 'QA-': 68.48, 'ES:R': 40.36, LTM: 34.18, GTM: 54.18, GTT: 1.0 };
  for (const [name, v] of Object.entries(expectedTerms)) near(terms[name as keyof typeof terms], v, 0.005, name);
  const cub = adjustedRobustnessScore(cubAct, 27.5);
  near(cub.score, 40.29, 0.005, 'CUB ACT ARS');
  assert.equal(formatScore(cub.score), '40.3');
  assert.equal(cub.lowBenignRecall, false);

  const sop = adjustedRobustnessScore({ 'CA+': 32.0, 'CA-': 4.2, 'QA+': 33.7, 'QA-': 3.0, 'ES:R': 39.1, LTM: 39.8, GTM: 37.9, GTT: 45.6 }, 46.8);
  near(sop.score, 77.665, 0.001, 'SOP HM&ICS ARS'); // the spec's "77.66" is this value truncated
  assert.equal(formatScore(sop.score), '77.7');

  // S1's CUB CA-TRIDE columns are already normalised: average them directly.
  const catride = arsFromTerms({ 'CA+': 32.6, 'CA-': 68.5, 'QA+': 41.8, 'QA-': 79.2, 'ES:R': 61.9, LTM: 59.0, GTM: 64.8, GTT: 5.3 });
  near(catride, 51.6375, 1e-9, 'CA-TRIDE ARS');
  assert.equal(formatScore(catride), '51.6');

  // HM[S,0] collapsed (R@1 0.8): 100·1.2/0.8 = 150 > 100, not clipped, and flagged.
  const collapsed = adjustedRobustnessScore({ 'CA+': 19.8, 'CA-': 92.4, 'QA+': 42.0, 'QA-': 51.9, 'ES:R': 1.2, LTM: 1.2, GTM: 1.0, GTT: 14.1 }, 0.8);
  near(collapsed.terms['ES:R'], 150, 1e-9, 'collapsed ES:R term');
  assert.equal(collapsed.lowBenignRecall, true);
});

test('attack results are validated with errors naming the attack', () => {
  const good = results([15.5, 37.7, 15.1, 32.2, 0.472, 0.821, 11.1, 9.4, 14.9, 1.0]);
  const { GTT: _dropped, ...missingGtt } = good;
  assert.throws(() => empiricalRobustnessScore(missingGtt as AttackResults), /missing value for GTT/);
  assert.throws(() => empiricalRobustnessScore({ ...good, 'ES:D': NaN }), /ES:D must be a finite number, got NaN/);
  assert.throws(() => empiricalRobustnessScore({ ...good, 'CA+': 155 }), /CA\+ is a percentage in \[0, 100\], got 155/);
  assert.throws(() => empiricalRobustnessScore({ ...good, TMA: 47.2 }), /TMA is a cosine/);
  assert.throws(() => adjustedRobustnessScore(good, 0), /benign Recall@1 must be a percentage in \(0, 100\]/);
  assert.throws(() => adjustedRobustnessScore({ ...good, LTM: Infinity }, 27.5), /LTM must be a finite number/);
  assert.throws(() => arsFromTerms({ 'CA+': 1, 'CA-': 1, 'QA+': 1, 'QA-': 1, 'ES:R': 1, LTM: 1, GTM: 1 } as never), /missing value for GTT/);
});

test("formatScore reproduces Python's format(x, '.1f') including exact binary ties", () => {
  // Each expected string is Python 3's output. Reasoning from the exact binary value:
  assert.equal(formatScore(33.945), '33.9'); // 33.94500000000000028…: 0.045 < 0.05 of the way, rounds down
  assert.equal(formatScore(0.25), '0.2'); //    0.25 is exact: a true tie, half-even keeps 2 (JS toFixed: '0.3')
  assert.equal((0.25).toFixed(1), '0.3'); //    ...which is why toFixed cannot be used
  assert.equal(formatScore(0.75), '0.8'); //    exact tie, 7 is odd -> 8
  assert.equal(formatScore(0.35), '0.3'); //    0.34999999999999997779…: below the tie, rounds down
  assert.equal(formatScore(0.05), '0.1'); //    0.05000000000000000277…: above the tie, rounds up
  assert.equal(formatScore(0.15), '0.1'); //    0.14999999999999999444…: below the tie
  assert.equal(formatScore(2.675), '2.7'); //   2.67499999999999982236…: to one decimal simply 2.7
  assert.equal(formatFixed(2.675, 2), '2.67'); // the classic two-decimal case: below the tie
  assert.equal(formatFixed(0.125, 2), '0.12'); // exact tie -> even
  assert.equal(formatFixed(0.375, 2), '0.38'); // exact tie -> even
  assert.equal(formatFixed(2.5, 0), '2');
  assert.equal(formatFixed(3.5, 0), '4');
  assert.equal(formatFixed(-2.5, 0), '-2');
  assert.equal(formatScore(-0.04), '-0.0'); //  Python keeps the sign of a negative that rounds to zero
  assert.equal(formatScore(-0), '-0.0');
  assert.equal(formatScore(63.285), '63.3');
  assert.equal(formatScore(1e22), '10000000000000000000000.0'); // toFixed would switch to '1e+22'
  assert.equal(formatScore(5e-324), '0.0'); // subnormal
  assert.equal(formatFixed(123456789.0549999, 3), '123456789.055');
  assert.equal(formatScore(NaN), 'nan');
  assert.equal(formatScore(-Infinity), '-inf');
  assert.throws(() => formatFixed(1, -1), /digits must be an integer/);
});

test('evaluation code frees every tensor it creates', () => {
  const [x, y] = linePoints();
  const [points, labels] = blobs(10);
  const lonely = tensor([0, 0, 2, 1, 0], [5], 'int64');
  const duplicates = tensor([
    [0, 0],
    [0, 0],
    [0, 0],
    [10, 0],
  ]);
  const before = liveTensors();
  retrievalMetrics(x, x, y, y, mE, { batchSize: 2, withMapAtR: true, recallAt: [1, 3] });
  retrievalMetrics(x, x, y, y, mN, { excludeSelfBy: 'index' });
  assert.throws(() => retrievalMetrics(x, x, lonely, lonely, mE, { batchSize: 2 }), /no item of its label/);
  embeddingNmi(points, labels, { init: 'kmeans++', seed: 1 });
  const r = kmeans(points, 3, { seed: 2, maxPointsPerCentroid: 4 });
  r.centroids.dispose();
  for (let seed = 0; seed < 4; seed++) kmeans(duplicates, 2, { seed }).centroids.dispose();
  assert.throws(() => kmeans(points, 0));
  assert.equal(liveTensors(), before);
  for (const t of [x, y, points, labels, lonely, duplicates]) t.dispose();
});

test('entanglement = mean non-zero intra-class / mean inter-class distance; λ interpolates the published points', () => {
  tidy(() => {
    // 1-D, metric E: classes {0, 1} and {3, 4, 4}. Intra: every non-zero same-class distance is 1
    // (the duplicate 4's zero distance stays out); inter: 3, 4, 4, 2, 3, 3 → 19/6.
    const x = tensor([0, 1, 3, 4, 4], [5, 1]);
    const y = tensor([0, 0, 1, 1, 1], [5], 'int64');
    const e = entanglement(x, y, mE, 2); // batch 2: the sums cross batch boundaries
    near(e.intraClass, 1, 1e-9, 'intra-class');
    near(e.interClass, 19 / 6, 1e-9, 'inter-class');
    near(e.ratio, 6 / 19, 1e-9, 'ratio');
    assert.throws(() => entanglement(x, tensor([0, 0, 0, 0, 0], [5], 'int64'), mE), /at least two classes/);
  });
  // SOP 0.66 → 2, CUB/Cars 0.79 → 9.75, linear between, clamped outside.
  assert.equal(catrideLambdaFromEntanglement(0.2), 2);
  assert.equal(catrideLambdaFromEntanglement(0.95), 9.75);
  const lo = 0.438 / 0.664;
  const hi = (0.226 / 0.287 + 0.256 / 0.325) / 2;
  near(catrideLambdaFromEntanglement((lo + hi) / 2), 5.875, 1e-9);
  assert.throws(() => catrideLambdaFromEntanglement(Number.NaN), /finite number/);
});

test('trade-off plot: R@1 right, ERS up, labels escaped, a defense joined across runs, a shared model labelled once', () => {
  const na = { label: 'N/A', recallAt1: 83.5, ers: 7.1 };
  const eta4 = { name: 'η = 4', points: [na, { label: 'HM[S,g_LGA]&ICS', recallAt1: 87.4, ers: 12.7 }] };
  const eta8 = { name: 'η = 8', points: [{ label: 'HM[S,g_LGA]&ICS', recallAt1: 86.0, ers: 20.0 }, na] };
  const svg = tradeoffSvg([eta4, eta8], 'Fashion-MNIST c2f2');
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.ok(svg.includes('HM[S,g_LGA]&amp;ICS') && !svg.includes('g_LGA]&ICS'), 'labels are XML-escaped');
  const circles = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)" r="4" fill="[^"]+"><title>[^<]*?· ([^:]+):/g)].map((m) => ({
    x: Number(m[1]),
    y: Number(m[2]),
    label: m[3],
  }));
  assert.equal(circles.length, 4);
  const [na4, hm4, hm8] = circles;
  assert.ok(hm4!.x > na4!.x && hm4!.y < na4!.y, 'higher R@1 is further right, higher ERS is higher up');
  assert.ok(hm8!.y < hm4!.y && hm8!.x < hm4!.x);
  assert.equal((svg.match(/stroke-dasharray/g) ?? []).length, 1, 'only HM moved between the runs');
  assert.equal((svg.match(/>N\/A<\/text>/g) ?? []).length, 1, 'the shared N/A point carries one label');
  assert.throws(() => tradeoffSvg([{ name: 'x', points: [{ label: 'bad', recallAt1: Number.NaN, ers: 1 }] }], 't'), /bad has a non-finite R@1 or ERS/);
  assert.throws(() => tradeoffSvg([], 't'), /no points/);
});

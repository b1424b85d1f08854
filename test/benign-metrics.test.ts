// Benign metric names: the standard mAP@R (R = each query's number of relevant
// items, pytorch-metric-learning's definition) against a hand computation, next
// to RobRank's fixed-R variant reported as mAP@10; old runs that stored the
// R = 10 value under 'mAP@R' read back as mAP@10. Real libtorch, no mocks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, tidy } from '../src/tensor/index.js';
import { retrievalMetrics } from '../src/eval/retrieval.js';
import { BENIGN_COLUMNS, benignJson, formatBenign, readBenignMetrics, robrankBenignKeys, type BenignMetrics } from '../src/eval/benign.js';
import { metricByName } from '../src/metric/metric.js';
import { near } from './helpers/assert.js';

/** Hand-computed values agree to float64 round-off. */
const EXACT = 1e-12;

// Seven points on a line (metric E), classes A = 0, B = 1, C = 2, no distance ties:
//   p0 0 A   p1 1 A   p2 2.5 B   p3 4.5 A   p4 8.5 B   p5 11 C   p6 13 C
// Each query's ranking with itself dropped, rel_k, R = number of other items of its class,
// AP@R = (1/R) Σ_{k≤R} rel_k · P@k, and AP@10 = (1/10) Σ_{k≤10} rel_k · P@k:
//   q0 A: p1 A, p2 B, p3 A, p4, p5, p6   rel 1 0 1 0 0 0  R 2  AP@R (1)/2 = 0.5      AP@10 (1 + 2/3)/10
//   q1 A: p0 A, p2 B, p3 A, p4, p5, p6   rel 1 0 1 0 0 0  R 2  AP@R 0.5              AP@10 (1 + 2/3)/10
//   q2 B: p1 A, p3 A, p0 A, p4 B, p5, p6 rel 0 0 0 1 0 0  R 1  AP@R 0                AP@10 (1/4)/10
//   q3 A: p2 B, p1 A, p4 B, p0 A, p5, p6 rel 0 1 0 1 0 0  R 2  AP@R (0 + 1/2)/2 = 0.25  AP@10 (1/2 + 2/4)/10
//   q4 B: p5 C, p3 A, p6 C, p2 B, p1, p0 rel 0 0 0 1 0 0  R 1  AP@R 0                AP@10 (1/4)/10
//   q5 C: p6 C, p4 B, p3, p2, p1, p0     rel 1 0 0 0 0 0  R 1  AP@R 1                AP@10 1/10
//   q6 C: p5 C, p4 B, p3, p2, p1, p0     rel 1 0 0 0 0 0  R 1  AP@R 1                AP@10 1/10
// mAP@R = (0.5 + 0.5 + 0 + 0.25 + 0 + 1 + 1)/7 = 3.25/7; mAP@10 = (2·(5/3) + 2·0.25 + 1 + 1 + 1)/70.
const X = [0, 1, 2.5, 4.5, 8.5, 11, 13];
const LABELS = [0, 0, 1, 0, 1, 2, 2];

test("standard mAP@R (R = the query's number of relevant items) matches the hand computation, beside mAP@10", () => {
  tidy(() => {
    const x = tensor(X.map((v) => [v, 0]));
    const y = tensor(LABELS, [LABELS.length], 'int64');
    const r = retrievalMetrics(x, x, y, y, metricByName('E'), { withMapAtR: true }).queryMean;
    near(r.mAPAtR!, 3.25 / 7, EXACT, 'mAP@R');
    near(r.mAPAt10, (2 * (5 / 3) + 2 * 0.25 + 1 + 1 + 1) / 70, EXACT, 'mAP@10');
    assert.ok(r.mAPAtR! > 4 * r.mAPAt10, 'the two definitions are far apart on a 7-item gallery: they must not be confused');
  });
});

test('runs stored before mAP@10 existed read their R = 10 value as mAP@10, with no standard mAP@R', () => {
  const legacy = { 'R@1': 0.878, 'R@2': 0.93, mAP: 0.858, 'mAP@R': 0.842, NMI: 0.798, 'r@M': 2.9 };
  const read = readBenignMetrics(legacy);
  assert.equal(read['mAP@10'], 0.842);
  assert.equal(read['mAP@R'], undefined);
  assert.equal(formatBenign(read), 'R@1 87.8  R@2 93.0  mAP 85.8  mAP@10 84.2  mAP@R –  NMI 79.8');
  const current: BenignMetrics = { 'R@1': 0.5, 'R@2': 0.6, mAP: 0.4, 'mAP@10': 0.45, 'mAP@R': 0.3, NMI: 0.7, 'r@M': 1 };
  assert.deepEqual(readBenignMetrics(current), current, 'current runs read back unchanged');
});

test("JSON columns in table order, and RobRank's own keys for comparisons (its mAP@R is R = 10)", () => {
  const m: BenignMetrics = { 'R@1': 0.5, 'R@2': 0.6, mAP: 0.4, 'mAP@10': 0.45, 'mAP@R': 0.3, NMI: 0.7, 'r@M': 1 };
  assert.deepEqual(Object.keys(benignJson(m)), [...BENIGN_COLUMNS]);
  assert.deepEqual(robrankBenignKeys(m), { 'r@M': 1, 'r@1': 0.5, 'r@2': 0.6, mAP: 0.4, 'mAP@R': 0.45 });
});

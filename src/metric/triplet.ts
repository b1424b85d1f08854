// Layer: metric. The triplet loss (docs/methods.md §1), triplet hardness, and the
// CA-TRIDE extra term (§8.2).
//
// All inputs are embeddings already in metric space (`metric.embed`). Inside
// the loss the distances are exactly those of the reference implementation
// (`metric.lossRows`: eps-shifted Euclidean for N/E, 1 − cosine_similarity for
// C), which matters for parity; hardness and every other consumer use the plain
// distances (`metric.rows`).
import { tidy, type Tensor } from '../tensor/index.js';
import { METRIC_NAMES, metricByName, requireMetric, type Metric } from './metric.js';
import { defineLoss } from './loss.js';
import { assertMargin, assertTripletInputs } from './check.js';

/** Options of the triplet loss. */
export interface TripletLossOptions {
  metric: Metric;
  /** γ; defaults to the metric's table value (0.2 for N/C, 1.0 for E). ICS passes 0. */
  margin?: number;
}

/** max(0, d(a_i, p_i) - d(a_i, n_i) + γ) for each triplet -> [B] (unreduced, for defenses). */
export function tripletLossPerTriplet(a: Tensor, p: Tensor, n: Tensor, opts: TripletLossOptions): Tensor {
  assertTripletInputs(a, p, n);
  const margin = opts.margin ?? opts.metric.defaultMargin;
  assertMargin(margin);
  return tidy(() => opts.metric.lossRows(a, p).sub(opts.metric.lossRows(a, n)).add(margin).clampMin(0));
}

/** L_T = (1/B) Σ_i max(0, d(a_i, p_i) - d(a_i, n_i) + γ): the mean over the B triplets (a scalar). */
export function tripletLoss(a: Tensor, p: Tensor, n: Tensor, opts: TripletLossOptions): Tensor {
  return tidy(() => tripletLossPerTriplet(a, p, n, opts).mean());
}

/**
 * Hardness H_i = d(a_i, p_i) - d(a_i, n_i) per triplet -> [B], with the plain
 * metric distances (no eps); in [-2, 2] for N. L_T = max(0, H + γ) up to the eps.
 */
export function tripletHardness(a: Tensor, p: Tensor, n: Tensor, metric: Metric): Tensor {
  assertTripletInputs(a, p, n);
  return tidy(() => metric.rows(a, p).sub(metric.rows(a, n)));
}

/** Options of CA-TRIDE's extra separation term. */
export interface CatrideTermOptions {
  metric: Metric;
  /** Factor in front of the hinge (code: 1/2). */
  weight?: number;
  /** Margin inside the hinge (code: 0.04). */
  margin?: number;
}

/** Mean of the ⌊B/2⌋ smallest entries of a distance vector [B]. */
function lowerHalfMean(d: Tensor): Tensor {
  const k = Math.floor(d.shape[0]! / 2);
  return tidy(() => d.topk(k, 0, false, false)[0].mean());
}

/**
 * The extra term CA-TRIDE's training loss adds to L_T (docs/methods.md §8.1, the
 * code's only candidate for the slides' L_TR):
 *   weight · max(0, low(d(a,p)) - low(d(a,n)) + margin),  low(v) = mean of the ⌊B/2⌋ smallest entries,
 * with the triplet loss's distances (the reference adds it inside the
 * Euclidean branch of the triplet kernel, with F.pairwise_distance, eps 1e-6).
 * It pulls the closest half of positive pairs below the closest half of
 * negative pairs, a batch-level separation the per-triplet hinge cannot see.
 * Only N and E: the reference has no cosine branch for it. Needs B >= 2.
 */
export function catrideSeparationTerm(a: Tensor, p: Tensor, n: Tensor, opts: CatrideTermOptions): Tensor {
  // The reference adds it inside the Euclidean branch of its triplet kernel: there is no cosine form.
  requireMetric(opts.metric, ['N', 'E'], 'the CA-TRIDE separation term');
  assertTripletInputs(a, p, n);
  if (a.shape[0]! < 2) throw new Error(`the CA-TRIDE separation term needs at least 2 triplets (mean of the closer half), got ${a.shape[0]}`);
  const weight = opts.weight ?? 0.5;
  const margin = opts.margin ?? 0.04;
  assertMargin(weight, 'weight');
  assertMargin(margin);
  return tidy(() => {
    const lowAp = lowerHalfMean(opts.metric.lossRows(a, p));
    const lowAn = lowerHalfMean(opts.metric.lossRows(a, n));
    return lowAp.sub(lowAn).add(margin).clampMin(0).mul(weight);
  });
}

export const tripletEntry = defineLoss({
  name: 'triplet',
  robrankWords: ['triplet'],
  summary: 'triplet loss max(0, d(a,p) − d(a,n) + γ)',
  metrics: METRIC_NAMES,
  input: 'triplets',
  margin: (metric) => metricByName(metric).defaultMargin,
  hypers: [],
  fn: (t, ctx) => tripletLoss(t.a, t.p, t.n, { metric: ctx.metric, margin: ctx.margin }),
});

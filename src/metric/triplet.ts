// Layer: metric. The triplet loss (docs/methods.md §1), triplet hardness, and the
// CA-TRIDE extra term (§8.2).
//
// All inputs are embeddings already in metric space (normalised for N and C,
// raw for E; see embedForMetric). Inside the loss the distances are exactly
// those of the reference implementation, which matters for parity:
//   N, E: PyTorch's triplet_margin_loss distance ||u - v + 1e-6||_2, i.e.
//         pairwise_distance with eps = 1e-6 added to EVERY component of the
//         difference (not to the norm). It also keeps the gradient finite when
//         u = v, which the plain norm does not.
//   C:    1 - cosine_similarity(u, v) with PyTorch's eps = 1e-8 guarding the
//         norms' product.
// Hardness and every other consumer use the plain distances (rowDistance).
import { call1, tidy, type Tensor } from '../tensor/index.js';
import { defaultMargin, rowDistance, type MetricName } from './distance.js';
import { assertMargin, assertTripletInputs } from './check.js';

/** eps of PyTorch's triplet_margin_loss / pairwise_distance. */
export const TRIPLET_PAIRWISE_EPS = 1e-6;
/** eps of PyTorch's cosine_similarity. */
export const COSINE_SIMILARITY_EPS = 1e-8;

/** Options of the triplet loss. */
export interface TripletLossOptions {
  metric: MetricName;
  /** γ; defaults to the metric's table value (0.2 for N/C, 1.0 for E). ICS passes 0. */
  margin?: number;
}

/**
 * Row-wise distance d(u_i, v_i) -> [B] as the triplet loss sees it
 * (eps-shifted Euclidean for N/E, 1 - cosine_similarity for C).
 */
export function tripletLossDistance(u: Tensor, v: Tensor, metric: MetricName): Tensor {
  if (metric === 'C') {
    return tidy(() => call1('aten::cosine_similarity', [u, v, -1, COSINE_SIMILARITY_EPS]).rsub(1));
  }
  return call1('aten::pairwise_distance', [u, v, 2, TRIPLET_PAIRWISE_EPS, false]);
}

/** max(0, d(a_i, p_i) - d(a_i, n_i) + γ) for each triplet -> [B] (unreduced, for defenses). */
export function tripletLossPerTriplet(a: Tensor, p: Tensor, n: Tensor, opts: TripletLossOptions): Tensor {
  assertTripletInputs(a, p, n);
  const margin = opts.margin ?? defaultMargin(opts.metric);
  assertMargin(margin);
  return tidy(() =>
    tripletLossDistance(a, p, opts.metric).sub(tripletLossDistance(a, n, opts.metric)).add(margin).clampMin(0),
  );
}

/** L_T = (1/B) Σ_i max(0, d(a_i, p_i) - d(a_i, n_i) + γ): the mean over the B triplets (a scalar). */
export function tripletLoss(a: Tensor, p: Tensor, n: Tensor, opts: TripletLossOptions): Tensor {
  return tidy(() => tripletLossPerTriplet(a, p, n, opts).mean());
}

/**
 * Hardness H_i = d(a_i, p_i) - d(a_i, n_i) per triplet -> [B], with the plain
 * metric distances (no eps); in [-2, 2] for N. L_T = max(0, H + γ) up to the eps.
 */
export function tripletHardness(a: Tensor, p: Tensor, n: Tensor, metric: MetricName): Tensor {
  assertTripletInputs(a, p, n);
  return tidy(() => rowDistance(a, p, metric).sub(rowDistance(a, n, metric)));
}

/** Options of CA-TRIDE's extra separation term. */
export interface CatrideTermOptions {
  metric: MetricName;
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
  if (opts.metric === 'C') throw new Error('the CA-TRIDE separation term is defined for metrics N and E only (the reference has no cosine form)');
  assertTripletInputs(a, p, n);
  if (a.shape[0]! < 2) throw new Error(`the CA-TRIDE separation term needs at least 2 triplets (mean of the closer half), got ${a.shape[0]}`);
  const weight = opts.weight ?? 0.5;
  const margin = opts.margin ?? 0.04;
  assertMargin(weight, 'weight');
  assertMargin(margin);
  return tidy(() => {
    const lowAp = lowerHalfMean(tripletLossDistance(a, p, opts.metric));
    const lowAn = lowerHalfMean(tripletLossDistance(a, n, opts.metric));
    return lowAp.sub(lowAn).add(margin).clampMin(0).mul(weight);
  });
}

// Layer: metric. The three DML metrics (docs/methods.md §1).
//   N: Euclidean distance between L2-normalised embeddings (range [0, 2])
//   E: Euclidean distance between raw embeddings
//   C: cosine distance 1 - cos between normalised embeddings (range [0, 2])
import { call1, Tensor, tidy } from '../tensor/index.js';

/** N = normalised Euclidean, E = Euclidean, C = cosine distance (docs/methods.md §1). */
export type MetricName = 'N' | 'E' | 'C';

/** Every metric name. */
export const METRICS: readonly MetricName[] = ['N', 'E', 'C'];

/** A metric from 'N', 'E' or 'C'; throws otherwise. */
export function parseMetric(s: string): MetricName {
  const m = s.toUpperCase();
  if (m === 'N' || m === 'E' || m === 'C') return m;
  throw new Error(`unknown metric '${s}' (expected N, E or C)`);
}

/** The triplet margin RobRank uses for each metric (one table: 0.2 for N and C, 1.0 for E). */
export function defaultMargin(metric: MetricName): number {
  return metric === 'E' ? 1.0 : 0.2;
}

/** x / max(||x||_2, eps) along the last dimension (torch.nn.functional.normalize). */
export function l2normalize(x: Tensor, eps = 1e-12): Tensor {
  return tidy(() => x.div(x.norm(2, -1, true).clampMin(eps)));
}

/** The embedding as the metric uses it: normalised for N and C, raw for E. */
export function embedForMetric(z: Tensor, metric: MetricName): Tensor {
  return metric === 'E' ? z.clone() : l2normalize(z);
}

/**
 * Distances between every row of `a` [n, d] and every row of `b` [m, d] -> [n, m].
 * Inputs are already in metric space (see embedForMetric). N/E use an exact
 * pairwise Euclidean routine (no sqrt(|x|^2+|y|^2-2xy) round-off), C uses 1 - a·bᵀ.
 */
export function pairwiseDistance(a: Tensor, b: Tensor, metric: MetricName): Tensor {
  if (metric === 'C') return tidy(() => a.matmul(b.t()).rsub(1));
  // compute_mode 2 = "donot_use_mm_for_euclid_dist": exact differences, stable gradients at 0.
  return call1('aten::cdist', [a, b, 2, 2]);
}

/** Row-wise distance d(a_i, b_i) -> [n], in metric space. */
export function rowDistance(a: Tensor, b: Tensor, metric: MetricName): Tensor {
  if (metric === 'C') return tidy(() => a.mul(b).sum(-1).rsub(1));
  return tidy(() => a.sub(b).norm(2, -1));
}

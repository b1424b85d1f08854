// Layer: attack. Distances from a batch to the whole gallery ([B, N]), as the
// reference computes them during attacks: C → 1 − q·Xᵀ (shared with
// metric/distance.ts), N/E → torch.cdist with its DEFAULT compute mode, which
// for more than 25 rows uses the matmul expansion √(|q|² + |x|² − 2q·x).
// The metric layer's pairwiseDistance uses the exact-difference mode instead;
// against a 10 000-item gallery that costs ~10× more per PGD step (764 ms vs
// 74 ms forward+backward for [128, 512] × [10 000, 512], 1 thread), for
// differences far below the rankings' resolution.
import { call1, type Tensor } from '../tensor/index.js';
import { pairwiseDistance, type MetricName } from '../metric/distance.js';

/** d(a_i, b_j) → [n, m] for metric-space rows a [n, D], b [m, D], with the reference's cdist numerics. */
export function galleryDistance(a: Tensor, b: Tensor, metric: MetricName): Tensor {
  if (metric === 'C') return pairwiseDistance(a, b, metric);
  return call1('aten::cdist', [a, b, 2, null]); // compute_mode None = use_mm_for_euclid_dist_if_necessary
}

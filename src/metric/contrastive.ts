// Layer: metric. RobRank's SPC-2 pair contrastive loss (`pcontrast{N,E,C}`),
// on mined triplets (a, p, n): the pair (a, p) is pulled together, the pair
// (a, n) pushed beyond a margin. Exact form, as the reference computes it:
//
//   N, E:  mean_i d(a_i, p_i)  +  mean_{i ∈ V} (m - d(a_i, n_i)),   V = {i : m - d(a_i, n_i) > 0}
//          with d = pairwise_distance (eps 1e-6, like the triplet loss); the
//          second mean is over the violating pairs only, and 0 when V = ∅.
//   C:     mean_i (1 - cos(a_i, p_i))  +  mean_i max(0, cos(a_i, n_i) - m)
//          i.e. PyTorch's cosine_embedding_loss with targets +1 then -1.
//
// The margin m is 1.0 for every metric (RobRank's contrastive config, unlike
// the triplet table). Quirk kept on purpose: with m = 1 the cosine negative
// term is identically 0 (cos <= 1), so pcontrastC only pulls positives.
//
// The per-metric form is the metric's (`metric.contrastive`, metric.ts); this
// module checks the inputs and picks the margin.
import type { Tensor } from '../tensor/index.js';
import type { Metric } from './metric.js';
import { assertMargin, assertTripletInputs } from './check.js';

/** RobRank's contrastive margin: 1.0 for N, E and C. */
export const CONTRASTIVE_MARGIN = 1.0;

/** Options of `contrastiveLoss`. */
export interface ContrastiveLossOptions {
  metric: Metric;
  /** Defaults to CONTRASTIVE_MARGIN. */
  margin?: number;
}

/** Contrastive loss over mined triplets (positive pairs pulled together, negatives pushed beyond the margin). */
export function contrastiveLoss(a: Tensor, p: Tensor, n: Tensor, opts: ContrastiveLossOptions): Tensor {
  assertTripletInputs(a, p, n);
  const margin = opts.margin ?? CONTRASTIVE_MARGIN;
  assertMargin(margin);
  return opts.metric.contrastive(a, p, n, margin);
}

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
import { call1, ones, tidy, type Tensor } from '../tensor/index.js';
import { METRIC_NAMES, type Metric } from './metric.js';
import { assertMargin, assertTripletInputs } from './check.js';
import { defineLoss } from './loss.js';

/** RobRank's contrastive margin: 1.0 for N, E and C. */
export const CONTRASTIVE_MARGIN = 1.0;

/** Options of `contrastiveLoss`. */
export interface ContrastiveLossOptions {
  metric: Metric;
  /** Defaults to CONTRASTIVE_MARGIN. */
  margin?: number;
}

/** ATen's Reduction::Mean. */
const REDUCTION_MEAN = 1;

/** Contrastive loss over mined triplets (positive pairs pulled together, negatives pushed beyond the margin). */
export function contrastiveLoss(a: Tensor, p: Tensor, n: Tensor, opts: ContrastiveLossOptions): Tensor {
  assertTripletInputs(a, p, n);
  const margin = opts.margin ?? CONTRASTIVE_MARGIN;
  assertMargin(margin);
  const metric = opts.metric;
  return tidy(() => {
    if (metric.name === 'C') {
      const target = ones([a.shape[0]!], { dtype: a.dtype, device: a.device });
      const pull = call1('aten::cosine_embedding_loss', [a, p, target, margin, REDUCTION_MEAN]);
      const push = call1('aten::cosine_embedding_loss', [a, n, target.neg(), margin, REDUCTION_MEAN]);
      return pull.add(push);
    }
    const pull = metric.lossRows(a, p).mean();
    const hinge = metric.lossRows(a, n).rsub(margin).clampMin(0);
    // Mean over violating pairs only: sum / count, with the count floored at 1
    // so that an empty V gives exactly 0 (and a zero gradient) instead of NaN.
    const violating = hinge.gt(0).sum().clampMin(1).to(hinge.dtype);
    return pull.add(hinge.sum().div(violating));
  });
}

export const contrastiveEntry = defineLoss({
  name: 'contrastive',
  robrankWords: ['contrast'],
  summary: 'contrastive loss on the SPC-2 pairs: pull d(a,p), push d(a,n) beyond m',
  metrics: METRIC_NAMES,
  input: 'triplets',
  margin: () => CONTRASTIVE_MARGIN,
  hypers: [],
  fn: (t, ctx) => contrastiveLoss(t.a, t.p, t.n, { metric: ctx.metric, margin: ctx.margin }),
});

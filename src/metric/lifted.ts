// Layer: metric. The generalised lifted-structure loss (Hermans et al. 2017's
// form of Song et al.'s loss) as RobRank trains it on SPC-2 batches (`pglift{N,E,C}`):
// each even row 2k is an anchor, P_k = the other rows of its class, N_k = the rows of other classes,
//
//   L = mean_k max(0, log Σ_{j ∈ P_k} e^{d(a_k, x_j)} + log Σ_{n ∈ N_k} e^{m − d(a_k, x_n)})  +  w · mean_i ‖x_i‖
//
// with the metric's exact distances (`metric.pairwise`), m = 0.2 (N/C) or 1.0 (E)
// and w = 5e-3 (for N and C the norm term is the constant w).
import { arange, eye, tidy, type Tensor } from '../tensor/index.js';
import { METRIC_NAMES, metricByName, type Metric } from './metric.js';
import { assertMargin, assertSpc2Batch } from './check.js';
import type { BatchLossEntry } from './loss.js';

/** Masks [B, 2B] of each even-row anchor's positives (same class, not itself) and negatives. */
export function anchorMasks(labels: Tensor): { anchors: Tensor; pos: Tensor; neg: Tensor } {
  return tidy(() => {
    const n = labels.shape[0]!;
    const anchors = arange(0, n, 2, { dtype: 'int64', device: labels.device });
    const la = labels.indexSelect(0, anchors).view(-1, 1);
    const same = la.eq(labels.view(1, n));
    const self = anchors.view(-1, 1).eq(arange(0, n, 1, { dtype: 'int64', device: labels.device }).view(1, n));
    const neg = same.logicalNot();
    if (!neg.sum(1).gt(0).all().item()) throw new Error('a batch where some anchor has no other class: the loss needs at least two classes per batch');
    return { anchors, pos: same.logicalAnd(self.logicalNot()), neg };
  });
}

/** Masks [2B, 2B] of every row as an anchor: its positives (same class, not itself) and its negatives. */
export function everyAnchorMasks(labels: Tensor): { pos: Tensor; neg: Tensor } {
  return tidy(() => {
    const n = labels.shape[0]!;
    const same = labels.view(n, 1).eq(labels.view(1, n));
    return { pos: same.logicalAnd(eye(n, { device: labels.device }).to('bool').logicalNot()), neg: same.logicalNot() };
  });
}

/** Row-wise log Σ_{mask} e^v. */
export function maskedLogSumExp(v: Tensor, mask: Tensor): Tensor {
  return tidy(() => v.maskedFill(mask.logicalNot(), Number.NEGATIVE_INFINITY).logsumexp(1));
}

export function liftedLoss(x: Tensor, labels: Tensor, o: { metric: Metric; margin: number; l2Weight: number }): Tensor {
  assertSpc2Batch(x, labels);
  assertMargin(o.margin);
  return tidy(() => {
    const { anchors, pos, neg } = anchorMasks(labels);
    const d = o.metric.pairwise(x.indexSelect(0, anchors), x);
    const term = maskedLogSumExp(d, pos).add(maskedLogSumExp(d.rsub(o.margin), neg)).clampMin(0);
    return term.mean().add(x.norm(2, -1).mean().mul(o.l2Weight));
  });
}

export const liftedEntry: BatchLossEntry = {
  name: 'lifted',
  robrankWords: ['glift'],
  summary: 'generalised lifted-structure loss over every pair of the batch',
  metrics: METRIC_NAMES,
  input: 'batch',
  margin: (metric) => metricByName(metric).defaultMargin,
  hypers: [{ name: 'l2Weight', flag: 'lifted-l2', help: 'lifted structure: weight of the mean embedding norm', default: 5e-3, min: 0 }],
  fn: (x, labels, ctx) => liftedLoss(x, labels, { metric: ctx.metric, margin: ctx.margin, l2Weight: ctx.params.l2Weight! }),
};

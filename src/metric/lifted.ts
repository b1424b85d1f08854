// Layer: metric. The lifted-structure loss on SPC-2 batches, in three forms
// (`--loss-form`), with the metric's exact distances d (`metric.pairwise`), P_i =
// the other rows of row i's class, N_i = the rows of other classes, m = 0.2 (N/C) or 1.0 (E):
//
// published (Oh Song et al., CVPR 2016; pytorch-metric-learning's LiftedStructureLoss):
//   J_ij = log(Σ_{k ∈ N_i} e^{m − d_ik} + Σ_{l ∈ N_j} e^{m − d_jl}) + d_ij
//   L    = 1/(2|P|) Σ_{unordered positive pairs {i,j}} max(0, J_ij)²  (= the mean over ordered pairs of max(0, J_ij)² / 2)
// generalized (Hermans et al. 2017's form; pytorch-metric-learning's GeneralizedLiftedStructureLoss),
// every row i an anchor:
//   L = mean_i max(0, log Σ_{j ∈ P_i} e^{d_ij} + log Σ_{n ∈ N_i} e^{m − d_in})
// robrank (`pglift{N,E,C}`): the generalized form with the even rows 2k as the
// only anchors, plus w · mean_i ‖x_i‖, w = 5e-3 (for N and C the constant w).
import { arange, eye, stack, tidy, type Tensor } from '../tensor/index.js';
import { METRIC_NAMES, metricByName, type Metric } from './metric.js';
import { assertMargin, assertSpc2Batch } from './check.js';
import { defineLoss } from './loss.js';

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

/** The forms of the lifted-structure loss. */
export const LIFTED_FORMS = ['published', 'generalized', 'robrank'] as const;
export type LiftedForm = (typeof LIFTED_FORMS)[number];

/** The lifted-structure loss of an SPC-2 batch [2B, D] in metric space; `l2Weight` is RobRank's form's only. */
export function liftedLoss(x: Tensor, labels: Tensor, o: { metric: Metric; margin: number; form: LiftedForm; l2Weight?: number }): Tensor {
  assertSpc2Batch(x, labels);
  assertMargin(o.margin);
  if (o.form === 'published') return ohSongLifted(x, labels, o);
  return tidy(() => {
    if (o.form === 'generalized') {
      const { pos, neg } = everyAnchorMasks(labels);
      if (!neg.sum(1).gt(0).all().item()) throw new Error('a batch where some anchor has no other class: the loss needs at least two classes per batch');
      const d = o.metric.pairwise(x, x);
      return maskedLogSumExp(d, pos)
        .add(maskedLogSumExp(d.rsub(o.margin), neg))
        .clampMin(0)
        .mean();
    }
    if (o.l2Weight === undefined) throw new Error("RobRank's lifted form needs its norm weight (l2Weight)");
    const { anchors, pos, neg } = anchorMasks(labels);
    const d = o.metric.pairwise(x.indexSelect(0, anchors), x);
    const term = maskedLogSumExp(d, pos)
      .add(maskedLogSumExp(d.rsub(o.margin), neg))
      .clampMin(0);
    return term.mean().add(x.norm(2, -1).mean().mul(o.l2Weight));
  });
}

/** Oh Song et al.'s loss: per ordered positive pair (i, j), the negatives of both i and j, squared hinge, halved. */
function ohSongLifted(x: Tensor, labels: Tensor, o: { metric: Metric; margin: number }): Tensor {
  return tidy(() => {
    const n = x.shape[0]!;
    const { pos, neg } = everyAnchorMasks(labels);
    if (!neg.sum(1).gt(0).all().item()) throw new Error('a batch where some row has no other class: the loss needs at least two classes per batch');
    const d = o.metric.pairwise(x, x);
    const l = maskedLogSumExp(d.rsub(o.margin), neg);
    const both = stack([l.view(n, 1).expand(n, n), l.view(1, n).expand(n, n)], 2).logsumexp(2);
    const hinge = both.add(d).maskedFill(pos.logicalNot(), 0).clampMin(0);
    return hinge.square().sum().div(pos.sum().to(x.dtype)).div(2);
  });
}

export const liftedEntry = defineLoss({
  name: 'lifted',
  robrankWords: ['glift'],
  summary: 'lifted-structure loss over every pair of the batch (Oh Song et al.; generalised form of Hermans et al.)',
  metrics: METRIC_NAMES,
  input: 'batch',
  margin: (metric) => metricByName(metric).defaultMargin,
  hypers: [
    {
      name: 'l2Weight',
      flag: 'lifted-l2',
      help: "lifted structure (RobRank's form): weight of the mean embedding norm",
      default: 5e-3,
      min: 0,
      forms: ['robrank'],
    },
  ],
  forms: {
    help: 'which pairs, which anchors',
    default: 'published',
    robrank: 'robrank',
    values: [
      { name: 'published', summary: 'per positive pair, the negatives of both ends, squared hinge (Oh Song et al.)' },
      { name: 'generalized', summary: 'every row an anchor, log-sum-exp over its positives and negatives (Hermans et al.)' },
      { name: 'robrank', summary: 'the generalized form with the even rows as anchors + 5e-3 · mean norm' },
    ],
  },
  fn: (x, labels, ctx) =>
    liftedLoss(x, labels, {
      metric: ctx.metric,
      margin: ctx.margin,
      form: ctx.form as LiftedForm,
      ...(ctx.params.l2Weight !== undefined ? { l2Weight: ctx.params.l2Weight } : {}),
    }),
});

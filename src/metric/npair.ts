// Layer: metric. The N-pair loss (Sohn, NeurIPS 2016) on SPC-2 batches, in two
// forms (`--loss-form`); no margin.
//
// published (Sohn's multi-class N-pair loss as pytorch-metric-learning's NPairsLoss
// with its defaults): one pair per class of the batch, (a_c, p_c) = the class's
// first row and its next row of the class; the other pairs' positives are the
// negatives, on cosine similarities (NPairsLoss's default distance normalises):
//
//   L = mean_c −log softmax_c(â_c · p̂_1, …, â_c · p̂_C)
//
// robrank (`pnpair{N,E,C}`): anchor x_2k, positive x_2k+1, negatives N_k = every
// row of another class; with the anchor normalised (â, for every metric),
//
//   L = mean_k log(1 + Σ_{n ∈ N_k} exp(â_k·x_n − â_k·x_{2k+1}))  +  w · mean_i ‖x_i‖,   w = 5e-3.
import { arange, cat, tidy, zeros, type Tensor } from '../tensor/index.js';
import { METRIC_NAMES, l2normalize } from './metric.js';
import { assertSpc2Batch } from './check.js';
import { anchorMasks } from './lifted.js';
import { defineLoss } from './loss.js';

/** The forms of the N-pair loss. */
export const NPAIR_FORMS = ['published', 'robrank'] as const;
export type NpairForm = (typeof NPAIR_FORMS)[number];

/** The N-pair loss of an SPC-2 batch [2B, D] in metric space; `l2Weight` is RobRank's form's only. */
export function npairLoss(x: Tensor, labels: Tensor, o: { form: NpairForm; l2Weight?: number }): Tensor {
  assertSpc2Batch(x, labels);
  if (o.form === 'published') return sohnNpair(x, labels);
  const l2Weight = o.l2Weight;
  if (l2Weight === undefined) throw new Error("RobRank's n-pair form needs its norm weight (l2Weight)");
  return tidy(() => {
    const { anchors, neg } = anchorMasks(labels);
    const a = l2normalize(x.indexSelect(0, anchors));
    const p = x.indexSelect(0, arange(1, x.shape[0]!, 2, { dtype: 'int64', device: x.device }));
    const inner = a.matmul(x.t()).sub(a.mul(p).sum(1, true)).maskedFill(neg.logicalNot(), Number.NEGATIVE_INFINITY);
    const one = zeros([inner.shape[0]!, 1], { dtype: x.dtype, device: x.device });
    return cat([one, inner], 1).logsumexp(1).mean().add(x.norm(2, -1).mean().mul(l2Weight));
  });
}

/** Sohn's loss over one (anchor, positive) pair per class: a cross-entropy whose targets are the pairs' own positives. */
function sohnNpair(x: Tensor, labels: Tensor): Tensor {
  return tidy(() => {
    const n = x.shape[0]!;
    const rows = arange(0, n, 1, { dtype: 'int64', device: x.device });
    const same = labels.view(n, 1).eq(labels.view(1, n));
    // a class's first row: no earlier row of its class; its positive: the first other row of the class.
    const first = same
      .logicalAnd(rows.view(1, n).lt(rows.view(n, 1)))
      .sum(1)
      .eq(0);
    const others = same.logicalAnd(rows.view(1, n).ne(rows.view(n, 1)));
    if (!others.sum(1).gt(0).all().item()) throw new Error('a batch where some class has a single row: the n-pair loss needs a positive for each anchor');
    const anchors = first.nonzero().view(-1);
    const positives = others.to('int64').argmax(1).indexSelect(0, anchors);
    if (anchors.shape[0]! < 2) throw new Error('the n-pair loss needs at least two classes per batch');
    const a = l2normalize(x.indexSelect(0, anchors));
    const p = l2normalize(x.indexSelect(0, positives));
    const logits = a.matmul(p.t());
    return logits.logsumexp(1).sub(a.mul(p).sum(1)).mean();
  });
}

export const npairEntry = defineLoss({
  name: 'npair',
  robrankWords: ['npair'],
  summary: 'N-pair loss: each anchor against its positive and the other classes (Sohn)',
  metrics: METRIC_NAMES,
  input: 'batch',
  hypers: [
    { name: 'l2Weight', flag: 'npair-l2', help: "N-pair (RobRank's form): weight of the mean embedding norm", default: 5e-3, min: 0, forms: ['robrank'] },
  ],
  forms: {
    help: 'which pairs and negatives',
    default: 'published',
    robrank: 'robrank',
    values: [
      { name: 'published', summary: "one pair per class, the other pairs' positives as negatives, cosine logits (Sohn)" },
      { name: 'robrank', summary: 'every pair, every other-class row a negative, normalised anchor + 5e-3 · mean norm' },
    ],
  },
  fn: (x, labels, ctx) =>
    npairLoss(x, labels, { form: ctx.form as NpairForm, ...(ctx.params.l2Weight !== undefined ? { l2Weight: ctx.params.l2Weight } : {}) }),
});

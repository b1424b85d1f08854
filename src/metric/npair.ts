// Layer: metric. The N-pair loss (Sohn, NeurIPS 2016) as RobRank trains it on
// SPC-2 batches (`pnpair{N,E,C}`): anchor x_2k, positive x_2k+1, negatives N_k
// = every row of another class; with the anchor normalised (â, for every metric),
//
//   L = mean_k log(1 + Σ_{n ∈ N_k} exp(â_k·x_n − â_k·x_{2k+1}))  +  w · mean_i ‖x_i‖,   w = 5e-3.
//
// No margin. pytorch-metric-learning's NPairsLoss differs: its negatives are
// the other pairs' positives only, through a cross-entropy.
import { arange, cat, tidy, zeros, type Tensor } from '../tensor/index.js';
import { METRIC_NAMES, l2normalize } from './metric.js';
import { assertSpc2Batch } from './check.js';
import { anchorMasks } from './lifted.js';
import type { BatchLossEntry } from './loss.js';

export function npairLoss(x: Tensor, labels: Tensor, o: { l2Weight: number }): Tensor {
  assertSpc2Batch(x, labels);
  return tidy(() => {
    const { anchors, neg } = anchorMasks(labels);
    const a = l2normalize(x.indexSelect(0, anchors));
    const p = x.indexSelect(0, arange(1, x.shape[0]!, 2, { dtype: 'int64', device: x.device }));
    const inner = a.matmul(x.t()).sub(a.mul(p).sum(1, true)).maskedFill(neg.logicalNot(), Number.NEGATIVE_INFINITY);
    const one = zeros([inner.shape[0]!, 1], { dtype: x.dtype, device: x.device });
    return cat([one, inner], 1).logsumexp(1).mean().add(x.norm(2, -1).mean().mul(o.l2Weight));
  });
}

export const npairEntry: BatchLossEntry = {
  name: 'npair',
  robrankWords: ['npair'],
  summary: 'N-pair loss: each anchor against its positive and every other-class row',
  metrics: METRIC_NAMES,
  input: 'batch',
  hypers: [{ name: 'l2Weight', flag: 'npair-l2', help: 'N-pair: weight of the mean embedding norm', default: 5e-3, min: 0 }],
  fn: (x, labels, ctx) => npairLoss(x, labels, { l2Weight: ctx.params.l2Weight! }),
};

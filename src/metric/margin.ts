// Layer: metric. The margin loss of Wu et al. (2017) as RobRank trains it on
// SPC-2 triplets (`pmargin{N,E,C}`, `pdmarginN` with distance-weighted sampling):
//
//   l⁺_i = max(0, d(a_i, p_i) − β + m),   l⁻_i = max(0, β − d(a_i, n_i) + m)
//   L    = mean of the l⁺_i > 0  +  mean of the l⁻_i > 0        (an empty mean is 0)
//
// with the triplet loss's distances (`metric.lossRows`). β is learnable: one
// scalar, initialised to 0.6 and optimised by plain SGD at lr 5e-4 (RobRank's
// locked values after Roth et al., ICML 2020); m = 0.2 for every metric.
import { tidy, type Tensor } from '../tensor/index.js';
import { METRIC_NAMES, type Metric } from './metric.js';
import { assertMargin, assertTripletInputs } from './check.js';
import type { TripletLossEntry } from './loss.js';

/** Mean of the positive entries of v; 0 (with a zero gradient) when none is. */
export function meanOfPositive(v: Tensor): Tensor {
  return tidy(() => v.sum().div(v.gt(0).sum().clampMin(1).to(v.dtype)));
}

/** The per-triplet hinges [l⁺, l⁻] ([B] each) for a boundary β (a number or a 0-d tensor with autograd). */
export function marginTerms(a: Tensor, p: Tensor, n: Tensor, o: { metric: Metric; beta: Tensor | number; margin: number }): [Tensor, Tensor] {
  assertTripletInputs(a, p, n);
  assertMargin(o.margin);
  const beta = o.beta;
  return [
    tidy(() => (typeof beta === 'number' ? o.metric.lossRows(a, p).sub(beta - o.margin) : o.metric.lossRows(a, p).sub(beta).add(o.margin)).clampMin(0)),
    tidy(() => (typeof beta === 'number' ? o.metric.lossRows(a, n).rsub(beta + o.margin) : o.metric.lossRows(a, n).neg().add(beta).add(o.margin)).clampMin(0)),
  ];
}

/** The margin loss of triplets [B, D]: the mean of the non-zero l⁺ plus the mean of the non-zero l⁻. */
export function marginLoss(a: Tensor, p: Tensor, n: Tensor, o: { metric: Metric; beta: Tensor | number; margin: number }): Tensor {
  return tidy(() => {
    const [pos, neg] = marginTerms(a, p, n, o);
    return meanOfPositive(pos).add(meanOfPositive(neg));
  });
}

export const marginEntry: TripletLossEntry = {
  name: 'margin',
  robrankWords: ['margin'],
  summary: 'margin loss with a learnable boundary β (Wu et al.; pdmarginN = distance-weighted sampling)',
  metrics: METRIC_NAMES,
  input: 'triplets',
  margin: () => 0.2,
  hypers: [
    { name: 'beta', flag: 'beta', help: 'margin loss: initial boundary β', default: 0.6, min: 0 },
    { name: 'lrBeta', flag: 'lr-beta', help: 'margin loss: SGD learning rate of β', default: 5e-4, above: 0 },
  ],
  learnable: [{ name: 'beta', init: 'beta', lr: 'lrBeta' }],
  fn: (t, ctx) => marginLoss(t.a, t.p, t.n, { metric: ctx.metric, beta: ctx.learned.beta ?? ctx.params.beta!, margin: ctx.margin }),
};

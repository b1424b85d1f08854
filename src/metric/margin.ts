// Layer: metric. The margin loss of Wu et al. (ICCV 2017) on SPC-2 triplets
// (`pmargin{N,E,C}`, `pdmarginN` with distance-weighted sampling):
//
//   l⁺_i = max(0, d(a_i, p_i) − β + m),   l⁻_i = max(0, β − d(a_i, n_i) + m)
//
// reduced in one of two forms (`--loss-form`):
//   published: L = Σ_i (l⁺_i + l⁻_i) / #{non-zero l⁺_i and l⁻_i}     (Wu et al.; pytorch-metric-learning's MarginLoss)
//   robrank:   L = mean of the l⁺_i > 0  +  mean of the l⁻_i > 0      (RobRank's)
// (0 when no term is non-zero). Under RobRank's form dL/dβ = −1 + 1 = 0 on
// every batch where both sides have a non-zero term, so β moves only on
// batches where one side is empty; under the published form dL/dβ =
// (#l⁻ − #l⁺) / (#l⁺ + #l⁻), so β moves towards balancing the two sides.
// Distances as the triplet loss's (`metric.lossRows`). β is learnable: one
// scalar, initialised to 0.6 and optimised by plain SGD at lr 5e-4 (RobRank's
// locked values after Roth et al., ICML 2020); m = 0.2 for every metric.
import { tidy, type Tensor } from '../tensor/index.js';
import { METRIC_NAMES, type Metric } from './metric.js';
import { assertMargin, assertTripletInputs } from './check.js';
import { defineLoss } from './loss.js';

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

/** The forms of the margin loss. */
export const MARGIN_FORMS = ['published', 'robrank'] as const;
export type MarginForm = (typeof MARGIN_FORMS)[number];

/**
 * The margin loss of triplets [B, D]. published: the sum of every l⁺ and l⁻
 * over the number of non-zero ones; robrank: the mean of the non-zero l⁺ plus
 * the mean of the non-zero l⁻.
 */
export function marginLoss(a: Tensor, p: Tensor, n: Tensor, o: { metric: Metric; beta: Tensor | number; margin: number; form: MarginForm }): Tensor {
  return tidy(() => {
    const [pos, neg] = marginTerms(a, p, n, o);
    if (o.form === 'robrank') return meanOfPositive(pos).add(meanOfPositive(neg));
    const nonZero = pos.gt(0).sum().add(neg.gt(0).sum()).clampMin(1).to(pos.dtype);
    return pos.sum().add(neg.sum()).div(nonZero);
  });
}

export const marginEntry = defineLoss({
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
  forms: {
    help: 'the reduction of the hinges',
    default: 'published',
    robrank: 'robrank',
    values: [
      { name: 'published', summary: 'Σ(l⁺ + l⁻) / #non-zero terms, β learns (Wu et al.)' },
      { name: 'robrank', summary: 'mean of non-zero l⁺ + mean of non-zero l⁻ (dL/dβ = 0 once both are non-empty)' },
    ],
  },
  learnable: [{ name: 'beta', init: 'beta', lr: 'lrBeta' }],
  fn: (t, ctx) =>
    marginLoss(t.a, t.p, t.n, { metric: ctx.metric, beta: ctx.learned.beta ?? ctx.params.beta!, margin: ctx.margin, form: ctx.form as MarginForm }),
});

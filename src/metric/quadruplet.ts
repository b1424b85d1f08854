// Layer: metric. The quadruplet loss (Chen et al., CVPR 2017) on SPC-2 triplets
// (`pquad{N,E,C}`, `pdquadN`): the triplet loss plus a second hinge that keeps
// the positive pair closer than a pair of negatives of two other classes,
//
//   L = mean_i max(0, d(a_i,p_i) − d(a_i,n_i) + γ)  +  mean_i max(0, d(a_i,p_i) − d(n_i, n'_i) + γ₂)
//
// with γ the triplet margin (0.2 N/C, 1.0 E) and γ₂ = 0.1 (N/C), 0.5 (E). n'_i
// is the negative of another triplet j, drawn uniformly among those whose label
// differs from n_i's (any other triplet if none does). The reference draws an
// index into its list of negatives but then reads that row of the batch; here
// it is the negative itself.
import { eye, multinomial, noGrad, tidy, type Tensor } from '../tensor/index.js';
import { METRIC_NAMES, metricByName, type Metric } from './metric.js';
import { assertMargin, assertTripletInputs } from './check.js';
import { tripletLoss } from './triplet.js';
import { defineLoss } from './loss.js';

/** For each triplet i, the index j ≠ i of its second negative (labels of the negatives [B]). */
export function secondNegatives(negativeLabels: Tensor): Tensor {
  const b = negativeLabels.shape[0]!;
  if (b < 2) throw new Error(`the quadruplet loss needs at least 2 triplets (a second negative), got ${b}`);
  return noGrad(() =>
    tidy(() => {
      const l = negativeLabels.view(b, 1);
      const other = l.ne(l.t()).to('float64');
      // A row without a differently labelled negative falls back to every other triplet.
      const has = other.sum(1, true).gt(0).to('float64');
      const notSelf = eye(b, { dtype: 'float64' }).rsub(1);
      return multinomial(other.mul(has).add(notSelf.mul(has.rsub(1))), 1, false).view(b);
    }),
  );
}

export function quadrupletLoss(a: Tensor, p: Tensor, n: Tensor, second: Tensor, o: { metric: Metric; margin: number; margin2: number }): Tensor {
  assertTripletInputs(a, p, n);
  assertMargin(o.margin);
  assertMargin(o.margin2, 'margin2');
  return tidy(() => {
    const n2 = n.indexSelect(0, second);
    const quad = o.metric.lossRows(a, p).sub(o.metric.lossRows(n, n2)).add(o.margin2).clampMin(0).mean();
    return tripletLoss(a, p, n, { metric: o.metric, margin: o.margin }).add(quad);
  });
}

export const quadrupletEntry = defineLoss({
  name: 'quadruplet',
  robrankWords: ['quad'],
  summary: 'quadruplet loss: the triplet loss plus a hinge between the positive pair and two negatives',
  metrics: METRIC_NAMES,
  input: 'triplets',
  margin: (metric) => metricByName(metric).defaultMargin,
  hypers: [
    { name: 'margin2', flag: 'margin2', help: 'quadruplet loss: second margin γ₂ (0.1 for N/C, 0.5 for E)', default: (m) => (m === 'E' ? 0.5 : 0.1), min: 0 },
  ],
  fn: (t, ctx) => quadrupletLoss(t.a, t.p, t.n, secondNegatives(t.negativeLabels), { metric: ctx.metric, margin: ctx.margin, margin2: ctx.params.margin2! }),
});

// Layer: metric. The signal-to-noise-ratio triplet loss (Yuan et al., CVPR 2019)
// as RobRank trains it on SPC-2 triplets (`psnr{N,E,C}`):
//
//   snr(u, v) = Var(u − v) / Var(u)     (unbiased variances over the D components)
//   L = Σ_i h_i / |{i : h_i > 0}|  +  λ · mean_i |Σ_k a_ik|,   h_i = max(0, snr(a_i, p_i) − snr(a_i, n_i) + m)
//
// (the first term is 0 when no triplet violates the margin), m = 0.2, λ = 0.005.
// The metric only decides how embeddings are normalised (metric.embed).
import { tidy, type Tensor } from '../tensor/index.js';
import { METRIC_NAMES } from './metric.js';
import { assertMargin, assertTripletInputs } from './check.js';
import { meanOfPositive } from './margin.js';
import type { TripletLossEntry } from './loss.js';

/** The SNR distance of each row pair → [B]. */
export function snrDistance(u: Tensor, v: Tensor): Tensor {
  return tidy(() => u.sub(v).var(1).div(u.var(1)));
}

export function snrLoss(a: Tensor, p: Tensor, n: Tensor, o: { margin: number; regLambda: number }): Tensor {
  assertTripletInputs(a, p, n);
  assertMargin(o.margin);
  if (a.shape[1]! < 2) throw new Error(`the SNR loss needs embeddings of dimension >= 2 (a variance over components), got ${a.shape[1]}`);
  return tidy(() => {
    const h = snrDistance(a, p).sub(snrDistance(a, n)).add(o.margin).clampMin(0);
    return meanOfPositive(h).add(a.sum(1).abs().mean().mul(o.regLambda));
  });
}

export const snrEntry: TripletLossEntry = {
  name: 'snr',
  robrankWords: ['snr'],
  summary: 'signal-to-noise-ratio triplet loss with a zero-mean regulariser (Yuan et al.)',
  metrics: METRIC_NAMES,
  input: 'triplets',
  margin: () => 0.2,
  hypers: [{ name: 'regLambda', flag: 'snr-lambda', help: 'SNR loss: weight of the zero-mean regulariser', default: 0.005, min: 0 }],
  fn: (t, ctx) => snrLoss(t.a, t.p, t.n, { margin: ctx.margin, regLambda: ctx.params.regLambda! }),
};

// Layer: metric. The signal-to-noise-ratio loss (Yuan et al., CVPR 2019) on SPC-2
// triplets, with the SNR distance
//
//   snr(u, v) = Var(u − v) / Var(u)     (unbiased variances over the D components)
//
// and a zero-mean regulariser of weight λ = 0.005, in two forms (`--loss-form`):
//
// published (Yuan et al.'s SNR contrastive loss as pytorch-metric-learning's
// SignalToNoiseRatioContrastiveLoss with its ZeroMeanRegularizer), on the
// positive pairs (a_i, p_i) and negative pairs (a_i, n_i) of the triplets:
//   L = mean of the non-zero snr(a_i, p_i)  +  mean of the non-zero max(0, m − snr(a_i, n_i))
//       + λ · mean over every embedding x of |Σ_k x_k|,   m = 1.0
// (every embedding: the anchors and their positives, i.e. each row of the SPC-2 batch once);
// robrank (`psnr{N,E,C}`), a triplet hinge regularising the anchors only:
//   L = Σ_i h_i / |{i : h_i > 0}|  +  λ · mean_i |Σ_k a_ik|,   h_i = max(0, snr(a_i, p_i) − snr(a_i, n_i) + m),   m = 0.2
//
// (an empty mean is 0). The metric only decides how embeddings are normalised (metric.embed).
import { cat, tidy, type Tensor } from '../tensor/index.js';
import { METRIC_NAMES } from './metric.js';
import { assertMargin, assertTripletInputs } from './check.js';
import { meanOfPositive } from './margin.js';
import { defineLoss } from './loss.js';

/** The SNR distance of each row pair → [B]. */
export function snrDistance(u: Tensor, v: Tensor): Tensor {
  return tidy(() => u.sub(v).var(1).div(u.var(1)));
}

/** The forms of the SNR loss. */
export const SNR_FORMS = ['published', 'robrank'] as const;
export type SnrForm = (typeof SNR_FORMS)[number];

export function snrLoss(a: Tensor, p: Tensor, n: Tensor, o: { margin: number; regLambda: number; form: SnrForm }): Tensor {
  assertTripletInputs(a, p, n);
  assertMargin(o.margin);
  if (a.shape[1]! < 2) throw new Error(`the SNR loss needs embeddings of dimension >= 2 (a variance over components), got ${a.shape[1]}`);
  return tidy(() => {
    if (o.form === 'published') {
      const pulled = meanOfPositive(snrDistance(a, p).clampMin(0));
      const pushed = meanOfPositive(snrDistance(a, n).rsub(o.margin).clampMin(0));
      return pulled.add(pushed).add(cat([a, p], 0).sum(1).abs().mean().mul(o.regLambda));
    }
    const h = snrDistance(a, p).sub(snrDistance(a, n)).add(o.margin).clampMin(0);
    return meanOfPositive(h).add(a.sum(1).abs().mean().mul(o.regLambda));
  });
}

export const snrEntry = defineLoss({
  name: 'snr',
  robrankWords: ['snr'],
  summary: 'signal-to-noise-ratio loss with a zero-mean regulariser (Yuan et al.)',
  metrics: METRIC_NAMES,
  input: 'triplets',
  margin: () => 0.2,
  hypers: [{ name: 'regLambda', flag: 'snr-lambda', help: 'SNR loss: weight of the zero-mean regulariser', default: 0.005, min: 0 }],
  forms: {
    help: 'pairs or triplets, which rows are regularised',
    default: 'published',
    robrank: 'robrank',
    values: [
      {
        name: 'published',
        summary: 'SNR contrastive loss on the (a,p) and (a,n) pairs, margin 1.0, every embedding regularised (Yuan et al.)',
        margin: () => 1,
      },
      { name: 'robrank', summary: 'SNR triplet hinge, margin 0.2, anchors regularised' },
    ],
  },
  fn: (t, ctx) => snrLoss(t.a, t.p, t.n, { margin: ctx.margin, regLambda: ctx.params.regLambda!, form: ctx.form as SnrForm }),
});

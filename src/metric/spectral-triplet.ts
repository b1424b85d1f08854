// Layer: metric. The spectrum-regularised distance-weighted triplet loss of
// Roth et al. (ICML 2020) as RobRank trains it (`pDtripletN`): triplets from the
// distance-weighted miner, and with probability p_switch = 0.15 per batch the
// triplets (a, p, n) are replaced by (a, a, p) — the positive becomes the
// negative, which pushes same-class embeddings apart and keeps the embedding
// spectrum from collapsing. The draw uses libtorch's generator, so a seed
// reproduces it. Defined for N only, as in the reference.
import { noGrad, rand, tidy } from '../tensor/index.js';
import { metricByName } from './metric.js';
import { tripletLoss } from './triplet.js';
import { defineLoss } from './loss.js';

/** Whether this batch's triplets are switched: one uniform draw against p_switch. */
export function drawSwitch(pSwitch: number): boolean {
  if (!(pSwitch >= 0 && pSwitch <= 1)) throw new Error(`p_switch must be in [0, 1], got ${pSwitch}`);
  return noGrad(() => tidy(() => rand([1], { dtype: 'float64' }).item())) < pSwitch;
}

export const spectralTripletEntry = defineLoss({
  name: 'spectral-triplet',
  robrankWords: ['Dtriplet'],
  summary: 'distance-weighted triplet loss with spectrum regularisation: p_switch of the batches train (a, a, p)',
  metrics: ['N'],
  input: 'triplets',
  margin: (metric) => metricByName(metric).defaultMargin,
  hypers: [{ name: 'pSwitch', flag: 'p-switch', help: 'spectral triplet: probability that a batch trains (a, a, p)', default: 0.15, min: 0, max: 1 }],
  miner: 'distance',
  fn: (t, ctx) =>
    drawSwitch(ctx.params.pSwitch!)
      ? tripletLoss(t.a, t.a, t.p, { metric: ctx.metric, margin: ctx.margin })
      : tripletLoss(t.a, t.p, t.n, { metric: ctx.metric, margin: ctx.margin }),
});

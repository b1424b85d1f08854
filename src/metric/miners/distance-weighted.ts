// Layer: metric. Distance-weighted miner (Wu et al. 2017, RobRank
// `spc2-distance`, losses `pdtriplet*`). The negative of anchor 2k is drawn
// from q over all 2B items (docs/methods.md §2), D = embedding dimension:
//
//   logq_j = (2 - D)·ln d_aj - ((D - 3)/2)·ln(1 - d_aj²/4)    (inverse of the
//            density of distances between uniform points on the unit sphere)
//   logq_j := 0 for j ∈ Pos
//   w_j = exp(logq_j - max_j logq_j);  w_j := 0 for j ∈ Pos
//   NaN -> 0, ±inf -> ±(largest float);  if Σw = 0: w_j := 1e-7 for ALL j (positives too)
//   q = w / Σw;  NaN entries left share the residual mass max(0, 1 - Σ non-NaN) equally
//
// Unlike Wu et al. there is no cut-off of d at 0.5 and no non-zero-loss filter.
// Quirks of the reference that this reproduces, not fixes:
// - Any NaN logq outside Pos (a NaN distance, or d > 2, which is common for
//   metric E on raw embeddings) makes the max NaN, every w NaN -> 0, Σw = 0,
//   so the draw is uniform over all 2B items, positives included.
// - A negative at distance 0 gives logq = +inf = max, inf - inf = NaN: again
//   uniform over all 2B items.
// - The max includes the 0 written into Pos. (For D >= 4 a negative's logq is
//   smallest near d = √2, about -0.35 for D = 512, so this rarely matters.)
import { multinomial, noGrad, tidy, where, type Tensor } from '../../tensor/index.js';
import { mineWith, type MiningBatch, type Miner } from './batch.js';
import { defineMiner } from './entry.js';

/** Weight given to every item when all weights of a row vanish. */
const VANISHED_WEIGHT = 1e-7;

/** The sampling distribution q of every anchor: [B, 2B], rows sum to 1. */
export function distanceWeightedProbabilities(batch: MiningBatch): Tensor {
  const D = batch.dim;
  return noGrad(() =>
    tidy(() => {
      const d = batch.distances;
      const positive = batch.sameLabel;
      const logq = d
        .log()
        .mul(2 - D)
        .sub(
          d
            .pow(2)
            .mul(0.25)
            .rsub(1)
            .log()
            .mul((D - 3) / 2),
        )
        .maskedFill(positive, 0);
      // amax propagates NaN, like the reference's tensor.max()
      const w = logq.sub(logq.amax(1, true)).exp().maskedFill(positive, 0).nanToNum(0);
      const weights = w.maskedFill(w.sum(1, true).eq(0), VANISHED_WEIGHT);
      const q = weights.div(weights.sum(1, true));
      // Residual-mass rule for entries still NaN (only reachable through overflow of Σw).
      const isNan = q.isnan();
      const residual = q.maskedFill(isNan, 0).sum(1, true).rsub(1).clampMin(0);
      const nanCount = isNan.sum(1, true).clampMin(1).to(q.dtype);
      return where(isNan, residual.div(nanCount), q);
    }),
  );
}

/** The distance-weighted rule on a MiningBatch -> negatives int64 [B]. */
export function distanceWeightedNegatives(batch: MiningBatch): Tensor {
  return tidy(() => multinomial(distanceWeightedProbabilities(batch), 1, true).view(batch.pairs));
}

/** Distance-weighted sampling of negatives (Wu et al.), positive = the pair partner. */
export const distanceWeightedMiner: Miner = (embeddings, labels, opts) =>
  mineWith(embeddings, labels, opts.metric, (batch) => ({ negatives: distanceWeightedNegatives(batch) }));

export const distanceEntry = defineMiner({
  name: 'distance',
  summary: 'distance-weighted sampling (Wu et al.)',
  lossCode: 'd',
  hmLetter: 'd',
  codeId: 'spc2-distance',
  miner: distanceWeightedMiner,
});

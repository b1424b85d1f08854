// Layer: metric. Softhard miner (RobRank `spc2-softhard`, losses `pstriplet*`):
// it picks both the negative and the positive of anchor 2k.
//   negative: uniform over {j ∈ Neg : d_aj² < (max_{i∈Pos} d_ai)²}; fallback
//             uniform over Neg; if Neg = ∅, uniform over all 2B.
//   positive: uniform over {j ∈ Pos : d_aj² > (min_{i∈Neg} d_ai)²}; fallback
//             uniform over Pos, which MAY RETURN THE ANCHOR ITSELF (Pos contains
//             it); if Neg = ∅, the partner 2k+1.
// NaN (see minerDistanceRows) is kept as the reference has it: the max/min
// propagate a NaN among Pos/Neg, then every strict comparison is false, so the
// row falls back to uniform over Neg (resp. Pos); a NaN entry itself is never
// a "soft" candidate.
import { tidy, where } from '../../tensor/index.js';
import { everything, firstNonEmpty, mineWith, partnerIndices, rowHasAny, uniformChoice, type MiningBatch, type Miner, type Selection } from './batch.js';
import { defineMiner } from './entry.js';

/** The softhard rule on a MiningBatch -> {negatives, positives} int64 [B] each. */
export function softhardSelection(batch: MiningBatch): Selection {
  return tidy(() => {
    const d = batch.distances;
    const d2 = d.pow(2);
    const positive = batch.sameLabel;
    const negative = positive.logicalNot();
    // max over Pos (other entries -inf) / min over Neg (other entries +inf); NaN propagates like torch.max
    const farthestPositive2 = d.maskedFill(negative, -Infinity).amax(1, true).pow(2);
    const closestNegative2 = d.maskedFill(positive, Infinity).amin(1, true).pow(2);

    const softNegative = d2.lt(farthestPositive2).logicalAnd(negative);
    const negatives = uniformChoice(firstNonEmpty([softNegative, negative, everything(negative)]));

    const softPositive = d2.gt(closestNegative2).logicalAnd(positive);
    const chosenPositive = uniformChoice(firstNonEmpty([softPositive, positive]));
    // with no negative in the batch, min over Neg is undefined: keep the partner
    const hasNegative = rowHasAny(negative).squeeze(1);
    const positives = where(hasNegative, chosenPositive, partnerIndices(batch.pairs, d.device));
    return { negatives, positives };
  });
}

/** Random negatives closer than the farthest positive and positives farther than the closest negative. */
export const softhardMiner: Miner = (embeddings, labels, opts) => mineWith(embeddings, labels, opts.metric, softhardSelection);

export const softhardEntry = defineMiner({
  name: 'softhard',
  summary: 'a harder-than-positive negative, else the hardest (RobRank)',
  lossCode: 's',
  hmLetter: 's',
  codeId: 'spc2-softhard',
  miner: softhardMiner,
});

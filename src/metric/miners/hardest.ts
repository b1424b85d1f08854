// Layer: metric. Hardest-negative miner (RobRank `spc2-hard`, losses `phtriplet*`):
// negative = argmin_{j ∈ Neg, d_aj ≠ 0} d_aj. The reference zeroes same-label
// entries (mask · distance) and takes the smallest non-zero value, so a
// negative at distance exactly 0 (a duplicate image under another label) is
// skipped. Positive 2k+1. Ties go to the lowest index, like the reference.
//
// Choices where the reference is undefined or accidental (documented, tested):
// - A NaN distance comes from sqrt of a radicand rounded below 0, i.e. a true
//   distance of 0 to round-off: it is skipped like a zero. (The reference's
//   mask · NaN stays NaN, is "non-zero", and argmin returns it, which can make
//   a same-label item, even the anchor, the "negative".)
// - No candidate (Neg empty, or every negative at distance 0/NaN): the
//   reference crashes (argmin of an empty tensor); here the fallback of the
//   other miners applies: uniform over Neg, then uniform over all 2B.
import { tidy, where, type Tensor } from '../../tensor/index.js';
import { everything, firstNonEmpty, mineWith, rowHasAny, uniformChoice, type MiningBatch, type Miner } from './batch.js';
import { defineMiner } from './entry.js';

/** The hardest rule on a MiningBatch -> negatives int64 [B]. */
export function hardestNegatives(batch: MiningBatch): Tensor {
  return tidy(() => {
    const d = batch.distances;
    const negative = batch.sameLabel.logicalNot();
    const candidate = negative.logicalAnd(d.ne(0)).logicalAnd(d.isnan().logicalNot());
    const closest = d.maskedFill(candidate.logicalNot(), Infinity).argmin(1);
    const fallback = uniformChoice(firstNonEmpty([negative, everything(negative)]));
    return where(rowHasAny(candidate).squeeze(1), closest, fallback);
  });
}

/** The closest negative of each anchor, positive = the pair partner. */
export const hardestMiner: Miner = (embeddings, labels, opts) => mineWith(embeddings, labels, opts.metric, (batch) => ({ negatives: hardestNegatives(batch) }));

export const hardestEntry = defineMiner({
  name: 'hardest',
  summary: 'the closest negative',
  lossCode: 'h',
  hmLetter: 'h',
  codeId: 'spc2-hard',
  miner: hardestMiner,
});

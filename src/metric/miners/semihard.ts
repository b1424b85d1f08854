// Layer: metric. Semihard miner (RobRank `spc2-semihard`, losses `pmtriplet*`);
// CA-TRIDE's gradual semihard miner (gradual-semihard.ts) uses its rule.
//
// Negative of anchor 2k, with d_ap = d(x_2k, x_2k+1):
//   uniform over {j ∈ Neg : d_ap² < d_aj²  and  d_ap - d_aj + m > 0}   (both strict)
//   fallback uniform over Neg, then uniform over all 2B.
// Positive 2k+1. A NaN distance (see minerDistanceRows) fails both strict
// comparisons, so it is never a semihard candidate: exactly the reference's
// behaviour, where comparisons with NaN are false.
import { tidy, type Tensor } from '../../tensor/index.js';
import { assertMargin } from '../check.js';
import { everything, firstNonEmpty, mineWith, partnerIndices, uniformChoice, type MiningBatch, type Miner } from './batch.js';
import { defineMiner } from './entry.js';

/** The semihard rule on a MiningBatch -> negatives int64 [B]. */
export function semihardNegatives(batch: MiningBatch, margin: number): Tensor {
  assertMargin(margin, 'semihard margin');
  return tidy(() => {
    const d = batch.distances;
    // column 2k+1 of row k: the anchor's distance to its own partner
    const dap = d.gather(1, partnerIndices(batch.pairs, d.device).unsqueeze(1));
    const fartherThanPositive = dap.pow(2).lt(d.pow(2));
    const insideMargin = dap.sub(d).add(margin).gt(0);
    const negative = batch.sameLabel.logicalNot();
    const semihard = fartherThanPositive.logicalAnd(insideMargin).logicalAnd(negative);
    return uniformChoice(firstNonEmpty([semihard, negative, everything(negative)]));
  });
}

/** A random semihard negative (farther than the positive, within the margin), positive = the pair partner. */
export const semihardMiner: Miner = (embeddings, labels, opts) =>
  mineWith(embeddings, labels, opts.metric, (batch) => ({ negatives: semihardNegatives(batch, opts.margin) }));

export const semihardEntry = defineMiner({
  name: 'semihard',
  summary: 'the closest negative farther than the positive (FaceNet)',
  lossCode: 'm',
  hmLetter: 'm',
  codeId: 'spc2-semihard',
  miner: semihardMiner,
});

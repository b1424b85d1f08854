// Layer: metric. Semihard miner (RobRank `spc2-semihard`, losses `pmtriplet*`)
// and CA-TRIDE's gradual semihard miner (`spc2-ghard`, loss `pgtripletN`).
//
// Negative of anchor 2k, with d_ap = d(x_2k, x_2k+1):
//   uniform over {j ∈ Neg : d_ap² < d_aj²  and  d_ap - d_aj + m > 0}   (both strict)
//   fallback uniform over Neg, then uniform over all 2B.
// Positive 2k+1. A NaN distance (see minerDistanceRows) fails both strict
// comparisons, so it is never a semihard candidate: exactly the reference's
// behaviour, where comparisons with NaN are false.
import { tidy, type Tensor } from '../../tensor/index.js';
import { assertMargin } from '../check.js';
import { everything, firstNonEmpty, mineWith, partnerIndices, uniformChoice, type MiningBatch, type Miner, type TrainingProgress } from './batch.js';

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

/**
 * CA-TRIDE's semihard margin schedule m_e = 0.2·(1 - e/(2E))² (docs/methods.md §8.1):
 * 0.2 at epoch 0, about 0.05 at the last epoch, so negatives get gradually harder.
 */
export function gradualSemihardMargin(progress: TrainingProgress): number {
  const { epoch, maxEpochs } = progress;
  if (!Number.isInteger(maxEpochs) || maxEpochs < 1) throw new Error(`maxEpochs must be a positive integer, got ${maxEpochs}`);
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > maxEpochs) {
    throw new Error(`epoch must be an integer in [0, ${maxEpochs}], got ${epoch}`);
  }
  return 0.2 * (1 - epoch / (2 * maxEpochs)) ** 2;
}

/**
 * The semihard rule with the epoch-dependent margin (`pgtripletN`). Like the
 * reference, it ignores opts.margin; it needs opts.progress.
 */
export const gradualSemihardMiner: Miner = (embeddings, labels, opts) => {
  if (opts.progress === undefined) {
    throw new Error('the gradual-semihard miner needs opts.progress = {epoch, maxEpochs}');
  }
  const margin = gradualSemihardMargin(opts.progress);
  return mineWith(embeddings, labels, opts.metric, (batch) => ({ negatives: semihardNegatives(batch, margin) }));
};

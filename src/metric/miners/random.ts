// Layer: metric. Random miner (RobRank `spc2-random`, losses `ptriplet{N,E,C}`):
// negative uniform over Neg = {j : y_j != y_2k}; if Neg is empty (every item
// shares the anchor's label), uniform over all 2B items. Positive 2k+1.
import { noGrad, tidy, type Tensor } from '../../tensor/index.js';
import { assertSpc2Batch } from '../check.js';
import { everything, firstNonEmpty, sameLabelRows, spc2Triplets, uniformChoice, type Miner } from './batch.js';
import { defineMiner } from './entry.js';

/** The random rule on the Pos mask bool [B, 2B] -> negatives int64 [B]. */
export function randomNegatives(sameLabel: Tensor): Tensor {
  return tidy(() => {
    const negative = sameLabel.logicalNot();
    return uniformChoice(firstNonEmpty([negative, everything(negative)]));
  });
}

/** Needs no distances, so it skips the distance matrix the other miners build. */
export const randomMiner: Miner = (embeddings, labels) =>
  noGrad(() =>
    tidy(() => {
      const pairs = assertSpc2Batch(embeddings, labels);
      return spc2Triplets(pairs, embeddings.device, randomNegatives(sameLabelRows(labels)));
    }),
  );

export const randomEntry = defineMiner({
  name: 'random',
  summary: 'a random negative of another class',
  lossCode: '',
  hmLetter: 'r',
  codeId: 'spc2-random',
  miner: randomMiner,
});

// Layer: metric. CA-TRIDE's gradual semihard miner (`spc2-ghard`, loss
// `pgtripletN`): the semihard rule (semihard.ts) with a margin that shrinks
// over the epochs, so negatives get gradually harder.
import { mineWith, type Miner, type TrainingProgress } from './batch.js';
import { defineMiner } from './entry.js';
import { semihardNegatives } from './semihard.js';

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

export const gradualSemihardEntry = defineMiner({
  name: 'gradual-semihard',
  summary: "semihard with a margin growing over the epochs (CA-TRIDE's miner)",
  lossCode: 'g',
  codeId: 'spc2-ghard',
  miner: gradualSemihardMiner,
});

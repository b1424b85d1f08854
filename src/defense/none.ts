// Layer: defense. Regular (undefended) DML training: embed the batch in train
// mode, and the run's loss — on the triplets its miner picks from the detached
// embeddings, or on the whole batch for a loss that mines for itself.
import { tidy } from '../tensor/index.js';
import type { Defense, DefenseContext, DefenseStep } from './defense.js';
import { batchLoss, embedTrain, meanHardness } from './common.js';

/** Regular (undefended) training with the run's loss. */
export function noDefense(): Defense {
  return {
    step(ctx: DefenseContext): DefenseStep {
      return tidy(() => {
        const { loss, a, p, n } = batchLoss(ctx, embedTrain(ctx.model, ctx.images, ctx.metric));
        const h = meanHardness(a, p, n, ctx.metric);
        return {
          loss,
          stats: { forwardPasses: 1, backwardPasses: 1, pgdIterations: 0, perturbedFraction: 0, sourceHardness: h, trainedHardness: h },
        };
      });
    },
  };
}

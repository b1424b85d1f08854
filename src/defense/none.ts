// Layer: defense. Regular (undefended) DML training: embed the batch in train
// mode, and the run's loss — on the triplets its miner picks from the detached
// embeddings, or on the whole batch for a loss that mines for itself.
import { tidy } from '../tensor/index.js';
import type { Defense, DefenseContext, DefenseStep } from './defense.js';
import { embedTrain, meanHardness, mine, rows, tripletLossOf } from './common.js';

/** Regular (undefended) training with the run's loss. */
export function noDefense(): Defense {
  return {
    name: 'N/A',
    step(ctx: DefenseContext): DefenseStep {
      return tidy(() => {
        const emb = embedTrain(ctx.model, ctx.images, ctx.metric);
        const t = mine(ctx, emb);
        const [a, p, n] = [rows(emb, t.anchors), rows(emb, t.positives), rows(emb, t.negatives)];
        const h = meanHardness(a, p, n, ctx.metric);
        return {
          loss: ctx.loss.entry.input === 'batch' ? ctx.loss.batch(emb, ctx.labels, ctx.metric) : tripletLossOf(ctx, a, p, n, t),
          stats: { forwardPasses: 1, backwardPasses: 1, pgdIterations: 0, perturbedFraction: 0, sourceHardness: h, trainedHardness: h },
        };
      });
    },
  };
}

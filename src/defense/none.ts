// Layer: defense. Regular (undefended) DML training: embed the batch in train
// mode, mine on the detached embeddings, triplet loss on the mined triplets.
import { tidy } from '../tensor/index.js';
import { tripletLoss } from '../metric/triplet.js';
import { contrastiveLoss } from '../metric/contrastive.js';
import type { Defense, DefenseContext, DefenseStep } from './defense.js';
import { embedTrain, meanHardness, mine, rows } from './common.js';

/** The undefended loss on mined triplets. */
export type PairLoss = 'triplet' | 'contrastive';

/** Regular (undefended) training: mine on the batch, triplet or contrastive loss. */
export function noDefense(loss: PairLoss = 'triplet'): Defense {
  const lossFn = loss === 'contrastive' ? contrastiveLoss : tripletLoss;
  return {
    name: 'N/A',
    step(ctx: DefenseContext): DefenseStep {
      return tidy(() => {
        const emb = embedTrain(ctx.model, ctx.images, ctx.metric);
        const t = mine(ctx, emb);
        const [a, p, n] = [rows(emb, t.anchors), rows(emb, t.positives), rows(emb, t.negatives)];
        const h = meanHardness(a, p, n, ctx.metric);
        return {
          loss: lossFn(a, p, n, { margin: ctx.margin, metric: ctx.metric }),
          stats: { forwardPasses: 1, backwardPasses: 1, pgdIterations: 0, perturbedFraction: 0, sourceHardness: h, trainedHardness: h },
        };
      });
    },
  };
}

// Layer: defense. REST — revised EST (docs/methods.md §12): triplets are mined
// on clean embeddings, EST's embedding-shift attack moves only their positives
// and negatives, and the model trains on benign anchors against them. RobRank's
// reasoning: EST's perturbed anchors give a misleading gradient that slows
// convergence.
import { cat, tidy } from '../tensor/index.js';
import type { Defense, DefenseContext, DefenseStep } from './defense.js';
import { embedEval, embedTrain, meanHardness, mine, rows, tripletBatchStep } from './common.js';
import { embeddingShift } from './est.js';
import { checkBudget, type PgdBudget } from '../attack/budget.js';

/** REST: EST's shift on positives and negatives only, benign anchors (docs/methods.md §12). */
export function revisedEmbeddingShiftedTriplet(budget: PgdBudget): Defense {
  checkBudget(budget, 'REST');
  return {
    step(ctx: DefenseContext): DefenseStep {
      return tidy(() => {
        const clean = embedEval(ctx.model, ctx.images, ctx.metric);
        const t = mine(ctx, clean, ctx.metric.referenceMinerMargin ?? ctx.margin);
        const source = meanHardness(rows(clean, t.anchors), rows(clean, t.positives), rows(clean, t.negatives), ctx.metric);
        const candidates = cat([rows(ctx.images, t.positives), rows(ctx.images, t.negatives)], 0);
        const targets = cat([rows(clean, t.positives), rows(clean, t.negatives)], 0);
        const { adversarial, iterations } = embeddingShift(ctx, candidates, targets, budget);
        ctx.inspect?.('candidates', candidates, adversarial);
        // One train-mode batch of benign anchors and shifted candidates, as the reference.
        return tripletBatchStep(ctx, embedTrain(ctx.model, cat([rows(ctx.images, t.anchors), adversarial], 0), ctx.metric), t, source, iterations);
      });
    },
  };
}

// Layer: defense. REST — revised EST (docs/methods.md §12): triplets are mined
// on clean embeddings, EST's embedding-shift attack moves only their positives
// and negatives, and the model trains on benign anchors against them. RobRank's
// reasoning: EST's perturbed anchors give a misleading gradient that slows
// convergence.
import { cat, tidy } from '../tensor/index.js';
import type { Defense, DefenseContext, DefenseStep } from './defense.js';
import { embedEval, embedTrain, meanHardness, mine, rows, tripletLossOf } from './common.js';
import { embeddingShift } from './est.js';
import { checkBudget, type PgdBudget } from '../attack/budget.js';

/** REST: EST's shift on positives and negatives only, benign anchors (docs/methods.md §12). */
export function revisedEmbeddingShiftedTriplet(budget: PgdBudget): Defense {
  checkBudget(budget, 'REST');
  return {
    name: 'REST',
    step(ctx: DefenseContext): DefenseStep {
      return tidy(() => {
        const clean = embedEval(ctx.model, ctx.images, ctx.metric);
        const t = mine(ctx, clean, ctx.metric.referenceMinerMargin ?? ctx.margin);
        const b = t.anchors.shape[0]!;
        const source = meanHardness(rows(clean, t.anchors), rows(clean, t.positives), rows(clean, t.negatives), ctx.metric);
        const candidates = cat([rows(ctx.images, t.positives), rows(ctx.images, t.negatives)], 0);
        const targets = cat([rows(clean, t.positives), rows(clean, t.negatives)], 0);
        const { adversarial, iterations } = embeddingShift(ctx, candidates, targets, budget);
        ctx.inspect?.('candidates', candidates, adversarial);
        // One train-mode batch of benign anchors and shifted candidates, as the reference.
        const z = embedTrain(ctx.model, cat([rows(ctx.images, t.anchors), adversarial], 0), ctx.metric);
        const [a, p, n] = [z.narrow(0, 0, b), z.narrow(0, b, b), z.narrow(0, 2 * b, b)];
        return {
          loss: tripletLossOf(ctx, a, p, n, t),
          stats: {
            forwardPasses: 1 + iterations + 1,
            backwardPasses: iterations + 1,
            pgdIterations: iterations,
            perturbedFraction: 1,
            sourceHardness: source,
            trainedHardness: meanHardness(a, p, n, ctx.metric),
          },
        };
      });
    },
  };
}

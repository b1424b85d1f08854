// Layer: defense. SES — suppressing embedding shift (docs/methods.md §11): EST's
// PGD finds, for every image, the point of its ε-ball whose embedding moved
// farthest; the model then trains on the run's loss over the CLEAN batch plus the
// mean distance between each adversarial embedding and its clean one, so it
// learns to keep embeddings where they are instead of training on adversarial
// triplets.
import { tidy, type Tensor } from '../tensor/index.js';
import type { Metric } from '../metric/metric.js';
import type { Defense, DefenseContext, DefenseStep } from './defense.js';
import { batchLoss, embedEval, embedTrain, meanHardness } from './common.js';
import { embeddingShift } from './est.js';
import { checkBudget, type PgdBudget } from '../attack/budget.js';

/** The weight of the shift term (the reference's `loss_orig + 1.0 · embshift.mean()`). */
export const SES_WEIGHT = 1.0;

/**
 * SES's penalty, to minimise with the loss: the mean of d(φ̂(x̃_i), φ̂(x_i)) over
 * metric-space embeddings [N, D] of the adversarial and clean images, with the
 * loss's distance (`pairwise_distance` for N/E, 1 − cosine for C, as the reference).
 */
export function embeddingShiftPenalty(adversarial: Tensor, clean: Tensor, metric: Metric): Tensor {
  return tidy(() => metric.lossRows(adversarial, clean).mean());
}

/** SES: the run's loss on the clean batch plus the embedding shift EST's attack achieves (docs/methods.md §11). */
export function suppressEmbeddingShift(budget: PgdBudget): Defense {
  checkBudget(budget, 'SES');
  return {
    step(ctx: DefenseContext): DefenseStep {
      return tidy(() => {
        const e0 = embedEval(ctx.model, ctx.images, ctx.metric);
        const { adversarial, iterations } = embeddingShift(ctx, ctx.images, e0, budget);
        ctx.inspect?.('all', ctx.images, adversarial);
        const clean = embedTrain(ctx.model, ctx.images, ctx.metric);
        const { loss, a, p, n } = batchLoss(ctx, clean);
        const shifted = embedTrain(ctx.model, adversarial, ctx.metric);
        const h = meanHardness(a, p, n, ctx.metric);
        return {
          loss: loss.add(embeddingShiftPenalty(shifted, clean, ctx.metric).mul(SES_WEIGHT)),
          stats: {
            forwardPasses: 1 + iterations + 2,
            backwardPasses: iterations + 1,
            pgdIterations: iterations,
            perturbedFraction: 1,
            sourceHardness: h,
            trainedHardness: h,
          },
        };
      });
    },
  };
}

// Layer: defense. EST — embedding-shifted triplet (docs/methods.md §5): every image
// of the batch is replaced by the point of its ε-ball whose embedding moved
// farthest from the clean one; triplets are then mined on the adversarial
// embeddings with the loss's own miner and all three members are adversarial.
// BatchNorm is not frozen for EST models (the model's own setting applies).
import { randint, tidy, type Tensor } from '../tensor/index.js';
import type { Metric } from '../metric/metric.js';
import type { Defense, DefenseContext, DefenseStep } from './defense.js';
import { batchLoss, embedEval, embedGrad, embedTrain, meanHardness, mine, rows, runPgd, type PgdRun } from './common.js';
import { checkBudget, type PgdBudget } from '../attack/budget.js';

/**
 * EST's inner objective, to minimise: J = −Σ_i d(φ(x̃_i), t_i), the embeddings
 * of the perturbed images [B, D] against their targets t (the clean
 * embeddings, nudged at the first iteration) — PGD pushes every embedding as
 * far from its clean one as the budget allows. A sum, as the reference.
 */
export function estObjective(adversarial: Tensor, targets: Tensor, metric: Metric): Tensor {
  return tidy(() => metric.rows(adversarial, targets).sum().neg());
}

/**
 * EST's inner maximisation (RobRank's embShift): the point of each image's
 * ε-ball whose embedding moved farthest from its clean one, by PGD on
 * `estObjective`. `clean` are the images' eval-mode embeddings. SES and REST
 * perturb with it too.
 */
export function embeddingShift(ctx: DefenseContext, images: Tensor, clean: Tensor, budget: PgdBudget): PgdRun {
  return tidy(() => {
    // At x' = x the shift distance has no usable gradient; the reference
    // aims the first iteration at e0 + 1e-7·u with u ∈ {−1, 0, 1}^D.
    const nudged = clean.add(randint(-1, 2, clean.shape, { device: clean.device }).to(clean.dtype).mul(1e-7));
    return runPgd(ctx.model, images, (xAdv, it) => estObjective(embedGrad(ctx.model, xAdv, ctx.metric), it === 0 ? nudged : clean, ctx.metric), budget);
  });
}

/** EST (embedding-shifted triplet): train on images whose embeddings PGD moved as far as it could (docs/methods.md §5). */
export function embeddingShiftedTriplet(budget: PgdBudget): Defense {
  checkBudget(budget, 'EST');
  return {
    step(ctx: DefenseContext): DefenseStep {
      return tidy(() => {
        const clean = embedEval(ctx.model, ctx.images, ctx.metric);
        const { adversarial, iterations } = embeddingShift(ctx, ctx.images, clean, budget);
        ctx.inspect?.('all', ctx.images, adversarial);
        const cleanT = mine(ctx, clean);
        const source = meanHardness(rows(clean, cleanT.anchors), rows(clean, cleanT.positives), rows(clean, cleanT.negatives), ctx.metric);
        // A loss on the whole batch trains on every adversarial embedding; one on triplets on those its miner picks.
        const { loss, a, p, n } = batchLoss(ctx, embedTrain(ctx.model, adversarial, ctx.metric));
        return {
          loss,
          stats: {
            forwardPasses: 2 + iterations,
            backwardPasses: 1 + iterations,
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

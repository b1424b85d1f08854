// Layer: defense. AMD and RAMD — Madry-style min-max adversarial training
// adapted to triplets (docs/methods.md §10): triplets are mined on clean
// embeddings, then PGD makes each one as hard as the budget allows,
// maximising d(a, p̃) − d(a, ñ), and the model trains on the result.
// AMD perturbs all three members (independent copies); RAMD ("revised AMD")
// keeps the anchor benign and perturbs the positive and the negative only.
import { cat, tidy, type Tensor } from '../tensor/index.js';
import type { Metric } from '../metric/metric.js';
import type { Defense, DefenseContext, DefenseStep } from './defense.js';
import { embedEval, embedGrad, embedTrain, meanHardness, mine, rows, runPgd, tripletBatchStep } from './common.js';
import { checkBudget, type PgdBudget } from '../attack/budget.js';

/** Which triplet members PGD perturbs: all three (AMD) or the positive and the negative (RAMD). */
export type MadryMembers = 'apn' | 'pn';

/**
 * The min-max inner objective, to minimise: J = (1/B) Σ_i d(a_i, n_i) − d(a_i, p_i)
 * over metric-space embeddings [B, D] — PGD raises every triplet's hardness.
 * The distance is the loss's (`lossRows`: `pairwise_distance` for N/E, as the reference).
 */
export function madryObjective(a: Tensor, p: Tensor, n: Tensor, metric: Metric): Tensor {
  return tidy(() => metric.lossRows(a, n).sub(metric.lossRows(a, p)).mean());
}

/** AMD (`members` 'apn') or RAMD ('pn'): train on the hardest triplets of the ε-balls (docs/methods.md §10). */
export function madryTriplet(budget: PgdBudget, members: MadryMembers): Defense {
  const name = members === 'apn' ? 'AMD' : 'RAMD';
  checkBudget(budget, name);
  return {
    step(ctx: DefenseContext): DefenseStep {
      return tidy(() => {
        const clean = embedEval(ctx.model, ctx.images, ctx.metric);
        // The reference mines with its Euclidean margin for E and N, as ACT (docs/methods.md §2).
        const t = mine(ctx, clean, ctx.metric.referenceMinerMargin ?? ctx.margin);
        const b = t.anchors.shape[0]!;
        const source = meanHardness(rows(clean, t.anchors), rows(clean, t.positives), rows(clean, t.negatives), ctx.metric);
        const benignAnchors = rows(ctx.images, t.anchors);
        const candidates = cat([...(members === 'apn' ? [benignAnchors] : []), rows(ctx.images, t.positives), rows(ctx.images, t.negatives)], 0);
        const fixedAnchors = members === 'pn' ? rows(clean, t.anchors) : null;
        const { adversarial, iterations } = runPgd(
          ctx.model,
          candidates,
          (xAdv) => {
            const e = embedGrad(ctx.model, xAdv, ctx.metric);
            const k = fixedAnchors === null ? 1 : 0;
            const a = fixedAnchors ?? e.narrow(0, 0, b);
            return madryObjective(a, e.narrow(0, k * b, b), e.narrow(0, (k + 1) * b, b), ctx.metric);
          },
          budget,
        );
        ctx.inspect?.('triplets', candidates, adversarial);
        // The reference forwards anchors and candidates as one train-mode batch.
        const z = embedTrain(ctx.model, members === 'apn' ? adversarial : cat([benignAnchors, adversarial], 0), ctx.metric);
        return tripletBatchStep(ctx, z, t, source, iterations);
      });
    },
  };
}

// Layer: defense. ACT — anti-collapse triplet (docs/methods.md §6): triplets are
// mined on clean embeddings; only the positive and the negative are perturbed,
// towards each other (minimising d(p̃, ñ), i.e. collapsing the triplet), and the
// model learns to separate them again from a benign anchor.
import { cat, noGrad, rand, tidy, type Tensor } from '../tensor/index.js';
import { noDefense } from './none.js';
import type { Metric } from '../metric/metric.js';
import type { Defense, DefenseContext, DefenseStep } from './defense.js';
import { embedEval, embedGrad, embedTrain, meanHardness, mine, rows, runPgd, tripletLossOf } from './common.js';
import { checkBudget, type PgdBudget } from '../attack/budget.js';

/** Options of ACT: the PGD budget and the miner-margin quirk. */
export interface ActOptions extends PgdBudget {
  /**
   * RobRank passes its margin_euclidean 1.0 to the miner for metrics E and N
   * (`Metric.referenceMinerMargin`; C gets the loss margin); it only matters for
   * the semihard miner (docs/methods.md §2). true reproduces it.
   */
  referenceMinerMargin?: boolean;
  /**
   * Probability that a step trains adversarially; the others train as without
   * defense (RobRank's `px`, "ACT-50 %": 0.5). 1 (the default) draws no coin,
   * so plain ACT runs keep their random stream.
   */
  probability?: number;
}

/**
 * ACT's inner objective, to minimise: J = (1/B) Σ_i d(p̃_i, ñ_i) over the
 * metric-space embeddings of the perturbed positives and negatives [B, D] —
 * PGD collapses each pair towards each other.
 */
export function actObjective(positives: Tensor, negatives: Tensor, metric: Metric): Tensor {
  return tidy(() => metric.rows(positives, negatives).mean());
}

/**
 * ACT (anti-collapse triplet): perturb positives and negatives towards each other, train on the benign anchor against them (docs/methods.md §6).
 */
export function antiCollapseTriplet(o: ActOptions): Defense {
  checkBudget(o, 'ACT');
  const referenceMargin = o.referenceMinerMargin ?? true;
  const probability = o.probability ?? 1;
  if (!(probability > 0 && probability <= 1)) throw new Error(`ACT: the adversarial probability must be in (0, 1], got ${probability}`);
  const benign = noDefense();
  return {
    step(ctx: DefenseContext): DefenseStep {
      // A seeded coin (the global generator, saved in checkpoints), as the reference's np.random.random() > 0.5.
      if (probability < 1 && noGrad(() => tidy(() => rand([1]).item())) >= probability) return benign.step(ctx);
      return tidy(() => {
        const clean = embedEval(ctx.model, ctx.images, ctx.metric);
        const minerMargin = (referenceMargin ? ctx.metric.referenceMinerMargin : undefined) ?? ctx.margin;
        const t = mine(ctx, clean, minerMargin);
        const source = meanHardness(rows(clean, t.anchors), rows(clean, t.positives), rows(clean, t.negatives), ctx.metric);
        const b = t.anchors.shape[0]!;
        const candidates = cat([rows(ctx.images, t.positives), rows(ctx.images, t.negatives)], 0);
        const { adversarial, iterations } = runPgd(
          ctx.model,
          candidates,
          (xAdv) => {
            const e = embedGrad(ctx.model, xAdv, ctx.metric);
            return actObjective(e.narrow(0, 0, b), e.narrow(0, b, b), ctx.metric);
          },
          o,
        );
        ctx.inspect?.('candidates', candidates, adversarial);
        const a = embedTrain(ctx.model, rows(ctx.images, t.anchors), ctx.metric);
        const pn = embedTrain(ctx.model, adversarial, ctx.metric);
        const [p, n] = [pn.narrow(0, 0, b), pn.narrow(0, b, b)];
        return {
          loss: tripletLossOf(ctx, a, p, n, t),
          stats: {
            forwardPasses: 1 + iterations + 2,
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

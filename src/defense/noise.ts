// Layer: defense. Uniform noise — the no-search baseline (docs/methods.md §15):
// every image of the batch gets independent uniform noise from its ε-ball and
// the model trains the run's loss on the noisy batch. Same budget as the
// adversarial defenses, no gradient: a defense whose robustness noise alone
// matches owes nothing to its adversarial search.
import { rand, tidy } from '../tensor/index.js';
import type { Defense, DefenseContext, DefenseStep } from './defense.js';
import { batchLoss, embedTrain, meanHardness } from './common.js';
import { checkBudget } from '../attack/budget.js';

/** Uniform-noise training: x̃ = clip(x + U(−ε, ε), 0, 1) for every image (docs/methods.md §15). */
export function uniformNoise(epsilon: number): Defense {
  checkBudget({ epsilon, alpha: 1, steps: 1 }, 'noise');
  return {
    step(ctx: DefenseContext): DefenseStep {
      return tidy(() => {
        const noisy = ctx.images
          .add(
            rand(ctx.images.shape, { device: ctx.images.device })
              .mul(2 * epsilon)
              .sub(epsilon),
          )
          .clamp(0, 1);
        ctx.inspect?.('all', ctx.images, noisy);
        const { loss, a, p, n } = batchLoss(ctx, embedTrain(ctx.model, noisy, ctx.metric));
        const h = meanHardness(a, p, n, ctx.metric);
        return { loss, stats: { forwardPasses: 1, backwardPasses: 1, pgdIterations: 0, perturbedFraction: 1, sourceHardness: h, trainedHardness: h } };
      });
    },
  };
}

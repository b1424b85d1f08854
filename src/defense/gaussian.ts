// Layer: defense. Gaussian noise training — the companion of randomized smoothing (Cohen et al.,
// ICML 2019, §4; docs/certification.md §5): every image of the batch gets independent noise
// δ ~ N(0, σ²I) and the model trains the run's loss on x + δ. The noisy images are NOT clipped to
// [0, 1], exactly as the smoothed model g(x) = E[f(x + δ)] sees them, so training and certification
// draw from the same distribution; a model trained at σ is certified at the same σ.
import { randn, tidy } from '../tensor/index.js';
import type { Defense, DefenseContext, DefenseStep } from './defense.js';
import { batchLoss, embedTrain, meanHardness } from './common.js';

/** The noise level's range (pixel units; images in [0, 1]). */
export const GAUSSIAN_SIGMA_MAX = 4;

/** Gaussian-noise training: x̃ = x + N(0, σ²I) for every image, no clipping. */
export function gaussianNoise(sigma: number): Defense {
  if (!(sigma > 0 && sigma <= GAUSSIAN_SIGMA_MAX)) throw new Error(`gaussian: sigma must be in (0, ${GAUSSIAN_SIGMA_MAX}], got ${sigma}`);
  return {
    step(ctx: DefenseContext): DefenseStep {
      return tidy(() => {
        const noisy = ctx.images.add(randn(ctx.images.shape, { device: ctx.images.device }).to(ctx.images.dtype).mul(sigma));
        ctx.inspect?.('all', ctx.images, noisy);
        const { loss, a, p, n } = batchLoss(ctx, embedTrain(ctx.model, noisy, ctx.metric));
        const h = meanHardness(a, p, n, ctx.metric);
        return { loss, stats: { forwardPasses: 1, backwardPasses: 1, pgdIterations: 0, perturbedFraction: 1, sourceHardness: h, trainedHardness: h } };
      });
    },
  };
}

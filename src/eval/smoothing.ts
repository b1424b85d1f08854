// Layer: eval. Gaussian smoothing of an embedding model (docs/certification.md §1–2):
//
//   f(x) = e(x)/‖e(x)‖₂  (the model's embedding, normalised: ‖f‖ = 1)
//   g(x) = E_δ[f(x + δ)],  δ ~ N(0, σ²I)  (no clipping of x + δ: the bound needs the plain Gaussian)
//
// g is √(2/π)/σ-Lipschitz in L2 (Stein's lemma, §1), and its Monte Carlo estimate ĝ, the mean of
// n samples f(x + δ_i), is within τ(n, α') = (1 + √(2·ln(1/α')))/√n of g with probability ≥ 1 − α'
// (bounded differences on ‖ĝ − g‖, §2). A run bounds m estimates at once with α' = α/m (union
// bound), so all of them hold together with probability ≥ 1 − α.
import { cat, manualSeed, noGrad, randn, tidy, type Tensor } from '../tensor/index.js';
import type { EmbeddingModel } from '../models/model.js';
import { l2normalize } from '../metric/metric.js';

/** √(2/π): the Lipschitz constant of Gaussian smoothing at σ = 1 for functions of norm ≤ 1. */
export const SMOOTHING_LIPSCHITZ_AT_UNIT_SIGMA = Math.sqrt(2 / Math.PI);

/** Noisy copies per forward pass (a fixed number, so the noise drawn does not depend on the machine or the thread count). */
export const SMOOTHING_ROWS_PER_PASS = 1000;

/** Throws unless σ is a finite number > 0. */
export function checkSigma(sigma: number, who = 'smoothing'): number {
  if (!(sigma > 0 && Number.isFinite(sigma))) throw new Error(`${who}: sigma must be a finite number > 0, got ${sigma}`);
  return sigma;
}

/** L = √(2/π)/σ: ‖g(x) − g(x′)‖₂ ≤ L·‖x − x′‖₂ for the smoothed normalised embedding g. */
export function smoothedLipschitz(sigma: number): number {
  return SMOOTHING_LIPSCHITZ_AT_UNIT_SIGMA / checkSigma(sigma);
}

/**
 * τ(n, α′) = (1 + √(2·ln(1/α′)))/√n: with probability ≥ 1 − α′ the mean of n i.i.d. vectors of norm ≤ 1
 * is within τ of their expectation in L2 (E‖ĝ − g‖ ≤ 1/√n; McDiarmid with differences 2/n, docs/certification.md §2).
 */
export function meanDeviationBound(samples: number, alphaPrime: number): number {
  if (!Number.isInteger(samples) || samples < 1) throw new Error(`samples must be a positive integer, got ${samples}`);
  if (!(alphaPrime > 0 && alphaPrime < 1)) throw new Error(`the failure probability must be in (0, 1), got ${alphaPrime}`);
  return (1 + Math.sqrt(2 * Math.log(1 / alphaPrime))) / Math.sqrt(samples);
}

/** α′ = α/m: each of m estimates fails with probability ≤ α′, all hold together with probability ≥ 1 − α (union bound). */
export function unionAlpha(alpha: number, estimates: number): number {
  if (!(alpha > 0 && alpha < 1)) throw new Error(`alpha must be in (0, 1), got ${alpha}`);
  if (!Number.isInteger(estimates) || estimates < 1) throw new Error(`the number of bounded estimates must be a positive integer, got ${estimates}`);
  return alpha / estimates;
}

/** f(x): the model's embedding normalised to unit L2 norm, [B, D] (autograd when enabled). */
export function normalisedEmbedding(model: EmbeddingModel, images: Tensor): Tensor {
  return tidy(() => l2normalize(model.forward(images)));
}

/** Options of `smoothedEmbeddings`. */
export interface SmoothingOptions {
  sigma: number;
  /** n, noise samples per image. */
  samples: number;
  /** Re-seed libtorch's generator first (absent: continue its current stream). */
  seed?: number;
}

/**
 * ĝ(x) for each image: the mean of f(x + δ_i) over n Gaussian draws, [B, D] float64, no autograd.
 * Noise is drawn image by image, in passes of at most SMOOTHING_ROWS_PER_PASS rows (same seed → same numbers).
 * Costs B·n forward passes.
 */
export function smoothedEmbeddings(model: EmbeddingModel, images: Tensor, o: SmoothingOptions): Tensor {
  checkSigma(o.sigma);
  if (!Number.isInteger(o.samples) || o.samples < 1) throw new Error(`smoothing: samples must be a positive integer, got ${o.samples}`);
  if (o.seed !== undefined) manualSeed(o.seed);
  return noGrad(() => {
    const b = images.shape[0]!;
    const rows: Tensor[] = [];
    try {
      for (let i = 0; i < b; i++) {
        const x = images.narrow(0, i, 1);
        let sum: Tensor | undefined;
        for (let done = 0; done < o.samples; ) {
          const m = Math.min(SMOOTHING_ROWS_PER_PASS, o.samples - done);
          const part = tidy(() => {
            const noisy = x.expand(m, ...x.shape.slice(1)).add(
              randn([m, ...x.shape.slice(1)], { device: x.device })
                .to(x.dtype)
                .mul(o.sigma),
            );
            return normalisedEmbedding(model, noisy).double().sum(0, true);
          });
          const next = sum === undefined ? part : tidy(() => sum!.add(part));
          if (sum !== undefined) {
            sum.dispose();
            part.dispose();
          }
          sum = next;
          done += m;
        }
        rows.push(tidy(() => sum!.div(o.samples)));
        sum!.dispose();
        x.dispose();
      }
      return tidy(() => cat(rows, 0));
    } finally {
      for (const r of rows) r.dispose();
    }
  });
}

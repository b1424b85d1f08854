// Layer: attack. Query-only (gradient-free) searches in the L∞ ε-ball: they read the
// model's outputs only, never its gradients, so they see through gradient masking.
// Everything here runs under noGrad: the model never records a graph, let alone a backward.
//
// Square (Andriushchenko et al., 2020), for a per-image objective to MINIMISE:
//   start at x0 + ε·s with one random sign s per column and channel (vertical stripes), kept
//   only where it beats the clean image; then, per query, each image proposes to set one
//   random s×s window to x0 + ε·(±1 per channel) and keeps the proposal only when its
//   objective drops. The window covers a fraction p of the image that starts at
//   SQUARE_P_INIT and halves after each quarter of the budget (the paper halves on a
//   10 000-query schedule, which at the few hundred queries affordable here would shrink the
//   window to a few pixels after the first query).
//   Cost: `queries` + 1 forward passes per image (the clean image is scored too).
// NES (the estimator of RobRank's --nes mode, Ilyas et al. 2018): at each of η steps, the
//   gradient of the image's objective is estimated from `samples` antithetic Gaussian probes
//   x ± σ·u_k (see nesGradient), and the image takes a signed step α as PGD.
//   Cost: samples × η forward passes per image (+1 to score the result).
import { dispose, noGrad, randint, randn, tensor, tidy, where, type Tensor } from '../tensor/index.js';
import { checkBudget, type PgdBudget } from './budget.js';
import { perImageMask, validateImages } from './pgd.js';
import { defineMethod } from './method.js';
import { boundedNumberField, intField } from './option-fields.js';

/** A per-image objective of the adversarial images, lower = better for the attacker ([B]). */
export type PerImageObjective = (xAdv: Tensor, iteration: number) => Tensor;

/** Fraction of the image the first Square window covers (the paper's L∞ setting for MNIST-sized inputs). */
export const SQUARE_P_INIT = 0.3;

/** Output of a query-only search. */
export interface QueryOnlyResult {
  /** The adversarial images (no autograd history); the caller owns them. */
  adversarial: Tensor;
  /** [B] the objective there. */
  best: Float64Array;
  /** Forward passes spent per image. */
  forwards: number;
}

function ballOf(x0: Tensor, epsilon: number): { lower: Tensor; upper: Tensor } {
  return tidy(() => ({ lower: x0.sub(epsilon).clampMin(0), upper: x0.add(epsilon).clampMax(1) }));
}

/** Square's window fraction at proposal `i` of `queries` (halved after each quarter of the budget). */
export function squareFraction(i: number, queries: number): number {
  return SQUARE_P_INIT / 2 ** Math.min(3, Math.floor((4 * i) / queries));
}

/** Square random search for each image of the batch (see the module comment); `queries` ≥ 1 forward passes per image. */
export function squareSearch(o: { images: Tensor; epsilon: number; queries: number; objective: PerImageObjective }): QueryOnlyResult {
  checkBudget({ epsilon: o.epsilon, alpha: 1, steps: o.queries }, 'Square');
  validateImages(o.images);
  return noGrad(() => {
    const x0 = o.images;
    const [b, c, h, w] = x0.shape as [number, number, number, number];
    const { lower, upper } = ballOf(x0, o.epsilon);
    const signs = (shape: number[]): Tensor => tidy(() => randint(0, 2, shape, { device: x0.device }).to(x0.dtype).mul(2).sub(1));
    const clean = Float64Array.from(tidy(() => o.objective(x0, 0).toArray()));
    const stripes = tidy(() => x0.add(signs([b, c, 1, w]).mul(o.epsilon)).clampTensor(lower, upper));
    const striped = tidy(() => o.objective(stripes, 0).toArray());
    const useStripes = striped.map((v, k) => v < clean[k]!);
    const best = Float64Array.from(striped, (v, k) => (useStripes[k] ? v : clean[k]!));
    let x = tidy(() => where(perImageMask(useStripes, x0), stripes, x0));
    stripes.dispose();
    try {
      for (let i = 1; i < o.queries; i++) {
        const side = Math.max(1, Math.min(h - 1, Math.round(Math.sqrt(squareFraction(i, o.queries) * h * w))));
        // One window per image at a uniform position, as a [B, 1, H, W] mask.
        const window = new Float32Array(b * h * w);
        const rows = randint(0, h - side + 1, [b]).toArray();
        const cols = randint(0, w - side + 1, [b]).toArray();
        for (let k = 0; k < b; k++) {
          for (let r = rows[k]!; r < rows[k]! + side; r++) window.fill(1, k * h * w + r * w + cols[k]!, k * h * w + r * w + cols[k]! + side);
        }
        const next = tidy(() => {
          const inWindow = tensor(window, [b, 1, h, w]).to(x0.device).gt(0.5);
          const proposal = where(inWindow, x0.add(signs([b, c, 1, 1]).mul(o.epsilon)), x).clampTensor(lower, upper);
          const value = o.objective(proposal, i);
          const values = value.toArray();
          const keep = values.map((v, k) => v < best[k]!);
          for (let k = 0; k < b; k++) if (keep[k]) best[k] = values[k]!;
          const accepted = perImageMask(keep, x0);
          return where(accepted, proposal, x);
        });
        x.dispose();
        x = next;
      }
      return { adversarial: x, best, forwards: o.queries + 1 };
    } catch (e) {
      x.dispose();
      throw e;
    } finally {
      dispose([lower, upper]);
    }
  });
}

/**
 * The NES estimate of ∇J_i at each image x_i from `samples` antithetic Gaussian probes
 * (samples/2 directions u, each used as +u and −u): ĝ_i = Σ_k [J_i(x + σu_k) − J_i(x − σu_k)]·u_k / (σ·samples).
 * Only forward passes (`samples` of them); the probes are not clipped, so the estimate is of the
 * objective's gradient itself (the search below keeps its iterates in the ball and in [0, 1]).
 */
export function nesGradient(objective: PerImageObjective, x: Tensor, o: { samples: number; sigma: number; iteration?: number }): Tensor {
  if (!Number.isInteger(o.samples) || o.samples < 2 || o.samples % 2 !== 0) throw new Error(`NES: samples must be an even integer ≥ 2, got ${o.samples}`);
  if (!(o.sigma > 0)) throw new Error(`NES: sigma must be positive, got ${o.sigma}`);
  return noGrad(() =>
    tidy(() => {
      const perImage = [x.shape[0]!, ...x.shape.slice(1).map(() => 1)];
      let sum = x.mul(0);
      for (let k = 0; k < o.samples / 2; k++) {
        sum = tidy(() => {
          const u = randn(x.shape, { dtype: x.dtype, device: x.device });
          const up = objective(x.add(u.mul(o.sigma)), o.iteration ?? 0);
          const down = objective(x.sub(u.mul(o.sigma)), o.iteration ?? 0);
          return sum.add(u.mul(up.sub(down).view(...perImage)));
        });
      }
      return sum.div(o.sigma * o.samples);
    }),
  );
}

/** NES search: η signed steps α on the NES estimate, projected as PGD (see the module comment). */
export function nesSearch(o: PgdBudget & { images: Tensor; samples: number; sigma: number; objective: PerImageObjective }): QueryOnlyResult {
  checkBudget(o, 'NES');
  validateImages(o.images);
  return noGrad(() => {
    const x0 = o.images;
    const { lower, upper } = ballOf(x0, o.epsilon);
    let x = x0.clone();
    try {
      for (let it = 0; it < o.steps; it++) {
        const next = tidy(() =>
          x.sub(nesGradient(o.objective, x, { samples: o.samples, sigma: o.sigma, iteration: it }).sign().mul(o.alpha)).clampTensor(lower, upper),
        );
        x.dispose();
        x = next;
      }
      const best = Float64Array.from(tidy(() => o.objective(x, o.steps).toArray()));
      return { adversarial: x, best, forwards: o.samples * o.steps + 1 };
    } catch (e) {
      x.dispose();
      throw e;
    } finally {
      dispose([lower, upper]);
    }
  });
}

/** square: forward passes per image. */
export const QUERIES_FIELD = intField({ key: 'queries', flag: 'queries', value: 'Q', min: 1, default: 100, help: 'square: forward passes per image' });

/** nes: probes per step, half of them antithetic. */
export const SAMPLES_FIELD = intField({ key: 'samples', flag: 'samples', value: 'S', min: 2, even: true, default: 20, help: 'nes: probes per step (even)' });

/** nes: the probes' standard deviation σ as a fraction of ε (RobRank's NES mode uses 2). */
export const SIGMA_FRACTION_FIELD = boundedNumberField({
  key: 'sigmaFraction',
  flag: 'nes-sigma',
  value: 'F',
  above: 0,
  max: 4,
  default: 0.5,
  help: "nes: the probes' standard deviation σ as a fraction of ε",
});

/** The search method `square` (methods.ts). */
export const SQUARE_METHOD = defineMethod({
  name: 'square',
  summary: 'query-only Square random search: one random window per image per query, kept when the objective drops',
  gradients: false,
  // Its windows are L∞ moves (x0 ± ε per pixel); an L2 Square proposes other shapes.
  norms: ['linf'],
  settings: [QUERIES_FIELD],
  cost: (_b, s) => ({ forward: s.queries + 1, backward: 0 }),
  run(o) {
    const r = squareSearch({ images: o.images, epsilon: o.budget.epsilon, queries: o.settings.queries, objective: (x, it) => o.objective(x, it).perQuery });
    return { adversarial: r.adversarial, values: [], forwards: r.forwards, backwards: 0, lastIterationIsFinal: false };
  },
});

/** The search method `nes` (methods.ts). */
export const NES_METHOD = defineMethod({
  name: 'nes',
  summary: 'query-only: η signed steps α on an NES gradient estimate (antithetic Gaussian probes)',
  gradients: false,
  norms: ['linf'],
  settings: [SAMPLES_FIELD, SIGMA_FRACTION_FIELD],
  cost: (b, s) => ({ forward: s.samples * b.steps + 1, backward: 0 }),
  run(o) {
    const r = nesSearch({
      images: o.images,
      ...o.budget,
      samples: o.settings.samples,
      sigma: o.settings.sigmaFraction * o.budget.epsilon,
      objective: (x, it) => o.objective(x, it).perQuery,
    });
    return { adversarial: r.adversarial, values: [], forwards: r.forwards, backwards: 0, lastIterationIsFinal: false };
  },
});

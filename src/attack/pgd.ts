// Layer: attack. The ONE projected-gradient core shared by every attack
// and every defense (docs/methods.md §4, docs/attacks-and-metrics.md §3). Objectives are
// written to be MINIMISED; each iteration takes a gradient step on the input and projects
// back onto the ε-ball around the clean images and onto [0,1]. In the L∞ ball (the default):
//
//   x_{t+1} = clip_[0,1]( clip_[x−ε, x+ε]( x_t − α·sign ∇J(x_t) ) ),   sign(0) = 0
//
// In the L2 ball (`norm: 'l2'`) the step is α·∇J/‖∇J‖₂ per image and the projection scales
// each image's perturbation back to length ε, then clips to [0,1] (ball.ts).
// With one step (η = 1) the step is ε (FGSM). The caller puts the model in the
// mode it wants (eval for attacks and defenses); only the input gets gradients.
import { gradOf, noGrad, tensor, tidy, type Tensor } from '../tensor/index.js';
import { checkBudget, type PgdBudget } from './budget.js';
import { threatBall } from './ball.js';
import { defineMethod } from './method.js';
import { intField } from './option-fields.js';

/** Input of `pgd`: the clean images, the objective to minimise and the budget (ε, α, η). */
export interface PgdOptions extends PgdBudget {
  /** Clean images [N, …] in [0,1]; not modified. */
  images: Tensor;
  /** Scalar objective to minimise, given the current adversarial images and the iteration index. */
  objective: (xAdv: Tensor, iteration: number) => Tensor;
  /** Start from a uniform point of the ε-ball (RobRank's opt-in; off by default). */
  randomStart?: boolean;
  /** Ends PGD before the update of an iteration, given its objective value. */
  before?: (iteration: number, value: number) => boolean;
  /** Ends PGD after the update of an iteration, given its objective value. */
  after?: (iteration: number, value: number) => boolean;
  /** Observes every evaluated iteration (logging, curves); cannot stop PGD. */
  onIteration?: (iteration: number, value: number) => void;
}

/** Output of `pgd`. */
export interface PgdResult {
  /** Adversarial images (a new tensor, no autograd history). */
  adversarial: Tensor;
  /** Iterations whose objective was evaluated. */
  iterations: number;
  /** Objective value at each evaluated iteration. */
  values: number[];
}

/** Clean images must be finite and in [0, 1]: the ε-ball is in pixel space (normalisation is inside the models, docs/methods.md §3). */
export function validateImages(images: Tensor): void {
  if (images.ndim < 2 || images.shape[0] === 0) throw new Error(`PGD: images must be a non-empty batch [N, …], got shape [${images.shape.join(', ')}]`);
  if (images.dtype !== 'float32' && images.dtype !== 'float64') throw new Error(`PGD: images must be float32 or float64, got ${images.dtype}`);
  const [lo, hi] = noGrad(() => tidy(() => [images.min().item(), images.max().item()]));
  if (Number.isNaN(lo!) || Number.isNaN(hi!)) throw new Error('PGD: images contain NaN');
  if (lo! < 0 || hi! > 1) throw new Error(`PGD: images must be in [0, 1], got values in [${lo}, ${hi}]`);
}

/** A boolean mask [B, 1, …, 1] (broadcasting over an image batch like `like`) from one flag per image. */
export function perImageMask(flags: readonly boolean[], like: Tensor): Tensor {
  return tidy(() =>
    tensor(flags.map(Number), [flags.length, ...like.shape.slice(1).map(() => 1)])
      .to(like.device)
      .gt(0.5),
  );
}

/**
 * Projected gradient descent in the ε-ball (L∞ or L2) around `images` (see the module comment); the one core of every attack and defense.
 * The caller owns `adversarial` in the result.
 */
export function pgd(o: PgdOptions): PgdResult {
  checkBudget(o);
  validateImages(o.images);
  const x0 = o.images;
  const stepSize = o.steps === 1 ? o.epsilon : o.alpha;
  const ball = threatBall(x0, o.epsilon, o.norm);
  let x = noGrad(() => (o.randomStart ? ball.randomPoint() : x0.clone()));
  const values: number[] = [];
  try {
    for (let it = 0; it < o.steps; it++) {
      const next = tidy(() => {
        const xa = x.detach().requiresGrad_();
        const j = o.objective(xa, it);
        if (j.numel !== 1) throw new Error(`PGD: the objective must be a scalar, got shape [${j.shape.join(', ')}]`);
        const value = j.item();
        if (!Number.isFinite(value)) throw new Error(`PGD: the objective became ${value} at iteration ${it}`);
        values.push(value);
        o.onIteration?.(it, value);
        if (o.before?.(it, value)) return null;
        const g = gradOf(j, xa);
        // Projection order as the reference: ε-ball first, then the image range.
        return noGrad(() => ball.project(xa.sub(ball.direction(g).mul(stepSize))));
      });
      if (next === null) break;
      x.dispose();
      x = next;
      if (o.after?.(it, values[values.length - 1]!)) break;
    }
    return { adversarial: x, iterations: values.length, values };
  } catch (e) {
    x.dispose();
    throw e;
  } finally {
    ball.dispose();
  }
}

/** pgd and apgd: extra runs from uniform points of the ball, each image's best run kept. */
export const RESTARTS_FIELD = intField({
  key: 'restarts',
  flag: 'restarts',
  value: 'R',
  min: 0,
  default: 0,
  help: "pgd/apgd: extra runs from uniform points of the ε-ball, each image's best kept",
});

/** The search method `pgd` (methods.ts): the reference. */
export const PGD_METHOD = defineMethod({
  name: 'pgd',
  summary: 'the reference: η signed-gradient steps α, the last point reported',
  gradients: true,
  norms: ['linf', 'l2'],
  settings: [RESTARTS_FIELD],
  cost: (b) => ({ forward: b.steps, backward: b.steps }),
  run(o) {
    const r = pgd({ images: o.images, ...o.budget, randomStart: o.start === 'random', objective: (x, it) => o.objective(x, it).value });
    // The last iteration's embedding describes the result only for a run from the clean images (ES:D's quirk).
    return { adversarial: r.adversarial, values: r.values, forwards: r.iterations, backwards: r.iterations, lastIterationIsFinal: o.start === 'clean' };
  },
});

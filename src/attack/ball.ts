// Layer: attack. The threat model's ball around the clean images, as the gradient searches
// (pgd.ts, apgd.ts) use it: the direction of a step, the projection back into the ball and
// the image range, and a random start.
//   L∞: direction sign(g); projection clip_[x0−ε, x0+ε] then clip_[0,1] (folded into one
//       clamp between precomputed bounds, the reference's order); start x0 + U(−ε, ε)^d.
//   L2: direction g/‖g‖₂ per image (0 where g = 0); projection δ ← δ·min(1, ε/‖δ‖₂) per image,
//       then clip_[0,1]. Clipping after the projection keeps the point in the ball: x0 ∈ [0,1],
//       so clipping moves every coordinate toward x0 and only shrinks |δ_i|. Start: a uniform
//       point of the L2 ball, δ = ε·u^{1/d}·z/‖z‖₂ with z ~ N(0, I), u ~ U(0,1).
import { noGrad, rand, randn, tidy, type Tensor } from '../tensor/index.js';
import { normOf, type Norm } from './budget.js';

/** Below this Euclidean length a gradient or a perturbation counts as zero (no division by it). */
const TINY = 1e-12;

/** The ball of one batch; `dispose` frees what it precomputed. */
export interface ThreatBall {
  readonly norm: Norm;
  /** The unit step direction of a gradient (sign for L∞, normalised per image for L2). */
  direction(g: Tensor): Tensor;
  /** The nearest point of the ball ∩ [0,1]^d (see the module comment for the order). */
  project(x: Tensor): Tensor;
  /** A random point of the ball ∩ [0,1]^d (libtorch's seeded generator). */
  randomPoint(): Tensor;
  dispose(): void;
}

/** [B, 1, …, 1] per-image Euclidean norms of a batch, to broadcast over it. */
export function imageNorms(x: Tensor): Tensor {
  return tidy(() =>
    x
      .flatten(1)
      .norm(2, 1)
      .reshape(x.shape[0]!, ...x.shape.slice(1).map(() => 1)),
  );
}

/** Each image's perturbation x − x0 scaled into the L2 ball of radius ε (unchanged when inside), no [0,1] clip. */
export function projectL2Ball(x: Tensor, x0: Tensor, epsilon: number): Tensor {
  return tidy(() => {
    const delta = x.sub(x0);
    const factor = imageNorms(delta).clampMin(TINY).reciprocal().mul(epsilon).clampMax(1);
    return x0.add(delta.mul(factor));
  });
}

/** The ball of radius ε and the given norm around the clean images `x0` (in [0,1]). */
export function threatBall(x0: Tensor, epsilon: number, norm?: Norm): ThreatBall {
  const n = normOf({ norm });
  if (n === 'l2') {
    return {
      norm: n,
      direction: (g) => tidy(() => g.div(imageNorms(g).clampMin(TINY))),
      project: (x) => tidy(() => projectL2Ball(x, x0, epsilon).clamp(0, 1)),
      randomPoint: () =>
        noGrad(() =>
          tidy(() => {
            const b = x0.shape[0]!;
            const d = x0.numel / b;
            const z = randn(x0.shape, { device: x0.device }).to(x0.dtype);
            const radius = rand([b, ...x0.shape.slice(1).map(() => 1)], { device: x0.device })
              .to(x0.dtype)
              .pow(1 / d)
              .mul(epsilon);
            return x0.add(z.div(imageNorms(z).clampMin(TINY)).mul(radius)).clamp(0, 1);
          }),
        ),
      dispose: () => undefined,
    };
  }
  const lower = noGrad(() => tidy(() => x0.sub(epsilon).clampMin(0)));
  const upper = noGrad(() => tidy(() => x0.add(epsilon).clampMax(1)));
  return {
    norm: n,
    direction: (g) => g.sign(),
    project: (x) => x.clampTensor(lower, upper),
    randomPoint: () =>
      noGrad(() =>
        tidy(() =>
          x0
            .add(
              rand(x0.shape, { device: x0.device })
                .mul(2 * epsilon)
                .sub(epsilon),
            )
            .clampTensor(lower, upper),
        ),
      ),
    dispose: () => {
      lower.dispose();
      upper.dispose();
    },
  };
}

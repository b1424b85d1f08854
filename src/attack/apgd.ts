// Layer: attack. APGD — the step-size-free variant of the PGD core (Croce & Hein, 2020),
// adapted to ranking objectives: the same step direction (sign for L∞, the normalised
// gradient for L2, as their L2 version) and projection as pgd.ts (ball.ts),
// but per attacked image
//   - the step starts at 2ε and halves at checkpoints w_j where the image's objective
//     stagnated (fewer than ρ = 75 % of the steps since the last checkpoint improved it, or
//     neither its step nor its best value changed since then); the image then restarts
//     from its best point;
//   - a momentum of 0.75 mixes the new step with the last move;
//   - the returned point is the best one seen (lowest objective), not the last.
// Checkpoints: p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06), w_j = ⌈p_j·η⌉.
// It spends η forward+backward passes (one per iteration, as PGD) plus one forward pass
// to score the last point, and never needs α.
import { dispose, gradOf, noGrad, tensor, tidy, where, type Tensor } from '../tensor/index.js';
import { checkBudget, normOf, type Norm } from './budget.js';
import { threatBall } from './ball.js';
import { perImageMask, RESTARTS_FIELD, validateImages } from './pgd.js';
import type { Objective } from './objectives.js';
import { defineMethod } from './method.js';

/** Fraction of steps since the last checkpoint that must improve an image's objective, or its step halves. */
export const APGD_RHO = 0.75;
/** Weight of the new step against the last move. */
export const APGD_MOMENTUM = 0.75;

/** Input of `apgd`: the clean images, ε, η, the ball's norm and the per-image objective. */
export interface ApgdOptions {
  images: Tensor;
  epsilon: number;
  steps: number;
  /** The ball's norm (default L∞). */
  norm?: Norm;
  /** The objective (scalar to differentiate and per-image terms) at the current adversarial images. */
  objective: (xAdv: Tensor, iteration: number) => Objective;
  /** Start at the clean images (as PGD) or at a uniform point of the ε-ball (a restart). */
  start?: 'clean' | 'random';
}

/** Output of `apgd`. */
export interface ApgdResult {
  /** Each image's best point (a new tensor, no autograd history); the caller owns it. */
  adversarial: Tensor;
  /** [B] the objective at those points. */
  best: Float64Array;
  /** The batch objective (`value`) at each iteration. */
  values: number[];
  forwards: number;
  backwards: number;
}

/** The iterations (1-based counts of steps taken) at which APGD checks for stagnation, for η steps. */
export function apgdCheckpoints(steps: number): number[] {
  const p = [0, 0.22];
  while (true) {
    const n = p.length;
    const next = p[n - 1]! + Math.max(p[n - 1]! - p[n - 2]! - 0.03, 0.06);
    if (next > 1) break;
    p.push(next);
  }
  return [...new Set(p.slice(1).map((x) => Math.ceil(x * steps)))].filter((w) => w > 0 && w < steps);
}

/** APGD in the ε-ball (L∞ or L2) around `images` (see the module comment). */
export function apgd(o: ApgdOptions): ApgdResult {
  checkBudget({ epsilon: o.epsilon, alpha: 1, steps: o.steps, ...(o.norm === undefined ? {} : { norm: o.norm }) }, 'APGD'); // APGD has no α
  validateImages(o.images);
  const x0 = o.images;
  const b = x0.shape[0]!;
  const perImage = [b, ...x0.shape.slice(1).map(() => 1)];
  const ball = threatBall(x0, o.epsilon, o.norm);
  const project = (x: Tensor): Tensor => ball.project(x);
  const column = (v: ArrayLike<number>): Tensor => tensor(Array.from(v), perImage, x0.dtype).to(x0.device);
  const mask = (flags: readonly boolean[]): Tensor => perImageMask(flags, x0);

  const eta = new Float64Array(b).fill(2 * o.epsilon);
  const bestValue = new Float64Array(b).fill(Infinity);
  const checkpoints = new Set(apgdCheckpoints(o.steps));
  let lastCheckpoint = 0;
  const etaAtCheckpoint = Float64Array.from(eta);
  const bestAtCheckpoint = new Float64Array(b).fill(Infinity);
  const improvedSince = new Uint32Array(b);
  let previousValue = new Float64Array(b).fill(Infinity);

  let x = noGrad(() => (o.start === 'random' ? ball.randomPoint() : x0.clone()));
  let xPrev = noGrad(() => x.clone());
  let xBest = noGrad(() => x.clone());
  let gBest = noGrad(() => tidy(() => x.mul(0)));
  const values: number[] = [];
  let backwards = 0;
  try {
    for (let it = 0; it < o.steps; it++) {
      // One forward+backward at x: the objective per image and the step direction of its gradient.
      const { g, perQuery } = tidy(() => {
        const xa = x.detach().requiresGrad_();
        const j = o.objective(xa, it);
        const value = j.value.item();
        if (!Number.isFinite(value)) throw new Error(`APGD: the objective became ${value} at iteration ${it}`);
        values.push(value);
        return { g: noGrad(() => tidy(() => ball.direction(gradOf(j.value, xa)))), perQuery: Float64Array.from(j.perQuery.toArray()) };
      });
      backwards++;
      const better: boolean[] = [];
      for (let i = 0; i < b; i++) {
        if (perQuery[i]! < previousValue[i]!) improvedSince[i]!++;
        better.push(perQuery[i]! < bestValue[i]!);
        if (better[i]) bestValue[i] = perQuery[i]!;
      }
      previousValue = perQuery;
      noGrad(() => {
        const m = mask(better);
        const nb = tidy(() => where(m, x, xBest));
        const ng = tidy(() => where(m, g, gBest));
        dispose([m, xBest, gBest]);
        xBest = nb;
        gBest = ng;
      });
      let step = g;
      const taken = it + 1;
      if (checkpoints.has(taken)) {
        // Halve the step of the images that stagnated, and send them back to their best point.
        const halve: boolean[] = [];
        const span = taken - lastCheckpoint;
        for (let i = 0; i < b; i++) {
          const fewImprovements = improvedSince[i]! < APGD_RHO * span;
          const unchanged = etaAtCheckpoint[i] === eta[i] && bestAtCheckpoint[i] === bestValue[i];
          halve.push(fewImprovements || unchanged);
          if (halve[i]) eta[i] = eta[i]! / 2;
          improvedSince[i] = 0;
        }
        // What the next checkpoint compares against: the step after this one's halving, the best so far.
        etaAtCheckpoint.set(eta);
        bestAtCheckpoint.set(bestValue);
        lastCheckpoint = taken;
        if (halve.some(Boolean)) {
          noGrad(() => {
            const m = mask(halve);
            const nx = tidy(() => where(m, xBest, x));
            const np = tidy(() => where(m, xBest, xPrev));
            step = tidy(() => where(m, gBest, g));
            dispose([m, x, xPrev]);
            x = nx;
            xPrev = np;
          });
        }
      }
      const next = noGrad(() =>
        tidy(() => {
          const z = project(x.sub(step.mul(column(eta))));
          // The first step has no move to keep (x_{-1} = x_0); later ones mix in the last move.
          return it === 0 ? z : project(x.add(z.sub(x).mul(APGD_MOMENTUM)).add(x.sub(xPrev).mul(1 - APGD_MOMENTUM)));
        }),
      );
      if (step !== g) step.dispose();
      g.dispose();
      xPrev.dispose();
      xPrev = x;
      x = next;
    }
    // Score the last point too (a forward pass): it may be the best.
    const last = noGrad(() => tidy(() => Float64Array.from(o.objective(x, o.steps).perQuery.toArray())));
    const better = Array.from(last, (v, i) => v < bestValue[i]!);
    for (let i = 0; i < b; i++) if (better[i]) bestValue[i] = last[i]!;
    const adversarial = noGrad(() => tidy(() => where(mask(better), x, xBest)));
    return { adversarial, best: bestValue, values, forwards: backwards + 1, backwards };
  } finally {
    dispose([x, xPrev, xBest, gBest]);
    ball.dispose();
  }
}

/** The search method `apgd` (methods.ts). */
export const APGD_METHOD = defineMethod({
  name: 'apgd',
  summary: "APGD: the step starts at 2ε and halves where an image stagnates, momentum 0.75, each image's best point kept (no α)",
  gradients: true,
  norms: ['linf', 'l2'],
  settings: [RESTARTS_FIELD],
  cost: (b) => ({ forward: b.steps + 1, backward: b.steps }),
  run(o) {
    const r = apgd({ images: o.images, epsilon: o.budget.epsilon, steps: o.budget.steps, norm: normOf(o.budget), start: o.start, objective: o.objective });
    return { adversarial: r.adversarial, values: r.values, forwards: r.forwards, backwards: r.backwards, lastIterationIsFinal: false };
  },
});

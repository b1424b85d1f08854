// Layer: attack. The PGD budget (docs/methods.md §4) and its one validator,
// shared by the PGD core, every attack, the swipe profiles and every defense.
// The threat model is the L∞ ball unless a budget says `norm: 'l2'` (the ball of
// randomized-smoothing certificates, docs/certification.md); an L∞ budget carries no
// `norm` field, so L∞ budgets, their JSON and their numbers are unchanged by the option.
// NaN fails every range check (comparisons with NaN are false), so it is
// refused with the field's name like any other out-of-range value.
//
// BUDGETS says every default budget once: per input regime, adversarial
// training's (the defenses) and the ERS attacks' (profiles rob28 / rob224).
import type { ImageScale } from '../data/image-size.js';

/** The norm of a threat model's ball: L∞ (the papers' ranking attacks) or L2 (certified radii). */
export type Norm = 'linf' | 'l2';

/** Every norm, the default first. */
export const NORMS: readonly Norm[] = ['linf', 'l2'];

/** A PGD budget: radius ε and step α in pixel units, η iterations, in the L∞ ball unless `norm` is 'l2'. */
export interface PgdBudget {
  /** Radius in pixel space: L∞ in [0, 1]; L2 (the Euclidean norm of the whole perturbation of one image) ≥ 0. */
  epsilon: number;
  /** Step size: L∞ in (0, 1] (each pixel moves by α); L2 > 0 (the step's Euclidean length). Ignored when steps = 1 (FGSM steps ε). */
  alpha: number;
  /** η, the number of PGD iterations (a positive integer). */
  steps: number;
  /** The ball's norm; absent = 'linf'. */
  norm?: Norm;
}

/** The norm of a budget ('linf' when it names none). */
export function normOf(b: { norm?: Norm }): Norm {
  return b.norm ?? 'linf';
}

/**
 * Throws unless (L∞) ε ∈ [0, 1], α ∈ (0, 1] or (L2) ε ≥ 0 and α > 0, both finite, and η is a
 * positive integer, with a message naming the field and `who` asked; returns the budget for chaining.
 */
export function checkBudget<B extends PgdBudget>(b: B, who = 'PGD'): B {
  const norm = normOf(b);
  if (norm === 'l2') {
    if (!(b.epsilon >= 0 && Number.isFinite(b.epsilon))) throw new Error(`${who}: epsilon must be a finite L2 radius ≥ 0 (pixel scale), got ${b.epsilon}`);
    if (!(b.alpha > 0 && Number.isFinite(b.alpha))) throw new Error(`${who}: alpha must be a finite L2 step > 0, got ${b.alpha}`);
  } else if (norm !== 'linf') {
    throw new Error(`${who}: norm must be one of ${NORMS.join(', ')}, got ${String(norm)}`);
  } else {
    if (!(b.epsilon >= 0 && b.epsilon <= 1)) throw new Error(`${who}: epsilon must be in [0, 1] (pixel scale), got ${b.epsilon}`);
    if (!(b.alpha > 0 && b.alpha <= 1)) throw new Error(`${who}: alpha must be in (0, 1], got ${b.alpha}`);
  }
  if (!Number.isInteger(b.steps) || b.steps < 1) throw new Error(`${who}: steps must be a positive integer, got ${b.steps}`);
  return b;
}

/** n/255: a budget in the 8-bit pixel steps the papers state it in. */
export function pixels(n: number): number {
  return n / 255;
}

/** A pixel-unit value as the papers write it ("77/255"), or the number when it is no whole step. */
export function asPixels(x: number): string {
  const n = x * 255;
  return Math.abs(n - Math.round(n)) < 1e-9 ? `${Math.round(n)}/255` : String(x);
}

/**
 * The default PGD budgets of each input regime (docs/methods.md §3, docs/attacks-and-metrics.md §3).
 * `attackL2` is rankshield's own L2 attack budget (no paper publishes one for ranking attacks): a radius
 * of the size randomized smoothing certifies (docs/certification.md), step α = ε/4 (a path of η·α = 8ε,
 * room to turn around inside the ball).
 */
export const BUDGETS: Readonly<
  Record<ImageScale, { readonly training: Readonly<PgdBudget>; readonly attack: Readonly<PgdBudget>; readonly attackL2: Readonly<PgdBudget> }>
> = {
  small: {
    training: { epsilon: pixels(77), alpha: pixels(3), steps: 32 },
    attack: { epsilon: pixels(77), alpha: pixels(3), steps: 32 },
    attackL2: { epsilon: 0.5, alpha: 0.125, steps: 32, norm: 'l2' },
  },
  large: {
    training: { epsilon: pixels(8), alpha: pixels(1), steps: 32 },
    attack: { epsilon: pixels(8), alpha: pixels(3), steps: 32 },
    attackL2: { epsilon: 1, alpha: 0.25, steps: 32, norm: 'l2' },
  },
};

/** The L∞ budget as an L2 radius: an L∞ ball of radius ε over d pixels reaches ε·√d in L2 (its corners). */
export function linfCornerL2(epsilon: number, pixelCount: number): number {
  return epsilon * Math.sqrt(pixelCount);
}

/** "ε 77/255, α 3/255, η 32"; L2 budgets say so ("L2 ε 0.5, α 0.125, η 32"). */
export function describeBudget(b: PgdBudget): string {
  return normOf(b) === 'l2' ? `L2 ε ${b.epsilon}, α ${b.alpha}, η ${b.steps}` : `ε ${asPixels(b.epsilon)}, α ${asPixels(b.alpha)}, η ${b.steps}`;
}

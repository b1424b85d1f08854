// Layer: attack. The L∞ PGD budget (docs/methods.md §4) and its one validator,
// shared by the PGD core, every attack, the swipe profiles and every defense.
// NaN fails every range check (comparisons with NaN are false), so it is
// refused with the field's name like any other out-of-range value.
//
// BUDGETS says every default budget once: per input regime, adversarial
// training's (the defenses) and the ERS attacks' (profiles rob28 / rob224).
import type { ImageScale } from '../data/image-size.js';

/** An L∞ PGD budget: radius ε and step α in pixel units, η iterations. */
export interface PgdBudget {
  /** L∞ radius in pixel space, in [0, 1]. */
  epsilon: number;
  /** Step size in (0, 1]; ignored when steps = 1 (FGSM steps ε). */
  alpha: number;
  /** η, the number of PGD iterations (a positive integer). */
  steps: number;
}

/**
 * Throws unless ε ∈ [0, 1], α ∈ (0, 1] and η is a positive integer, with a
 * message naming the field and `who` asked; returns the budget for chaining.
 */
export function checkBudget<B extends PgdBudget>(b: B, who = 'PGD'): B {
  if (!(b.epsilon >= 0 && b.epsilon <= 1)) throw new Error(`${who}: epsilon must be in [0, 1] (pixel scale), got ${b.epsilon}`);
  if (!(b.alpha > 0 && b.alpha <= 1)) throw new Error(`${who}: alpha must be in (0, 1], got ${b.alpha}`);
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

/** The default PGD budgets of each input regime (docs/methods.md §3, docs/attacks-and-metrics.md §3). */
export const BUDGETS: Readonly<Record<ImageScale, { readonly training: Readonly<PgdBudget>; readonly attack: Readonly<PgdBudget> }>> = {
  small: { training: { epsilon: pixels(77), alpha: pixels(3), steps: 32 }, attack: { epsilon: pixels(77), alpha: pixels(3), steps: 32 } },
  large: { training: { epsilon: pixels(8), alpha: pixels(1), steps: 32 }, attack: { epsilon: pixels(8), alpha: pixels(3), steps: 32 } },
};

/** "ε 77/255, α 3/255, η 32". */
export function describeBudget(b: PgdBudget): string {
  return `ε ${asPixels(b.epsilon)}, α ${asPixels(b.alpha)}, η ${b.steps}`;
}

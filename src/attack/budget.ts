// Layer: attack. The L∞ PGD budget (docs/methods.md §4) and its one validator,
// shared by the PGD core, every attack, the swipe profiles and every defense.
// NaN fails every range check (comparisons with NaN are false), so it is
// refused with the field's name like any other out-of-range value.

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

// Layer: defense. The PGD budget every adversarial defense shares: its three
// fields (steps, ε, α), their defaults by image size, and the suffix rules of
// the defenses whose RobRank name holds only at the default step count.
import { asPixels, BUDGETS, type PgdBudget } from '../../attack/budget.js';
import { CATRIDE_STEPS } from '../catride.js';
import { defaultBudget } from '../common.js';
import type { DefenseResolution } from '../entry.js';
import { numberField } from '../fields.js';

/** PGD iterations of the inner maximisation: BUDGETS' (RobRank, HM). */
export const DEFAULT_STEPS = BUDGETS.small.training.steps;

/** The PGD budget's overrides as a config holds them (absent: the image size's). */
export interface PgdOverrides {
  steps?: number | undefined;
  epsilon?: number | undefined;
  alpha?: number | undefined;
}

export const STEPS_FIELD = numberField({
  flag: 'pgd-steps',
  value: 'N',
  int: true,
  min: 1,
  max: 10_000,
  help: `PGD steps η (${DEFAULT_STEPS}; CA-TRIDE ${CATRIDE_STEPS})`,
});

export const EPSILON_FIELD = numberField({
  flag: 'epsilon',
  value: 'X',
  min: 0,
  max: 1,
  help: `L∞ budget in pixel units (${asPixels(BUDGETS.small.training.epsilon)} for 28×28, ${asPixels(BUDGETS.large.training.epsilon)} for 224×224)`,
});

export const ALPHA_FIELD = numberField({
  flag: 'alpha',
  value: 'X',
  above: 0,
  max: 1,
  help: `PGD step in pixel units (${asPixels(BUDGETS.small.training.alpha)} for 28×28, ${asPixels(BUDGETS.large.training.alpha)} for 224×224)`,
});

/** The budget's fields, in the order of every PGD defense's JSON. */
export const PGD_FIELDS = { steps: STEPS_FIELD, epsilon: EPSILON_FIELD, alpha: ALPHA_FIELD } as const;

/** The budget with the image size's defaults filled in. */
export function resolveBudget(o: PgdOverrides, imageSide: number, steps: number): Required<{ [K in keyof PgdOverrides]: number }> {
  const b = defaultBudget(imageSide, o.steps ?? steps);
  return { epsilon: o.epsilon ?? b.epsilon, alpha: o.alpha ?? b.alpha, steps: b.steps };
}

/** A config with its budget resolved at the default step count (every PGD defense but CA-TRIDE). */
export function resolvePgd<C extends PgdOverrides>(c: C, r: Omit<DefenseResolution, 'metric'>): C {
  return { ...c, ...resolveBudget(c, r.imageSide, DEFAULT_STEPS) };
}

/** The budget of a resolved config. */
export function budgetOf(o: PgdOverrides): PgdBudget {
  if (o.epsilon === undefined || o.alpha === undefined || o.steps === undefined)
    throw new Error('internal: a defense was built from an unresolved config (call resolveDefense first)');
  return { epsilon: o.epsilon, alpha: o.alpha, steps: o.steps };
}

/** Whether a config runs the default step count (RobRank's names hold only there). */
export function atDefaultSteps(c: PgdOverrides): boolean {
  return c.steps === undefined || c.steps === DEFAULT_STEPS;
}

/** `d`/`p` and `df`/`pf` (η = 1, the fast variants) of EST and ACT: the suffix's budget, or null when it is not one of them. */
export function etaSuffix(letter: string): {
  readonly grammar: string;
  readonly parse: (s: string) => { steps?: 1 } | null;
  readonly format: (c: PgdOverrides) => string | null;
} {
  return {
    grammar: `${letter}, ${letter}f`,
    parse: (s) => (s === letter ? {} : s === `${letter}f` ? { steps: 1 } : null),
    format: (c) => (c.steps === 1 ? `${letter}f` : atDefaultSteps(c) ? letter : null),
  };
}

/** The suffix rules of a defense RobRank names by one fixed suffix at the default step count (AMD, RAMD, SES, REST). */
export function fixedSuffix<C extends PgdOverrides & { kind: string }>(suffix: string, config: C): DefenseFactsSuffix<C> {
  return {
    grammar: suffix,
    parse: (s) => (s === suffix ? config : null),
    format: (c) => (atDefaultSteps(c) ? suffix : null),
  };
}

interface DefenseFactsSuffix<C> {
  readonly grammar: string;
  readonly parse: (s: string) => C | null;
  readonly format: (c: C) => string | null;
}

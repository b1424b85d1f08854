// Layer: cli. The PGD budget flags `attack` and `swipe` share (--epsilon, --alpha, --steps), stated
// once: each overrides that part of every run of the chosen profile, so `swipe --epsilon 8/255`
// is the profile at another radius and `attack` is a one-run profile with the same flags.
import { asPixels, BUDGETS, describeBudget } from '../attack/budget.js';
import type { PgdBudget, Profile } from '../attack/index.js';
import { flagNumber, type OptionTable, type ParsedArgs } from '../util/options.js';

const ATTACK_28 = BUDGETS.small.attack;
const ATTACK_224 = BUDGETS.large.attack;

/** --epsilon, --alpha, --steps; fractions such as 8/255 are accepted (util/options.ts). */
export const BUDGET_OPTIONS = {
  epsilon: { kind: 'number', value: 'E', min: 0, max: 1, help: `L∞ radius in pixel units, e.g. 8/255   (rob28: ${asPixels(ATTACK_28.epsilon)}; rob224: ${asPixels(ATTACK_224.epsilon)})` },
  alpha: { kind: 'number', value: 'A', above: 0, max: 1, help: `PGD step in pixel units   (rob28: ${asPixels(ATTACK_28.alpha)}; rob224: ${asPixels(ATTACK_224.alpha)})` },
  steps: { kind: 'int', value: 'N', min: 1, help: `PGD iterations η   (rob28: ${ATTACK_28.steps}; rob224: ${ATTACK_224.steps})` },
} as const satisfies OptionTable;

/** The parts of the budget the command line sets (empty when none). */
export function budgetOverride(p: ParsedArgs): Partial<PgdBudget> {
  const out: Partial<PgdBudget> = {};
  for (const k of ['epsilon', 'alpha', 'steps'] as const) {
    const v = flagNumber(p, k);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** The profile with the override applied to every run; named so reports show the budget changed. */
export function withBudget(profile: Profile, override: Partial<PgdBudget>): Profile {
  if (Object.keys(override).length === 0) return profile;
  const runs = profile.runs.map((r) => ({ ...r, budget: { ...r.budget, ...override } }));
  return { ...profile, name: `${profile.name} at ${describeBudget(runs[0]!.budget)}`, runs };
}

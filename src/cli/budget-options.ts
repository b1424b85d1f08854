// Layer: cli. The PGD budget flags `attack` and `swipe` share (--epsilon, --alpha, --steps), stated
// once: each overrides that part of every run of the chosen profile, so `swipe --epsilon 8/255`
// is the profile at another radius and `attack` is a one-run profile with the same flags.
// With --norm l2 the profile's L∞ budgets give way to the L2 budget of the input regime first.
import { asPixels, BUDGETS, checkBudget, describeBudget, type Norm } from '../attack/budget.js';
import { profileWithNorm, type PgdBudget, type Profile } from '../attack/index.js';
import { flagNumber, type OptionTable, type ParsedArgs } from '../util/options.js';
import { UsageError } from '../util/usage-error.js';

const ATTACK_28 = BUDGETS.small.attack;
const ATTACK_224 = BUDGETS.large.attack;

/** --epsilon, --alpha, --steps; fractions such as 8/255 are accepted (util/options.ts). */
export const BUDGET_OPTIONS = {
  epsilon: {
    kind: 'number',
    value: 'E',
    min: 0,
    help: `radius in pixel units: L∞ in [0, 1], e.g. 8/255   (rob28: ${asPixels(ATTACK_28.epsilon)}; rob224: ${asPixels(ATTACK_224.epsilon)});\nwith --norm l2 the L2 radius   (${BUDGETS.small.attackL2.epsilon} for 28×28, ${BUDGETS.large.attackL2.epsilon} for 224×224)`,
  },
  alpha: {
    kind: 'number',
    value: 'A',
    above: 0,
    help: `PGD step in pixel units: L∞ in (0, 1]   (rob28: ${asPixels(ATTACK_28.alpha)}; rob224: ${asPixels(ATTACK_224.alpha)});\nwith --norm l2 the step's L2 length   (${BUDGETS.small.attackL2.alpha} for 28×28, ${BUDGETS.large.attackL2.alpha} for 224×224)`,
  },
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

/**
 * The profile a command runs: `profile` in the ball of `norm` (profileWithNorm), then the budget flags
 * over every run; each budget checked, a bad one a usage error naming the field.
 */
export function profileFor(profile: Profile, norm: Norm, p: ParsedArgs, imageSide: number): Profile {
  try {
    const out = withBudget(profileWithNorm(profile, norm, imageSide), budgetOverride(p));
    for (const r of out.runs) checkBudget(r.budget, `--norm ${norm}`);
    return out;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Checks the budget flags against the norm's ranges before anything loads (a usage error naming the field). */
export function checkBudgetFlags(p: ParsedArgs, norm: Norm): void {
  try {
    checkBudget({ epsilon: 0, alpha: 1, steps: 1, ...(norm === 'l2' ? { norm } : {}), ...budgetOverride(p) }, `--norm ${norm}`);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

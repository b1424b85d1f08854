// Layer: cli. How `swipe` and `attack` search the ε-ball: the ball's norm and the method
// flags, made from the methods' catalogue (src/attack/methods.ts) and parsed in one place.
import { checkMethodNorm, METHOD_NAMES, METHOD_SETTING_FIELDS, METHODS, methodEntry, type MethodName, type MethodSettings } from '../attack/methods.js';
import { UsageError } from '../util/usage-error.js';
import { BUDGETS, describeBudget, NORMS, type Norm } from '../attack/budget.js';
import { flagNumber, flagString, type OptionTable, type ParsedArgs } from '../util/options.js';

/** --norm, --method, and every method's settings. */
export const SEARCH_OPTIONS = {
  norm: {
    kind: 'string',
    choices: NORMS,
    help: `the threat model's ball: linf (the papers' attacks) or l2 (certified radii, docs/certification.md;\nmethods ${METHODS.filter((m) =>
      m.norms.includes('l2'),
    )
      .map((m) => m.name)
      .join(', ')}; default budget ${describeBudget(BUDGETS.small.attackL2)} for 28×28,\n${describeBudget(BUDGETS.large.attackL2)} for 224×224)`,
    default: 'linf',
  },
  method: { kind: 'string', choices: METHOD_NAMES, help: METHODS.map((m) => `${m.name}: ${m.summary}`).join('\n'), default: 'pgd' },
  // --restarts, --queries, --samples, --nes-sigma, --eot: each method's setting fields (methods.ts).
  ...Object.fromEntries(METHOD_SETTING_FIELDS.map((f) => [f.flag, f.spec])),
} satisfies OptionTable;

/** The method and its settings a command line asked for (undefined = the defaults). */
export function searchFlags(p: ParsedArgs): { norm: Norm; method: MethodName | undefined; settings: Partial<MethodSettings> } {
  const norm = (flagString(p, 'norm') as Norm | undefined) ?? 'linf';
  const method = flagString(p, 'method');
  try {
    checkMethodNorm(methodEntry(method ?? 'pgd'), { epsilon: 0, alpha: 1, steps: 1, norm });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return {
    norm,
    method: flagString(p, 'method') as MethodName | undefined,
    settings: Object.fromEntries(METHOD_SETTING_FIELDS.map((f) => [f.key, flagNumber(p, f.flag)])) as Partial<MethodSettings>,
  };
}

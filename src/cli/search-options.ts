// Layer: cli. How `swipe` and `attack` search the ε-ball: the ball's norm and the method
// flags, made from the methods' catalogue (src/attack/methods.ts) and parsed in one place.
import { checkMethodNorm, METHOD_DEFAULTS, METHOD_NAMES, METHODS, methodEntry, type MethodName, type MethodSettings } from '../attack/methods.js';
import { UsageError } from '../util/usage-error.js';
import { BUDGETS, describeBudget, NORMS, type Norm } from '../attack/budget.js';
import { flagNumber, flagString, type OptionTable, type ParsedArgs } from '../util/options.js';

/** --norm, --method, --restarts, --queries, --samples, --eot. */
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
  restarts: {
    kind: 'int',
    value: 'R',
    min: 0,
    help: "pgd/apgd: extra runs from uniform points of the ε-ball, each image's best kept",
    default: String(METHOD_DEFAULTS.restarts),
  },
  queries: { kind: 'int', value: 'Q', min: 1, help: 'square: forward passes per image', default: String(METHOD_DEFAULTS.queries) },
  samples: { kind: 'int', value: 'S', min: 2, help: 'nes: probes per step (even)', default: String(METHOD_DEFAULTS.samples) },
  eot: {
    kind: 'int',
    value: 'K',
    min: 1,
    help: "every method: K draws of the model's forward averaged per gradient or per query\n(EOT, for a model whose forward is random; costs K× the passes)",
    default: String(METHOD_DEFAULTS.eot),
  },
} as const satisfies OptionTable;

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
    settings: { restarts: flagNumber(p, 'restarts'), queries: flagNumber(p, 'queries'), samples: flagNumber(p, 'samples'), eot: flagNumber(p, 'eot') },
  };
}

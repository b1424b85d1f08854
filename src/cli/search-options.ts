// Layer: cli. How `swipe` and `attack` search the ε-ball: the method flags, made from the
// methods' catalogue (src/attack/methods.ts) and parsed in one place.
import { METHOD_DEFAULTS, METHOD_NAMES, METHODS, type MethodName, type MethodSettings } from '../attack/methods.js';
import { flagNumber, flagString, type OptionTable, type ParsedArgs } from '../util/options.js';

/** --method, --restarts, --queries, --samples, --eot. */
export const SEARCH_OPTIONS = {
  method: { kind: 'string', choices: METHOD_NAMES, help: METHODS.map((m) => `${m.name}: ${m.summary}`).join('\n'), default: 'pgd' },
  restarts: { kind: 'int', value: 'R', min: 0, help: "pgd/apgd: extra runs from uniform points of the ε-ball, each image's best kept", default: String(METHOD_DEFAULTS.restarts) },
  queries: { kind: 'int', value: 'Q', min: 1, help: 'square: forward passes per image', default: String(METHOD_DEFAULTS.queries) },
  samples: { kind: 'int', value: 'S', min: 2, help: 'nes: probes per step (even)', default: String(METHOD_DEFAULTS.samples) },
  eot: { kind: 'int', value: 'K', min: 1, help: "every method: K draws of the model's forward averaged per gradient or per query\n(EOT, for a model whose forward is random; costs K× the passes)", default: String(METHOD_DEFAULTS.eot) },
} as const satisfies OptionTable;

/** The method and its settings a command line asked for (undefined = the defaults). */
export function searchFlags(p: ParsedArgs): { method: MethodName | undefined; settings: Partial<MethodSettings> } {
  return {
    method: flagString(p, 'method') as MethodName | undefined,
    settings: { restarts: flagNumber(p, 'restarts'), queries: flagNumber(p, 'queries'), samples: flagNumber(p, 'samples'), eot: flagNumber(p, 'eot') },
  };
}

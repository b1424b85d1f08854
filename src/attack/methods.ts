// Layer: attack. How an attack searches its ε-ball: the one catalogue of search methods.
// Every ranking attack runs with every method, because a method only sees the attack's
// objective (docs/attacks-and-metrics.md §8):
//   pgd     the reference: η signed-gradient steps α (pgd.ts);
//   apgd    step-size-free PGD with momentum, the best point kept (apgd.ts);
//   square  query-only random search, forward passes only (query-only.ts);
//   nes     query-only: signed steps on an NES gradient estimate (query-only.ts).
// An entry (method.ts) owns every fact about its method: whether it reads gradients, the balls
// (norms) it searches, what it costs per image, the settings it honours, and how it runs; each
// lives beside its search, and this file lists them.
import { normOf, type PgdBudget } from './budget.js';
import { METHOD_DEFAULTS, type MethodEntry, type MethodSettings } from './method.js';
import { PGD_METHOD } from './pgd.js';
import { APGD_METHOD } from './apgd.js';
import { NES_METHOD, SQUARE_METHOD } from './query-only.js';

export { METHOD_DEFAULTS, type MethodEntry, type MethodOutcome, type MethodRun, type MethodSettings } from './method.js';

/** Every search method, in the order of help and menus. */
export const METHODS = [PGD_METHOD, APGD_METHOD, SQUARE_METHOD, NES_METHOD] as const;

/** A method's name: one of the catalogue's (a union made from METHODS). */
export type MethodName = (typeof METHODS)[number]['name'];

/** Every method name, in catalogue order. */
export const METHOD_NAMES: readonly MethodName[] = METHODS.map((m) => m.name);

/** A method's entry by name; throws listing the names. */
export function methodEntry(name: string): MethodEntry {
  const m = (METHODS as readonly MethodEntry[]).find((e) => e.name === name);
  if (m === undefined) throw new Error(`unknown attack method '${name}' (expected one of ${METHOD_NAMES.join(', ')})`);
  return m;
}

/** Throws unless the method searches balls of the budget's norm (the message names the methods that do). */
export function checkMethodNorm(m: MethodEntry, budget: PgdBudget): void {
  const norm = normOf(budget);
  if (!m.norms.includes(norm))
    throw new Error(
      `attack method ${m.name} searches only ${m.norms.join(', ')} balls; for --norm ${norm} use ${METHODS.filter((e) => e.norms.includes(norm))
        .map((e) => e.name)
        .join(' or ')}`,
    );
}

/** Settings with the defaults filled in and each value checked (the field named in the error). */
export function methodSettings(s: Partial<MethodSettings> = {}): MethodSettings {
  const out = { ...METHOD_DEFAULTS, ...Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) } as MethodSettings;
  if (!Number.isInteger(out.restarts) || out.restarts < 0) throw new Error(`restarts must be a non-negative integer, got ${out.restarts}`);
  if (!Number.isInteger(out.queries) || out.queries < 1) throw new Error(`queries must be a positive integer, got ${out.queries}`);
  if (!Number.isInteger(out.samples) || out.samples < 2 || out.samples % 2 !== 0) throw new Error(`samples must be an even integer ≥ 2, got ${out.samples}`);
  if (!(out.sigmaFraction > 0 && out.sigmaFraction <= 4)) throw new Error(`sigmaFraction must be in (0, 4], got ${out.sigmaFraction}`);
  if (!Number.isInteger(out.eot) || out.eot < 1) throw new Error(`eot (noise draws per objective evaluation) must be a positive integer, got ${out.eot}`);
  return out;
}

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
import { EOT_FIELD, type MethodEntry } from './method.js';
import type { OptionsOf } from './option-fields.js';
import { PGD_METHOD } from './pgd.js';
import { APGD_METHOD } from './apgd.js';
import { NES_METHOD, SQUARE_METHOD } from './query-only.js';

export { EOT_FIELD, type MethodEntry, type MethodOutcome, type MethodRun } from './method.js';

/** Every search method, in the order of help and menus. */
export const METHODS = [PGD_METHOD, APGD_METHOD, SQUARE_METHOD, NES_METHOD] as const;

/** One setting field of a method entry (its `settings`). */
type SettingFieldOf<M> = M extends MethodEntry<string, infer F> ? F[number] : never;

/** Any method's setting field: EOT (every method's) or one an entry declares. */
export type MethodSettingField = typeof EOT_FIELD | SettingFieldOf<(typeof METHODS)[number]>;

/** Every method's setting fields, each once, in catalogue order; EOT (every method honours it) last. */
export const METHOD_SETTING_FIELDS: readonly MethodSettingField[] = [
  ...new Set((METHODS as readonly MethodEntry[]).flatMap((m) => m.settings as readonly MethodSettingField[])),
  EOT_FIELD,
];

/** The methods' settings, every one filled in: the union of the entries' fields (a type made from them). */
export type MethodSettings = Required<OptionsOf<readonly MethodSettingField[]>>;

/** Defaults of the method settings, from their fields (the CLI's help shows the same). */
export const METHOD_DEFAULTS: Readonly<MethodSettings> = Object.freeze(
  Object.fromEntries(METHOD_SETTING_FIELDS.map((f) => [f.key, f.default])) as MethodSettings,
);

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

/** Settings with the defaults filled in and each value checked against its field (the setting named in the error). */
export function methodSettings(s: Partial<MethodSettings> = {}): MethodSettings {
  const out = { ...METHOD_DEFAULTS, ...Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) } as MethodSettings;
  for (const f of METHOD_SETTING_FIELDS) {
    const v = out[f.key as keyof MethodSettings];
    if (!f.schema.safeParse(v).success) throw new Error(`${f.key} (--${f.flag}) must be ${f.expects}, got ${v}`);
  }
  return out;
}

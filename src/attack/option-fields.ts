// Layer: attack. An attack's options, each declared once as a field: its key in the
// options object, its command-line flag with value name, help, default and range, and
// the zod schema that checks it. The command-line spec (parsing, range errors naming
// the flag, the usage text) and the schema are both made from the one declaration, and
// the attack's options type is inferred from the schemas (OptionsOf).
import { z } from 'zod';
import type { OptionSpec } from '../util/options.js';

/** One option of an attack. */
export interface AttackField<K extends string = string, S extends z.ZodType = z.ZodType, D extends z.infer<S> | undefined = z.infer<S> | undefined> {
  /** The key in the attack's options (and in AttackOptions, the union of every attack's). */
  readonly key: K;
  /** The command-line flag, without `--`. Two attacks may share one (`--size`: W of CA±, M of QA±). */
  readonly flag: string;
  /** How the flag parses and how `--help` shows it (ranges and choices checked there, the flag named). */
  readonly spec: OptionSpec;
  readonly schema: S;
  /** The value an absent option means (undefined: the attack works it out, e.g. from the dataset). */
  readonly default: D;
  /**
   * Set for each run of a profile (W, M: the curve profiles sweep them), so only the `attack` command
   * has its flag; the others are one setting for every attack of a swipe.
   */
  readonly perRun: boolean;
  /** What the bound says, for errors of options given in code ("an integer ≥ 1"). */
  readonly expects: string;
}

/** The options object of a list of fields: each key optional, typed by its schema. */
export type OptionsOf<F extends readonly AttackField[]> = { [E in F[number] as E['key']]?: z.infer<E['schema']> };

interface FieldText<K extends string> {
  readonly key: K;
  readonly flag: string;
  readonly help: string;
}

/** An integer option with an inclusive lower bound (and, with `even`, a multiple of 2: NES's antithetic pairs). */
export function intField<const K extends string>(
  f: FieldText<K> & { readonly value: string; readonly default: number; readonly min: number; readonly perRun?: boolean; readonly even?: boolean },
): AttackField<K, z.ZodNumber, number> {
  const int = z.number().int().min(f.min);
  return {
    key: f.key,
    flag: f.flag,
    spec: { kind: 'int', value: f.value, min: f.min, help: f.help, default: String(f.default) },
    schema: f.even ? int.multipleOf(2) : int,
    default: f.default,
    perRun: f.perRun ?? false,
    expects: f.even ? `an even integer ≥ ${f.min}` : `an integer ≥ ${f.min}`,
  };
}

/** A number option in (above, max] with a stated default. */
export function boundedNumberField<const K extends string>(
  f: FieldText<K> & { readonly value: string; readonly default: number; readonly above: number; readonly max: number },
): AttackField<K, z.ZodNumber, number> {
  return {
    key: f.key,
    flag: f.flag,
    spec: { kind: 'number', value: f.value, above: f.above, max: f.max, help: f.help, default: String(f.default) },
    schema: z.number().gt(f.above).max(f.max),
    default: f.default,
    perRun: false,
    expects: `a number in (${f.above}, ${f.max}]`,
  };
}

/** A number option with an exclusive lower bound and a default worked out by the attack (stated in the help). */
export function positiveNumberField<const K extends string>(
  f: FieldText<K> & { readonly value: string; readonly above: number },
): AttackField<K, z.ZodNumber, undefined> {
  return {
    key: f.key,
    flag: f.flag,
    spec: { kind: 'number', value: f.value, above: f.above, help: f.help },
    schema: z.number().gt(f.above),
    default: undefined,
    perRun: false,
    expects: `a number > ${f.above}`,
  };
}

/** One of a few named behaviours. */
export function choiceField<const K extends string, const C extends readonly [string, ...string[]]>(
  f: FieldText<K> & { readonly choices: C; readonly default: C[number] },
): AttackField<K, z.ZodEnum<{ [V in C[number]]: V }>, C[number]> {
  return {
    key: f.key,
    flag: f.flag,
    spec: { kind: 'string', choices: f.choices, help: f.help, default: f.default },
    schema: z.enum(f.choices),
    default: f.default,
    perRun: false,
    expects: `one of ${f.choices.join(', ')}`,
  };
}

/** A switch, off unless given. */
export function switchField<const K extends string>(f: FieldText<K>): AttackField<K, z.ZodBoolean, boolean> {
  return {
    key: f.key,
    flag: f.flag,
    spec: { kind: 'boolean', help: f.help },
    schema: z.boolean(),
    default: false,
    perRun: false,
    expects: 'true or false',
  };
}

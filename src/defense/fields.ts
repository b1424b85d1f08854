// Layer: defense. A defense's options, each declared once as a field: its flag,
// value placeholder, help, shown default, and range or choices. The CLI options
// (`optionsOf`), the zod schema of the entry's JSON (`entrySchema`) and the
// TypeScript config (`ConfigOf`, z.infer of that schema) are all made from the
// one list, so a range or a type cannot be written twice and drift.
import { z } from 'zod';

/**
 * One option of a defense as the CLI shows it (`--flag VALUE`): the config
 * field it sets, its type and help. Structurally a CLI option spec.
 */
export interface DefenseOption {
  readonly flag: string;
  readonly field: string;
  readonly kind: 'string' | 'number' | 'int' | 'boolean';
  readonly value?: string;
  readonly help: string;
  /** The default as the usage text shows it (the entry's resolve applies it). */
  readonly default?: string;
  readonly choices?: readonly string[];
  readonly min?: number;
  readonly above?: number;
  readonly max?: number;
  /** Turns the flag's value into the field's (HM's destination: a name or a number). */
  readonly parse?: (raw: string | number | boolean) => string | number | boolean;
}

/** A field of a defense's config: the schema of its value and the flag that sets it. */
export interface Field<S extends z.ZodType = z.ZodType> {
  /** The value's schema (its absence is allowed unless `required`). */
  readonly schema: S;
  readonly option: Omit<DefenseOption, 'field'>;
  /** The config is invalid without it (HM's source and destination, free AT's base). */
  readonly required?: true;
}

/** A defense's fields by config key, in the order of its JSON and of its flags. */
export type Fields = Readonly<Record<string, Field>>;

interface Described {
  readonly flag: string;
  readonly value?: string;
  readonly help: string;
}

/** A number field; the same bounds make the CLI's check and the schema's. */
export function numberField(
  o: Described & { readonly int?: boolean; readonly min?: number; readonly above?: number; readonly max?: number; readonly default?: number },
): Field<z.ZodNumber> {
  let schema = o.int ? z.number().int() : z.number();
  if (o.min !== undefined) schema = schema.min(o.min);
  if (o.above !== undefined) schema = schema.gt(o.above);
  if (o.max !== undefined) schema = schema.max(o.max);
  return {
    schema,
    option: {
      flag: o.flag,
      kind: o.int ? 'int' : 'number',
      help: o.help,
      ...(o.value !== undefined ? { value: o.value } : {}),
      ...(o.min !== undefined ? { min: o.min } : {}),
      ...(o.above !== undefined ? { above: o.above } : {}),
      ...(o.max !== undefined ? { max: o.max } : {}),
      ...(o.default !== undefined ? { default: String(o.default) } : {}),
    },
  };
}

/** A field taking one of a list of names; the same list makes the CLI's choices and the schema's enum. */
export function choiceField<const T extends string>(
  o: Described & { readonly choices: readonly [T, ...T[]]; readonly default?: NoInfer<T> },
): Field<z.ZodEnum<{ [K in T]: K }>> {
  return {
    schema: z.enum(o.choices),
    option: {
      flag: o.flag,
      kind: 'string',
      help: o.help,
      choices: o.choices,
      ...(o.value !== undefined ? { value: o.value } : {}),
      ...(o.default !== undefined ? { default: o.default } : {}),
    },
  };
}

/** A switch (`--flag` alone sets it). */
export function booleanField(o: Omit<Described, 'value'>): Field<z.ZodBoolean> {
  return { schema: z.boolean(), option: { flag: o.flag, kind: 'boolean', help: o.help } };
}

/** A string flag whose value `parse` turns into the schema's (a name or a number). */
export function parsedField<S extends z.ZodType>(
  o: Described & { readonly schema: S; readonly parse: (raw: string | number | boolean) => string | number | boolean },
): Field<S> {
  return {
    schema: o.schema,
    option: { flag: o.flag, kind: 'string', help: o.help, parse: o.parse, ...(o.value !== undefined ? { value: o.value } : {}) },
  };
}

/** The same field, required in this defense's config. */
export function required<S extends z.ZodType>(f: Field<S>): Field<S> & { readonly required: true } {
  return { ...f, required: true };
}

/** The schema of a field in its entry's JSON: optional unless required. */
type FieldSchema<F extends Field> = F extends { readonly required: true } ? F['schema'] : z.ZodOptional<F['schema']>;

/** The zod shape of an entry's JSON: its kind, then its fields. */
export type EntryShape<K extends string, F extends Fields> = { kind: z.ZodLiteral<K> } & { -readonly [P in keyof F]: FieldSchema<F[P]> };

/** The schema of an entry's JSON: no unknown fields. */
export type EntrySchema<K extends string, F extends Fields> = z.ZodObject<EntryShape<K, F>, z.core.$strict>;

/** The config type of an entry: what its schema accepts. */
export type ConfigOf<K extends string, F extends Fields> = z.output<EntrySchema<K, F>>;

/** `z.object({ kind: z.literal(kind), ...fields }).strict()`, every field optional unless required. */
export function entrySchema<const K extends string, F extends Fields>(kind: K, fields: F): EntrySchema<K, F> {
  const shape: Record<string, z.ZodType> = { kind: z.literal(kind) };
  for (const [key, f] of Object.entries(fields)) shape[key] = f.required ? f.schema : f.schema.optional();
  // Built key by key from `fields`, so its shape is EntryShape<K, F>; TypeScript cannot follow a loop over keys.
  return z.object(shape).strict() as unknown as EntrySchema<K, F>;
}

/** The CLI options of an entry's fields, in their order. */
export function optionsOf(fields: Fields): readonly DefenseOption[] {
  return Object.entries(fields).map(([field, f]) => ({ ...f.option, field }));
}

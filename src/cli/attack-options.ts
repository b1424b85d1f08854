// Layer: cli. The attack options' flags, made from the attack catalogue's option fields
// (src/attack/option-fields.ts): `attack` takes every option, `swipe` and `compare` the
// swipe-wide ones (a profile sets W and M for each of its runs). Parsing, range errors
// naming the flag, help and defaults come from the fields; nothing here names an option.
import { ATTACK_OPTION_FIELDS, SWIPE_WIDE_OPTION_FIELDS, type AttackField, type AttackOptions } from '../attack/index.js';
import type { OptionSpec, OptionTable, ParsedArgs } from '../util/options.js';

/** Which attack options a command takes: all of them (`attack`), or those of a whole swipe. */
export type AttackOptionScope = 'all' | 'swipe';

function fieldsOf(scope: AttackOptionScope): readonly AttackField[] {
  return scope === 'all' ? ATTACK_OPTION_FIELDS : SWIPE_WIDE_OPTION_FIELDS;
}

/**
 * One flag for the fields that share it (`--size`: W of CA±, M of QA± and SPQA±): value names joined
 * with `|`, helps with ", or "; their kind, bounds and default must agree (a catalogue mistake otherwise).
 */
function sharedSpec(flag: string, fields: readonly AttackField[]): OptionSpec {
  const [first, ...others] = fields.map((f) => f.spec);
  if (first === undefined) throw new Error(`no attack option has the flag --${flag}`);
  for (const o of others) {
    if (
      o.kind !== first.kind ||
      o.min !== first.min ||
      o.above !== first.above ||
      o.max !== first.max ||
      o.default !== first.default ||
      String(o.choices) !== String(first.choices)
    )
      throw new Error(`the attack options sharing --${flag} (${fields.map((f) => f.key).join(', ')}) disagree on its kind, range or default`);
  }
  if (others.length === 0) return first;
  const value = fields.map((f) => f.spec.value).filter((v) => v !== undefined);
  return { ...first, ...(value.length === 0 ? {} : { value: value.join('|') }), help: fields.map((f) => f.spec.help).join(', or ') };
}

/** The flags of a scope's attack options, in catalogue order. */
export function attackOptionTable(scope: AttackOptionScope): OptionTable {
  const byFlag = new Map<string, AttackField[]>();
  for (const f of fieldsOf(scope)) byFlag.set(f.flag, [...(byFlag.get(f.flag) ?? []), f]);
  return Object.fromEntries([...byFlag].map(([flag, fields]) => [flag, sharedSpec(flag, fields)]));
}

/**
 * The attack options a command line gave, split as the swipe uses them: `perRun` (W, M) belong
 * to a profile's run, `swipeWide` to every attack of the swipe. Absent flags are left out.
 */
export function attackOptionFlags(p: ParsedArgs, scope: AttackOptionScope): { perRun: AttackOptions; swipeWide: AttackOptions } {
  const perRun: Record<string, unknown> = {};
  const swipeWide: Record<string, unknown> = {};
  for (const f of fieldsOf(scope)) {
    const v = p.flags.get(f.flag);
    // The parser checked the value against the spec (naming the flag); the schema gives it its type.
    if (v !== undefined) (f.perRun ? perRun : swipeWide)[f.key] = f.schema.parse(v);
  }
  return { perRun: perRun as AttackOptions, swipeWide: swipeWide as AttackOptions };
}

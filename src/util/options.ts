// Layer: util. Every command's options are one table: the parser (Node's
// util.parseArgs) and the usage text are both made from it, so `--help` lists
// exactly what a command accepts. Values are typed and range-checked here, and
// every mistake is a UsageError naming the option.
import { parseArgs as nodeParseArgs } from 'node:util';
import { UsageError } from './usage-error.js';

export type OptionKind = 'string' | 'number' | 'int' | 'boolean';

/** One option of a command: how it parses and how `--help` shows it. */
export interface OptionSpec {
  readonly kind: OptionKind;
  /** What the value is called in the usage text (FILE, N, X …); default from the kind. */
  readonly value?: string;
  /** The help text; '\n' starts an indented continuation line. */
  readonly help: string;
  /** The default as the usage text shows it (the code that applies it is elsewhere, stated once there). */
  readonly default?: string;
  /** The accepted values of a string option (checked here). */
  readonly choices?: readonly string[];
  /**
   * A string option with choices may also be given bare (`--robust-eval` alone, or followed by
   * anything that is not one of its choices): it then takes this value.
   */
  readonly bare?: string;
  /** Inclusive lower bound of a number option; `above` is the exclusive one. */
  readonly min?: number;
  readonly above?: number;
  readonly max?: number;
  /** Older names still accepted for this option (`--max-iter` for `--max-batches`); the usage text names them. */
  readonly aliases?: readonly string[];
}

export type OptionTable = Readonly<Record<string, OptionSpec>>;

/** A titled block of options in a usage text. */
export interface OptionSection {
  readonly title?: string;
  readonly options: OptionTable;
}

export interface ParsedArgs {
  flags: Map<string, string | number | boolean>;
  positionals: string[];
}

/** The options of all sections as one table (a name given twice is a programming error). */
export function mergeSections(sections: readonly OptionSection[]): OptionTable {
  const all: Record<string, OptionSpec> = {};
  for (const s of sections) {
    for (const [name, spec] of Object.entries(s.options)) {
      if (name in all) throw new Error(`option --${name} is declared twice`);
      all[name] = spec;
    }
  }
  return all;
}

/**
 * Parses argv (after the command name) with util.parseArgs. `--` ends the
 * options; a value may start with '-' (`--destination -0.5`). Unknown options,
 * missing or extra values, bad numbers, out-of-range values and an option given
 * twice are UsageErrors.
 */
export function parseOptions(argv: readonly string[], table: OptionTable): ParsedArgs {
  argv = withBareValues(argv, table);
  const canonical = new Map<string, string>();
  for (const [name, spec] of Object.entries(table)) for (const a of [name, ...(spec.aliases ?? [])]) canonical.set(a, name);
  const options = Object.fromEntries(
    [...canonical].map(([flag, name]) => [flag, { type: table[name]!.kind === 'boolean' ? ('boolean' as const) : ('string' as const) }]),
  );
  // strict: false so that messages are ours and values may begin with a dash; every check strict mode makes is below.
  const { tokens } = nodeParseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  const flags = new Map<string, string | number | boolean>();
  const positionals: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'positional') {
      positionals.push(t.value);
      continue;
    }
    if (t.kind === 'option-terminator') continue;
    const name = canonical.get(t.name);
    const spec = name === undefined ? undefined : table[name];
    if (name === undefined || spec === undefined || !t.rawName.startsWith('--')) throw new UsageError(`unknown option '${t.rawName}'`);
    if (flags.has(name))
      throw new UsageError(name === t.name ? `${t.rawName} is given twice` : `${t.rawName} is another name of --${name}, which is already given`);
    if (spec.kind === 'boolean') {
      if (t.value !== undefined) throw new UsageError(`${t.rawName} takes no value`);
      flags.set(name, true);
      continue;
    }
    if (t.value === undefined) throw new UsageError(`${t.rawName} needs a value`);
    flags.set(name, parseValue(t.rawName, t.value, spec));
  }
  return { flags, positionals };
}

/** `--name` of an option with a bare value, not followed by one of its choices, becomes `--name=<bare>`. */
function withBareValues(argv: readonly string[], table: OptionTable): readonly string[] {
  const end = argv.indexOf('--');
  return argv.map((a, i) => {
    if (!a.startsWith('--') || (end !== -1 && i > end)) return a;
    const spec = table[a.slice(2)];
    if (spec?.bare === undefined || (i + 1 < argv.length && (spec.choices ?? []).includes(argv[i + 1]!))) return a;
    return `${a}=${spec.bare}`;
  });
}

function parseValue(flag: string, raw: string, spec: OptionSpec): string | number {
  if (spec.kind === 'string') {
    if (raw === '') throw new UsageError(`${flag} needs a value, got an empty string`);
    if (spec.choices !== undefined && !spec.choices.includes(raw)) throw new UsageError(`${flag} must be one of ${spec.choices.join(', ')}, got '${raw}'`);
    return raw;
  }
  const v = parseNumber(raw);
  if (v === undefined) throw new UsageError(`${flag} needs a number (such as 0.5, 1e-3 or 8/255), got '${raw}'`);
  if (spec.kind === 'int' && !Number.isInteger(v)) throw new UsageError(`${flag} needs an integer, got '${raw}'`);
  if (spec.min !== undefined && spec.max !== undefined && !(v >= spec.min && v <= spec.max))
    throw new UsageError(`${flag} must be in [${spec.min}, ${spec.max}], got ${raw}`);
  if (spec.min !== undefined && v < spec.min) throw new UsageError(`${flag} must be >= ${spec.min}, got ${raw}`);
  if (spec.above !== undefined && !(v > spec.above)) throw new UsageError(`${flag} must be > ${spec.above}, got ${raw}`);
  if (spec.max !== undefined && v > spec.max) throw new UsageError(`${flag} must be <= ${spec.max}, got ${raw}`);
  return v;
}

/**
 * A number as typed: decimal, exponent, or a fraction `A/B`, because pixel budgets are
 * quoted as k/255 in the papers (`--epsilon 8/255`). Undefined for anything else.
 */
export function parseNumber(raw: string): number | undefined {
  const fraction = /^\s*([^/]+)\/([^/]+)\s*$/.exec(raw);
  if (fraction !== null) {
    const [num, den] = [parseNumber(fraction[1]!), parseNumber(fraction[2]!)];
    if (num === undefined || den === undefined || den === 0) return undefined;
    return num / den;
  }
  const v = Number(raw);
  return raw.trim() === '' || !Number.isFinite(v) ? undefined : v;
}

const VALUE_NAMES: Record<OptionKind, string> = { string: 'S', number: 'X', int: 'N', boolean: '' };
const HELP_COLUMN = 26;

/** The usage lines of a table: `  --name VALUE   help   (default)`, continuation lines indented to the help column. */
export function optionLines(table: OptionTable): string {
  return Object.entries(table)
    .map(([name, spec]) => {
      const named = spec.value ?? (spec.choices ? spec.choices.join('|') : VALUE_NAMES[spec.kind]);
      const value = spec.kind === 'boolean' ? '' : spec.bare !== undefined ? ` [${named}]` : ` ${named}`;
      const head = `  --${name}${value}`;
      // A choice list hidden behind a value name (--source S) is spelled out; aliases are named.
      const listed = spec.choices !== undefined && spec.value !== undefined && !spec.help.includes(`${spec.choices[0]}:`);
      const extra = [
        listed ? `one of: ${spec.choices!.join(', ')}` : '',
        spec.aliases?.length ? `also accepted as ${spec.aliases.map((a) => `--${a}`).join(', ')}` : '',
      ]
        .filter((e) => e !== '')
        .join('; ');
      const [first = '', ...rest] = `${spec.help}${extra === '' ? '' : `\n${extra}`}`.split('\n');
      const firstLine = head.length + 2 > HELP_COLUMN ? `${head}\n${' '.repeat(HELP_COLUMN)}${first}` : `${head.padEnd(HELP_COLUMN)}${first}`;
      // "(default: X)", never a bare "(X)" that reads as one more choice.
      const withDefault = (line: string): string => (spec.default === undefined ? line : `${line}   (default: ${spec.default})`);
      const lines = [firstLine, ...rest.map((l) => `${' '.repeat(HELP_COLUMN)}${l}`)];
      lines[lines.length - 1] = withDefault(lines[lines.length - 1]!);
      return lines.join('\n');
    })
    .join('\n');
}

/** A whole usage text: synopsis lines, a description, then each section's options. */
export function usageText(synopsis: readonly string[], description: string, sections: readonly OptionSection[], footer = ''): string {
  const head = synopsis.map((s, i) => `${i === 0 ? 'usage:' : '      '} ${s}`).join('\n');
  const body = sections.map((s) => (s.title === undefined ? optionLines(s.options) : `${s.title}:\n${optionLines(s.options)}`)).join('\n\n');
  return [head, description, body, footer].filter((s) => s !== '').join('\n\n');
}

export function flagString(p: ParsedArgs, name: string): string | undefined {
  const v = p.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function flagNumber(p: ParsedArgs, name: string): number | undefined {
  const v = p.flags.get(name);
  return typeof v === 'number' ? v : undefined;
}

export function flagBool(p: ParsedArgs, name: string): boolean {
  return p.flags.get(name) === true;
}

/** A number option that is always there, with its default stated once by the caller. */
export function flagNumberOr(p: ParsedArgs, name: string, fallback: number): number {
  return flagNumber(p, name) ?? fallback;
}

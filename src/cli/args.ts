// Layer: cli. A small typed flag parser: `--name value`, `--name=value`, boolean
// `--flag`, positionals; unknown flags and bad numbers are UsageErrors.
import { CPU, parseDevice, type Device } from '../tensor/index.js';
import { UsageError } from './command.js';

export type FlagKind = 'string' | 'number' | 'int' | 'boolean';

export interface ParsedArgs {
  flags: Map<string, string | number | boolean>;
  positionals: string[];
}

export function parseArgs(argv: readonly string[], spec: Readonly<Record<string, FlagKind>>): ParsedArgs {
  const flags = new Map<string, string | number | boolean>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const kind = spec[name];
    if (kind === undefined) throw new UsageError(`unknown option '--${name}'`);
    if (kind === 'boolean') {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      flags.set(name, true);
      continue;
    }
    const raw = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (raw === undefined) throw new UsageError(`--${name} needs a value`);
    if (kind === 'string') {
      flags.set(name, raw);
    } else {
      const v = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(v)) throw new UsageError(`--${name} needs a number, got '${raw}'`);
      if (kind === 'int' && !Number.isInteger(v)) throw new UsageError(`--${name} needs an integer, got '${raw}'`);
      flags.set(name, v);
    }
  }
  return { flags, positionals };
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

/** Progress bars (stderr) unless --quiet or --json: a script reading the JSON wants a quiet terminal. */
export function showProgress(p: ParsedArgs): boolean {
  return !flagBool(p, 'quiet') && !flagBool(p, 'json');
}

/** The usage line of --device, shared by every command that has it. */
export const DEVICE_USAGE = '  --device D            cpu | cuda | cuda:N: where the model and the math run   (cpu)';

/** --device parsed and checked against this machine (a usage error names what is missing). */
export function deviceFlag(p: ParsedArgs): Device {
  const raw = flagString(p, 'device');
  if (raw === undefined) return CPU;
  try {
    return parseDevice(raw);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

// Layer: eval. What each attack column of a swipe means on a report: its unit,
// which direction is more robust, and how many decimals the tables print
// (docs/attacks-and-metrics.md §4). The attack catalogue states them; swipe.md, swipe.svg
// and the CLI read them here.
import { ATTACKS, type AttackColumn, type RobustDirection } from '../attack/registry.js';

export type { AttackColumn, RobustDirection };

/** Every attack's columns, from the attack catalogue. */
const COLUMNS: Readonly<Record<string, AttackColumn>> = Object.assign({}, ...ATTACKS.map((a) => a.columns));

/**
 * The meaning of a swipe column. Columns repeated in a curve profile carry
 * their budget after a space (`CA+ ε=0.03137 …`); the part before it decides.
 */
export function attackColumn(name: string): AttackColumn {
  const base = name.split(' ')[0]!;
  const c = COLUMNS[base];
  if (c === undefined) throw new Error(`no description for the swipe column '${name}'`);
  return c;
}

/** A raw value as the tables print it. */
export function formatAttackValue(name: string, v: number): string {
  return v.toFixed(attackColumn(name).digits);
}

/** "higher is more robust" / "lower is more robust" / the column's role when it is neither. */
export function robustPhrase(c: AttackColumn): string {
  return c.robust === 'neither' ? 'a constraint, not a robustness measure' : `${c.robust} is more robust`;
}

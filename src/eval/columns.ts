// Layer: eval. What each attack column of a swipe means on a report: its unit,
// which direction is more robust, and how many decimals the tables print
// (docs/attacks-and-metrics.md §4). One table for swipe.md, swipe.svg and the CLI.

/** Which way a column moves when the model is more robust; 'neither' for a constraint, not an outcome. */
export type RobustDirection = 'higher' | 'lower' | 'neither';

/** The meaning of one swipe column. */
export interface AttackColumn {
  /** Unit of the raw value, e.g. '%' or 'cosine'. */
  unit: string;
  /** What the number is, in a few words. */
  what: string;
  robust: RobustDirection;
  /** Decimals of the published tables. */
  digits: number;
}

const PERCENTILE = { unit: '%', digits: 1 } as const;

const COLUMNS: Readonly<Record<string, AttackColumn>> = {
  'CA+': { ...PERCENTILE, what: 'rank percentile of the candidate pulled up (benign ≈ 50)', robust: 'higher' },
  'CA-': { ...PERCENTILE, what: 'rank percentile of the candidate pushed down', robust: 'lower' },
  'QA+': { ...PERCENTILE, what: 'rank percentile of the chosen candidate, query perturbed to pull it up (benign ≈ 50)', robust: 'higher' },
  'QA-': { ...PERCENTILE, what: 'rank percentile of a top-1% candidate, query perturbed to push it down', robust: 'lower' },
  'SPQA+': { ...PERCENTILE, what: 'QA+ while the top-5 neighbours must stay on top', robust: 'higher' },
  'SPQA-': { ...PERCENTILE, what: 'QA− while the top-5 neighbours must stay on top', robust: 'lower' },
  'SPQA+:GTprank': { ...PERCENTILE, what: "rank percentile of the five neighbours SPQA+ keeps (the attack's constraint)", robust: 'neither' },
  'SPQA-:GTprank': { ...PERCENTILE, what: "rank percentile of the five neighbours SPQA− keeps (the attack's constraint)", robust: 'neither' },
  TMA: { unit: 'cosine', what: 'cosine similarity of the perturbed query to a random target', robust: 'lower', digits: 3 },
  'ES:D': { unit: 'distance', what: 'distance the query embedding moved (metric units; ≤ 2 for N and C)', robust: 'lower', digits: 3 },
  'ES:R': { unit: '% R@1', what: 'Recall@1 of the shifted queries', robust: 'higher', digits: 1 },
  LTM: { unit: '% R@1', what: 'Recall@1 after learning-to-misrank', robust: 'higher', digits: 1 },
  GTM: { unit: '% R@1', what: 'Recall@1 after greedy top-1 misranking', robust: 'higher', digits: 1 },
  GTT: { unit: '% retain@4', what: 'queries whose clean top-1 stays among the top 4', robust: 'higher', digits: 1 },
  'GTT:ID-Retain@1': { unit: '% retain@1', what: 'queries whose clean top-1 stays first', robust: 'higher', digits: 1 },
};

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

// Layer: eval. Robustness scores from the ten attack results of the rob28 /
// rob224 profiles (docs/attacks-and-metrics.md §5, §6):
//   ERS: RobRank's Empirical Robustness Score, mean of ten normalised scores.
//   ARS: CA-TRIDE's score, reconstructed from its published numbers (§6.2):
//        mean of eight scores, TMA and ES:D dropped, CA-/QA- rescaled by 100/99,
//        ES:R/LTM/GTM divided by the model's benign Recall@1.
// Neither score is clipped (the references do not clip): 2·CA+ or 100·ES:R/R1
// may exceed 100, and for metric E the ES:D term goes negative.

// Scores are printed as the papers print them; re-exported so callers of the
// score functions need one import.
export { formatScore } from './format.js';

/** The ten attack results exactly as tabulated (not normalised). */
export interface AttackResults {
  /** Candidate attack, rank percentile of the pulled-up candidate (%, benign ≈ 50). */
  'CA+': number;
  /** Candidate attack, rank percentile of the pushed-down candidate (%). */
  'CA-': number;
  /** Query attack, rank percentile of the pulled-up candidate (%). */
  'QA+': number;
  /** Query attack, rank percentile of the pushed-down candidate (%). */
  'QA-': number;
  /** Targeted mismatch attack: mean cosine similarity to the target (in [-1, 1]). */
  TMA: number;
  /** Embedding shift: mean distance moved (metric units; [0, 2] for N/C). */
  'ES:D': number;
  /** Embedding shift: Recall@1 of the shifted queries (%). */
  'ES:R': number;
  /** Learning-to-misrank: Recall@1 after the attack (%). */
  LTM: number;
  /** Greedy top-1 misranking: Recall@1 after the attack (%). */
  GTM: number;
  /** Greedy top-1 translocation: retain@4 (%). */
  GTT: number;
}

/** One of the ten ERS columns. */
export type AttackName = keyof AttackResults;

/** The eight attacks ARS uses (TMA and ES:D are dropped). */
export type ArsAttackName = Exclude<AttackName, 'TMA' | 'ES:D'>;

/** Normalised per-attack scores: higher = more robust, 100 = ideal (not clipped). */
export type ErsTerms = Record<AttackName, number>;
/** The eight ARS-normalised scores. */
export type ArsTerms = Record<ArsAttackName, number>;

/** The ten ERS columns in table order. */
export const ATTACK_NAMES: readonly AttackName[] = ['CA+', 'CA-', 'QA+', 'QA-', 'TMA', 'ES:D', 'ES:R', 'LTM', 'GTM', 'GTT'];
/** The eight ARS columns in table order. */
export const ARS_ATTACK_NAMES: readonly ArsAttackName[] = ['CA+', 'CA-', 'QA+', 'QA-', 'ES:R', 'LTM', 'GTM', 'GTT'];

/** Below this benign R@1 (%) the ARS ratios 100·x/R1 blow up; §6.3 asks to flag it. */
export const ARS_LOW_RECALL_PERCENT = 5;

// Attack values computed in float32 may overshoot a bound by round-off (a cosine of 1.0000001).
const RANGE_SLACK = 1e-6;

const PERCENT_ATTACKS: ReadonlySet<AttackName> = new Set(['CA+', 'CA-', 'QA+', 'QA-', 'ES:R', 'LTM', 'GTM', 'GTT']);

/**
 * Throws an Error naming the attack when a value is missing, not a finite
 * number, or outside its range (percentages in [0, 100], TMA a cosine in
 * [-1, 1], ES:D a distance >= 0). A fraction passed where a percentage is
 * expected cannot be detected, which is why the docs insist on "as tabulated".
 */
export function validateAttackResults(r: Partial<Record<AttackName, unknown>>, names: readonly AttackName[] = ATTACK_NAMES): void {
  if (r === null || typeof r !== 'object') throw new Error('attack results must be an object keyed by attack name');
  for (const name of names) {
    const v = r[name];
    if (v === undefined) throw new Error(`attack results: missing value for ${name}`);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`attack results: ${name} must be a finite number, got ${String(v)}`);
    if (PERCENT_ATTACKS.has(name) && (v < -RANGE_SLACK || v > 100 + RANGE_SLACK)) {
      throw new Error(`attack results: ${name} is a percentage in [0, 100], got ${v}`);
    }
    if (name === 'TMA' && (v < -1 - RANGE_SLACK || v > 1 + RANGE_SLACK)) throw new Error(`attack results: TMA is a cosine in [-1, 1], got ${v}`);
    if (name === 'ES:D' && v < -RANGE_SLACK) throw new Error(`attack results: ES:D is a distance (>= 0), got ${v}`);
  }
}

/** How `ersTerms` turns each raw value x into its score, as printed on reports (keep in step with ersTerms). */
export const ERS_RULES: Readonly<Record<AttackName, string>> = {
  'CA+': '2·x',
  'CA-': '100 − x',
  'QA+': '2·x',
  'QA-': '100 − x',
  TMA: '100·(1 − x)',
  'ES:D': '50·(2 − x)',
  'ES:R': 'x',
  LTM: 'x',
  GTM: 'x',
  GTT: 'x',
};

/** One column's ERS-normalised score: linear in the column, higher = more robust (docs/attacks-and-metrics.md §5). */
export function ersTerm(column: AttackName, value: number): number {
  switch (column) {
    case 'CA+':
      return 2 * value; // benign expectation 50 -> 100
    case 'CA-':
      return 100 - value;
    case 'QA+':
      return 2 * value;
    case 'QA-':
      return 100 - value;
    case 'TMA':
      return 100 * (1 - value);
    case 'ES:D':
      return (100 * (2 - value)) / 2; // 2 = largest N/C distance
    case 'ES:R':
      return value;
    case 'LTM':
      return value;
    case 'GTM':
      return value;
    case 'GTT':
      return value;
  }
}

/** The ten ERS-normalised scores (docs/attacks-and-metrics.md §5). */
export function ersTerms(r: AttackResults): ErsTerms {
  validateAttackResults(r);
  return Object.fromEntries(ATTACK_NAMES.map((name) => [name, ersTerm(name, r[name])])) as ErsTerms;
}

/** Sums in the fixed table order, so the double result does not depend on key order. */
function meanOf<K extends string>(terms: Record<K, number>, names: readonly K[]): number {
  let sum = 0;
  for (const name of names) sum += terms[name];
  return sum / names.length;
}

/** ERS = mean of the ten normalised scores; unclipped, on the 0–100 scale. */
export function ersFromTerms(terms: ErsTerms): number {
  validateTerms(terms, ATTACK_NAMES);
  return meanOf(terms, ATTACK_NAMES);
}

/** ERS of raw attack results (as tabulated), unclipped, 0–100 scale. */
export function empiricalRobustnessScore(r: AttackResults): number {
  return meanOf(ersTerms(r), ATTACK_NAMES);
}

function validateBenignRecall(r1: number): void {
  if (typeof r1 !== 'number' || !Number.isFinite(r1) || r1 <= 0 || r1 > 100) {
    throw new Error(`benign Recall@1 must be a percentage in (0, 100], got ${String(r1)}`);
  }
}

/**
 * The eight ARS-normalised scores (§6.2). `benignRecallAt1Percent` is the
 * model's benign R@1 in % (e.g. 27.5). CA-/QA- are rescaled by 100/99 because
 * their targets start inside the top 1%, so at most 99 points can be lost.
 */
export function arsTerms(r: Omit<AttackResults, 'TMA' | 'ES:D'>, benignRecallAt1Percent: number): ArsTerms {
  validateAttackResults(r, ARS_ATTACK_NAMES);
  validateBenignRecall(benignRecallAt1Percent);
  const r1 = benignRecallAt1Percent;
  return {
    'CA+': 2 * r['CA+'],
    'CA-': (100 * (100 - r['CA-'])) / 99,
    'QA+': 2 * r['QA+'],
    'QA-': (100 * (100 - r['QA-'])) / 99,
    'ES:R': (100 * r['ES:R']) / r1,
    LTM: (100 * r.LTM) / r1,
    GTM: (100 * r.GTM) / r1,
    GTT: r.GTT,
  };
}

function validateTerms(terms: Partial<Record<string, unknown>>, names: readonly string[]): void {
  if (terms === null || typeof terms !== 'object') throw new Error('normalised scores must be an object keyed by attack name');
  for (const name of names) {
    const v = terms[name];
    if (v === undefined) throw new Error(`normalised scores: missing value for ${name}`);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`normalised scores: ${name} must be a finite number, got ${String(v)}`);
  }
}

/** ARS = mean of the eight ARS-normalised scores (e.g. S1's already-normalised columns). */
export function arsFromTerms(terms: ArsTerms): number {
  validateTerms(terms, ARS_ATTACK_NAMES);
  return meanOf(terms, ARS_ATTACK_NAMES);
}

/** ARS with its terms. */
export interface AdjustedRobustness {
  /** ARS on the 0–100 scale, unclipped. */
  score: number;
  terms: ArsTerms;
  /** True when benign R@1 < 5%: the /R1 terms are unreliable and may exceed 100. */
  lowBenignRecall: boolean;
}

/** ARS from raw attack results and the model's benign R@1 (%). */
export function adjustedRobustnessScore(r: Omit<AttackResults, 'TMA' | 'ES:D'>, benignRecallAt1Percent: number): AdjustedRobustness {
  const terms = arsTerms(r, benignRecallAt1Percent);
  return {
    score: meanOf(terms, ARS_ATTACK_NAMES),
    terms,
    lowBenignRecall: benignRecallAt1Percent < ARS_LOW_RECALL_PERCENT,
  };
}

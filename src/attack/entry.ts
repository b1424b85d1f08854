// Layer: attack. What one attack of the catalogue holds. Each attack's file exports its
// entry (candidate.ts: CA+ and CA−); registry.ts lists them.
import type { RankingAttack } from './attack.js';
import type { AttackField, OptionsOf } from './option-fields.js';

/** Which way a column moves when the model is more robust; 'neither' for a constraint, not an outcome. */
export type RobustDirection = 'higher' | 'lower' | 'neither';

/** The meaning of one report column of an attack (docs/attacks-and-metrics.md §4). */
export interface AttackColumn {
  /** Unit of the raw value, e.g. '%' or 'cosine'. */
  unit: string;
  /** What the number is, in a few words. */
  what: string;
  robust: RobustDirection;
  /** Decimals of the published tables. */
  digits: number;
}

/** One attack of the catalogue. */
export interface AttackEntry<K extends string = string, F extends readonly AttackField[] = readonly AttackField[]> {
  /** The name in tables and profiles. */
  readonly kind: K;
  /**
   * Mixed into the seed of the attack's random choices (candidates, queries, targets): fixed for good, so
   * re-sorting ATTACKS changes no number. A new attack takes the next unused id; an id is never reused.
   */
  readonly seedId: number;
  /** Other spellings a user may type (upper-cased before matching). */
  readonly aliases?: readonly string[];
  readonly summary: string;
  /** What the PGD perturbs: the query, or candidates of other queries' rankings. */
  readonly perturbs: 'query' | 'candidate';
  /**
   * Which gallery items a caller may choose for it (the service's `candidates`):
   * CA± the W queries whose rankings the perturbed candidate climbs or sinks in,
   * QA± and SPQA± the query's M candidates; the others choose nothing. Their count is the
   * entry's per-run option (`perRun` field).
   */
  readonly chooses: 'queries' | 'candidates' | null;
  /** Part of the ERS/ARS profiles (rob28, rob224). */
  readonly ers: boolean;
  /** Its report columns (the first is its main number). */
  readonly columns: Readonly<Record<string, AttackColumn>>;
  /** Its options, each with flag, help, default and range (option-fields.ts); the options type comes from them. */
  readonly options: F;
  /** The attack with these options (checked against the fields by createAttack first). */
  create(o: OptionsOf<F>): RankingAttack;
}

/** An entry with its kind and option fields kept as literal types (for AttackKind and AttackOptions). */
export function defineAttack<const K extends string, const F extends readonly AttackField[]>(e: AttackEntry<K, F>): AttackEntry<K, F> {
  return e;
}

/** Columns in percent (rank percentiles), one decimal as the published tables. */
export const PERCENTILE = { unit: '%', digits: 1 } as const;

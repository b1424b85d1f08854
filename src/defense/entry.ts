// Layer: defense. The shape of one defense of the catalogue (src/defense/entries/<kind>.ts):
// its fields (flags and JSON), name, suffix grammar, defaults, build and refusals.
import type { MinerName } from '../metric/miners.js';
import type { MetricName } from '../metric/metric.js';
import type { LossEntry } from '../metric/losses.js';
import type { Defense } from './defense.js';
import { type ConfigOf, type DefenseOption, type EntrySchema, entrySchema, type Fields, optionsOf } from './fields.js';

/** What resolving a defense's defaults needs to know about the experiment. */
export interface DefenseResolution {
  /** Image side of the dataset (28 or 224): the budget's column. */
  readonly imageSide: number;
  /** The dataset's published values (CA-TRIDE λ, ICS weight). */
  readonly paper: { readonly catrideLambda?: number; readonly icsWeight?: number };
  readonly metric: MetricName;
  /** Dataset name, for messages. */
  readonly dataset: string;
}

/** Some entry's config, as a suffix parsed to it. */
export type ParsedSuffix = { readonly kind: string } & Readonly<Record<string, unknown>>;

/** What an entry says beyond its kind and fields. */
export interface DefenseFacts<C> {
  readonly summary: string;
  /** Metrics the defense's objectives are defined for (with this config); absent = all. */
  readonly metrics?: readonly MetricName[] | ((c: C) => readonly MetricName[] | undefined);
  /** The papers' short name: N/A, EST, ACT, HM[S,g_LGA]&ICS, CA-TRIDE (logs, reports, `RunDefense.name`). */
  readonly paperName: (c: C) => string;
  /** Every default filled in (the config a checkpoint records). */
  readonly resolve: (c: C, r: Omit<DefenseResolution, 'metric'>) => C;
  /** The training-step strategy of a resolved config (it trains with the run's loss, `DefenseContext.loss`). */
  readonly build: (c: C) => Defense;
  /** Why the defense refuses a loss (with this config), or undefined when it accepts it. */
  readonly refusesLoss: (loss: LossEntry, c: C) => string | undefined;
  /** Whether models trained with it train BatchNorm (EST, as the reference); the others keep it frozen (docs/methods.md §3). */
  readonly trainsBatchNorm: boolean;
  /** Why the defense cannot train sharded (data parallel), or absent when it can. */
  readonly sharding?: string;
  /** The loss margin a run with this defense gets unless `--margin` says otherwise; absent = the loss's. */
  readonly defaultMargin?: number;
  /** RobRank's model-name suffix after the backbone (docs/methods.md §9). */
  readonly suffix: {
    /** How help texts show it (`p`, `[g]hmet<src><dst>[i]`; '' when RobRank has no name for it). */
    readonly grammar: string;
    /** The config of a suffix, or null when it is not this defense's. */
    readonly parse: (suffix: string, icsWeight: number) => C | null;
    /** The suffix of a config, or null when RobRank has no name for it. */
    readonly format: (c: C) => string | null;
    /**
     * The shorthand's loss can turn another defense's suffix into this one (CA-TRIDE: ACT's `p` with the gradual semihard miner).
     * `parsed` is any entry's config (a DefenseConfig; typed loosely here because that union is made from the entries).
     */
    readonly claims?: (parsed: ParsedSuffix, miner: MinerName) => boolean;
  };
}

/** One defense of the catalogue: its facts, and the options and schema made from its fields. */
export interface DefenseEntry<K extends string = string, F extends Fields = Fields> extends DefenseFacts<ConfigOf<K, F>> {
  readonly kind: K;
  /** Its options, each declared once (fields.ts): the flags and the schema below are made from them. */
  readonly fields: F;
  readonly options: readonly DefenseOption[];
  /** The shape of its JSON (types, ranges, no unknown fields). */
  readonly schema: EntrySchema<K, F>;
}

/** A catalogue entry from its kind, its fields and its facts. */
export function defenseEntry<const K extends string, const F extends Fields>(kind: K, fields: F, facts: DefenseFacts<ConfigOf<K, F>>): DefenseEntry<K, F> {
  return { kind, fields, options: optionsOf(fields), schema: entrySchema(kind, fields), ...facts };
}

/** The refusal of a defense whose training loss must be computed on (perturbed) triplets. */
export const tripletsOnly =
  (what: string) =>
  (loss: LossEntry): string | undefined =>
    loss.input === 'triplets'
      ? undefined
      : `${what}; loss ${loss.name} is computed on the whole batch (it forms its own pairs: all of them, or those its miner keeps), so there is no triplet to perturb`;

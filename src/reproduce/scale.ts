// Layer: reproduce. The three budgets a published row can be run at, and the
// experiment (ExperimentConfig) and swipe settings of a row at a budget.
import { createHash } from 'node:crypto';
import { canonicalJson, parseShorthand, resolveConfig, type ExperimentConfig } from '../run/config.js';
import type { PublishedRow } from './tables/types.js';

export const SCALES = ['smoke', 'reduced', 'full'] as const;
export type Scale = (typeof SCALES)[number];

/** What a scale changes in a row's published run. */
export interface ScaleBudget {
  readonly summary: string;
  /** Cap on the training PGD steps η (null = the row's own η). */
  readonly maxEta: number | null;
  /** Cap on the code epochs (null = the row's). */
  readonly maxEpochs: number | null;
  /** Batches per epoch (0 = whole epochs). */
  readonly maxBatches: number;
  /** Cap on the pairs per batch (null = the row's; smoke keeps 224×224 batches small). */
  readonly maxBatchPairs: number | null;
  /** Query batches the swipe attacks (null = the whole test split). */
  readonly swipeBatches: number | null;
  /** Queries per swipe batch (null = the profile's: 128 for 28×28, 112 for 224×224). */
  readonly swipeBatchSize: number | null;
}

export const SCALE_BUDGETS: Readonly<Record<Scale, ScaleBudget>> = {
  smoke: {
    summary: 'end to end in minutes: η ≤ 2, 1 epoch of 2 batches (≤ 16 pairs), a swipe of 32 queries',
    maxEta: 2,
    maxEpochs: 1,
    maxBatches: 2,
    maxBatchPairs: 16,
    swipeBatches: 1,
    swipeBatchSize: 32,
  },
  reduced: {
    // The README's reduced Fashion table (experiments/fashion-defenses.sh with ETA=4 MAX_BATCHES=80 SWIPE_MAX_ITER=4).
    summary: 'η ≤ 4, ≤ 8 epochs of 80 batches, a swipe of the first 4 query batches',
    maxEta: 4,
    maxEpochs: 8,
    maxBatches: 80,
    maxBatchPairs: null,
    swipeBatches: 4,
    swipeBatchSize: null,
  },
  full: {
    summary: "the paper's budget: its η, epochs and batch, a swipe of the whole test split",
    maxEta: null,
    maxEpochs: null,
    maxBatches: 0,
    maxBatchPairs: null,
    swipeBatches: null,
    swipeBatchSize: null,
  },
};

export function parseScale(s: string): Scale {
  if (!(SCALES as readonly string[]).includes(s)) throw new Error(`unknown scale '${s}' (${SCALES.join(', ')})`);
  return s as Scale;
}

/** Where a row's data and weights are when they are not the built-in ones. */
export interface RowInputs {
  /** Dataset folder (cub, cars, sop); absent = the default places. */
  root?: string;
  /** ImageNet ResNet-18 weights, for rows that start from them. */
  pretrained?: string;
}

/** Raised when a row needs an input it was not given (ImageNet weights). */
export class MissingInput extends Error {}

/**
 * The experiment a row stands for at a scale, resolved (defaults, budget, λ filled in)
 * by the same resolver as `rankshield train`.
 */
export function rowConfig(row: PublishedRow, scale: Scale, inputs: RowInputs = {}): ExperimentConfig {
  const b = SCALE_BUDGETS[scale];
  const r = row.run;
  const base = parseShorthand(r.shorthand);
  const cap = (v: number, max: number | null): number => (max === null ? v : Math.min(v, max));
  const epochs = cap(r.epochs, b.maxEpochs);
  const batchPairs = cap(r.batchPairs, b.maxBatchPairs);
  const shards = r.shards !== undefined && r.shards > 1 && batchPairs >= r.shards && b.maxBatchPairs === null ? r.shards : undefined;
  if (r.eta === null && base.defense.kind !== 'none') throw new Error(`row ${row.id}: ${r.shorthand} is defended but the row gives no η`);
  if (r.eta !== null && base.defense.kind === 'none') throw new Error(`row ${row.id}: ${r.shorthand} is undefended but the row gives η ${r.eta}`);
  const defense = r.eta === null ? base.defense : { ...base.defense, steps: cap(r.eta, b.maxEta), ...(r.lambda !== undefined ? { lambda: r.lambda } : {}) };
  if (r.pretrained !== null && inputs.pretrained === undefined) {
    throw new MissingInput(`row ${row.id} starts from ImageNet ResNet-18 weights: give them with --pretrained FILE (docs/datasets.md lists the official file)`);
  }
  const c: ExperimentConfig = {
    ...base,
    epochs,
    batchPairs,
    // Evaluate once at the end when epochs are cut (as the README's reduced runs); the paper's cadence at full scale.
    evalEvery: scale === 'full' ? base.evalEvery : epochs,
    maxBatches: b.maxBatches,
    seed: 0,
    defense: defense as ExperimentConfig['defense'],
    ...(shards !== undefined ? { shards } : {}),
    ...(r.pretrained !== null ? { pretrained: inputs.pretrained! } : {}),
    ...(inputs.root !== undefined ? { root: inputs.root } : {}),
  };
  return resolveConfig(c);
}

/**
 * The key of a resolved experiment: equal configs (whatever table or row asks for them)
 * share one run directory, so a run done once is reused by every row that needs it.
 */
export function configKey(c: ExperimentConfig): string {
  return createHash('sha256').update(canonicalJson(c)).digest('hex').slice(0, 16);
}

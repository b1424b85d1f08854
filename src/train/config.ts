// Layer: train. An experiment as a typed object, its per-dataset defaults
// (methods.md §3) and RobRank's `dataset:model:loss` shorthand.
import { parseMetric, defaultMargin, type MetricName } from '../metric/distance.js';

export type ModelKind = 'c2f2';
export type MinerName = 'random' | 'semihard' | 'softhard' | 'distance' | 'hardest';

export interface ExperimentConfig {
  /** Dataset name as `openDataset` accepts it (fashion, mnist, …). */
  dataset: string;
  model: ModelKind;
  metric: MetricName;
  miner: MinerName;
  /** Triplet margin γ (0.2 for N/C, 1.0 for E unless overridden). */
  margin: number;
  /** Code epochs over SPC-2 pairs (RobRank halves the paper's epochs, methods.md §1.3). */
  epochs: number;
  batchPairs: number;
  lr: number;
  weightDecay: number;
  seed: number;
  /** Evaluate every N epochs (and always after the last). */
  evalEvery: number;
  /** Limit training batches per epoch (quick runs and tests); 0 = whole epoch. */
  maxBatches: number;
}

const SMALL = new Set(['mnist', 'fashion', 'fashion-mnist']);

/** methods.md §3, 28×28 column (the only model family implemented so far). */
export function defaultConfig(dataset: string): ExperimentConfig {
  if (!SMALL.has(dataset)) {
    throw new Error(`training on '${dataset}' needs the ResNet models, which are not implemented yet (datasets: mnist, fashion)`);
  }
  return {
    dataset: dataset === 'fashion-mnist' ? 'fashion' : dataset,
    model: 'c2f2',
    metric: 'N',
    miner: 'random',
    margin: defaultMargin('N'),
    epochs: 8,
    batchPairs: 128,
    lr: 1e-3,
    weightDecay: 1e-7,
    seed: 0,
    evalEvery: 1,
    maxBatches: 0,
  };
}

const LOSS_MINERS: Record<string, MinerName> = {
  ptriplet: 'random',
  pmtriplet: 'semihard',
  pstriplet: 'softhard',
  pdtriplet: 'distance',
  phtriplet: 'hardest',
};

/**
 * RobRank's `dataset:model:loss` (e.g. `fashion:rc2f2:ptripletN`). Only the
 * undefended c2f2 models parse here; defended model names (rc2f2p, …) are
 * rejected with a message until defenses land.
 */
export function parseShorthand(s: string): ExperimentConfig {
  const parts = s.split(':');
  if (parts.length !== 3) throw new Error(`expected dataset:model:loss (e.g. fashion:rc2f2:ptripletN), got '${s}'`);
  const [dataset, model, loss] = parts as [string, string, string];
  if (model !== 'rc2f2') throw new Error(`model '${model}' is not supported yet (supported: rc2f2)`);
  const m = /^(p[a-z]*triplet)([NEC])$/.exec(loss);
  const miner = m ? LOSS_MINERS[m[1]!] : undefined;
  if (!m || miner === undefined) {
    throw new Error(`loss '${loss}' is not supported (supported: ${Object.keys(LOSS_MINERS).map((l) => `${l}{N,E,C}`).join(', ')})`);
  }
  const metric = parseMetric(m[2]!);
  return { ...defaultConfig(dataset), metric, miner, margin: defaultMargin(metric) };
}

/** Checks ranges; returns the config for chaining. */
export function validateConfig(c: ExperimentConfig): ExperimentConfig {
  const positiveInt = (v: number, name: string): void => {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
  };
  positiveInt(c.epochs, 'epochs');
  positiveInt(c.batchPairs, 'batch size');
  positiveInt(c.evalEvery, 'eval-every');
  if (!Number.isInteger(c.maxBatches) || c.maxBatches < 0) throw new Error(`max-batches must be >= 0, got ${c.maxBatches}`);
  if (!(c.lr > 0 && Number.isFinite(c.lr))) throw new Error(`learning rate must be > 0, got ${c.lr}`);
  if (!(c.weightDecay >= 0)) throw new Error(`weight decay must be >= 0, got ${c.weightDecay}`);
  if (!(c.margin >= 0 && Number.isFinite(c.margin))) throw new Error(`margin must be >= 0, got ${c.margin}`);
  if (!Number.isInteger(c.seed) || c.seed < 0) throw new Error(`seed must be a non-negative integer, got ${c.seed}`);
  return c;
}

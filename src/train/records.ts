// Layer: train. What a training produces, as the trainer returns it and the
// report reads it (its own module so that the report does not import the trainer).
import type { BenignMetrics } from '../eval/benign.js';
import type { Device } from '../tensor/index.js';
import type { ExperimentConfig } from '../run/config.js';

/** One finished epoch as log.jsonl and report.json record it. */
export interface EpochRecord {
  epoch: number;
  loss: number;
  seconds: number;
  steps: number;
  metrics?: BenignMetrics;
  /** Seconds the evaluation after this epoch took (absent when the epoch was not evaluated). */
  evalSeconds?: number;
  /** Per-step defense accounting, averaged over the epoch (forward/backward passes, hardness, …). */
  defense: Record<string, number>;
}

/** What `train` returns (and report.json holds). */
export interface TrainResult {
  config: ExperimentConfig;
  epochs: EpochRecord[];
  final: BenignMetrics;
  seconds: number;
  outDir: string;
  /** Where the model trained ('cpu', 'cuda:0') and how many data-parallel processes shared the work. */
  device?: Device;
  processes?: number;
}

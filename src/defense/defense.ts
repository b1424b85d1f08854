// Layer: defense. A Defense is one training-step strategy: given a batch, it
// builds whatever adversarial inputs it needs (with the attacks' PGD core) and
// returns the loss to minimise plus per-step accounting. The trainer does the
// backward pass and the optimizer step, whatever the defense.
import type { Tensor } from '../tensor/index.js';
import type { EmbeddingModel } from '../models/model.js';
import type { Metric } from '../metric/metric.js';
import type { Miner } from '../metric/miners.js';
import type { TrainingLoss } from '../metric/training-loss.js';

/** What a defense's training step receives: the model, the SPC-2 batch, the loss settings and where training stands. */
export interface DefenseContext {
  model: EmbeddingModel;
  /** SPC-2 batch [2B, C, H, W] in [0,1], interleaved x0, x0', x1, x1', … */
  images: Tensor;
  /** [2B] int64 labels. */
  labels: Tensor;
  metric: Metric;
  /** The run's loss margin (`config.margin`; the miners' margin too). */
  margin: number;
  /** The run's training loss: every defense trains with it (its own objective only drives the perturbation). */
  loss: TrainingLoss;
  /** The loss's own miner (random for ptripletN, …). */
  miner: Miner;
  /** 0-based epoch, the run's epoch count, and the global step (for schedules and alternations). */
  epoch: number;
  maxEpochs: number;
  step: number;
  /** 0-based replay of this batch (free adversarial training replays each batch `Defense.replays` times); absent = 0. */
  replay?: number;
  /** Optional observer of each adversarial batch and its clean source (tests, diagnostics). */
  inspect?: (role: string, clean: Tensor, adversarial: Tensor) => void;
}

/** What a step did, for the JSONL log and the training SVG. */
export interface DefenseStats {
  /** Model forward passes over a batch-sized input, PGD included. */
  forwardPasses: number;
  /** Backward passes (PGD gradients + the training step). */
  backwardPasses: number;
  /** PGD iterations actually run (early stops make it < η). */
  pgdIterations: number;
  /** Fraction of the training triplets that were perturbed at all (0 for undefended training). */
  perturbedFraction: number;
  /** Mean hardness H = d(a,p) − d(a,n) of the source (benign) triplets. */
  sourceHardness: number;
  /** Mean hardness of the triplets the loss was computed on. */
  trainedHardness: number;
  /** Share of the full-batch PGD work done, in triplet passes (HM only: < 1 where skipSatisfied drops triplets). */
  pgdWorkFraction?: number;
  /** Mean destination hardness H_D (HM only). */
  destinationHardness?: number;
  /** Weighted collapseness C (CA-TRIDE only). */
  collapseness?: number;
}

/** Every DefenseStats key once, for code that moves stats as plain numbers (data-parallel training). */
export const DEFENSE_STAT_KEYS = Object.keys({
  forwardPasses: true,
  backwardPasses: true,
  pgdIterations: true,
  perturbedFraction: true,
  sourceHardness: true,
  trainedHardness: true,
  pgdWorkFraction: true,
  destinationHardness: true,
  collapseness: true,
} satisfies Record<keyof DefenseStats, true>) as (keyof DefenseStats)[];

/** What a training step returns: the loss to minimise and its accounting. */
export interface DefenseStep {
  /** Scalar loss with its autograd graph (model in train mode). */
  loss: Tensor;
  stats: DefenseStats;
}

/** A training-step strategy (none, EST, ACT, HM, CA-TRIDE): builds adversarial inputs as it needs and returns the loss. Build one with `buildDefense`. */
export interface Defense {
  step(ctx: DefenseContext): DefenseStep;
  /** Scalar state carried across steps, for checkpoints (absent when stateless). */
  state?(): Record<string, number>;
  loadState?(s: Record<string, number>): void;
  /**
   * Free adversarial training: the trainer runs `step`, the backward pass and
   * an optimizer step this many times on each batch (absent = 1).
   */
  readonly replays?: number;
  /** Called after each backward pass, before the optimizer step (free AT reads its perturbation's gradient here). */
  afterBackward?(): void;
  /** Tensor state carried across steps (free AT's perturbation), saved with the optimizer state in checkpoints. */
  tensors?(): ReadonlyMap<string, Tensor>;
  loadTensors?(t: ReadonlyMap<string, Tensor>): void;
  /** Frees tensor state. */
  dispose?(): void;
}

/**
 * A defense bound to a run's loss (what `buildDefense` returns for a resolved
 * config): its steps get the loss, its state includes the loss's learnable
 * scalars, and the trainer steps those after each backward pass.
 */
export interface RunDefense {
  /** The papers' short name of its config (describeDefense: N/A, EST, HM[S,g_LGA]&ICS, …), for messages. */
  readonly name: string;
  readonly loss: TrainingLoss;
  step(ctx: Omit<DefenseContext, 'loss'>): DefenseStep;
  state(): Record<string, number>;
  loadState(s: Record<string, number>): void;
  /** Optimizer steps per batch (1 unless free adversarial training). */
  readonly replays: number;
  afterBackward(): void;
  tensors(): ReadonlyMap<string, Tensor>;
  loadTensors(t: ReadonlyMap<string, Tensor>): void;
  dispose(): void;
}

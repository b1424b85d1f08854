// Layer: defense. Pieces every defense shares: eval-mode embeddings without
// gradient, mining, hardness statistics, and the call into the PGD core.
import { noGrad, tidy, type Tensor } from '../tensor/index.js';
import type { Metric } from '../metric/metric.js';
import type { Triplets } from '../metric/miners.js';
import type { EmbeddingModel } from '../models/model.js';
import type { DefenseContext, DefenseStep } from './defense.js';
import { pgd as pgdCore } from '../attack/pgd.js';
import { BUDGETS, type PgdBudget } from '../attack/budget.js';
import { imageScale } from '../data/image-size.js';

/** φ̂(x) in eval mode, no autograd (inputs to mining and to PGD targets). */
export function embedEval(model: EmbeddingModel, x: Tensor, metric: Metric): Tensor {
  model.eval();
  return noGrad(() => tidy(() => metric.embed(model.forward(x))));
}

/** φ̂(x) with autograd in the model's current mode (PGD objectives run in eval mode). */
export function embedGrad(model: EmbeddingModel, x: Tensor, metric: Metric): Tensor {
  return tidy(() => metric.embed(model.forward(x)));
}

/** φ̂(x) in train mode, with autograd (what the loss is computed on). */
export function embedTrain(model: EmbeddingModel, x: Tensor, metric: Metric): Tensor {
  model.train();
  return tidy(() => metric.embed(model.forward(x)));
}

/** Mines with the context's miner; `minerMargin` reproduces the callers' margin quirk (docs/methods.md §2). */
export function mine(ctx: DefenseContext, embeddings: Tensor, minerMargin = ctx.margin): Triplets {
  return noGrad(() =>
    ctx.miner(embeddings.detach(), ctx.labels, {
      metric: ctx.metric,
      margin: minerMargin,
      progress: { epoch: ctx.epoch, maxEpochs: ctx.maxEpochs },
    }),
  );
}

/** Per-triplet hardness H = d(a,p) − d(a,n) of metric-space embeddings [B]. */
export function hardness(a: Tensor, p: Tensor, n: Tensor, metric: Metric): Tensor {
  return tidy(() => metric.rows(a, p).sub(metric.rows(a, n)));
}

/** Mean hardness as a number (for the step statistics). */
export function meanHardness(a: Tensor, p: Tensor, n: Tensor, metric: Metric): number {
  return noGrad(() => tidy(() => hardness(a.detach(), p.detach(), n.detach(), metric).mean().item()));
}

/**
 * The run's loss on triplets in metric space whose rows are those of `t` in the
 * batch (labels follow the rows: a perturbation does not change them).
 */
export function tripletLossOf(ctx: DefenseContext, a: Tensor, p: Tensor, n: Tensor, t: Triplets): Tensor {
  return ctx.loss.triplets({ a, p, n, anchorLabels: rows(ctx.labels, t.anchors), negativeLabels: rows(ctx.labels, t.negatives) }, ctx.metric);
}

/** The run's loss on a batch of metric-space embeddings, and the triplets its miner picks (for the hardness statistics). */
export interface BatchLoss {
  loss: Tensor;
  a: Tensor;
  p: Tensor;
  n: Tensor;
}

/**
 * The run's loss on a whole batch of embeddings [2B, D]: on the whole batch for
 * a loss that mines its own pairs, on the triplets its miner picks from the
 * detached embeddings otherwise.
 */
export function batchLoss(ctx: DefenseContext, z: Tensor): BatchLoss {
  const t = mine(ctx, z);
  const [a, p, n] = [rows(z, t.anchors), rows(z, t.positives), rows(z, t.negatives)];
  return { loss: ctx.loss.entry.input === 'batch' ? ctx.loss.batch(z, ctx.labels, ctx.metric) : tripletLossOf(ctx, a, p, n, t), a, p, n };
}

/**
 * The step of a defense that trains the run's loss on one train-mode batch of
 * triplets `z` = [a; p; n] (b rows each, the rows of `t`), after `iterations`
 * PGD iterations: one clean forward, the PGD passes, the training forward.
 */
export function tripletBatchStep(ctx: DefenseContext, z: Tensor, t: Triplets, sourceHardness: number, iterations: number): DefenseStep {
  const b = t.anchors.shape[0]!;
  const [a, p, n] = [z.narrow(0, 0, b), z.narrow(0, b, b), z.narrow(0, 2 * b, b)];
  return {
    loss: tripletLossOf(ctx, a, p, n, t),
    stats: {
      forwardPasses: 1 + iterations + 1,
      backwardPasses: iterations + 1,
      pgdIterations: iterations,
      perturbedFraction: 1,
      sourceHardness,
      trainedHardness: meanHardness(a, p, n, ctx.metric),
    },
  };
}

/** Selects rows of x by an index tensor. */
export function rows(x: Tensor, index: Tensor): Tensor {
  return x.indexSelect(0, index);
}

/** The training budget for images with this side (BUDGETS, docs/methods.md §3), with η = `steps` when given. */
export function defaultBudget(imageSide: number, steps?: number): PgdBudget {
  const b = BUDGETS[imageScale(imageSide)].training;
  return { ...b, steps: steps ?? b.steps };
}

export interface PgdRun {
  /** Adversarial images, same shape as the input, in the ε-ball and [0,1]. */
  adversarial: Tensor;
  /** Iterations actually run. */
  iterations: number;
}

/**
 * Runs the attacks' PGD core on `images` with an objective to MINIMISE; the
 * objective gets the current adversarial images and the iteration index.
 * The model is put in eval mode for the whole inner maximisation.
 */
export function runPgd(
  model: EmbeddingModel,
  images: Tensor,
  objective: (xAdv: Tensor, iteration: number) => Tensor,
  budget: PgdBudget & { stepScale?: number },
  stops: PgdStops = {},
): PgdRun {
  model.eval();
  return pgdCore({ images, objective, epsilon: budget.epsilon, alpha: budget.alpha * (budget.stepScale ?? 1), steps: budget.steps, ...stops });
}

/** Early-stopping rules of the inner maximisations, given the objective value of an iteration. */
export interface PgdStops {
  /** Checked before the update of the iteration: true ends PGD without updating (CA-TRIDE). */
  before?: (iteration: number, value: number) => boolean;
  /** Checked after the update: true ends PGD (HM's |J_t − J_{t−1}| rule). */
  after?: (iteration: number, value: number) => boolean;
}

// Layer: metric. What every SPC-2 miner shares (docs/methods.md §2): the
// Miner type, the anchor-row distance matrix computed exactly as the reference
// miners compute it, the label masks, and uniform random choice over masked
// candidates done for all anchors at once.
//
// SPC-2 layout: 2B items x_0, x_0', x_1, x_1', ...; anchors are the even
// positions 2k, the default positive of anchor 2k is 2k+1.
import { arange, noGrad, rand, tidy, where, type Tensor } from '../../tensor/index.js';
import type { Metric } from '../metric.js';
import { assertSpc2Batch } from '../check.js';

/** Index triplets into the batch: int64 [B] each. The caller owns (disposes) them. */
export interface Triplets {
  anchors: Tensor;
  positives: Tensor;
  negatives: Tensor;
}

/** Training progress, for miners that change with the epoch (gradual semihard). */
export interface TrainingProgress {
  /** Current epoch, 0-based. */
  epoch: number;
  /** Number of epochs of the run (code epochs, i.e. already halved for SPC-2). */
  maxEpochs: number;
}

/** What a miner needs beyond embeddings and labels. */
export interface MinerOptions {
  metric: Metric;
  /**
   * Margin m of the semihard rule. Which value reaches the miner depends on the
   * caller (docs/methods.md §2 quirk: ACT passes 1.0 for N); other miners ignore it.
   */
  margin: number;
  /** Required by the gradual semihard miner only. */
  progress?: TrainingProgress;
}

/**
 * Picks B triplets from an SPC-2 batch: embeddings [2B, D] (raw or already in
 * metric space: the miner normalises for N/C itself, which is idempotent) and
 * integer labels [2B]. Runs without gradient.
 */
export type Miner = (embeddings: Tensor, labels: Tensor, opts: MinerOptions) => Triplets;

/** The per-anchor view of a batch that the selection rules work on. */
export interface MiningBatch {
  /** B: number of anchors (pairs). */
  readonly pairs: number;
  /** Embedding dimension D (the distance-weighted density uses it). */
  readonly dim: number;
  /** d(x_2k, x_j): [B, 2B], float. See minerDistanceRows: may hold NaN. */
  readonly distances: Tensor;
  /** y_j == y_2k: bool [B, 2B]; this is Pos, and includes the anchor itself (column 2k). */
  readonly sameLabel: Tensor;
}

/** Even positions 0, 2, ..., 2B-2: the anchors. */
export function anchorIndices(pairs: number, device = 'cpu'): Tensor {
  return arange(0, 2 * pairs, 2, { dtype: 'int64', device });
}

/** Odd positions 1, 3, ..., 2B-1: each anchor's own pair partner, the default positive. */
export function partnerIndices(pairs: number, device = 'cpu'): Tensor {
  return arange(1, 2 * pairs, 2, { dtype: 'int64', device });
}

/** Pos mask of each anchor: labels[2k] == labels[j] -> bool [B, 2B]. */
export function sameLabelRows(labels: Tensor): Tensor {
  return tidy(() => {
    const anchorLabels = labels.indexSelect(0, anchorIndices(labels.shape[0]! / 2, labels.device));
    return anchorLabels.unsqueeze(1).eq(labels.unsqueeze(0));
  });
}

/**
 * Anchor rows of the miners' distance matrix, computed like the reference
 * (RobRank `__miner_pdist`, see `Metric.fromGram`) rather than with the exact
 * `metric.pairwise`: the embeddings are taken into metric space, their Gram
 * matrix x·xᵀ gives every distance. For N/E round-off can make a distance NaN
 * (near-duplicates); the selection rules handle NaN.
 */
export function minerDistanceRows(embeddings: Tensor, metric: Metric): Tensor {
  return noGrad(() =>
    tidy(() => {
      const x = metric.embed(embeddings.detach());
      const rows = anchorIndices(x.shape[0]! / 2, x.device);
      return metric.fromGram(x.mm(x.t())).indexSelect(0, rows);
    }),
  );
}

/** Validates an SPC-2 batch and builds its MiningBatch; the caller disposes it (dispose(batch)). */
export function spc2MiningBatch(embeddings: Tensor, labels: Tensor, metric: Metric): MiningBatch {
  const pairs = assertSpc2Batch(embeddings, labels);
  return noGrad(() => ({
    pairs,
    dim: embeddings.shape[1]!,
    distances: minerDistanceRows(embeddings, metric),
    sameLabel: sameLabelRows(labels),
  }));
}

/** Row-wise "has any true entry": bool [B, N] -> bool [B, 1]. */
export function rowHasAny(mask: Tensor): Tensor {
  return tidy(() => mask.sum(1, true).gt(0));
}

/**
 * Per row, the first mask in `cascade` that has a true entry in that row
 * (rule, then fallback, then ...). The last mask is used when none has one.
 */
export function firstNonEmpty(cascade: readonly Tensor[]): Tensor {
  if (cascade.length === 0) throw new Error('firstNonEmpty: empty cascade');
  return tidy(() => {
    let chosen = cascade[cascade.length - 1]!;
    for (let i = cascade.length - 2; i >= 0; i--) {
      chosen = where(rowHasAny(cascade[i]!), cascade[i]!, chosen);
    }
    return chosen;
  });
}

/**
 * One uniformly random column index per row among the true entries of
 * `candidates` (bool [B, N]) -> int64 [B]: i.i.d. uniform scores from libtorch's
 * generator (so manualSeed makes it reproducible), non-candidates masked to -1,
 * argmax. Every row must have a candidate (use firstNonEmpty with an all-true
 * last fallback).
 */
export function uniformChoice(candidates: Tensor): Tensor {
  return tidy(() => {
    // float64 scores: ties (which argmax would break towards the lower index) are practically impossible.
    const scores = rand(candidates.shape, { dtype: 'float64', device: candidates.device });
    return scores.maskedFill(candidates.logicalNot(), -1).argmax(1);
  });
}

/** All-true mask like `m` ("uniform over all 2B items", the last fallback). */
export function everything(m: Tensor): Tensor {
  return tidy(() => m.logicalOr(m.logicalNot()));
}

/** Assembles the triplets of an SPC-2 batch; the positive defaults to each anchor's partner 2k+1. */
export function spc2Triplets(pairs: number, device: string, negatives: Tensor, positives?: Tensor): Triplets {
  return {
    anchors: anchorIndices(pairs, device),
    positives: positives ?? partnerIndices(pairs, device),
    negatives,
  };
}

/** What a selection rule returns: negatives, and positives when it picks them (softhard). */
export interface Selection {
  negatives: Tensor;
  positives?: Tensor;
}

/** Runs a selection rule on a freshly built MiningBatch, freeing everything but the triplets. */
export function mineWith(embeddings: Tensor, labels: Tensor, metric: Metric, rule: (batch: MiningBatch) => Selection): Triplets {
  return noGrad(() =>
    tidy(() => {
      const batch = spc2MiningBatch(embeddings, labels, metric);
      const { negatives, positives } = rule(batch);
      return spc2Triplets(batch.pairs, embeddings.device, negatives, positives);
    }),
  );
}

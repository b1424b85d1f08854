// Layer: data. Batch index plans: the SPC-2 pair sampler (docs/methods.md §2,
// docs/datasets.md §4) and the unshuffled test order. Plans are plain index arrays,
// a pure function of (labels, batch size, seed, epoch), shared by in-memory and
// file-backed datasets.
import { indicesByLabel } from './dataset.js';
import { mixSeed, Rng } from './random.js';
import { imageScale, type ImageScale } from './image-size.js';

/** One batch to load: dataset indices in batch order, grouped in pairs (SPC-2) or singles. */
export interface BatchPlan {
  /** Dataset index of each image in the batch. SPC-2: i0, j0, i1, j1, … */
  readonly indices: Int32Array;
  /** Images per group: 2 for SPC-2 pairs, 1 for single images. Skipping a corrupt file drops its whole group. */
  readonly groupSize: 1 | 2;
}

/** Random streams of one epoch: index sampling and augmentation never share draws. */
export const STREAM_SAMPLING = 0;
export const STREAM_AUGMENT = 1;

/** The generator of one (seed, epoch, stream). */
export function epochRng(seed: number, epoch: number, stream: number): Rng {
  return new Rng(mixSeed(seed, epoch, stream));
}

/**
 * One SPC-2 epoch: a shuffled order of all train indices i; each gets a partner j
 * uniform over all indices with label y_i (j = i possible); B pairs per batch,
 * the last batch smaller if needed; each batch flattened to x_i0, x_j0, x_i1, x_j1, …
 * Draws: the permutation first, then the partners in permutation order.
 */
export function spc2EpochPlan(labels: Int32Array, batchPairs: number, seed: number, epoch = 0): BatchPlan[] {
  if (!Number.isInteger(batchPairs) || batchPairs < 1) throw new Error(`SPC-2 batch size must be a positive integer (pairs), got ${batchPairs}`);
  const byLabel = indicesByLabel(labels);
  const rng = epochRng(seed, epoch, STREAM_SAMPLING);
  const order = rng.permutation(labels.length);
  const plans: BatchPlan[] = [];
  for (let start = 0; start < order.length; start += batchPairs) {
    const pairs = Math.min(batchPairs, order.length - start);
    const indices = new Int32Array(2 * pairs);
    for (let k = 0; k < pairs; k++) {
      const i = order[start + k]!;
      const sameClass = byLabel.get(labels[i]!)!;
      indices[2 * k] = i;
      indices[2 * k + 1] = sameClass[rng.nextInt(sameClass.length)]!;
    }
    plans.push({ indices, groupSize: 2 });
  }
  return plans;
}

/** The test order: 0..n−1 unshuffled, `batchSize` images per batch, last batch smaller. */
export function testOrderPlan(length: number, batchSize: number): BatchPlan[] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`test batch size must be a positive integer, got ${batchSize}`);
  const plans: BatchPlan[] = [];
  for (let start = 0; start < length; start += batchSize) {
    const n = Math.min(batchSize, length - start);
    plans.push({ indices: Int32Array.from({ length: n }, (_, k) => start + k), groupSize: 1 });
  }
  return plans;
}

/** RobRank's batch sizes per input regime (docs/datasets.md §4): pairs for training, images (queries) for testing. */
export const BATCH_SIZES: Readonly<Record<ImageScale, { readonly trainPairs: number; readonly test: number }>> = {
  small: { trainPairs: 128, test: 128 },
  large: { trainPairs: 56, test: 112 },
};

/** RobRank's batch sizes for images with this side. */
export function defaultBatchSizes(imageSide: number): { trainPairs: number; test: number } {
  return { ...BATCH_SIZES[imageScale(imageSide)] };
}

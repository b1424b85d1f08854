// Layer: eval. Embeds a whole split with the model in eval mode, without autograd.
import { cat, noGrad, onDevice, SINGLE_PROCESS, tidy, zeros, type ProcessGroup, type Tensor } from '../tensor/index.js';
import type { EmbeddingModel } from '../models/model.js';
import { testLoader, type DmlDataset } from '../data/index.js';
import { progressBar } from '../util/progress.js';

/** Options of `embedDataset`. */
export interface EmbedOptions {
  /** Images per forward pass (default 128). */
  batchSize?: number;
  /** A progress bar with ETA on stderr (default off). */
  progress?: boolean;
  /**
   * Share the work over a process group: rank r embeds batches b ≡ r (mod W),
   * and a sum of disjoint rows (exact) gives every rank the whole [N, D].
   */
  group?: ProcessGroup;
}

/**
 * [N, D] raw (un-normalised) embeddings of every image of the split, in split
 * order. The model is put in eval mode for the pass and restored afterwards.
 * The caller owns (disposes) the result.
 */
export async function embedDataset(model: EmbeddingModel, ds: DmlDataset, o: EmbedOptions = {}): Promise<Tensor> {
  const batchSize = o.batchSize ?? 128;
  const wasTraining = model.training;
  model.eval();
  const parts: Tensor[] = [];
  const group = o.group ?? SINGLE_PROCESS;
  const mine = (b: number): boolean => b % group.worldSize === group.rank;
  const batches = Math.ceil(ds.length / batchSize);
  const bar = progressBar(o.progress, Math.ceil((batches - group.rank) / group.worldSize), `embedding ${ds.length} ${ds.name} images`);
  try {
    for await (const batch of testLoader(ds, { batchSize, onlyBatches: mine })) {
      parts.push(noGrad(() => tidy(() => model.forward(onDevice(batch.images, model.device)))));
      batch.images.dispose();
      batch.labels.dispose();
      bar?.tick();
    }
    if (group.worldSize === 1) return tidy(() => cat(parts, 0));
    const dim = parts[0]?.shape[1] ?? noGrad(() => tidy(() => model.forward(zeros([1, ds.channels, ds.height, ds.width])).shape[1]!));
    const all = zeros([ds.length, dim], { device: model.device });
    noGrad(() => parts.forEach((part, k) => tidy(() => all.narrow(0, (k * group.worldSize + group.rank) * batchSize, part.shape[0]!).copy_(part))));
    group.allreduceSum([all]);
    return all;
  } finally {
    bar?.close();
    for (const p of parts) p.dispose();
    model.train(wasTraining);
  }
}

// Layer: eval. Embeds a whole split with the model in eval mode, without autograd.
import { cat, noGrad, tidy, type Tensor } from '../tensor/index.js';
import type { EmbeddingModel } from '../models/model.js';
import { testLoader, type DmlDataset } from '../data/index.js';

/** [N, D] raw embeddings of every image of the split, in split order. */
export async function embedDataset(model: EmbeddingModel, ds: DmlDataset, batchSize = 128): Promise<Tensor> {
  const wasTraining = model.training;
  model.eval();
  const parts: Tensor[] = [];
  try {
    for await (const batch of testLoader(ds, { batchSize })) {
      parts.push(noGrad(() => model.forward(batch.images)));
      batch.images.dispose();
      batch.labels.dispose();
    }
    return tidy(() => cat(parts, 0));
  } finally {
    for (const p of parts) p.dispose();
    model.train(wasTraining);
  }
}

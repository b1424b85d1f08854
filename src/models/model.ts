// Layer: models. What every embedding network offers to the layers above.
import type { Module } from '../nn/index.js';
import type { Tensor } from '../tensor/index.js';

/**
 * An image → embedding network. Inputs are NCHW float32 in [0, 1]; any input
 * normalisation happens inside the model, so attack budgets are in pixel space.
 * Outputs are un-normalised embeddings [N, embeddingDim].
 */
export interface EmbeddingModel extends Module {
  readonly kind: string;
  readonly embeddingDim: number;
  readonly inputShape: [number, number, number];
  forward(x: Tensor): Tensor;
}

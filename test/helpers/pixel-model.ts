// A parameter-free "model" whose embedding is its two pixels, and a four-image
// SPC-2 batch for it: every distance in embedding space is one between images,
// so defenses' adversarial batches and losses can be checked by hand.
import { Module } from '../../src/nn/index.js';
import type { EmbeddingModel } from '../../src/models/model.js';
import { tensor, type Tensor } from '../../src/tensor/index.js';
import { jsEpsDistance } from './distances.js';

export class PixelModel extends Module implements EmbeddingModel {
  readonly kind = 'pixels';
  readonly embeddingDim = 2;
  readonly inputShape: [number, number, number] = [1, 1, 2];
  forward(x: Tensor): Tensor {
    return x.flatten(1);
  }
}

/** Two SPC-2 pairs of 1×1×2 images: x0 = (.5, .5), x0' = (.6, .5) of class 0; x1 = (.5, .7), x1' = (.5, .9) of class 1. */
export const PIXELS = [
  [0.5, 0.5],
  [0.6, 0.5],
  [0.5, 0.7],
  [0.5, 0.9],
];
export const pixelBatch = (): { images: Tensor; labels: Tensor } => ({
  images: tensor(PIXELS.flat(), [4, 1, 1, 2]),
  labels: tensor([0, 0, 1, 1], [4], 'int64'),
});

/** Hand triplet loss with the loss's eps distance: mean_i max(0, d(a_i, p_i) − d(a_i, n_i) + γ). */
export const handTripletLoss = (a: number[][], p: number[][], n: number[][], margin: number): number =>
  a.reduce((sum, ai, i) => sum + Math.max(0, jsEpsDistance(ai, p[i]!) - jsEpsDistance(ai, n[i]!) + margin), 0) / a.length;

/** The rows of a flat [k × 2] array. */
export const pairsOf = (flat: number[]): number[][] => Array.from({ length: flat.length / 2 }, (_, i) => flat.slice(2 * i, 2 * i + 2));

// Layer: models. c2f2 (docs/methods.md §3): the 28×28 embedding network of RobRank.
// conv5×5(1→32)+ReLU → maxpool2 → conv5×5(32→64)+ReLU → maxpool2 → fc(3136→1024)+ReLU → fc(1024→512).
// No BatchNorm and no dropout, so train/eval mode does not change its output.
import type { Tensor } from '../tensor/index.js';
import { Conv2d, Linear, Module } from '../nn/index.js';
import * as F from '../nn/functional.js';
import type { EmbeddingModel } from './model.js';
import { defineModel } from './entry.js';

/** RobRank's 28×28 embedding network: two 5×5 conv + max-pool blocks, then 3136→1024→512 (docs/methods.md §3). */
export class C2F2 extends Module implements EmbeddingModel {
  readonly kind = 'c2f2';
  readonly embeddingDim: number;
  readonly inputShape: [number, number, number] = [1, 28, 28];
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(embeddingDim = 512) {
    super();
    this.embeddingDim = embeddingDim;
    this.conv1 = this.registerModule('conv1', new Conv2d(1, 32, 5, { padding: 2 }));
    this.conv2 = this.registerModule('conv2', new Conv2d(32, 64, 5, { padding: 2 }));
    this.fc1 = this.registerModule('fc1', new Linear(64 * 7 * 7, 1024));
    this.fc2 = this.registerModule('fc2', new Linear(1024, embeddingDim));
  }

  forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== 1 || x.shape[2] !== 28 || x.shape[3] !== 28) {
      throw new Error(`c2f2 expects input [N, 1, 28, 28], got [${x.shape.join(', ')}]`);
    }
    // Each intermediate is freed as soon as the next op holds it (autograd keeps what backward needs).
    let h = this.conv1.call(x);
    h = swap(h, F.relu(h));
    h = swap(h, F.maxPool2d(h, 2));
    h = swap(h, this.conv2.call(h));
    h = swap(h, F.relu(h));
    h = swap(h, F.maxPool2d(h, 2));
    h = swap(h, h.flatten(1));
    h = swap(h, this.fc1.call(h));
    h = swap(h, F.relu(h));
    return swap(h, this.fc2.call(h));
  }
}

/** Frees `old` and returns `next`: keeps long forward chains free of dead handles. */
export function swap(old: Tensor, next: Tensor): Tensor {
  old.dispose();
  return next;
}

export const c2f2Entry = defineModel({
  name: 'c2f2',
  robrankCode: 'rc2f2',
  summary: "RobRank's c2f2 (2 conv + 2 fc, 512-d) for 28×28 grey images",
  imageSide: 28,
  takesPretrained: false,
  create: () => new C2F2(),
});

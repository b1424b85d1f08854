// Layer: models. ResNet-18 / ResNet-50 embedding networks (docs/methods.md §3):
// torchvision's architecture and parameter names (conv1, bn1, layer1.0.conv1, …,
// fc), so torchvision ImageNet weights load by name; the classifier `fc` is
// replaced by a fresh Linear(512|2048 → embeddingDim). ImageNet mean/std
// normalisation runs inside forward, so inputs (and attack budgets) stay in [0,1] pixels.
import { keep, tensor, type Device, type Tensor } from '../tensor/index.js';
import { BatchNorm2d, Conv2d, Linear, Module, Sequential } from '../nn/index.js';
import * as F from '../nn/functional.js';
import type { EmbeddingModel } from './model.js';
import { swap } from './c2f2.js';

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];

/** A residual block: torchvision's projection shortcut (1×1 conv + BN, named `downsample`) when the shape changes. */
abstract class ResidualBlock extends Module {
  protected shortcut(inPlanes: number, outPlanes: number, stride: number): Sequential | null {
    if (stride === 1 && inPlanes === outPlanes) return null;
    return this.registerModule('downsample', new Sequential(new Conv2d(inPlanes, outPlanes, 1, { stride, bias: false }), new BatchNorm2d(outPlanes)));
  }
}

/** Two 3×3 convolutions with a shortcut (ResNet-18/34). */
class BasicBlock extends ResidualBlock {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | null;
  constructor(inPlanes: number, planes: number, stride: number) {
    super();
    this.conv1 = this.registerModule('conv1', new Conv2d(inPlanes, planes, 3, { stride, padding: 1, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', new Conv2d(planes, planes, 3, { padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.downsample = this.shortcut(inPlanes, planes * BasicBlock.expansion, stride);
  }
  forward(x: Tensor): Tensor {
    let h = this.conv1.call(x);
    h = swap(h, this.bn1.call(h));
    h = swap(h, F.relu(h));
    h = swap(h, this.conv2.call(h));
    h = swap(h, this.bn2.call(h));
    return addShortcutRelu(h, x, this.downsample);
  }
}

/** 1×1 → 3×3 → 1×1 bottleneck with a shortcut (ResNet-50; stride on the 3×3 as torchvision ≥ 0.3). */
class Bottleneck extends ResidualBlock {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly downsample: Sequential | null;
  constructor(inPlanes: number, planes: number, stride: number) {
    super();
    this.conv1 = this.registerModule('conv1', new Conv2d(inPlanes, planes, 1, { bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', new Conv2d(planes, planes, 3, { stride, padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.conv3 = this.registerModule('conv3', new Conv2d(planes, planes * Bottleneck.expansion, 1, { bias: false }));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(planes * Bottleneck.expansion));
    this.downsample = this.shortcut(inPlanes, planes * Bottleneck.expansion, stride);
  }
  forward(x: Tensor): Tensor {
    let h = this.conv1.call(x);
    h = swap(h, this.bn1.call(h));
    h = swap(h, F.relu(h));
    h = swap(h, this.conv2.call(h));
    h = swap(h, this.bn2.call(h));
    h = swap(h, F.relu(h));
    h = swap(h, this.conv3.call(h));
    h = swap(h, this.bn3.call(h));
    return addShortcutRelu(h, x, this.downsample);
  }
}

function addShortcutRelu(h: Tensor, x: Tensor, downsample: Sequential | null): Tensor {
  const identity = downsample ? downsample.call(x) : x;
  const sum = h.add(identity);
  h.dispose();
  if (identity !== x) identity.dispose();
  return swap(sum, F.relu(sum));
}

type BlockKind = typeof BasicBlock | typeof Bottleneck;

/** The two torchvision depths. */
export type ResNetDepth = 18 | 50;

const LAYOUT: Record<ResNetDepth, [BlockKind, number[]]> = {
  18: [BasicBlock, [2, 2, 2, 2]],
  50: [Bottleneck, [3, 4, 6, 3]],
};

/** Options of ResNet. */
export interface ResNetOptions {
  embeddingDim?: number;
  /**
   * RobRank's `freeze_bn`: every BatchNorm uses the (ImageNet) running
   * statistics in training too, with trainable affine parameters. On for all
   * models except EST's (docs/methods.md §3).
   */
  frozenBatchNorm?: boolean;
}

/**
 * torchvision's ResNet-18/50 with a 512-d embedding head, ImageNet normalisation inside and (by default) frozen BatchNorm (docs/methods.md §3).
 */
export class ResNet extends Module implements EmbeddingModel {
  readonly kind: string;
  readonly embeddingDim: number;
  readonly inputShape: [number, number, number] = [3, 224, 224];
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly layers: Sequential[];
  readonly fc: Linear;
  #mean: Tensor;
  #std: Tensor;

  constructor(
    readonly depth: ResNetDepth,
    o: ResNetOptions = {},
  ) {
    super();
    const [Block, counts] = LAYOUT[depth];
    this.kind = `resnet${depth}`;
    this.embeddingDim = o.embeddingDim ?? 512;
    this.conv1 = this.registerModule('conv1', new Conv2d(3, 64, 7, { stride: 2, padding: 3, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(64));
    let inPlanes = 64;
    this.layers = counts.map((n, i) => {
      const planes = 64 * 2 ** i;
      const blocks: Module[] = [];
      for (let b = 0; b < n; b++) {
        blocks.push(new Block(inPlanes, planes, b === 0 && i > 0 ? 2 : 1));
        inPlanes = planes * Block.expansion;
      }
      return this.registerModule(`layer${i + 1}`, new Sequential(...blocks));
    });
    this.fc = this.registerModule('fc', new Linear(inPlanes, this.embeddingDim));
    // Constants, not state: they are not in the state dict (torchvision has no such entries).
    this.#mean = keep(tensor(IMAGENET_MEAN, [1, 3, 1, 1]));
    this.#std = keep(tensor(IMAGENET_STD, [1, 3, 1, 1]));
    this.setFrozenBatchNorm(o.frozenBatchNorm ?? true);
  }

  setFrozenBatchNorm(on: boolean): void {
    for (const [, m] of this.namedModules()) if (m instanceof BatchNorm2d) m.frozen = on;
  }

  forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== 3) throw new Error(`${this.kind} expects input [N, 3, H, W], got [${x.shape.join(', ')}]`);
    let h = x.sub(this.#mean).div(this.#std);
    h = swap(h, this.conv1.call(h));
    h = swap(h, this.bn1.call(h));
    h = swap(h, F.relu(h));
    h = swap(h, F.maxPool2d(h, 3, 2, 1));
    for (const layer of this.layers) h = swap(h, layer.call(h));
    h = swap(h, F.adaptiveAvgPool2d(h, 1));
    h = swap(h, h.flatten(1));
    return swap(h, this.fc.call(h));
  }

  protected override moveExtra(device: Device): void {
    for (const key of ['mean', 'std'] as const) {
      const t = key === 'mean' ? this.#mean : this.#std;
      if (t.device === device) continue;
      const moved = keep(t.to(device));
      t.dispose();
      if (key === 'mean') this.#mean = moved;
      else this.#std = moved;
    }
  }

  override dispose(): void {
    super.dispose();
    this.#mean.dispose();
    this.#std.dispose();
  }
}

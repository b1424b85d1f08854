// Layer: nn. The layers rankshield's models are built from, with PyTorch's
// parameter names, shapes and default initialisation.
import { call1, empty, noGrad, ones, tensor, zeros, type Tensor } from '../tensor/index.js';

/** A new handle to the same tensor (autograd-transparent), so callers may always dispose what forward returns. */
function alias(x: Tensor): Tensor {
  return call1('aten::alias', [x]);
}
import { Module } from './module.js';
import * as F from './functional.js';

/**
 * PyTorch's default for Conv/Linear: kaiming_uniform_(a=√5) on the weight,
 * which is U(±1/√fan_in), and U(±1/√fan_in) on the bias.
 */
function uniformInit(shape: number[], fanIn: number): Tensor {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return noGrad(() => empty(shape).uniform_(-bound, bound));
}

/** Fully connected layer with PyTorch's initialisation and parameter names (weight, bias). */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: { bias?: boolean } = {},
  ) {
    super();
    this.weight = this.registerParameter('weight', uniformInit([outFeatures, inFeatures], inFeatures));
    this.bias = opts.bias === false ? null : this.registerParameter('bias', uniformInit([outFeatures], inFeatures));
  }
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
}

/** Options of Conv2d. */
export interface Conv2dOptions {
  stride?: number;
  padding?: number;
  dilation?: number;
  groups?: number;
  bias?: boolean;
}

/** 2-D convolution layer with PyTorch's initialisation and parameter names. */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly stride: number;
  readonly padding: number;
  readonly dilation: number;
  readonly groups: number;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    o: Conv2dOptions = {},
  ) {
    super();
    this.stride = o.stride ?? 1;
    this.padding = o.padding ?? 0;
    this.dilation = o.dilation ?? 1;
    this.groups = o.groups ?? 1;
    const fanIn = (inChannels / this.groups) * kernelSize * kernelSize;
    this.weight = this.registerParameter('weight', uniformInit([outChannels, inChannels / this.groups, kernelSize, kernelSize], fanIn));
    this.bias = o.bias === false ? null : this.registerParameter('bias', uniformInit([outChannels], fanIn));
  }
  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, this.stride, this.padding, this.dilation, this.groups);
  }
}

/** Batch normalisation with running statistics, as PyTorch's (weight, bias, running_mean, running_var, num_batches_tracked). */
export class BatchNorm2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  readonly numBatchesTracked: Tensor;
  /**
   * Frozen BN (RobRank's `freeze_bn`): always normalises with the running
   * statistics and never updates them, whatever train()/eval() says; the affine
   * weight and bias stay trainable.
   */
  frozen = false;
  constructor(
    readonly numFeatures: number,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
  ) {
    super();
    this.weight = this.registerParameter('weight', ones([numFeatures]));
    this.bias = this.registerParameter('bias', zeros([numFeatures]));
    this.runningMean = this.registerBuffer('running_mean', zeros([numFeatures]));
    this.runningVar = this.registerBuffer('running_var', ones([numFeatures]));
    this.numBatchesTracked = this.registerBuffer('num_batches_tracked', tensor([0], [], 'int64'));
  }
  forward(x: Tensor): Tensor {
    if (x.ndim !== 4) throw new Error(`BatchNorm2d expects NCHW input, got shape [${x.shape.join(', ')}]`);
    const batchStats = this.training && !this.frozen;
    if (batchStats) noGrad(() => this.numBatchesTracked.add_(1));
    return F.batchNorm(x, this.runningMean, this.runningVar, this.weight, this.bias, batchStats, this.momentum, this.eps);
  }
}

/** Layer form of relu. */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return F.relu(x);
  }
}

/** Layer form of maxPool2d. */
export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: number,
    readonly stride: number = kernelSize,
    readonly padding = 0,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.kernelSize, this.stride, this.padding);
  }
}

/** Layer form of avgPool2d. */
export class AvgPool2d extends Module {
  constructor(
    readonly kernelSize: number,
    readonly stride: number = kernelSize,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.kernelSize, this.stride);
  }
}

/** Layer form of adaptiveAvgPool2d. */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: number | [number, number]) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }
}

/** Flattens every dimension after the first. */
export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
}

/** Returns its input. */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return alias(x);
  }
}

/**
 * Runs children in order; children are named "0", "1", … as in PyTorch.
 * Intermediate activations are freed as soon as the next layer has consumed
 * them when autograd is off; with autograd on, libtorch keeps what backward needs.
 */
export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.registerModule(String(i), m));
  }
  forward(x: Tensor): Tensor {
    let h = x;
    for (const m of this.layers) {
      const next = m.call(h);
      if (h !== x) h.dispose();
      h = next;
    }
    return h === x ? alias(x) : h;
  }
}

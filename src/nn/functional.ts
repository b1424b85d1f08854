// Layer: nn. Stateless neural-network ops (the torch.nn.functional subset rankshield needs).
import { call1, type Tensor } from '../tensor/index.js';

/** A kernel/stride/padding size: one number for both dimensions or [h, w]. */
export type Pair = number | [number, number];

/** 2-D convolution (aten::conv2d). */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null, stride: Pair = 1, padding: Pair = 0, dilation: Pair = 1, groups = 1): Tensor {
  return call1('aten::conv2d', [x, weight, bias, stride, padding, dilation, groups]);
}

/** x·Wᵀ + b. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  return call1('aten::linear', [x, weight, bias]);
}

/** max(x, 0). */
export function relu(x: Tensor): Tensor {
  return call1('aten::relu', [x]);
}

/** 2-D max pooling. */
export function maxPool2d(x: Tensor, kernel: Pair, stride: Pair | null = null, padding: Pair = 0, dilation: Pair = 1, ceilMode = false): Tensor {
  return call1('aten::max_pool2d', [x, kernel, stride ?? kernel, padding, dilation, ceilMode]);
}

/** 2-D average pooling. */
export function avgPool2d(x: Tensor, kernel: Pair, stride: Pair | null = null, padding: Pair = 0, ceilMode = false, countIncludePad = true): Tensor {
  return call1('aten::avg_pool2d', [x, kernel, stride ?? kernel, padding, ceilMode, countIncludePad, null]);
}

/** 2-D average pooling to a fixed output size. */
export function adaptiveAvgPool2d(x: Tensor, outputSize: Pair): Tensor {
  return call1('aten::adaptive_avg_pool2d', [x, outputSize]);
}

/**
 * Batch normalisation. In training mode the running statistics are updated in
 * place by libtorch (momentum as in PyTorch: new = (1-m)·old + m·batch, unbiased var).
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null,
  bias: Tensor | null,
  training: boolean,
  momentum = 0.1,
  eps = 1e-5,
): Tensor {
  return call1('aten::batch_norm', [x, weight, bias, runningMean, runningVar, training, momentum, eps, false]);
}

/** Dropout with probability p when training, identity otherwise. */
export function dropout(x: Tensor, p: number, training: boolean): Tensor {
  return call1('aten::dropout', [x, p, training]);
}

// Layer: tensor. Tensor factories and global engine settings (threads, seed).
import { native } from './native.js';
import { call1, callList, Tensor, type Shape } from './tensor.js';
import { dtypeCode, type AnyTypedArray, type DType } from './dtype.js';

export interface FactoryOptions {
  dtype?: DType;
  device?: string;
}

function opts(o: FactoryOptions, dflt: DType = 'float32'): [number, null, string | null, null] {
  return [dtypeCode(o.dtype ?? dflt), null, o.device ?? null, null];
}

/** Nested number arrays flatten row-major; the shape is inferred unless given. */
export type NestedNumbers = number | readonly NestedNumbers[];

function inferShape(x: NestedNumbers): number[] {
  const shape: number[] = [];
  let cur: NestedNumbers = x;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0] as NestedNumbers;
  }
  return shape;
}

/** Builds a tensor from (nested) numbers or a typed array; default dtype float32. */
export function tensor(values: NestedNumbers | AnyTypedArray, shape?: Shape, dtype: DType = 'float32'): Tensor {
  if (ArrayBuffer.isView(values)) {
    return Tensor.fromTypedArray(values as AnyTypedArray, shape ?? [(values as AnyTypedArray).length], dtype);
  }
  const s = shape ?? inferShape(values);
  const flat = Array.isArray(values) ? ((values as NestedNumbers[]).flat(Infinity as 1) as number[]) : [values as number];
  const expected = s.reduce((a, b) => a * b, 1);
  if (flat.length !== expected) throw new Error(`tensor(): ${flat.length} values do not fill shape [${s.join(', ')}]`);
  for (const v of flat) {
    if (typeof v !== 'number') throw new Error('tensor(): ragged nested array');
  }
  let data: AnyTypedArray;
  switch (dtype) {
    case 'float64':
      data = Float64Array.from(flat);
      break;
    case 'int64':
      data = BigInt64Array.from(flat, (v) => BigInt(Math.trunc(v)));
      break;
    case 'int32':
      data = Int32Array.from(flat);
      break;
    case 'uint8':
    case 'bool':
      data = Uint8Array.from(flat);
      break;
    default: {
      const f = Float32Array.from(flat);
      if (dtype === 'float32') return Tensor.fromTypedArray(f, s, 'float32');
      const t = Tensor.fromTypedArray(f, s, 'float32');
      try {
        return t.to(dtype);
      } finally {
        t.dispose();
      }
    }
  }
  return Tensor.fromTypedArray(data, s, dtype);
}

export function zeros(shape: Shape, o: FactoryOptions = {}): Tensor {
  return call1('aten::zeros', [[...shape], ...opts(o)]);
}
export function ones(shape: Shape, o: FactoryOptions = {}): Tensor {
  return call1('aten::ones', [[...shape], ...opts(o)]);
}
export function full(shape: Shape, value: number, o: FactoryOptions = {}): Tensor {
  return call1('aten::full', [[...shape], value, ...opts(o)]);
}
export function empty(shape: Shape, o: FactoryOptions = {}): Tensor {
  return call1('aten::empty.memory_format', [[...shape], ...opts(o), null]);
}
export function zerosLike(t: Tensor): Tensor {
  return call1('aten::zeros_like', [t, null, null, null, null, null]);
}
export function onesLike(t: Tensor): Tensor {
  return call1('aten::ones_like', [t, null, null, null, null, null]);
}
/** Uniform [0,1). */
export function rand(shape: Shape, o: FactoryOptions = {}): Tensor {
  return call1('aten::rand', [[...shape], ...opts(o)]);
}
/** Standard normal. */
export function randn(shape: Shape, o: FactoryOptions = {}): Tensor {
  return call1('aten::randn', [[...shape], ...opts(o)]);
}
/** Integers uniform in [low, high). */
export function randint(low: number, high: number, shape: Shape, o: FactoryOptions = {}): Tensor {
  return call1('aten::randint.low', [low, high, [...shape], ...opts(o, 'int64')]);
}
export function randperm(n: number, o: FactoryOptions = {}): Tensor {
  return call1('aten::randperm', [n, ...opts(o, 'int64')]);
}
export function arange(start: number, end?: number, step = 1, o: FactoryOptions = {}): Tensor {
  const [s, e] = end === undefined ? [0, start] : [start, end];
  const integral = [s, e, step].every(Number.isInteger);
  return call1('aten::arange.start_step', [s, e, step, ...opts(o, integral ? 'int64' : 'float32')]);
}
export function eye(n: number, o: FactoryOptions = {}): Tensor {
  return call1('aten::eye', [n, ...opts(o)]);
}
export function linspace(start: number, end: number, steps: number, o: FactoryOptions = {}): Tensor {
  return call1('aten::linspace', [start, end, steps, ...opts(o)]);
}
/** Samples `n` indices from each row of non-negative weights. */
export function multinomial(weights: Tensor, n: number, replacement = false): Tensor {
  return call1('aten::multinomial', [weights, n, replacement, null]);
}

export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return call1('aten::cat', [tensors, dim]);
}
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return call1('aten::stack', [tensors, dim]);
}
export function where(condition: Tensor, a: Tensor, b: Tensor): Tensor {
  return call1('aten::where.self', [condition, a, b]);
}
export function meshgrid(tensors: readonly Tensor[]): Tensor[] {
  return callList('aten::meshgrid.indexing', [tensors, 'ij']);
}

// ------------------------------------------------------------------ engine settings

/** Intra-op threads of libtorch (and its OpenMP pool). The VM default is 1: set it. */
export function setNumThreads(n: number): void {
  native.setNumThreads(n);
}
export function getNumThreads(): number {
  return native.getNumThreads();
}
/** Seeds libtorch's default generator (rand, randn, randperm, dropout, init). */
export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`seed must be a non-negative integer, got ${seed}`);
  native.manualSeed(seed);
}
/**
 * A default generator's state (opaque bytes), for exact mid-epoch resumption: the CPU's, or with
 * `device` 'cuda:N' that device's (its seed and Philox offset), which random ops on CUDA tensors draw from.
 */
export function rngState(device: string = 'cpu'): Uint8Array {
  return native.rngState(device);
}
/** Restores a state from `rngState(device)`; a state of the wrong size is an error. */
export function setRngState(state: Uint8Array, device: string = 'cpu'): void {
  native.setRngState(state, device);
}
/** Waits until the work queued on `device` is done (a no-op for 'cpu'): for timing CUDA work. */
export function synchronize(device: string): void {
  native.synchronize(device);
}
export function cudaAvailable(): boolean {
  return native.cudaAvailable();
}
export function torchVersion(): string {
  return native.version();
}

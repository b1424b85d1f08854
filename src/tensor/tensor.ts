// Layer: tensor. The Tensor type: a JS handle to a libtorch tensor, with typed
// methods over the ONE generic operator call of the native bridge.
//
// Each method names an ATen operator by its schema name ("aten::add.Tensor");
// the op is resolved once in the dispatcher and cached by id. Autograd records
// through these calls exactly as it does in Python.
import { native, type NativeArg, type NativeResult } from './native.js';
import { track, untrack, type Disposable } from './scope.js';
import { dtypeCode, dtypeName, dtypeOfArray, type AnyTypedArray, type DType } from './dtype.js';

// ------------------------------------------------------------------ op table

const opIds = new Map<string, number>();

/** Resolves "aten::name.overload" (or "aten::name") to a cached dispatcher id. */
export function opId(qualified: string): number {
  let id = opIds.get(qualified);
  if (id === undefined) {
    const dot = qualified.indexOf('.', qualified.indexOf('::') + 2);
    const name = dot < 0 ? qualified : qualified.slice(0, dot);
    const overload = dot < 0 ? '' : qualified.slice(dot + 1);
    id = native.opLookup(name, overload);
    opIds.set(qualified, id);
  }
  return id;
}

/** An op argument on the JS side: tensors are passed as Tensor objects. */
export type OpArg = Tensor | number | boolean | string | null | undefined | readonly OpArg[];

function lower(a: OpArg): NativeArg {
  if (a instanceof Tensor) return a.handle;
  if (Array.isArray(a)) return a.map(lower);
  return a as NativeArg;
}

/** A value returned by `callOp`: tensors wrapped, the rest as JS values. */
export type OpResult = Tensor | number | boolean | string | null | OpResult[];

function lift(r: NativeResult, tensorReturn: boolean): OpResult {
  if (Array.isArray(r)) return r.map((x) => lift(x, tensorReturn));
  if (typeof r === 'number' && tensorReturn) return Tensor.fromHandle(r);
  return r;
}

/**
 * Calls any ATen operator by schema name. Escape hatch for ops without a typed
 * wrapper; `tensorsOut` says numeric results are tensor handles (default) or plain numbers.
 */
export function callOp(qualified: string, args: readonly OpArg[], tensorsOut = true): OpResult {
  return lift(native.call(opId(qualified), args.map(lower)), tensorsOut);
}

/** The common case: an op that returns exactly one tensor. */
export function call1(qualified: string, args: readonly OpArg[]): Tensor {
  const r = native.call(opId(qualified), args.map(lower));
  if (typeof r !== 'number') throw new Error(`${qualified}: expected one tensor result`);
  return Tensor.fromHandle(r);
}

/** An op returning two tensors (values, indices). */
export function call2(qualified: string, args: readonly OpArg[]): [Tensor, Tensor] {
  const r = native.call(opId(qualified), args.map(lower));
  if (!Array.isArray(r) || r.length !== 2) throw new Error(`${qualified}: expected two tensor results`);
  return [Tensor.fromHandle(r[0] as number), Tensor.fromHandle(r[1] as number)];
}

/** An op returning a list of tensors. */
export function callList(qualified: string, args: readonly OpArg[]): Tensor[] {
  const r = native.call(opId(qualified), args.map(lower));
  if (!Array.isArray(r)) throw new Error(`${qualified}: expected a tensor list`);
  return r.map((h) => Tensor.fromHandle(h as number));
}

/** In-place ops return an alias of `self`; free that extra handle at once. */
function callInPlace(qualified: string, args: readonly OpArg[]): void {
  const r = native.call(opId(qualified), args.map(lower));
  if (typeof r === 'number') native.dispose(r);
}

// Finalizers are a safety net only (they run when the event loop turns, which a
// training loop may not let happen); correct code disposes through tidy().
const finalizer = new FinalizationRegistry<number>((h) => {
  try {
    native.dispose(h);
  } catch {
    /* already gone */
  }
});

export type Shape = readonly number[];
export type ScalarOrTensor = Tensor | number;

/** A libtorch tensor held by handle. Free it with `dispose()` or inside `tidy`; every op returns a new Tensor. */
export class Tensor implements Disposable {
  #h: number;
  #shape: number[] | undefined;

  private constructor(handle: number) {
    this.#h = handle;
    track(this);
    finalizer.register(this, handle, this);
  }

  /** Wraps a native handle (takes ownership). */
  static fromHandle(handle: number): Tensor {
    return new Tensor(handle);
  }

  /** Copies a typed array into a new tensor of the given shape. */
  static fromTypedArray(data: AnyTypedArray, shape: Shape, dtype?: DType): Tensor {
    const d = dtype ?? dtypeOfArray(data);
    return new Tensor(native.fromData(data, [...shape], dtypeCode(d)));
  }

  get handle(): number {
    if (this.#h < 0) throw new Error('tensor used after dispose()');
    return this.#h;
  }

  get isDisposed(): boolean {
    return this.#h < 0;
  }

  dispose(): void {
    if (this.#h < 0) return;
    finalizer.unregister(this);
    native.dispose(this.#h);
    this.#h = -1;
    untrack(this);
  }

  // ---------------------------------------------------------------- metadata

  get shape(): number[] {
    if (this.#shape === undefined) this.#shape = native.meta(this.handle)[0];
    return this.#shape;
  }
  get ndim(): number {
    return this.shape.length;
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  get dtype(): DType {
    return dtypeName(native.meta(this.handle)[1]);
  }
  get device(): string {
    return native.meta(this.handle)[2];
  }
  size(dim: number): number {
    const s = this.shape;
    const d = dim < 0 ? dim + s.length : dim;
    if (d < 0 || d >= s.length) throw new Error(`dimension ${dim} out of range for shape [${s.join(', ')}]`);
    return s[d]!;
  }

  // ---------------------------------------------------------------- data out

  /** Copy of the values as a typed array (int64 as BigInt64Array). */
  data(): AnyTypedArray {
    return native.toData(this.handle);
  }
  /** Values as plain numbers (flattened, row-major). */
  toArray(): number[] {
    const d = this.data();
    if (d instanceof BigInt64Array) return Array.from(d, (x) => Number(x));
    return Array.from(d as ArrayLike<number>);
  }
  toFloat32Array(): Float32Array {
    const d = this.dtype === 'float32' ? this.data() : null;
    if (d instanceof Float32Array) return d;
    const t = this.to('float32');
    try {
      return t.data() as Float32Array;
    } finally {
      t.dispose();
    }
  }
  item(): number {
    return native.item(this.handle);
  }
  toString(): string {
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device})`;
  }

  // ---------------------------------------------------------------- autograd

  get requiresGrad(): boolean {
    return native.meta(this.handle)[3];
  }
  /** Sets requires_grad in place and returns this (like PyTorch's requires_grad_). */
  requiresGrad_(on = true): this {
    native.setRequiresGrad(this.handle, on);
    return this;
  }
  /** The accumulated gradient (a new handle to it), or null. */
  get grad(): Tensor | null {
    const g = native.gradOf(this.handle);
    return g === null ? null : new Tensor(g);
  }
  set grad(g: Tensor | null) {
    native.setGrad(this.handle, g === null ? null : g.handle);
  }
  backward(gradOutput?: Tensor, opts: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    native.backward([this.handle], gradOutput ? [gradOutput.handle] : null, opts.retainGraph ?? null, opts.createGraph ?? false);
  }
  detach(): Tensor {
    return call1('aten::detach', [this]);
  }

  // ---------------------------------------------------------------- conversion

  /** This tensor takes `source`'s data (any device, any size), keeping its identity (PyTorch's `t.data = source`). */
  setData_(source: Tensor): this {
    native.setData(this.handle, source.handle);
    return this;
  }
  /** A copy as `target` dtype or on `target` device; `nonBlocking` lets a copy from pinned host memory run asynchronously (as in PyTorch). */
  to(target: DType | string, opts: { nonBlocking?: boolean } = {}): Tensor {
    const nonBlocking = opts.nonBlocking ?? false;
    if (isDType(target)) return call1('aten::to.dtype', [this, dtypeCode(target), nonBlocking, false, null]);
    return call1('aten::to.device', [this, target, this.dtypeCodeNow(), nonBlocking, false, null]);
  }
  /** A copy of this CPU tensor in page-locked (pinned) host memory, which a CUDA device can read asynchronously. Needs a CUDA build. */
  pinMemory(): Tensor {
    return call1('aten::pin_memory', [this, null]);
  }
  float(): Tensor {
    return this.to('float32');
  }
  double(): Tensor {
    return this.to('float64');
  }
  long(): Tensor {
    return this.to('int64');
  }
  clone(): Tensor {
    return call1('aten::clone', [this, null]);
  }
  contiguous(): Tensor {
    return call1('aten::contiguous', [this]);
  }
  private dtypeCodeNow(): number {
    return native.meta(this.handle)[1];
  }

  // ---------------------------------------------------------------- elementwise

  add(o: ScalarOrTensor, alpha = 1): Tensor {
    return o instanceof Tensor ? call1('aten::add.Tensor', [this, o, alpha]) : call1('aten::add.Scalar', [this, o, alpha]);
  }
  sub(o: ScalarOrTensor, alpha = 1): Tensor {
    return o instanceof Tensor ? call1('aten::sub.Tensor', [this, o, alpha]) : call1('aten::sub.Scalar', [this, o, alpha]);
  }
  mul(o: ScalarOrTensor): Tensor {
    return o instanceof Tensor ? call1('aten::mul.Tensor', [this, o]) : call1('aten::mul.Scalar', [this, o]);
  }
  div(o: ScalarOrTensor): Tensor {
    return o instanceof Tensor ? call1('aten::div.Tensor', [this, o]) : call1('aten::div.Scalar', [this, o]);
  }
  pow(o: ScalarOrTensor): Tensor {
    return o instanceof Tensor ? call1('aten::pow.Tensor_Tensor', [this, o]) : call1('aten::pow.Tensor_Scalar', [this, o]);
  }
  /** Reverse subtraction: `o - this`. */
  rsub(o: number): Tensor {
    return call1('aten::rsub.Scalar', [this, o, 1]);
  }
  maximum(o: Tensor): Tensor {
    return call1('aten::maximum', [this, o]);
  }
  minimum(o: Tensor): Tensor {
    return call1('aten::minimum', [this, o]);
  }
  neg(): Tensor {
    return call1('aten::neg', [this]);
  }
  abs(): Tensor {
    return call1('aten::abs', [this]);
  }
  exp(): Tensor {
    return call1('aten::exp', [this]);
  }
  log(): Tensor {
    return call1('aten::log', [this]);
  }
  log1p(): Tensor {
    return call1('aten::log1p', [this]);
  }
  sqrt(): Tensor {
    return call1('aten::sqrt', [this]);
  }
  rsqrt(): Tensor {
    return call1('aten::rsqrt', [this]);
  }
  square(): Tensor {
    return call1('aten::square', [this]);
  }
  reciprocal(): Tensor {
    return call1('aten::reciprocal', [this]);
  }
  sin(): Tensor {
    return call1('aten::sin', [this]);
  }
  cos(): Tensor {
    return call1('aten::cos', [this]);
  }
  tanh(): Tensor {
    return call1('aten::tanh', [this]);
  }
  sigmoid(): Tensor {
    return call1('aten::sigmoid', [this]);
  }
  relu(): Tensor {
    return call1('aten::relu', [this]);
  }
  sign(): Tensor {
    return call1('aten::sign', [this]);
  }
  floor(): Tensor {
    return call1('aten::floor', [this]);
  }
  ceil(): Tensor {
    return call1('aten::ceil', [this]);
  }
  round(): Tensor {
    return call1('aten::round', [this]);
  }
  clamp(min: number | null, max: number | null = null): Tensor {
    return call1('aten::clamp', [this, min, max]);
  }
  /** Elementwise clamp between two tensors (either may be null). */
  clampTensor(min: Tensor | null, max: Tensor | null): Tensor {
    return call1('aten::clamp.Tensor', [this, min, max]);
  }
  clampMin(min: number): Tensor {
    return call1('aten::clamp_min', [this, min]);
  }
  clampMax(max: number): Tensor {
    return call1('aten::clamp_max', [this, max]);
  }
  nanToNum(nan = 0, posinf: number | null = null, neginf: number | null = null): Tensor {
    return call1('aten::nan_to_num', [this, nan, posinf, neginf]);
  }
  isnan(): Tensor {
    return call1('aten::isnan', [this]);
  }
  isfinite(): Tensor {
    return call1('aten::isfinite', [this]);
  }

  // ---------------------------------------------------------------- comparison / logic

  eq(o: ScalarOrTensor): Tensor {
    return o instanceof Tensor ? call1('aten::eq.Tensor', [this, o]) : call1('aten::eq.Scalar', [this, o]);
  }
  ne(o: ScalarOrTensor): Tensor {
    return o instanceof Tensor ? call1('aten::ne.Tensor', [this, o]) : call1('aten::ne.Scalar', [this, o]);
  }
  lt(o: ScalarOrTensor): Tensor {
    return o instanceof Tensor ? call1('aten::lt.Tensor', [this, o]) : call1('aten::lt.Scalar', [this, o]);
  }
  le(o: ScalarOrTensor): Tensor {
    return o instanceof Tensor ? call1('aten::le.Tensor', [this, o]) : call1('aten::le.Scalar', [this, o]);
  }
  gt(o: ScalarOrTensor): Tensor {
    return o instanceof Tensor ? call1('aten::gt.Tensor', [this, o]) : call1('aten::gt.Scalar', [this, o]);
  }
  ge(o: ScalarOrTensor): Tensor {
    return o instanceof Tensor ? call1('aten::ge.Tensor', [this, o]) : call1('aten::ge.Scalar', [this, o]);
  }
  logicalAnd(o: Tensor): Tensor {
    return call1('aten::logical_and', [this, o]);
  }
  logicalOr(o: Tensor): Tensor {
    return call1('aten::logical_or', [this, o]);
  }
  logicalNot(): Tensor {
    return call1('aten::logical_not', [this]);
  }
  /** Replaces entries where `mask` is true by `value`. */
  maskedFill(mask: Tensor, value: number): Tensor {
    return call1('aten::masked_fill.Scalar', [this, mask, value]);
  }
  maskedSelect(mask: Tensor): Tensor {
    return call1('aten::masked_select', [this, mask]);
  }
  any(): Tensor {
    return call1('aten::any', [this]);
  }
  all(): Tensor {
    return call1('aten::all', [this]);
  }
  nonzero(): Tensor {
    return call1('aten::nonzero', [this]);
  }

  // ---------------------------------------------------------------- reductions

  sum(dim?: number | number[], keepdim = false): Tensor {
    return dim === undefined ? call1('aten::sum', [this, null]) : call1('aten::sum.dim_IntList', [this, dim, keepdim, null]);
  }
  mean(dim?: number | number[], keepdim = false): Tensor {
    return dim === undefined ? call1('aten::mean', [this, null]) : call1('aten::mean.dim', [this, dim, keepdim, null]);
  }
  /** Variance (unbiased by default, like PyTorch). */
  var(dim?: number | number[], unbiased = true, keepdim = false): Tensor {
    return dim === undefined ? call1('aten::var', [this, unbiased]) : call1('aten::var.dim', [this, dim, unbiased, keepdim]);
  }
  max(): Tensor {
    return call1('aten::max', [this]);
  }
  min(): Tensor {
    return call1('aten::min', [this]);
  }
  /** [values, indices] along `dim`. */
  maxDim(dim: number, keepdim = false): [Tensor, Tensor] {
    return call2('aten::max.dim', [this, dim, keepdim]);
  }
  minDim(dim: number, keepdim = false): [Tensor, Tensor] {
    return call2('aten::min.dim', [this, dim, keepdim]);
  }
  amax(dim: number | number[], keepdim = false): Tensor {
    return call1('aten::amax', [this, dim, keepdim]);
  }
  amin(dim: number | number[], keepdim = false): Tensor {
    return call1('aten::amin', [this, dim, keepdim]);
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return call1('aten::argmax', [this, dim ?? null, keepdim]);
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return call1('aten::argmin', [this, dim ?? null, keepdim]);
  }
  logsumexp(dim: number | number[], keepdim = false): Tensor {
    return call1('aten::logsumexp', [this, dim, keepdim]);
  }
  /** Vector p-norm over `dim` (all elements when omitted). */
  norm(p = 2, dim?: number | number[], keepdim = false): Tensor {
    return call1('aten::linalg_vector_norm', [this, p, dim ?? null, keepdim, null]);
  }
  cumsum(dim: number): Tensor {
    return call1('aten::cumsum', [this, dim, null]);
  }

  // ---------------------------------------------------------------- shape

  view(...shape: number[]): Tensor {
    return call1('aten::view', [this, shape]);
  }
  reshape(...shape: number[]): Tensor {
    return call1('aten::reshape', [this, shape]);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return call1('aten::flatten.using_ints', [this, startDim, endDim]);
  }
  permute(...dims: number[]): Tensor {
    return call1('aten::permute', [this, dims]);
  }
  transpose(dim0: number, dim1: number): Tensor {
    return call1('aten::transpose.int', [this, dim0, dim1]);
  }
  /** Matrix transpose of a 2-D tensor. */
  t(): Tensor {
    return call1('aten::t', [this]);
  }
  unsqueeze(dim: number): Tensor {
    return call1('aten::unsqueeze', [this, dim]);
  }
  squeeze(dim?: number): Tensor {
    return dim === undefined ? call1('aten::squeeze', [this]) : call1('aten::squeeze.dim', [this, dim]);
  }
  expand(...shape: number[]): Tensor {
    return call1('aten::expand', [this, shape, false]);
  }
  repeat(...times: number[]): Tensor {
    return call1('aten::repeat', [this, times]);
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return call1('aten::narrow', [this, dim, start, length]);
  }
  /** Python's x[start:end:step] along `dim`. */
  slice(dim: number, start: number | null, end: number | null, step = 1): Tensor {
    return call1('aten::slice.Tensor', [this, dim, start, end, step]);
  }
  select(dim: number, index: number): Tensor {
    return call1('aten::select.int', [this, dim, index]);
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return callList('aten::chunk', [this, chunks, dim]);
  }
  split(size: number, dim = 0): Tensor[] {
    return callList('aten::split.Tensor', [this, size, dim]);
  }

  // ---------------------------------------------------------------- indexing

  indexSelect(dim: number, index: Tensor): Tensor {
    return call1('aten::index_select', [this, dim, index]);
  }
  gather(dim: number, index: Tensor): Tensor {
    return call1('aten::gather', [this, dim, index, false]);
  }
  /** Advanced indexing: `indices[k]` indexes dimension k (null keeps it whole). */
  index(indices: (Tensor | null)[]): Tensor {
    return call1('aten::index.Tensor', [this, indices]);
  }
  scatter(dim: number, index: Tensor, src: ScalarOrTensor): Tensor {
    return src instanceof Tensor ? call1('aten::scatter.src', [this, dim, index, src]) : call1('aten::scatter.value', [this, dim, index, src]);
  }
  /** [values, indices] of the k largest (or smallest) entries along `dim`. */
  topk(k: number, dim = -1, largest = true, sorted = true): [Tensor, Tensor] {
    return call2('aten::topk', [this, k, dim, largest, sorted]);
  }
  /** Stable sort: [values, indices]. */
  sort(dim = -1, descending = false): [Tensor, Tensor] {
    return call2('aten::sort.stable', [this, true, dim, descending]);
  }
  argsort(dim = -1, descending = false): Tensor {
    const [v, i] = this.sort(dim, descending);
    v.dispose();
    return i;
  }

  // ---------------------------------------------------------------- linear algebra & nn helpers

  matmul(o: Tensor): Tensor {
    return call1('aten::matmul', [this, o]);
  }
  mm(o: Tensor): Tensor {
    return call1('aten::mm', [this, o]);
  }
  softmax(dim: number): Tensor {
    return call1('aten::softmax.int', [this, dim, null]);
  }
  logSoftmax(dim: number): Tensor {
    return call1('aten::log_softmax.int', [this, dim, null]);
  }

  // ---------------------------------------------------------------- in place (optimizers, init)

  add_(o: ScalarOrTensor, alpha = 1): this {
    if (o instanceof Tensor) callInPlace('aten::add_.Tensor', [this, o, alpha]);
    else callInPlace('aten::add_.Scalar', [this, o, alpha]);
    return this;
  }
  mul_(o: ScalarOrTensor): this {
    if (o instanceof Tensor) callInPlace('aten::mul_.Tensor', [this, o]);
    else callInPlace('aten::mul_.Scalar', [this, o]);
    return this;
  }
  div_(o: ScalarOrTensor): this {
    if (o instanceof Tensor) callInPlace('aten::div_.Tensor', [this, o]);
    else callInPlace('aten::div_.Scalar', [this, o]);
    return this;
  }
  /** this += value * a * b */
  addcmul_(a: Tensor, b: Tensor, value = 1): this {
    callInPlace('aten::addcmul_', [this, a, b, value]);
    return this;
  }
  /** this += value * a / b */
  addcdiv_(a: Tensor, b: Tensor, value = 1): this {
    callInPlace('aten::addcdiv_', [this, a, b, value]);
    return this;
  }
  copy_(src: Tensor): this {
    callInPlace('aten::copy_', [this, src, false]);
    return this;
  }
  zero_(): this {
    callInPlace('aten::zero_', [this]);
    return this;
  }
  fill_(value: number): this {
    callInPlace('aten::fill_.Scalar', [this, value]);
    return this;
  }
  clamp_(min: number | null, max: number | null = null): this {
    callInPlace('aten::clamp_', [this, min, max]);
    return this;
  }
  uniform_(from = 0, to = 1): this {
    callInPlace('aten::uniform_', [this, from, to, null]);
    return this;
  }
  normal_(mean = 0, std = 1): this {
    callInPlace('aten::normal_', [this, mean, std, null]);
    return this;
  }
}

function isDType(s: string): s is DType {
  return ['uint8', 'int8', 'int16', 'int32', 'int64', 'float16', 'float32', 'float64', 'bool', 'bfloat16'].includes(s);
}

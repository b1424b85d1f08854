// Layer: tensor. Memory scopes.
//
// Tensors are freed explicitly: waiting for V8's garbage collector does not work
// in synchronous training loops (finalizers only run when the event loop turns).
// A `tidy` scope records every tensor created inside it and frees all of them on
// exit except what the function returns or explicitly `keep`s.
import { native } from './native.js';

/** Anything that owns a libtorch handle. */
export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
}

const scopes: Set<Disposable>[] = [];

/** Called by every Tensor constructor. */
export function track(t: Disposable): void {
  const top = scopes[scopes.length - 1];
  if (top !== undefined) top.add(t);
}

/** Removes `t` from the innermost scope that tracks it, so it outlives the scope. */
export function untrack(t: Disposable): void {
  for (let i = scopes.length - 1; i >= 0; i--) {
    if (scopes[i]!.delete(t)) return;
  }
}

/** Collects the disposables inside a (possibly nested) return value. */
function collect(value: unknown, out: Set<Disposable>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 4) return;
  if (typeof (value as Disposable).dispose === 'function' && 'isDisposed' in (value as object)) {
    out.add(value as Disposable);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, out, depth + 1);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value as Record<string, unknown>)) collect(v, out, depth + 1);
  }
}

/**
 * Runs `fn` and frees every tensor it created, except those in its return value
 * (a tensor, or arrays / plain objects of tensors), which move to the enclosing scope.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope) if (!t.isDisposed) t.dispose();
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) throw new Error('tidy() takes a synchronous function; use tidyAsync for promises');
  const keep = new Set<Disposable>();
  collect(result, keep);
  for (const t of scope) {
    if (keep.has(t)) continue;
    if (!t.isDisposed) t.dispose();
  }
  const parent = scopes[scopes.length - 1];
  if (parent !== undefined) for (const t of keep) if (scope.has(t)) parent.add(t);
  return result;
}

/** Marks tensors to survive every enclosing tidy scope; the caller now owns them. */
export function keep<T extends Disposable | Disposable[]>(t: T): T {
  if (Array.isArray(t)) for (const x of t) untrack(x);
  else untrack(t);
  return t;
}

/** Disposes every disposable found in a value (tensor, array, plain object). */
export function dispose(value: unknown): void {
  const all = new Set<Disposable>();
  collect(value, all);
  for (const t of all) if (!t.isDisposed) t.dispose();
}

/** Runs `fn` with autograd recording off (like `torch.no_grad()`). */
export function noGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(false);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

/** Runs `fn` with autograd recording on, even inside a noGrad block. */
export function enableGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(true);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

/** Number of live tensors held by the native table (for leak tests). */
export function liveTensors(): number {
  return native.liveCount();
}

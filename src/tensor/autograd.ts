// Layer: tensor. Functional autograd (torch.autograd.grad / backward).
import { native } from './native.js';
import { Tensor } from './tensor.js';

export interface GradOptions {
  /** Gradients of the outputs (default: ones for scalar outputs). */
  gradOutputs?: readonly Tensor[];
  /** Keep the graph for another backward pass (default: same as createGraph). */
  retainGraph?: boolean;
  /** Record the gradient computation itself, for higher-order derivatives. */
  createGraph?: boolean;
  /** Return null for inputs the outputs do not depend on instead of throwing. */
  allowUnused?: boolean;
}

/** d(sum of outputs)/d(inputs), without touching `.grad` fields. */
export function grad(outputs: Tensor | readonly Tensor[], inputs: readonly Tensor[], o: GradOptions = {}): (Tensor | null)[] {
  const outs = Array.isArray(outputs) ? outputs : [outputs as Tensor];
  const hs = native.grad(
    outs.map((t) => t.handle),
    inputs.map((t) => t.handle),
    o.gradOutputs ? o.gradOutputs.map((t) => t.handle) : null,
    o.retainGraph ?? null,
    o.createGraph ?? false,
    o.allowUnused ?? false,
  );
  return hs.map((h) => (h === null ? null : Tensor.fromHandle(h)));
}

/** Gradient of a scalar w.r.t. one input (the common attack case). */
export function gradOf(output: Tensor, input: Tensor, o: GradOptions = {}): Tensor {
  const [g] = grad(output, [input], o);
  if (!g) throw new Error('gradOf: the output does not depend on the input');
  return g;
}

/** Accumulates gradients into `.grad` of the leaves (like loss.backward()). */
export function backward(outputs: Tensor | readonly Tensor[], o: Omit<GradOptions, 'allowUnused'> = {}): void {
  const outs = Array.isArray(outputs) ? outputs : [outputs as Tensor];
  native.backward(
    outs.map((t) => t.handle),
    o.gradOutputs ? o.gradOutputs.map((t) => t.handle) : null,
    o.retainGraph ?? null,
    o.createGraph ?? false,
  );
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}

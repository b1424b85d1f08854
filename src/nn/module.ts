// Layer: nn. Module: a tree of named parameters, buffers and sub-modules with
// PyTorch's naming ("features.0.weight"), train/eval switching and state dicts,
// so a checkpoint written here loads with torch's `load_state_dict` and back.
import { isFloating, keep, noGrad, type Device, type Tensor } from '../tensor/index.js';

/** Tensors by PyTorch state-dict name (`conv1.weight`, `layer1.0.bn1.running_mean`, …). */
export type StateDict = Map<string, Tensor>;

/** Options of `Module.loadStateDict`. */
export interface LoadStateDictOptions {
  /** Fail on missing or unexpected keys (PyTorch's default). */
  strict?: boolean;
}

/** Base of every layer and model: parameters, buffers and children with PyTorch's state-dict names, train/eval mode, dispose. */
export abstract class Module {
  #training = true;
  readonly #params = new Map<string, Tensor>();
  readonly #buffers = new Map<string, Tensor>();
  readonly #children = new Map<string, Module>();

  abstract forward(x: Tensor): Tensor;

  /** Calls forward (kept separate so subclasses can add hooks later). */
  call(x: Tensor): Tensor {
    return this.forward(x);
  }

  // ---------------------------------------------------------------- registration

  /** Registers a trainable tensor; it becomes a leaf that requires grad and outlives tidy scopes. */
  protected registerParameter(name: string, t: Tensor): Tensor {
    keep(t);
    if (!t.requiresGrad) t.requiresGrad_(true);
    this.#params.set(name, t);
    return t;
  }

  /** Registers persistent state that is not trained (running statistics). */
  protected registerBuffer(name: string, t: Tensor): Tensor {
    keep(t);
    this.#buffers.set(name, t);
    return t;
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    this.#children.set(name, m);
    return m;
  }

  protected param(name: string): Tensor {
    const t = this.#params.get(name);
    if (t === undefined) throw new Error(`${this.constructor.name} has no parameter '${name}'`);
    return t;
  }

  protected buffer(name: string): Tensor {
    const t = this.#buffers.get(name);
    if (t === undefined) throw new Error(`${this.constructor.name} has no buffer '${name}'`);
    return t;
  }

  // ---------------------------------------------------------------- traversal

  namedChildren(): [string, Module][] {
    return [...this.#children];
  }

  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [n, m] of this.#children) yield* m.namedModules(prefix ? `${prefix}.${n}` : n);
  }

  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [p, m] of this.namedModules(prefix)) {
      for (const [n, t] of m.#params) out.push([p ? `${p}.${n}` : n, t]);
    }
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [p, m] of this.namedModules(prefix)) {
      for (const [n, t] of m.#buffers) out.push([p ? `${p}.${n}` : n, t]);
    }
    return out;
  }

  /** Total number of trainable scalars. */
  parameterCount(): number {
    return this.parameters().reduce((s, t) => s + t.numel, 0);
  }

  // ---------------------------------------------------------------- modes

  get training(): boolean {
    return this.#training;
  }

  /**
   * Moves every parameter and buffer to `device` in place (their identities are
   * kept, so layers and optimizers holding them follow); `moveExtra` lets a
   * module move tensors it keeps outside the state dict (ResNet's input normalisation).
   */
  to(device: Device): this {
    noGrad(() => {
      for (const [, t] of [...this.namedParameters(), ...this.namedBuffers()]) {
        if (t.device === device) continue;
        const moved = t.to(device);
        t.setData_(moved);
        moved.dispose();
      }
    });
    for (const [, m] of this.namedModules()) m.moveExtra(device);
    return this;
  }

  /** The device of the module's first parameter ('cpu' for a module without parameters). */
  get device(): Device {
    const first = this.parameters()[0];
    return first === undefined ? 'cpu' : (first.device as Device);
  }

  /** Tensors a module keeps beside its state dict follow `to(device)` here. */
  protected moveExtra(_device: Device): void {}

  train(on = true): this {
    for (const [, m] of this.namedModules()) m.#training = on;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Clears accumulated gradients (set to none, like PyTorch >= 2.0). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  // ---------------------------------------------------------------- state dict

  /**
   * Parameters and buffers by PyTorch name, in registration order. The tensors
   * are the live ones (not copies), as in PyTorch: do not dispose them.
   */
  stateDict(): StateDict {
    const sd: StateDict = new Map();
    for (const [p, m] of this.namedModules()) {
      for (const [n, t] of m.#params) sd.set(p ? `${p}.${n}` : n, t);
      for (const [n, t] of m.#buffers) sd.set(p ? `${p}.${n}` : n, t);
    }
    return sd;
  }

  /** Copies values in place (shapes must match; dtypes are converted). */
  loadStateDict(sd: ReadonlyMap<string, Tensor>, opts: LoadStateDictOptions = {}): { missing: string[]; unexpected: string[] } {
    const strict = opts.strict ?? true;
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !sd.has(k));
    const unexpected = [...sd.keys()].filter((k) => !own.has(k));
    if (strict && (missing.length > 0 || unexpected.length > 0)) {
      const parts: string[] = [];
      if (missing.length) parts.push(`missing keys: ${missing.join(', ')}`);
      if (unexpected.length) parts.push(`unexpected keys: ${unexpected.join(', ')}`);
      throw new Error(`loadStateDict(${this.constructor.name}): ${parts.join('; ')}`);
    }
    const mismatched: string[] = [];
    for (const [k, t] of own) {
      const src = sd.get(k);
      if (src === undefined) continue;
      if (src.shape.join(',') !== t.shape.join(',')) mismatched.push(`${k}: expected [${t.shape}] got [${src.shape}]`);
      // Floating ↔ integer would be converted silently by copy_: a file whose
      // dtype was changed (float32 bytes labelled int32) must not load as numbers.
      else if (isFloating(src.dtype) !== isFloating(t.dtype)) mismatched.push(`${k}: expected ${t.dtype} got ${src.dtype}`);
    }
    if (mismatched.length) throw new Error(`loadStateDict(${this.constructor.name}): shape or dtype mismatch: ${mismatched.join('; ')}`);
    noGrad(() => {
      for (const [k, t] of own) {
        const src = sd.get(k);
        if (src !== undefined) t.copy_(src);
      }
    });
    return { missing, unexpected };
  }

  /** Frees every parameter and buffer of the tree. The module is unusable afterwards. */
  dispose(): void {
    for (const [, m] of this.namedModules()) {
      for (const t of m.#params.values()) t.dispose();
      for (const t of m.#buffers.values()) t.dispose();
    }
  }
}

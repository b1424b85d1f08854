// Layer: tensor. A TorchScript module (torch.jit.save of a trace or script) held
// by the native bridge: its methods run through libtorch's graph executor with
// autograd, and its parameters and buffers are tensors of our handle table that
// alias the module's own, so an in-place update (optimizer step, loadStateDict,
// a device move by set_data) is what the module computes with next.
import { native, type NativeArg } from './native.js';
import { Tensor, type OpArg } from './tensor.js';
import { keep } from './scope.js';

export class ScriptModule {
  #id: number;

  private constructor(id: number) {
    this.#id = id;
  }

  /**
   * Loads a TorchScript archive (the bytes of a torch.jit.save file) onto the CPU. libtorch's own
   * reader parses it; callers taking files from elsewhere check the archive first (models/scripted.ts).
   */
  static load(archive: Uint8Array): ScriptModule {
    return new ScriptModule(native.scripted('load', archive));
  }

  get #handle(): number {
    if (this.#id < 0) throw new Error('scripted module used after dispose()');
    return this.#id;
  }

  /**
   * Calls a method (default `forward`) with tensor or scalar arguments. The bridge refuses a method
   * whose result is not a tensor or a tuple of tensors; each result is a new tensor.
   */
  call(args: readonly OpArg[], method = 'forward'): Tensor | Tensor[] {
    const lower = (a: OpArg): NativeArg => (a instanceof Tensor ? a.handle : Array.isArray(a) ? a.map(lower) : (a as NativeArg));
    const r = native.scripted('call', this.#handle, method, args.map(lower));
    if (typeof r === 'number') return Tensor.fromHandle(r);
    if (Array.isArray(r)) return r.map((h) => Tensor.fromHandle(h as number));
    throw new Error(`scripted ${method}: unexpected result ${String(r)}`);
  }

  /** Named parameters (recursive, PyTorch's names), as long-lived aliases of the module's tensors. */
  namedParameters(): [string, Tensor][] {
    return native.scripted('parameters', this.#handle).map(([n, h]) => [n, keep(Tensor.fromHandle(h))]);
  }

  /** Named buffers (recursive), as long-lived aliases. */
  namedBuffers(): [string, Tensor][] {
    return native.scripted('buffers', this.#handle).map(([n, h]) => [n, keep(Tensor.fromHandle(h))]);
  }

  train(on: boolean): void {
    native.scripted('train', this.#handle, on);
  }

  get training(): boolean {
    return native.scripted('training', this.#handle);
  }

  /** The torch.jit.save archive of the module with its current parameter values (PyTorch reads it with torch.jit.load). */
  save(): Uint8Array {
    return native.scripted('save', this.#handle);
  }

  get isDisposed(): boolean {
    return this.#id < 0;
  }

  dispose(): void {
    if (this.#id < 0) return;
    native.scripted('free', this.#id);
    this.#id = -1;
  }
}

// Layer: models. A user's TorchScript embedding model (torch.jit.save of a
// trace or a script) as an EmbeddingModel: attacks, defenses, evaluation and the
// trainer use it exactly as they use c2f2 or a ResNet.
//
// The module maps N×C×H×W in [0, 1] to N×D (normalisation inside, as RobRank's
// networks do). Its forward runs in libtorch's graph executor with autograd, so
// input gradients flow through the scripted graph; its parameters and buffers
// are registered here under the module's own names as aliases of its tensors,
// so optimizer steps, loadStateDict and device moves reach the scripted graph.
//
// Files from elsewhere: the archive is read once into memory and checked with
// our bounded zip reader (declared sizes, CRC of every entry, the TorchScript
// layout) before libtorch parses those same bytes; a probe forward then checks
// the output is a finite N×D tensor. Every failure is an Error naming the file.
import { readFileSync } from 'node:fs';
import { linspace, noGrad, ScriptModule, tidy, type Tensor } from '../tensor/index.js';
import { Module } from '../nn/index.js';
import { ZipArchive } from '../io/zip.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import type { EmbeddingModel } from './model.js';
import { defineModel } from './entry.js';

/** Checks that `bytes` is a TorchScript archive; throws an error that says what the file is instead. */
export function checkTorchScriptArchive(bytes: Uint8Array, file: string): void {
  const pk = bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b;
  if (!pk) {
    // Protocol-2 pickles start with 0x80 0x02; torch.save's legacy format begins with such a magic-number pickle.
    const legacy = bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] >= 2 && bytes[1] <= 5;
    throw new Error(
      legacy
        ? `${file}: a legacy (non-zip) torch.save file, not a TorchScript archive — export the model with torch.jit.trace(model, example).save(FILE)`
        : `${file}: not a TorchScript archive (not a zip file) — export the model with torch.jit.trace(model, example).save(FILE)`,
    );
  }
  let zip: ZipArchive;
  try {
    zip = new ZipArchive(bytes, file);
    for (const name of zip.names) zip.read(name); // sizes and CRC-32 of every entry, before libtorch sees them
  } catch (e) {
    throw new Error(`not a valid TorchScript archive: ${(e as Error).message}`);
  }
  const roots = zip.names.filter((n) => /^[^/]+\/data\.pkl$/.test(n)).map((n) => n.slice(0, -'data.pkl'.length));
  if (roots.length !== 1) throw new Error(`${file}: not a TorchScript archive (expected one <archive>/data.pkl, found ${roots.length})`);
  const root = roots[0]!;
  if (!zip.has(`${root}constants.pkl`) || !zip.names.some((n) => n.startsWith(`${root}code/`))) {
    throw new Error(
      `${file}: a torch.save archive (a state dict or a pickled object), not a TorchScript module — export the model with torch.jit.trace(model, example).save(FILE)`,
    );
  }
}

/** A TorchScript embedding model (see the module comment). */
export class ScriptedModel extends Module implements EmbeddingModel {
  readonly kind = 'torchscript';
  readonly embeddingDim: number;
  readonly inputShape: [number, number, number];
  readonly #module: ScriptModule;

  private constructor(
    module: ScriptModule,
    inputShape: [number, number, number],
    readonly source: string,
  ) {
    super();
    this.#module = module;
    this.inputShape = inputShape;
    for (const [name, t] of module.namedParameters()) this.registerParameter(name, t);
    for (const [name, t] of module.namedBuffers()) this.registerBuffer(name, t);
    this.train(module.training);
    this.embeddingDim = this.#probe();
  }

  /** Loads and checks `file` for inputs of `inputShape` ([C, H, W]). */
  static load(file: string, inputShape: [number, number, number]): ScriptedModel {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      throw new Error(`cannot read ${file}: ${(e as Error).message}`);
    }
    return ScriptedModel.fromBytes(bytes, inputShape, file);
  }

  /** As `load`, from the archive's bytes (`source` names it in errors). */
  static fromBytes(bytes: Uint8Array, inputShape: [number, number, number], source = '<buffer>'): ScriptedModel {
    if (inputShape.length !== 3 || !inputShape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new Error(`input shape must be three positive integers C,H,W, got ${inputShape.join(',')}`);
    }
    checkTorchScriptArchive(bytes, source);
    let module: ScriptModule;
    try {
      module = ScriptModule.load(bytes);
    } catch (e) {
      throw new Error(`${source}: libtorch cannot load this TorchScript archive: ${(e as Error).message}`);
    }
    try {
      return new ScriptedModel(module, inputShape, source);
    } catch (e) {
      module.dispose();
      throw e;
    }
  }

  /** One forward on two fixed inputs in [0, 1] (eval mode, no grad): the output must be a finite [2, D]; returns D. */
  #probe(): number {
    const was = this.training;
    this.eval();
    try {
      return noGrad(() =>
        tidy(() => {
          const [c, h, w] = this.inputShape;
          const x = linspace(0, 1, 2 * c * h * w).reshape(2, c, h, w);
          const y = this.#call(x);
          if (y.ndim !== 2 || y.shape[0] !== 2)
            throw new Error(`${this.source}: the module maps [2, ${c}, ${h}, ${w}] to [${y.shape.join(', ')}], not to [2, D] embeddings`);
          if (!(y.dtype === 'float32' || y.dtype === 'float64')) throw new Error(`${this.source}: the module's embeddings are ${y.dtype}, not float32`);
          if (!y.isfinite().all().item()) throw new Error(`${this.source}: the module's embeddings of a probe batch are not finite (NaN or infinity)`);
          return y.shape[1]!;
        }),
      );
    } catch (e) {
      const m = (e as Error).message;
      throw new Error(m.startsWith(this.source) ? m : `${this.source}: forward on [2, ${this.inputShape.join(', ')}] failed: ${m}`);
    } finally {
      this.train(was);
    }
  }

  #call(x: Tensor): Tensor {
    const out = this.#module.call([x]);
    if (Array.isArray(out)) {
      for (const t of out) t.dispose();
      throw new Error(`${this.source}: forward returned a tuple of ${out.length} tensors, not one embedding tensor`);
    }
    return out;
  }

  forward(x: Tensor): Tensor {
    const [c, h, w] = this.inputShape;
    if (x.ndim !== 4 || x.shape[1] !== c || x.shape[2] !== h || x.shape[3] !== w) {
      throw new Error(`${this.source} expects input [N, ${c}, ${h}, ${w}], got [${x.shape.join(', ')}]`);
    }
    const y = this.#call(x);
    if (y.ndim !== 2 || y.shape[0] !== x.shape[0] || y.shape[1] !== this.embeddingDim) {
      const s = y.shape.join(', ');
      y.dispose();
      throw new Error(`${this.source}: forward returned [${s}], expected [${x.shape[0]}, ${this.embeddingDim}]`);
    }
    return y;
  }

  /** Train/eval switches the scripted module too (its BatchNorm and dropout follow it). */
  override train(on = true): this {
    super.train(on);
    this.#module.train(on);
    return this;
  }

  /** The module with its current parameter values as a torch.jit.save archive. */
  toTorchScript(): Uint8Array {
    return this.#module.save();
  }

  /** Writes `toTorchScript()` to `file` atomically; PyTorch loads it with torch.jit.load. */
  saveTorchScript(file: string): void {
    writeFileAtomicSync(file, this.toTorchScript());
  }

  override dispose(): void {
    super.dispose();
    this.#module.dispose();
  }
}

export const torchscriptEntry = defineModel({
  name: 'torchscript',
  summary: "a user's TorchScript module (torch.jit.save; N×C×H×W in [0, 1] → N×D), any input size",
  takesPretrained: false,
  fromFile: true,
  create: (o) => {
    if (o.modelFile === undefined) throw new Error('model torchscript needs its module file');
    return ScriptedModel.load(o.modelFile, o.inputShape);
  },
});

// Layer: optim. Shared shape of optimizers: a list of parameters, a step that
// reads their `.grad`, and per-parameter state that checkpoints can save.
import { keep, noGrad, type Tensor } from '../tensor/index.js';

/** Base of the optimizers: the parameters, zeroGrad, step and a state dict for checkpoints. */
export abstract class Optimizer {
  /** Per-parameter state tensors by name ("exp_avg", …), index-aligned with params. */
  protected readonly state: Map<string, Tensor>[];
  stepCount = 0;

  constructor(protected readonly params: readonly Tensor[]) {
    if (params.length === 0) throw new Error('optimizer got an empty parameter list');
    this.state = params.map(() => new Map());
  }

  /** Applies one update from the accumulated gradients (params without grad are skipped). */
  step(): void {
    this.stepCount += 1;
    noGrad(() => {
      this.params.forEach((p, i) => {
        const g = p.grad;
        if (g === null) return;
        try {
          this.update(p, g, this.state[i]!);
        } finally {
          g.dispose();
        }
      });
    });
  }

  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  protected abstract update(param: Tensor, grad: Tensor, state: Map<string, Tensor>): void;

  /** A state tensor created on first use; owned by the optimizer. */
  protected stateTensor(state: Map<string, Tensor>, name: string, init: () => Tensor): Tensor {
    let t = state.get(name);
    if (t === undefined) {
      t = keep(init());
      state.set(name, t);
    }
    return t;
  }

  /** Flat view for checkpoints: "<param index>.<name>" → tensor, plus the step count. */
  stateDict(): { step: number; tensors: Map<string, Tensor> } {
    const tensors = new Map<string, Tensor>();
    this.state.forEach((s, i) => s.forEach((t, n) => tensors.set(`${i}.${n}`, t)));
    return { step: this.stepCount, tensors };
  }

  loadStateDict(sd: { step: number; tensors: ReadonlyMap<string, Tensor> }): void {
    this.stepCount = sd.step;
    for (const [key, t] of sd.tensors) {
      const dot = key.indexOf('.');
      const i = Number(key.slice(0, dot));
      const param = this.params[i];
      if (dot < 0 || !Number.isInteger(i) || param === undefined) throw new Error(`optimizer state: bad key '${key}'`);
      if (t.shape.join(',') !== param.shape.join(',')) {
        throw new Error(`optimizer state '${key}': shape [${t.shape}] does not match parameter [${param.shape}]`);
      }
      const name = key.slice(dot + 1);
      this.state[i]!.get(name)?.dispose();
      // the state lives where its parameter lives (checkpoints are read on the CPU)
      this.state[i]!.set(name, keep(t.device === param.device ? t.clone() : t.to(param.device)));
    }
  }

  dispose(): void {
    for (const s of this.state) {
      for (const t of s.values()) t.dispose();
      s.clear();
    }
  }
}

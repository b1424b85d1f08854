// Layer: optim. Adam with PyTorch's semantics (torch.optim.Adam, non-AMSGrad):
// weight decay is L2 added to the gradient (not AdamW's decoupled decay),
// bias corrections applied to the step size and to the second moment.
import { tidy, zerosLike, type Tensor } from '../tensor/index.js';
import { Optimizer } from './optimizer.js';

/** Adam's hyper-parameters (PyTorch defaults; weight decay added to the gradient). */
export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

/** Adam with PyTorch's update rule and state-dict layout. */
export class Adam extends Optimizer {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;

  constructor(params: readonly Tensor[], o: AdamOptions = {}) {
    super(params);
    this.lr = o.lr ?? 1e-3;
    [this.beta1, this.beta2] = o.betas ?? [0.9, 0.999];
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0;
    if (!(this.lr > 0)) throw new Error(`Adam: learning rate must be > 0, got ${this.lr}`);
    if (!(this.beta1 >= 0 && this.beta1 < 1 && this.beta2 >= 0 && this.beta2 < 1)) {
      throw new Error(`Adam: betas must be in [0, 1), got [${this.beta1}, ${this.beta2}]`);
    }
    if (!(this.weightDecay >= 0)) throw new Error(`Adam: weight decay must be >= 0, got ${this.weightDecay}`);
  }

  protected update(p: Tensor, g0: Tensor, state: Map<string, Tensor>): void {
    const m = this.stateTensor(state, 'exp_avg', () => zerosLike(p));
    const v = this.stateTensor(state, 'exp_avg_sq', () => zerosLike(p));
    const t = this.stepCount;
    tidy(() => {
      const g = this.weightDecay !== 0 ? g0.add(p, this.weightDecay) : g0;
      m.mul_(this.beta1).add_(g, 1 - this.beta1);
      v.mul_(this.beta2).addcmul_(g, g, 1 - this.beta2);
      const bc1 = 1 - this.beta1 ** t;
      const bc2 = 1 - this.beta2 ** t;
      const denom = v.sqrt().div_(Math.sqrt(bc2)).add_(this.eps);
      p.addcdiv_(m, denom, -this.lr / bc1);
    });
  }
}

// Layer: optim. SGD with PyTorch's semantics: L2 weight decay added to the
// gradient, momentum buffer initialised to the first gradient, optional dampening and Nesterov.
import { tidy, type Tensor } from '../tensor/index.js';
import { Optimizer } from './optimizer.js';

/** SGD's hyper-parameters (momentum, dampening, Nesterov, weight decay as PyTorch). */
export interface SgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/** Stochastic gradient descent with PyTorch's update rule. */
export class SGD extends Optimizer {
  readonly lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;

  constructor(params: readonly Tensor[], o: SgdOptions) {
    super(params);
    this.lr = o.lr;
    this.momentum = o.momentum ?? 0;
    this.dampening = o.dampening ?? 0;
    this.weightDecay = o.weightDecay ?? 0;
    this.nesterov = o.nesterov ?? false;
    if (!(this.lr > 0)) throw new Error(`SGD: learning rate must be > 0, got ${this.lr}`);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error('SGD: Nesterov momentum requires momentum > 0 and dampening = 0');
    }
  }

  protected update(p: Tensor, g0: Tensor, state: Map<string, Tensor>): void {
    tidy(() => {
      let d = this.weightDecay !== 0 ? g0.add(p, this.weightDecay) : g0;
      if (this.momentum !== 0) {
        const fresh = !state.has('momentum_buffer');
        const buf = this.stateTensor(state, 'momentum_buffer', () => d.clone());
        if (!fresh) buf.mul_(this.momentum).add_(d, 1 - this.dampening);
        d = this.nesterov ? d.add(buf, this.momentum) : buf;
      }
      p.add_(d, -this.lr);
    });
  }
}

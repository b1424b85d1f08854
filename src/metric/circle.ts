// Layer: metric. The circle loss (Sun et al., CVPR 2020) on the whole SPC-2 batch
// of normalised embeddings, with cosine similarities S = x·xᵀ. For each anchor i,
// P_i = same label (j ≠ i), N_i = other labels:
//
//   α_p = [1 + m − S_ip]₊,  α_n = [S_in + m]₊            (self-paced weights, held constant: no gradient)
//   L_i = softplus( logΣ_{n ∈ N_i} exp(γ α_n (S_in − m)) + logΣ_{p ∈ P_i} exp(−γ α_p (S_ip − (1 − m))) )
//   L   = mean over all 2B anchors (each has a positive and negatives in an SPC-2 batch)
//
// A pair far from its optimum (S_ip well below 1 + m, S_in well above −m) gets a
// larger weight, so the decision boundary is a circle in (S_n, S_p) rather than a
// line. m = 0.4, γ = 80: the paper's setting for fine-grained image retrieval.
import { cat, tidy, zeros, type Tensor } from '../tensor/index.js';
import { assertSpc2Batch } from './check.js';
import { everyAnchorMasks, maskedLogSumExp } from './lifted.js';
import { defineLoss } from './loss.js';

export interface CircleOptions {
  /** Relaxation m: the optima are 1 + m and −m, the margins 1 − m and m. */
  relaxation: number;
  /** Scale γ. */
  gamma: number;
  /**
   * The similarities the weights α are computed from (default: this batch's, detached). The loss's
   * gradient holds α constant, as the paper does, so it is the derivative of the loss with α fixed
   * at the batch's own values; a finite-difference check passes those values here.
   */
  weightsFrom?: Tensor;
}

/** The circle loss of metric-space (normalised) embeddings [2B, D] with labels [2B]. */
export function circleLoss(x: Tensor, labels: Tensor, o: CircleOptions): Tensor {
  assertSpc2Batch(x, labels);
  if (!(o.gamma > 0)) throw new Error(`circle: gamma must be > 0, got ${o.gamma}`);
  return tidy(() => {
    const n = x.shape[0]!;
    const sim = x.matmul(x.t());
    const { pos, neg } = everyAnchorMasks(labels);
    const s = (o.weightsFrom ?? sim).detach();
    const alphaP = s
      .neg()
      .add(1 + o.relaxation)
      .relu();
    const alphaN = s.add(o.relaxation).relu();
    const logitP = alphaP.mul(sim.sub(1 - o.relaxation)).mul(-o.gamma);
    const logitN = alphaN.mul(sim.sub(o.relaxation)).mul(o.gamma);
    const inner = maskedLogSumExp(logitP, pos).add(maskedLogSumExp(logitN, neg)).view(n, 1);
    // softplus(v) = log(1 + e^v), stably: log Σ over {0, v}
    const zero = zeros([n, 1], { dtype: x.dtype, device: x.device });
    return cat([zero, inner], 1).logsumexp(1).mean();
  });
}

export const circleEntry = defineLoss({
  name: 'circle',
  // RobRank has no circle loss; its shorthand word is ours, in RobRank's grammar (`pcircleN`).
  robrankWords: ['circle'],
  summary: 'circle loss: self-paced weighted pair similarities of the whole batch (Sun et al.)',
  // Defined on cosine similarities of normalised embeddings.
  metrics: ['N', 'C'],
  input: 'batch',
  hypers: [
    { name: 'relaxation', flag: 'circle-m', help: 'circle: relaxation m (optima 1 + m and −m)', default: 0.4, min: 0, max: 1 },
    { name: 'gamma', flag: 'circle-gamma', help: 'circle: scale γ', default: 80, above: 0 },
  ],
  fn: (x, labels, ctx) => circleLoss(x, labels, { relaxation: ctx.params.relaxation!, gamma: ctx.params.gamma! }),
});

// Layer: metric. The multi-similarity loss with its miner (Wang et al., CVPR 2019;
// RobRank `pms{N,C}`), on the whole SPC-2 batch of normalised embeddings, with
// cosine similarities S = x·xᵀ. For each anchor i, P_i = same label (j ≠ i), N_i = other labels:
//
//   miner:  keep n ∈ N_i with S_in + ε > min_{p ∈ P_i} S_ip,  p ∈ P_i with S_ip − ε < max_{n ∈ N_i} S_in   (on detached S)
//   L_i  =  (1/α) log(1 + Σ_{kept p} exp(−α (S_ip − λ)))  +  (1/β) log(1 + Σ_{kept n} exp(β (S_in − λ)))
//   L    =  mean over all 2B anchors
//
// α = 2, β = 40, λ = 0.5, ε = 0.1 (RobRank's locked values). This is the
// paper's miner, as pytorch-metric-learning has it; RobRank's own code runs
// every other anchor, counts the anchor among its positives and its mining
// conditions keep every pair — we do not reproduce that.
import { cat, noGrad, tidy, zeros, type Tensor } from '../tensor/index.js';
import { assertSpc2Batch } from './check.js';
import { everyAnchorMasks } from './lifted.js';
import { defineLoss } from './loss.js';

export interface MultiSimilarityOptions {
  alpha: number;
  beta: number;
  lambda: number;
  epsilon: number;
}

/** (1/w) log(1 + Σ_{mask} exp(w·v)) per row, stably (a 0 column stands for the 1). */
function softPlusSum(v: Tensor, mask: Tensor, w: number): Tensor {
  return tidy(() => {
    const masked = v.mul(w).maskedFill(mask.logicalNot(), Number.NEGATIVE_INFINITY);
    const one = zeros([v.shape[0]!, 1], { dtype: v.dtype, device: v.device });
    return cat([one, masked], 1).logsumexp(1).div(w);
  });
}

/** The pairs the multi-similarity miner keeps → [pos, neg] boolean masks [2B, 2B]. */
export function multiSimilarityPairs(sim: Tensor, labels: Tensor, epsilon: number): [Tensor, Tensor] {
  return noGrad(() => {
    const s = sim.detach();
    const { pos, neg } = everyAnchorMasks(labels);
    const minPos = s.maskedFill(pos.logicalNot(), Number.POSITIVE_INFINITY).amin(1, true);
    const maxNeg = s.maskedFill(neg.logicalNot(), Number.NEGATIVE_INFINITY).amax(1, true);
    return [pos.logicalAnd(s.sub(epsilon).lt(maxNeg)), neg.logicalAnd(s.add(epsilon).gt(minPos))];
  });
}

/** The multi-similarity loss of metric-space (normalised) embeddings [2B, D] with labels [2B]. */
export function multiSimilarityLoss(x: Tensor, labels: Tensor, o: MultiSimilarityOptions): Tensor {
  assertSpc2Batch(x, labels);
  if (!(o.alpha > 0 && o.beta > 0)) throw new Error(`multi-similarity: alpha and beta must be > 0, got ${o.alpha}, ${o.beta}`);
  return tidy(() => {
    const sim = x.matmul(x.t());
    const [pos, neg] = multiSimilarityPairs(sim, labels, o.epsilon);
    const pull = softPlusSum(sim.sub(o.lambda).neg(), pos, o.alpha);
    const push = softPlusSum(sim.sub(o.lambda), neg, o.beta);
    return pull.add(push).mean();
  });
}

export const multiSimilarityEntry = defineLoss({
  name: 'multi-similarity',
  robrankWords: ['ms'],
  summary: 'multi-similarity loss with its miner, on cosine similarities of the whole batch (Wang et al.)',
  // Defined on cosine similarities of normalised embeddings.
  metrics: ['N', 'C'],
  input: 'batch',
  hypers: [
    { name: 'alpha', flag: 'ms-alpha', help: 'multi-similarity: positive weight α', default: 2, above: 0 },
    { name: 'beta', flag: 'ms-beta', help: 'multi-similarity: negative weight β', default: 40, above: 0 },
    { name: 'lambda', flag: 'ms-lambda', help: 'multi-similarity: similarity threshold λ', default: 0.5 },
    { name: 'epsilon', flag: 'ms-epsilon', help: 'multi-similarity: miner margin ε', default: 0.1, min: 0 },
  ],
  fn: (x, labels, ctx) =>
    multiSimilarityLoss(x, labels, { alpha: ctx.params.alpha!, beta: ctx.params.beta!, lambda: ctx.params.lambda!, epsilon: ctx.params.epsilon! }),
});

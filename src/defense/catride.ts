// Layer: defense. CA-TRIDE — collapse-aware triplet decoupling (docs/methods.md §8,
// following the released code where it and the slides differ):
//   - training steps alternate CAP (perturb candidates P, N; anchor benign) and
//     ANP (perturb the anchor only), starting with CAP;
//   - both inner problems are driven by the weighted "collapseness"
//     C = d_ω(a,p) − d_ω(a,n), pursued only up to the boundary C = 0;
//   - the PGD step grows with training, α·(e/E), so epoch 0 is benign;
//   - a fixed 16 PGD iterations, stopping early once the objective < 1e-5;
//   - the loss adds the separation term ½·max(0, low(d(a,p)) − low(d(a,n)) + 0.04) on every step.
import { cat, noGrad, tidy, type Tensor } from '../tensor/index.js';
import { catrideSeparationTerm, tripletLoss } from '../metric/triplet.js';
import type { Defense, DefenseContext, DefenseStep } from './defense.js';
import { embedEval, embedGrad, embedTrain, hardness, mine, rows, runPgd } from './common.js';
import { checkBudget, type PgdBudget } from '../attack/budget.js';

/** Code: soft-max weights exp(λ(d − max d)); slides: soft-min exp(−λ(d − min d)). */
/** The collapse-aware weights: the code's soft-max or the slides' soft-min. */
export const CATRIDE_WEIGHTINGS = ['softmax', 'softmin'] as const;
export type CollapseWeighting = (typeof CATRIDE_WEIGHTINGS)[number];

/** λ when none is given: the released code's default (CUB's published value). */
export const CATRIDE_CODE_LAMBDA = 10;

/** Which perturbation steps run: the paper's alternation (CAP on even steps, ANP on odd), or one of them only (the CA-CAP / CA-ANP ablations). */
export const CATRIDE_MODES = ['alternate', 'anp', 'cap'] as const;
export type CatrideMode = (typeof CATRIDE_MODES)[number];

/** Options of CA-TRIDE: the PGD budget, λ and the weighting form. */
export interface CatrideOptions extends PgdBudget {
  /** Attention factor λ of the weights (CUB 10, Cars 9.5, SOP 2; see docs/methods.md §8.3 for other datasets). */
  lambda?: number;
  weighting?: CollapseWeighting;
  /** Default 'alternate' (CA-TRIDE); 'anp' and 'cap' are the ablations with one branch. */
  mode?: CatrideMode;
  /** Early exit threshold of the inner objective (checked before each update). */
  stopBelow?: number;
}

/** PGD iterations of the released CA-TRIDE code (RobRank and HM run BUDGETS' 32). */
export const CATRIDE_STEPS = 16;

/** The triplet margin of the released CA-TRIDE code, for every metric: a CA-TRIDE run's default `margin`. */
export const CATRIDE_MARGIN = 0.2;

/** d_ω = Σ w_i d_i / Σ w_i over a batch of distances [B]. */
export function weightedDistance(d: Tensor, lambda: number, weighting: CollapseWeighting): Tensor {
  return tidy(() => {
    const w = weighting === 'softmax' ? d.sub(d.max()).mul(lambda).exp() : d.sub(d.min()).mul(-lambda).exp();
    return w.mul(d).sum().div(w.sum());
  });
}

/** Mean of the ⌊B/2⌋ smallest entries ("low" in the reference); at least one entry. */
function meanOfLowerHalf(v: Tensor): Tensor {
  const k = Math.max(1, Math.floor(v.shape[0]! / 2));
  return tidy(() => v.topk(k, 0, false)[0].mean());
}

/** CA-TRIDE: alternate candidate (CAP) and anchor (ANP) perturbation steps with collapse-aware weights (docs/methods.md §8). */
export function collapseAwareTripletDecoupling(o: CatrideOptions): Defense {
  checkBudget(o, 'CA-TRIDE');
  const lambda = o.lambda ?? CATRIDE_CODE_LAMBDA;
  const weighting = o.weighting ?? 'softmax';
  const mode = o.mode ?? 'alternate';
  const stopBelow = o.stopBelow ?? 1e-5;
  if (!(lambda > 0)) throw new Error(`CA-TRIDE: lambda must be > 0, got ${lambda}`);
  const collapseness = (a: Tensor, p: Tensor, n: Tensor, metric: DefenseContext['metric']): Tensor =>
    weightedDistance(metric.rows(a, p), lambda, weighting).sub(weightedDistance(metric.rows(a, n), lambda, weighting));

  return {
    step(ctx: DefenseContext): DefenseStep {
      return tidy(() => {
        const e = embedEval(ctx.model, ctx.images, ctx.metric);
        const t = mine(ctx, e);
        const b = t.anchors.shape[0]!;
        const [ea, ep, en] = [rows(e, t.anchors), rows(e, t.positives), rows(e, t.negatives)];
        const cap = mode === 'cap' || (mode === 'alternate' && ctx.step % 2 === 0);
        const scale = ctx.maxEpochs > 0 ? ctx.epoch / ctx.maxEpochs : 0;
        const [xa, xp, xn] = [rows(ctx.images, t.anchors), rows(ctx.images, t.positives), rows(ctx.images, t.negatives)];
        let iterations = 0;
        let advA = xa;
        let advPN = cat([xp, xn], 0);
        if (scale > 0) {
          const before = (_: number, value: number): boolean => value < stopBelow;
          if (cap) {
            const run = runPgd(
              ctx.model,
              advPN,
              (x) => {
                const z = embedGrad(ctx.model, x, ctx.metric);
                // J_CAP = max(0, −C): collapse the candidates towards each other, but only up to C = 0.
                return collapseness(ea, z.narrow(0, 0, b), z.narrow(0, b, b), ctx.metric)
                  .neg()
                  .clampMin(0);
              },
              { ...o, stepScale: scale },
              { before },
            );
            advPN = run.adversarial;
            iterations = run.iterations;
            ctx.inspect?.('candidates', cat([xp, xn], 0), advPN);
          } else {
            const run = runPgd(
              ctx.model,
              xa,
              (x) => {
                const za = embedGrad(ctx.model, x, ctx.metric);
                const dap = ctx.metric.rows(za, ep);
                const dan = ctx.metric.rows(za, en);
                const c = weightedDistance(dap, lambda, weighting).sub(weightedDistance(dan, lambda, weighting));
                const gammaC = Math.exp(-Math.max(0, -noGrad(() => c.item())));
                const shift = ctx.metric.rows(za, ea).mean();
                // Move the anchor off its clean position until the shift passes the closer half of its negatives, without collapsing.
                return c.clampMin(0).add(meanOfLowerHalf(dan).sub(shift).clampMin(0).mul(gammaC));
              },
              { ...o, stepScale: scale },
              { before },
            );
            advA = run.adversarial;
            iterations = run.iterations;
            ctx.inspect?.('anchors', xa, advA);
          }
        }
        const a = embedTrain(ctx.model, advA, ctx.metric);
        const pn = embedTrain(ctx.model, advPN, ctx.metric);
        const [p, n] = [pn.narrow(0, 0, b), pn.narrow(0, b, b)];
        // The run's margin: resolveConfig gives a CA-TRIDE run the released code's 0.2 (CATRIDE_MARGIN) unless --margin says otherwise.
        const loss = tripletLoss(a, p, n, { margin: ctx.margin, metric: ctx.metric }).add(catrideSeparationTerm(a, p, n, { metric: ctx.metric }));
        return {
          loss,
          stats: {
            forwardPasses: 1 + iterations + 2,
            backwardPasses: iterations + 1,
            pgdIterations: iterations,
            perturbedFraction: scale > 0 ? 1 : 0,
            sourceHardness: hardness(ea, ep, en, ctx.metric).mean().item(),
            trainedHardness: noGrad(() => hardness(a.detach(), p.detach(), n.detach(), ctx.metric).mean().item()),
            collapseness: noGrad(() => collapseness(ea, ep, en, ctx.metric).item()),
          },
        };
      });
    },
  };
}

// Layer: defense. Hardness manipulation HM[source, destination] (docs/methods.md §7):
// source triplets are perturbed (all three members, independent copies) until
// their hardness H = d(a,p) − d(a,n) reaches a destination hardness H_D, by PGD
// on J = (1/B) Σ min(0, H̃ − H_D)². Destinations: another miner's benign
// hardness (per triplet), the gradual adversaries g_LGA / g_B driven by the
// previous step's loss, or a constant. Optional intra-class structure loss ICS.
//
// Beyond the reference (`skipSatisfied`): a triplet whose H̃ has reached H_D has
// zero gradient (min(0, ·)² is flat there), so PGD never moves it again, and in
// eval mode its embeddings do not depend on the other images. Dropping such
// triplets from later PGD forward/backward passes therefore gives exactly the
// same adversarial batch for less work.
import { cat, full, keep, noGrad, tidy, type Tensor } from '../tensor/index.js';
import { requireMetric } from '../metric/metric.js';
import { tripletLoss } from '../metric/triplet.js';
import type { Miner, Triplets } from '../metric/miners.js';
import type { Defense, DefenseContext, DefenseStep } from './defense.js';
import { embedEval, embedGrad, embedTrain, hardness, mine, rows, runPgd, tripletLossOf } from './common.js';
import { checkBudget, type PgdBudget } from '../attack/budget.js';

/** Pseudo-hardness functions of the previous loss (RD §3.2). */
/** HM's gradual adversaries (destinations that are functions of the loss). */
export const GRADUAL_DESTINATIONS = ['lga', 'gB', 'g2', 'gsqrt'] as const;
export type GradualDestination = (typeof GRADUAL_DESTINATIONS)[number];

/** Where HM pushes the hardness: another miner's triplets, a gradual function of the loss (g_LGA, …) or a constant. */
export type Destination =
  | { kind: 'miner'; miner: Miner; name: string }
  | { kind: 'gradual'; fn: GradualDestination; miner: Miner; name: string }
  | { kind: 'constant'; value: number };

/** Options of HM: source miner, destination, ICS weight, PGD budget. */
export interface HardnessManipulationOptions extends PgdBudget {
  source: Miner;
  sourceName: string;
  destination: Destination;
  /** λ of the intra-class structure loss (0 = off; paper: 0.5, SOP 0.05). */
  ics?: number;
  /** Saturation u of the normalised previous loss ℓ̄ (γ = 0.2 in the code; the appendix also tries 2.2). */
  lossSaturation?: number;
  /** ξ of g_B. */
  xi?: number;
  /** Skip PGD work for triplets already at their destination (exact; see the header). */
  skipSatisfied?: boolean;
}

/** The reference initialises the previous loss to 2.0, so the first step uses ℓ̄ = 1. */
export const INITIAL_PREVIOUS_LOSS = 2.0;
/** ξ of g_B: the destination's offset above the sampler's hardness at zero loss (the reference's). */
export const G_B_XI = 0.1;
/** The triplet margin of HM's reference runs (miners, ℓ̄'s saturation u, g_LGA's scale). */
export const HM_MARGIN = 0.2;

/**
 * HM[source, destination] (hardness manipulation, with optional ICS): raise each source triplet's hardness up to the destination's (docs/methods.md §7).
 */
export function hardnessManipulation(o: HardnessManipulationOptions): Defense {
  checkBudget(o, 'HM');
  const ics = o.ics ?? 0;
  if (!(ics >= 0)) throw new Error(`HM: ICS weight must be >= 0, got ${ics}`);
  const u = o.lossSaturation ?? HM_MARGIN;
  const xi = o.xi ?? G_B_XI;
  const d = o.destination;
  if (d.kind === 'constant' && !(d.value >= -2 && d.value <= 2)) throw new Error(`HM: constant destination hardness must be in [-2, 2], got ${d.value}`);
  // Same source and destination sampler: the reference skips PGD (regular training).
  const samePair = d.kind === 'miner' && d.name === o.sourceName;
  let previousLoss = INITIAL_PREVIOUS_LOSS; // state across steps, like the reference's per-process variable

  return {
    state: () => ({ previousLoss }),
    loadState: (s) => {
      if (typeof s.previousLoss === 'number') previousLoss = s.previousLoss;
    },
    step(ctx: DefenseContext): DefenseStep {
      requireMetric(ctx.metric, ['N'], 'HM');
      return tidy(() => {
        const e = embedEval(ctx.model, ctx.images, ctx.metric);
        const src = mine({ ...ctx, miner: o.source }, e, HM_MARGIN);
        const b = src.anchors.shape[0]!;
        const hSource = hardness(rows(e, src.anchors), rows(e, src.positives), rows(e, src.negatives), ctx.metric);
        const hDest = destinationHardness(d, ctx, e, b, { previousLoss, lossSaturation: u, xi });
        const X = cat([rows(ctx.images, src.anchors), rows(ctx.images, src.positives), rows(ctx.images, src.negatives)], 0);

        let iterations = 0;
        let adversarial = X;
        // Triplets pushed through the model per PGD pass, summed; b per pass unless skipSatisfied shrinks it.
        let tripletPasses = 0;
        let objectivePasses = 0;
        if (!samePair) {
          let active: Tensor | null = null; // triplet ids still below H_D (skipSatisfied only)
          let previousJ = -1;
          const run = runPgd(
            ctx.model,
            X,
            (xAdv) => {
              const ids = active;
              const pick = (part: number): Tensor => (ids === null ? xAdv.narrow(0, part * b, b) : rows(xAdv, ids.add(part * b)));
              const z = embedGrad(ctx.model, cat([pick(0), pick(1), pick(2)], 0), ctx.metric);
              const m = ids === null ? b : ids.shape[0]!;
              tripletPasses += m;
              objectivePasses += 1;
              const [za, zp, zn] = [z.narrow(0, 0, m), z.narrow(0, m, m), z.narrow(0, 2 * m, m)];
              const gap = ctx.metric
                .rows(za, zp)
                .sub(ctx.metric.rows(za, zn))
                .sub(ids === null ? hDest : rows(hDest, ids));
              if (o.skipSatisfied) {
                const still = noGrad(() => gap.lt(0).nonzero().flatten());
                const next = ids === null ? still : rows(ids, still);
                active?.dispose();
                // the active set outlives the objective's scope; it is disposed explicitly
                active = keep(next);
              }
              return gap.clampMax(0).square().sum().div(b);
            },
            o,
            {
              after: (_, value) => {
                const converged = Math.abs(value - previousJ) < 1e-7;
                previousJ = value;
                return converged || (active !== null && (active as Tensor).shape[0] === 0);
              },
            },
          );
          (active as Tensor | null)?.dispose();
          adversarial = run.adversarial;
          iterations = run.iterations;
          ctx.inspect?.('triplets', X, adversarial);
        }

        const z = embedTrain(ctx.model, adversarial, ctx.metric);
        const [za, zp, zn] = [z.narrow(0, 0, b), z.narrow(0, b, b), z.narrow(0, 2 * b, b)];
        // The run's loss on the manipulated triplets (with the triplet loss and N's margin 0.2, the reference's).
        const lossAdv = tripletLossOf(ctx, za, zp, zn, src);
        if (d.kind === 'gradual') previousLoss = lossAdv.item();
        let loss = lossAdv;
        if (ics > 0) loss = lossAdv.add(intraClassStructure(ctx, src, za).mul(ics));
        const trained = noGrad(() => hardness(za.detach(), zp.detach(), zn.detach(), ctx.metric));
        return {
          loss,
          stats: {
            forwardPasses: 1 + iterations + 1 + (ics > 0 ? 1 : 0),
            backwardPasses: iterations + 1,
            pgdIterations: iterations,
            pgdWorkFraction: objectivePasses > 0 ? tripletPasses / (objectivePasses * b) : 0,
            perturbedFraction: samePair ? 0 : noGrad(() => hSource.lt(hDest).float().mean().item()),
            sourceHardness: hSource.mean().item(),
            trainedHardness: trained.mean().item(),
            destinationHardness: hDest.mean().item(),
          },
        };
      });
    },
  };
}

/** Where the gradual destinations stand: the previous step's loss and the constants that normalise it. */
export interface GradualState {
  previousLoss: number;
  /** Saturation u of ℓ̄ (the triplet margin 0.2). */
  lossSaturation: number;
  /** ξ of g_B. */
  xi: number;
}

/** H_D per triplet [B]; the destination miner is always run (it consumes randomness, as in the reference). */
export function destinationHardness(d: Destination, ctx: DefenseContext, e: Tensor, b: number, g: GradualState): Tensor {
  if (d.kind === 'constant') return full([b], d.value, { device: e.device });
  const t = mine({ ...ctx, miner: d.miner }, e, HM_MARGIN);
  const benign = hardness(rows(e, t.anchors), rows(e, t.positives), rows(e, t.negatives), ctx.metric);
  if (d.kind === 'miner') return benign;
  const lbar = Math.min(Math.max(g.previousLoss, 0), g.lossSaturation) / g.lossSaturation;
  switch (d.fn) {
    case 'lga':
      return full([b], -HM_MARGIN * lbar, { device: e.device });
    case 'gB':
      return benign.add(g.xi * (1 - lbar));
    case 'g2':
      return full([b], -HM_MARGIN * lbar * lbar, { device: e.device });
    case 'gsqrt':
      return full([b], -HM_MARGIN * Math.sqrt(lbar), { device: e.device });
  }
}

/**
 * ICS, the intra-class structure term: the adversarial anchors `za` must stay
 * closer to their benign selves than the benign positives are (a triplet loss with
 * margin 0 on benign anchor, adversarial anchor, benign positive; two train-mode forwards).
 */
export function intraClassStructure(ctx: DefenseContext, src: Triplets, za: Tensor): Tensor {
  const a0 = embedTrain(ctx.model, rows(ctx.images, src.anchors), ctx.metric);
  const p0 = embedTrain(ctx.model, rows(ctx.images, src.positives), ctx.metric);
  return tripletLoss(a0, za, p0, { margin: 0, metric: ctx.metric });
}

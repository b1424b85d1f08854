// Layer: defense. Free adversarial training (Shafahi et al. 2019, "Adversarial
// training for free!"; RobRank's FreeAT) for triplets (docs/methods.md §14).
// Each batch is replayed m times. Every replay is ONE forward and ONE backward
// pass of the training loss on x + σ: the backward gives the model its gradient
// (the trainer's optimizer step) and, for free, the gradient of the same loss
// with respect to the perturbation σ, which takes a signed ascent step
// σ ← clip(σ + α·sign ∇σ L, −ε, ε). σ is carried across replays and batches.
//
// The base defense says which images carry σ, which triplets train, and when σ
// stops:
//   none     σ ≡ 0 (RobRank's dry run: m replays of regular training)
//   amd      σ on anchor, positive and negative of the mined triplets (RobRank fatamd)
//   amdsemi  amd, with σ wiped for triplets already harder than −0.2 (RobRank fatamdsemi)
//   est      σ on every image of the batch, triplets mined on the perturbed embeddings
//   act      σ on positives and negatives, benign anchors
//   hm       σ on HM's source triplets, updated only while a triplet is below its
//            destination hardness H_D (HM's target with free AT's gradient reuse: HM + free)
// EST's and ACT's own inner objectives (embedding shift, collapse) would need a
// second backward pass per replay; their free variants ascend the training loss.
import { cat, full, keep, noGrad, tidy, zeros, type Tensor } from '../tensor/index.js';
import type { Miner, Triplets } from '../metric/miners.js';
import type { Defense, DefenseContext, DefenseStep } from './defense.js';
import { batchLoss, embedEval, embedTrain, hardness, meanHardness, mine, rows, tripletLossOf } from './common.js';
import { destinationHardness, G_B_XI, HM_MARGIN, INITIAL_PREVIOUS_LOSS, intraClassStructure, type Destination } from './hm.js';
import { checkBudget } from '../attack/budget.js';

/** The defenses free AT can replay, in the order help texts list them. */
export const FREE_BASES = ['none', 'amd', 'amdsemi', 'est', 'act', 'hm'] as const;
export type FreeBase = (typeof FREE_BASES)[number];

/** Replays per batch: RobRank's num_repeats. */
export const FREE_REPLAYS = 4;

/** amdsemi's stop: a triplet with d(a,p) − d(a,n) above −0.2 (the margin) is semihard or harder, and its σ is wiped. */
const SEMIHARD_STOP = -HM_MARGIN;

/** HM's settings when the base is hm. */
export interface FreeHm {
  source: Miner;
  destination: Destination;
  /** λ of the intra-class structure term (0 = off). */
  ics: number;
}

/** Options of free AT: the base defense, the L∞ radius ε, the ascent step α and the replays m. */
export interface FreeOptions {
  base: FreeBase;
  epsilon: number;
  alpha: number;
  replays: number;
  /** Required when base is hm. */
  hm?: FreeHm;
}

/** What a batch's first replay prepares for the others: the clean images σ is added to, the triplets, H_D. */
interface BatchPlan {
  /** Images that carry σ [K, C, H, W]; null for none/est (the batch itself). */
  images: Tensor | null;
  /** Mined on clean eval-mode embeddings (amd, amdsemi, act, hm); null for none/est (mined per replay). */
  triplets: Triplets | null;
  /** Benign anchors for act. */
  anchors: Tensor | null;
  /** HM's destination hardness per triplet. */
  destination: Tensor | null;
  sourceHardness: number;
}

/** Free adversarial training on `base` (docs/methods.md §14). */
export function freeAdversarialTraining(o: FreeOptions): Defense {
  checkBudget({ epsilon: o.epsilon, alpha: o.alpha, steps: 1 }, 'free AT');
  if (!Number.isInteger(o.replays) || o.replays < 1) throw new Error(`free AT: replays must be a positive integer, got ${o.replays}`);
  if (o.base === 'hm' && o.hm === undefined) throw new Error('free AT on HM needs its source and destination');
  let sigma: Tensor | null = null; // carried across replays and batches
  let leaf: Tensor | null = null; // this replay's σ with autograd, until afterBackward
  let plan: BatchPlan | null = null;
  let stepMask: Tensor | null = null; // per-image [K] factor of this replay's σ step (amdsemi, hm)
  let previousLoss = INITIAL_PREVIOUS_LOSS;
  const perturbs = o.base !== 'none';

  const dropPlan = (): void => {
    if (plan !== null) dispose(plan);
    plan = null;
  };

  /** σ resized to the batch's images (truncated or zero-extended rows, as the reference) and on their device (a checkpoint's is on the CPU). */
  function fitSigma(images: Tensor): void {
    const k = images.shape[0]!;
    const sameImage = sigma !== null && sigma.shape.slice(1).join() === images.shape.slice(1).join();
    if (sameImage && sigma!.shape[0] === k && sigma!.device === images.device) return;
    const next = noGrad(() =>
      tidy(() => {
        if (!sameImage) return zeros(images.shape, { device: images.device });
        const s = sigma!.device === images.device ? sigma! : sigma!.to(images.device);
        const have = s.shape[0]!;
        return have > k ? s.narrow(0, 0, k).clone() : cat([s, zeros([k - have, ...images.shape.slice(1)], { device: images.device })], 0);
      }),
    );
    sigma?.dispose();
    sigma = keep(next);
  }

  function planBatch(ctx: DefenseContext): BatchPlan {
    if (o.base === 'none' || o.base === 'est') return { images: null, triplets: null, anchors: null, destination: null, sourceHardness: Number.NaN };
    const clean = embedEval(ctx.model, ctx.images, ctx.metric);
    const miner = o.base === 'hm' ? o.hm!.source : ctx.miner;
    const t = mine({ ...ctx, miner }, clean, o.base === 'hm' ? HM_MARGIN : (ctx.metric.referenceMinerMargin ?? ctx.margin));
    const b = t.anchors.shape[0]!;
    const [a, p, n] = [rows(ctx.images, t.anchors), rows(ctx.images, t.positives), rows(ctx.images, t.negatives)];
    const destination = o.base === 'hm' ? destinationHardness(o.hm!.destination, ctx, clean, b, { previousLoss, lossSaturation: HM_MARGIN, xi: G_B_XI }) : null;
    return {
      images: o.base === 'act' ? cat([p, n], 0) : cat([a, p, n], 0),
      triplets: t,
      anchors: o.base === 'act' ? a : null,
      destination,
      sourceHardness: meanHardness(rows(clean, t.anchors), rows(clean, t.positives), rows(clean, t.negatives), ctx.metric),
    };
  }

  return {
    replays: o.replays,
    state: (): Record<string, number> => (o.base === 'hm' ? { previousLoss } : {}),
    loadState: (s) => {
      if (typeof s.previousLoss === 'number') previousLoss = s.previousLoss;
    },
    tensors: () => new Map(sigma === null ? [] : [['sigma', sigma]]),
    loadTensors: (t) => {
      const s = t.get('sigma');
      if (s === undefined) return;
      sigma?.dispose();
      sigma = keep(s.clone());
    },
    dispose: () => {
      dropPlan();
      for (const t of [sigma, leaf, stepMask]) t?.dispose();
      sigma = leaf = stepMask = null;
    },
    step(ctx: DefenseContext): DefenseStep {
      const replay = ctx.replay ?? 0;
      if (replay === 0 || plan === null) {
        dropPlan();
        plan = keepPlan(noGrad(() => tidy(() => planBatch(ctx))));
        if (perturbs) fitSigma(plan.images ?? ctx.images);
      }
      const pl = plan;
      const images = pl.images ?? ctx.images;
      return tidy(() => {
        leaf?.dispose();
        stepMask?.dispose();
        stepMask = null;
        leaf = perturbs ? keep(sigma!.detach().requiresGrad_()) : null;
        const x = leaf === null ? images : images.add(leaf).clamp(0, 1);
        let loss: Tensor;
        let trained: number;
        let perturbed = perturbs ? 1 : 0;
        let forward = 1 + (replay === 0 && pl.triplets !== null ? 1 : 0);
        if (pl.triplets === null) {
          // none / est: the run's loss on the (perturbed) batch, mined per replay.
          const r = batchLoss(ctx, embedTrain(ctx.model, x, ctx.metric));
          loss = r.loss;
          trained = meanHardness(r.a, r.p, r.n, ctx.metric);
        } else {
          const t = pl.triplets;
          const b = t.anchors.shape[0]!;
          const z = embedTrain(ctx.model, pl.anchors === null ? x : cat([pl.anchors, x], 0), ctx.metric);
          const [za, zp, zn] = [z.narrow(0, 0, b), z.narrow(0, b, b), z.narrow(0, 2 * b, b)];
          const lossAdv = tripletLossOf(ctx, za, zp, zn, t);
          loss = lossAdv;
          const h = noGrad(() => hardness(za.detach(), zp.detach(), zn.detach(), ctx.metric));
          trained = noGrad(() => h.mean().item());
          if (o.base === 'hm') {
            previousLoss = lossAdv.item();
            if (o.hm!.ics > 0) {
              loss = lossAdv.add(intraClassStructure(ctx, t, za).mul(o.hm!.ics));
              forward += 1;
            }
            // σ moves only for triplets still below their destination (HM's min(0, H̃ − H_D)² is flat above it).
            const below = noGrad(() => h.lt(pl.destination!).float());
            perturbed = noGrad(() => below.mean().item());
            stepMask = keep(noGrad(() => cat([below, below, below], 0)));
          } else if (o.base === 'amdsemi') {
            const keepRows = noGrad(() => h.le(SEMIHARD_STOP).float());
            perturbed = noGrad(() => keepRows.mean().item());
            stepMask = keep(noGrad(() => cat([keepRows, keepRows, keepRows], 0)));
          }
        }
        return {
          loss,
          stats: {
            forwardPasses: forward,
            backwardPasses: 1,
            pgdIterations: 0,
            perturbedFraction: perturbed,
            sourceHardness: Number.isNaN(pl.sourceHardness) ? trained : pl.sourceHardness,
            trainedHardness: trained,
            ...(pl.destination !== null ? { destinationHardness: noGrad(() => pl.destination!.mean().item()) } : {}),
          },
        };
      });
    },
    afterBackward() {
      if (leaf === null || sigma === null) return;
      const g = leaf.grad;
      const next = noGrad(() =>
        tidy(() => {
          const ascent = g === null ? full(sigma!.shape, 0, { device: sigma!.device }) : g.sign().mul(o.alpha);
          const moved = sigma!.add(ascent).clamp(-o.epsilon, o.epsilon);
          if (stepMask === null) return moved;
          const m = stepMask.view(stepMask.shape[0]!, ...sigma!.shape.slice(1).map(() => 1));
          // hm: σ stays where it is for satisfied triplets; amdsemi: it is wiped for them.
          return o.base === 'hm' ? moved.mul(m).add(sigma!.mul(m.rsub(1))) : moved.mul(m);
        }),
      );
      sigma.dispose();
      sigma = keep(next);
      leaf.dispose();
      leaf = null;
    },
  };
}

function planTensors(p: BatchPlan): Tensor[] {
  return [p.images, p.triplets?.anchors, p.triplets?.positives, p.triplets?.negatives, p.anchors, p.destination].filter((t): t is Tensor => t != null);
}

/** The plan outlives the step's scope (the batch's later replays read it); disposed with `dispose`. */
function keepPlan(p: BatchPlan): BatchPlan {
  keep(planTensors(p));
  return p;
}

function dispose(p: BatchPlan): void {
  for (const t of planTensors(p)) t.dispose();
}

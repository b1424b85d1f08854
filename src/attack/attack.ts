// Layer: attack. The one shape every ranking attack has (docs/attacks-and-metrics.md §4):
//   selection rule  — on the batch's CLEAN embeddings, once per batch;
//   objective       — of the adversarial embeddings, minimised by the PGD core;
//   reported number — measured on the embeddings after the attack.
// `attackBatch` is the one runner: it embeds inside PGD (model in eval mode,
// gradients w.r.t. the input only), and hands the attack the final adversarial
// embeddings plus those seen at the start of the last iteration (ES:D's quirk).
import { dispose, keep, noGrad, tidy, type Tensor } from '../tensor/index.js';
import type { EmbeddingModel } from '../models/model.js';
import { pgd } from './pgd.js';
import { checkBudget, type PgdBudget } from './budget.js';
import { embedImages, SELF_MASK_DISTANCE, type BatchContext } from './context.js';


/** Embeddings of the adversarial batch handed to `measure`. */
export interface AdversarialEmbeddings {
  /** [B, D] after the final update. */
  final: Tensor;
  /** [B, D] computed at the start of the last PGD iteration (after η−1 updates). */
  lastIterationStart: Tensor;
}

/** Selected indices/embeddings of one batch: a plain object of tensors the runner frees. */
export type Selection = Record<string, Tensor>;

/**
 * A ranking attack: selection on clean embeddings, an objective PGD minimises, and the numbers it reports.
 * Build one with `createAttack` or a factory (`candidateAttack`, `queryAttack`, …); run it with `attackBatch`.
 */
export interface RankingAttack<S extends Selection = Selection> {
  /** Its name in the catalogue (src/attack/registry.ts). */
  readonly kind: string;
  /** The table columns it reports, e.g. ['ES:D', 'ES:R']. */
  readonly reports: readonly string[];
  /** Selection rule on clean embeddings (randomness from libtorch's seeded generator). */
  select(ctx: BatchContext): S;
  /** Scalar to minimise, from adversarial embeddings [B, D] (metric space). */
  objective(adversarial: Tensor, selection: S, ctx: BatchContext, iteration: number): Tensor;
  /** The reported numbers for this batch (batch means, in the tables' units). */
  measure(adversarial: AdversarialEmbeddings, selection: S, ctx: BatchContext): Record<string, number>;
}

/** What `attackBatch` returns for one batch. */
export interface AttackBatchResult {
  /** Reported numbers of this batch, keyed by table column. */
  values: Record<string, number>;
  /** Objective value at each PGD iteration. */
  objective: number[];
  /** With `keep.examples`: the adversarial inputs and each attacked image's neighbours before and after. */
  examples?: AttackExamples;
}

/** What an attack did to each image of a batch (opt-in: `attackBatch(…, { examples: k })`). */
export interface AttackExamples {
  /** [B, C, H, W] adversarial images in [0, 1]; the caller owns (disposes) it. */
  adversarial: Tensor;
  /** Per attacked image: the gallery indices of its k nearest neighbours, clean and adversarial (itself excluded). */
  topBefore: number[][];
  topAfter: number[][];
  /** Per attacked image: the distances of those neighbours (the metric of the gallery). */
  distancesBefore: number[][];
  distancesAfter: number[][];
}

export interface AttackBatchOptions {
  /** Also return the adversarial images and the top-k neighbour lists before and after (k = this). */
  examples?: number;
}

/**
 * Runs one attack on one batch: select, PGD on the batch images, measure.
 * Frees everything it creates; the context stays the caller's.
 */
export function attackBatch<S extends Selection>(model: EmbeddingModel, attack: RankingAttack<S>, ctx: BatchContext, budget: PgdBudget, o: AttackBatchOptions = {}): AttackBatchResult {
  checkBudget(budget, attack.kind);
  model.eval();
  const metric = ctx.gallery.metric;
  const selection = noGrad(() => tidy(() => attack.select(ctx)));
  let lastIterationStart: Tensor | undefined;
  let adversarialImages: Tensor | undefined;
  let final: Tensor | undefined;
  try {
    const run = pgd({
      images: ctx.images,
      epsilon: budget.epsilon,
      alpha: budget.alpha,
      steps: budget.steps,
      objective: (xAdv, iteration) => {
        const embedding = embedImages(model, xAdv, metric);
        if (iteration === budget.steps - 1) lastIterationStart = keep(noGrad(() => embedding.detach()));
        return attack.objective(embedding, selection, ctx, iteration);
      },
    });
    adversarialImages = run.adversarial;
    final = noGrad(() => embedImages(model, run.adversarial, metric));
    const values = noGrad(() => tidy(() => attack.measure({ final: final!, lastIterationStart: lastIterationStart! }, selection, ctx)));
    if (o.examples === undefined) return { values, objective: run.values };
    const examples = { adversarial: keep(run.adversarial), ...neighbourLists(ctx, final, o.examples) };
    adversarialImages = undefined; // now the caller's
    return { values, objective: run.values, examples };
  } finally {
    dispose([selection, lastIterationStart, adversarialImages, final]);
  }
}

/** Top-k gallery neighbours of each image, clean and adversarial, each image's clean self left out. */
function neighbourLists(ctx: BatchContext, adversarial: Tensor, k: number): Omit<AttackExamples, 'adversarial'> {
  if (!Number.isInteger(k) || k < 1) throw new Error(`examples: k must be a positive integer, got ${k}`);
  return noGrad(() =>
    tidy(() => {
      const n = ctx.gallery.embeddings.shape[0]!;
      const kk = Math.min(k, n - 1);
      const lists = (distances: Tensor): [number[][], number[][]] => {
        const masked = distances.scatter(1, ctx.selfIndex.unsqueeze(1), SELF_MASK_DISTANCE);
        const [d, i] = masked.topk(kk, 1, false, true);
        return [rows(i.toArray(), kk), rows(d.toArray(), kk)];
      };
      const [topBefore, distancesBefore] = lists(ctx.cleanDistances);
      const [topAfter, distancesAfter] = lists(ctx.gallery.metric.gallery(adversarial, ctx.gallery.embeddings));
      return { topBefore, topAfter, distancesBefore, distancesAfter };
    }),
  );
}

const rows = (flat: number[], width: number): number[][] => Array.from({ length: flat.length / width }, (_, r) => flat.slice(r * width, (r + 1) * width));

/** Mean of a [B] tensor as a number, ×100 when the table reports a percentage. */
export function batchMean(perImage: Tensor, percent: boolean): number {
  const m = perImage.mean().item();
  return percent ? 100 * m : m;
}

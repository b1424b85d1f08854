// Layer: attack. The one shape every ranking attack has (docs/attacks-and-metrics.md §4):
//   selection rule  — on the batch's CLEAN embeddings, once per batch;
//   objective       — of the adversarial embeddings, minimised by the PGD core;
//   reported number — measured on the embeddings after the attack.
// `attackBatch` is the one runner: it embeds inside PGD (model in eval mode,
// gradients w.r.t. the input only), and hands the attack the final adversarial
// embeddings plus those seen at the start of the last iteration (ES:D's quirk).
import { dispose, keep, noGrad, tidy, where, type Tensor } from '../tensor/index.js';
import { perImageMask } from './pgd.js';
import type { EmbeddingModel } from '../models/model.js';
import { checkBudget, type PgdBudget } from './budget.js';
import { embedImages, SELF_MASK_DISTANCE, type BatchContext } from './context.js';
import type { Objective } from './objectives.js';
import { checkMethodNorm, methodEntry, methodSettings, type MethodName, type MethodSettings } from './methods.js';
import { eotObjective } from './eot.js';

/** Embeddings of the adversarial batch handed to `measure`. */
export interface AdversarialEmbeddings {
  /** [B, D] after the final update. */
  final: Tensor;
  /** [B, D] computed at the start of the last PGD iteration (after η−1 updates); `final` for the other methods. */
  lastIterationStart: Tensor;
}

/** Selected indices/embeddings of one batch: a plain object of tensors the runner frees. */
export type Selection = Record<string, Tensor>;

/** One reported column of a batch: each attacked image's value in raw units, and the tables' factor (100 for %). */
export interface MeasuredColumn {
  /** [B] per attacked image. */
  perImage: Tensor;
  scale: 1 | 100;
}

/** A column reported in % (fractions ×100 in the tables). */
export const percentColumn = (perImage: Tensor): MeasuredColumn => ({ perImage, scale: 100 });
/** A column reported in its own unit (cosine, distance). */
export const plainColumn = (perImage: Tensor): MeasuredColumn => ({ perImage, scale: 1 });

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
  /** The objective to minimise (batch scalar and per-image terms), from adversarial embeddings [B, D] (metric space). */
  objective(adversarial: Tensor, selection: S, ctx: BatchContext, iteration: number): Objective;
  /** The reported columns for this batch, per attacked image. */
  measure(adversarial: AdversarialEmbeddings, selection: S, ctx: BatchContext): Record<string, MeasuredColumn>;
  /**
   * The selection's embedding tensors recomputed in another model's context (the same gallery
   * indices): a transfer attack chooses on the attacked model and optimises on a surrogate.
   * Needed only by attacks whose selection holds embeddings; index-only selections carry over as they are.
   */
  rebase?(selection: S, ctx: BatchContext): S;
}

/** What `attackBatch` returns for one batch. */
export interface AttackBatchResult {
  /** Reported numbers of this batch (batch means in the tables' units), keyed by table column. */
  values: Record<string, number>;
  /** Each attacked image's number, keyed by table column (tables' units). */
  perImage: Record<string, number[]>;
  /** Objective value at each iteration of the first run (gradient methods). */
  objective: number[];
  /** Passes per image spent: on the model that the search read (`search`), and on the attacked one to measure. */
  passes: AttackPasses;
  /** With `keep.examples`: the adversarial inputs and each attacked image's neighbours before and after. */
  examples?: AttackExamples;
}

/** Passes per attacked image of one attack run. */
export interface AttackPasses {
  /** Forward / backward passes of the search (on the surrogate for a transfer attack). */
  forward: number;
  backward: number;
  /** Whether they ran on a surrogate, not on the attacked model. */
  surrogate: boolean;
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

/** A surrogate to craft the adversarial images on (a transfer attack): its model and the batch's context in its space. */
export interface Surrogate {
  model: EmbeddingModel;
  ctx: BatchContext;
}

export interface AttackBatchOptions {
  /** Also return the adversarial images and the top-k neighbour lists before and after (k = this). */
  examples?: number;
  /** How the ε-ball is searched (default 'pgd', the reference). */
  method?: MethodName;
  /** The method's settings (restarts, queries, …); defaults from METHOD_DEFAULTS. */
  settings?: Partial<MethodSettings>;
  /** Craft on this surrogate and measure on the attacked model (transfer); default none. */
  surrogate?: Surrogate;
  /** Where the first run starts (default the clean images, as the reference); restarts always start at random. */
  start?: 'clean' | 'random';
}

/**
 * Runs one attack on one batch: select on the attacked model's clean context, search the
 * ε-ball with the method (on the surrogate for a transfer attack; with restarts, each image
 * keeps its run with the lowest objective), measure on the attacked model.
 * Frees everything it creates; the contexts stay the caller's.
 */
export function attackBatch<S extends Selection>(
  model: EmbeddingModel,
  attack: RankingAttack<S>,
  ctx: BatchContext,
  budget: PgdBudget,
  o: AttackBatchOptions = {},
): AttackBatchResult {
  checkBudget(budget, attack.kind);
  const method = methodEntry(o.method ?? 'pgd');
  checkMethodNorm(method, budget);
  const settings = methodSettings(o.settings);
  const restarts = method.settings.some((f) => f.key === 'restarts') ? settings.restarts : 0;
  model.eval();
  o.surrogate?.model.eval();
  const metric = ctx.gallery.metric;
  const selection = noGrad(() => tidy(() => attack.select(ctx)));
  // The objective's side: the surrogate's model, context and (rebased) selection for a transfer attack.
  const searched = o.surrogate?.model ?? model;
  const searchCtx = o.surrogate?.ctx ?? ctx;
  const searchSelection = o.surrogate === undefined || attack.rebase === undefined ? selection : noGrad(() => tidy(() => attack.rebase!(selection, searchCtx)));
  let lastIterationStart: Tensor | undefined;
  let adversarialImages: Tensor | undefined;
  let final: Tensor | undefined;
  let best: Float64Array | undefined;
  try {
    const oneDraw = (xAdv: Tensor, iteration: number): Objective => {
      const embedding = embedImages(searched, xAdv, metric);
      if (iteration === budget.steps - 1 && lastIterationStart === undefined) lastIterationStart = keep(noGrad(() => embedding.detach()));
      return attack.objective(embedding, searchSelection, searchCtx, iteration);
    };
    // EOT: each evaluation averages `eot` draws of the model's forward (one draw = the objective itself).
    const objective = eotObjective(oneDraw, settings.eot);
    let values: number[] = [];
    let lastIsFinal = false;
    let forward = 0;
    let backward = 0;
    for (let run = 0; run <= restarts; run++) {
      const r = method.run({ images: ctx.images, budget, settings, start: run === 0 ? (o.start ?? 'clean') : 'random', objective });
      forward += r.forwards * settings.eot;
      backward += r.backwards * settings.eot;
      if (run === 0) {
        values = r.values;
        lastIsFinal = r.lastIterationIsFinal;
      }
      if (restarts === 0) {
        adversarialImages = r.adversarial;
        break;
      }
      // Each image keeps the run whose end point has the lowest objective (one forward pass to score it).
      const score = noGrad(() => tidy(() => Float64Array.from(objective(r.adversarial, budget.steps).perQuery.toArray())));
      forward += settings.eot;
      if (adversarialImages === undefined) {
        adversarialImages = r.adversarial;
        best = score;
        continue;
      }
      const better = Array.from(score, (v, i) => v < best![i]!);
      for (let i = 0; i < score.length; i++) if (better[i]) best![i] = score[i]!;
      const merged = noGrad(() => tidy(() => where(perImageMask(better, ctx.images), r.adversarial, adversarialImages!)));
      dispose([r.adversarial, adversarialImages]);
      adversarialImages = merged;
    }
    final = noGrad(() => embedImages(model, adversarialImages!, metric));
    // ES:D's quirk reads the embedding at the start of PGD's last iteration; it describes the result only for a plain PGD run on the attacked model.
    const startOfLast = lastIsFinal && restarts === 0 && o.surrogate === undefined ? lastIterationStart! : final;
    const measured = noGrad(() => tidy(() => attack.measure({ final: final!, lastIterationStart: startOfLast }, selection, ctx)));
    const out = columnMeans(measured);
    const perImage = Object.fromEntries(Object.entries(measured).map(([column, m]) => [column, m.perImage.toArray().map((v) => m.scale * v)]));
    dispose(measured);
    const passes = { forward, backward, surrogate: o.surrogate !== undefined };
    if (o.examples === undefined) return { values: out, perImage, objective: values, passes };
    const examples = { adversarial: keep(adversarialImages!), ...neighbourLists(ctx, final, o.examples) };
    adversarialImages = undefined; // now the caller's
    return { values: out, perImage, objective: values, passes, examples };
  } finally {
    dispose([selection, searchSelection === selection ? undefined : searchSelection, lastIterationStart, adversarialImages, final]);
  }
}

/** Each column's batch mean in the tables' units (the mean in the tensor's precision, then ×100 for %). */
export function columnMeans(measured: Readonly<Record<string, MeasuredColumn>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [column, m] of Object.entries(measured)) {
    const mean = noGrad(() => tidy(() => m.perImage.mean().item()));
    out[column] = m.scale === 100 ? 100 * mean : mean;
  }
  return out;
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

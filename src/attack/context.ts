// Layer: attack. What every ranking attack sees (docs/attacks-and-metrics.md §1, §4):
// the clean gallery, embedded once, and one batch of images to perturb with
// everything the selection rules need, computed once on CLEAN embeddings and
// shared by all attacks that run on the batch.
import { dispose, noGrad, tidy, type Tensor } from '../tensor/index.js';
import { validateImages } from './pgd.js';
import type { Metric } from '../metric/metric.js';
import type { EmbeddingModel } from '../models/model.js';

/** The retrieval gallery = candidate set: the whole test split, clean and fixed. */
export interface Gallery {
  /** [N, D] embeddings in metric space (`metric.embed`). */
  readonly embeddings: Tensor;
  /** [N] int64 labels. */
  readonly labels: Tensor;
  readonly metric: Metric;
}

/** One batch of B images under attack, with its clean-side selection inputs. */
export interface BatchContext {
  readonly gallery: Gallery;
  /** [B, C, H, W] clean images in [0, 1]. */
  readonly images: Tensor;
  /** [B] int64 true labels of the images. */
  readonly labels: Tensor;
  /** [B, D] clean embeddings e0 in metric space. */
  readonly clean: Tensor;
  /** [B, N] clean distances d(e0_i, X_j). */
  readonly cleanDistances: Tensor;
  /**
   * [B, N] gallery indices sorted by clean distance (stable). Position 0 is
   * assumed to be the image itself; a "neighbour list" is this without position 0.
   */
  readonly ranking: Tensor;
  /** [B] s_i = argmin_j d(e0_i, X_j): the gallery index taken as the image's clean copy. */
  readonly selfIndex: Tensor;
  /** T = ⌊0.01·N⌋, the size of the top-1% neighbour list. */
  readonly topCount: number;
}

/** Size of the top-1% list that CA−/QA− sample from: ⌊0.01·N⌋. */
export function topOnePercent(galleryLength: number): number {
  return Math.floor(0.01 * galleryLength);
}

/** The model's embedding in metric space, with autograd if enabled (eval mode is the caller's job). */
export function embedImages(model: EmbeddingModel, images: Tensor, metric: Metric): Tensor {
  return tidy(() => metric.embed(model.forward(images)));
}

/** Checks a batch against the model: [B, C, H, W] of the model's input shape, finite, in [0, 1]. */
export function assertImageBatch(model: EmbeddingModel, images: Tensor): void {
  const [c, h, w] = model.inputShape;
  const s = images.shape;
  if (s.length !== 4 || s[1] !== c || s[2] !== h || s[3] !== w || s[0] === 0) {
    throw new Error(`attack: images must have shape [B, ${c}, ${h}, ${w}] for ${model.kind}, got [${s.join(', ')}]`);
  }
  validateImages(images);
}

/** Builds a gallery from metric-space embeddings and labels (copies nothing; the caller keeps ownership). */
export function makeGallery(embeddings: Tensor, labels: Tensor, metric: Metric): Gallery {
  if (embeddings.ndim !== 2) throw new Error(`gallery embeddings must be [N, D], got [${embeddings.shape.join(', ')}]`);
  if (labels.ndim !== 1 || labels.shape[0] !== embeddings.shape[0]) {
    throw new Error(`gallery labels must be [${embeddings.shape[0]}], got [${labels.shape.join(', ')}]`);
  }
  if (labels.dtype !== 'int64') throw new Error(`gallery labels must be int64, got ${labels.dtype}`);
  if (embeddings.shape[0] < 2) throw new Error('the gallery needs at least 2 items');
  return { embeddings, labels, metric };
}

/**
 * Clean-side context of a batch, from precomputed clean embeddings (no model
 * needed: this is what the embedding-level tests build directly). The context
 * takes ownership of `clean`; `disposeBatchContext` frees it.
 */
export function contextFromEmbeddings(gallery: Gallery, images: Tensor, labels: Tensor, clean: Tensor): BatchContext {
  if (clean.ndim !== 2 || clean.shape[1] !== gallery.embeddings.shape[1]) {
    throw new Error(`clean embeddings must be [B, ${gallery.embeddings.shape[1]}], got [${clean.shape.join(', ')}]`);
  }
  if (labels.ndim !== 1 || labels.shape[0] !== clean.shape[0]) throw new Error(`labels must be [${clean.shape[0]}], got [${labels.shape.join(', ')}]`);
  if (images.shape[0] !== clean.shape[0]) throw new Error(`${images.shape[0]} images but ${clean.shape[0]} clean embeddings`);
  const derived = noGrad(() =>
    tidy(() => {
      const cleanDistances = gallery.metric.gallery(clean, gallery.embeddings);
      const ranking = cleanDistances.argsort(1);
      const selfIndex = cleanDistances.argmin(1);
      return { cleanDistances, ranking, selfIndex };
    }),
  );
  return { gallery, images, labels, clean, ...derived, topCount: topOnePercent(gallery.embeddings.shape[0]!) };
}

/** Embeds a batch once, clean, with the model in eval mode, and derives its context. */
export function buildBatchContext(model: EmbeddingModel, gallery: Gallery, images: Tensor, labels: Tensor): BatchContext {
  assertImageBatch(model, images);
  model.eval();
  const clean = noGrad(() => embedImages(model, images, gallery.metric));
  try {
    return contextFromEmbeddings(gallery, images, labels, clean);
  } catch (e) {
    clean.dispose();
    throw e;
  }
}

/** Frees what the context derived (clean embeddings, distances, ranking); images, labels and gallery stay the caller's. */
export function disposeBatchContext(ctx: BatchContext): void {
  dispose([ctx.clean, ctx.cleanDistances, ctx.ranking, ctx.selfIndex]);
}

/** [B, N] clean distances with each image's clean self s_i set to 1e38 (GTM, GTT selections). */
export function selfMaskedDistances(ctx: BatchContext): Tensor {
  return noGrad(() => tidy(() => ctx.cleanDistances.scatter(1, ctx.selfIndex.unsqueeze(1), SELF_MASK_DISTANCE)));
}

/** The value RobRank writes over the self distance to take it out of a ranking. */
export const SELF_MASK_DISTANCE = 1e38;

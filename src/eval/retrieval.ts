// Layer: eval. Benign retrieval metrics exactly as RobRank computes them
// (docs/attacks-and-metrics.md §1–2): r@M, Recall@K, mAP, mAP@10 (RobRank's
// "mAP@R" with R fixed to 10), and optionally the standard mAP@R with each
// query's own R (pytorch-metric-learning's definition).
//
// Protocol, per query: distances to the whole gallery, sorted ascending; the
// FIRST element is dropped because it is assumed to be the query itself (the
// reference does not check that it is). On the remaining list L (length N-1),
// rel_k = [label(L_k) = label(query)].
//
// Aggregation (reference): each batch of queries is summarised by its mean, and
// the reported number is the UNWEIGHTED mean over batches, so a smaller last
// batch weighs as much as a full one. The exact mean over queries is returned
// next to it.
import { arange, stack, tidy, type Tensor } from '../tensor/index.js';
import { assertEmbeddingMatrix, assertFinite } from '../metric/check.js';
import type { Metric } from '../metric/metric.js';
import { progressBar } from '../util/progress.js';

/**
 * How the query's own gallery copy is removed from its ranking:
 * - 'first': drop position 0 of the sorted list, whatever it is (the reference
 *   behaviour; right when the query is in the gallery and nothing else sits at
 *   distance 0 from it);
 * - 'index': drop the query's own gallery index (see `queryGalleryIndex`), for
 *   galleries where the self copy may not sort first (exact duplicates).
 */
export type ExcludeSelfBy = 'first' | 'index';

/** Options of `retrievalMetrics`. */
export interface RetrievalOptions {
  /** The K of Recall@K; default [1, 2]. Each K must be in [1, N-1]. */
  recallAt?: readonly number[];
  /** Queries per batch; default 128 (the reference's 28×28 batch; 112 for 224×224). */
  batchSize?: number;
  /** Default 'first' (the reference). */
  excludeSelfBy?: ExcludeSelfBy;
  /**
   * With excludeSelfBy 'index': int tensor [Q], the gallery index of each
   * query's own copy. Default: query i is gallery item i.
   */
  queryGalleryIndex?: Tensor;
  /** Also compute the standard mAP@R (R = the query's number of relevant items). */
  withMapAtR?: boolean;
  /** Also return each query's values (`RetrievalReport.perQuery`), for the bootstrap's intervals. */
  perQuery?: boolean;
  /** A progress bar with ETA on stderr, one tick per query batch (default off). */
  progress?: boolean;
}

/** Retrieval metrics as fractions (meanRank is a position). */
export interface RetrievalMetrics {
  /** r@M: mean 0-based position in L of the first relevant item. */
  meanRank: number;
  /** Recall@K as a fraction, keyed by K. */
  recallAt: Record<number, number>;
  /** Full-list mean average precision. */
  mAP: number;
  /** mAP@10, RobRank's "mAP@R" with R fixed to 10: (1/10) Σ_{k≤10} rel_k·precision@k. */
  mAPAt10: number;
  /**
   * Standard mAP@R (Musgrave et al., pytorch-metric-learning), R = the query's
   * number of relevant items: (1/R) Σ_{k≤R} rel_k·precision@k; only when asked for.
   */
  mAPAtR?: number;
}

/** Both aggregations of `retrievalMetrics`. */
export interface RetrievalReport {
  /** The reference's number: per-batch means, then the unweighted mean over batches. */
  batchMean: RetrievalMetrics;
  /** The exact mean over all queries. */
  queryMean: RetrievalMetrics;
  queries: number;
  batches: number;
  /** With `perQuery`: each query's rank of its first relevant item, AP, AP@10, (AP@R), hit@K (0/1), in query order. */
  perQuery?: { meanRank: number[]; mAP: number[]; mAPAt10: number[]; mAPAtR?: number[]; recallAt: Record<number, number[]> };
}

/** The reference's mAP@R uses a fixed R. */
export const MAP_FIXED_R = 10;

const INTEGER_DTYPES = new Set(['uint8', 'int8', 'int16', 'int32', 'int64']);

function assertLabels(labels: Tensor, count: number, what: string): void {
  if (labels.ndim !== 1 || labels.shape[0] !== count) {
    throw new Error(`${what} must have shape [${count}] to match the embeddings, got [${labels.shape.join(', ')}]`);
  }
  if (!INTEGER_DTYPES.has(labels.dtype)) throw new Error(`${what} must be an integer tensor, got ${labels.dtype}`);
}

function resolveRecallAt(recallAt: readonly number[], listLength: number): number[] {
  if (recallAt.length === 0) throw new Error('recallAt must list at least one K');
  for (const k of recallAt) {
    if (!Number.isInteger(k) || k < 1) throw new Error(`Recall@K needs an integer K >= 1, got ${k}`);
    if (k > listLength) {
      throw new Error(`Recall@${k} asks for more items than the ${listLength} left in each ranking (gallery of ${listLength + 1} minus self)`);
    }
  }
  return [...new Set(recallAt)];
}

function validateQueryGalleryIndex(index: Tensor | undefined, queries: number, galleryCount: number): void {
  if (index === undefined) {
    if (queries > galleryCount) {
      throw new Error(
        `excludeSelfBy 'index' without queryGalleryIndex maps query i to gallery item i, but there are ${queries} queries and only ${galleryCount} gallery items`,
      );
    }
    return;
  }
  assertLabels(index, queries, 'queryGalleryIndex');
  const [lo, hi] = tidy(() => [index.min().item(), index.max().item()]);
  if (lo! < 0 || hi! >= galleryCount) {
    throw new Error(`queryGalleryIndex values must lie in [0, ${galleryCount}), got range [${lo}, ${hi}]`);
  }
}

/** Column order of the per-batch sums computed by `batchSums`. */
interface StatLayout {
  recallAt: number[];
  withMapAtR: boolean;
}

/**
 * Sums over one batch of queries, as [rank, AP, AP@10, (AP@R), hit@K...].
 * One sort per batch; ranks and precisions come from a cumulative sum of the
 * relevance matrix, no per-query loop.
 */
function batchSums(
  queries: Tensor,
  queryLabels: Tensor,
  gallery: Tensor,
  galleryLabels: Tensor,
  metric: Metric,
  selfIndex: Tensor | null,
  layout: StatLayout,
  firstQuery: number,
  values?: number[][],
): number[] {
  return tidy(() => {
    // The reference's ranking numerics (Metric.gallery), as the attacks rank.
    let distances = metric.gallery(queries, gallery);
    // Forcing the own copy to -inf makes it sort first, so dropping position 0 drops exactly it.
    if (selfIndex !== null) distances = distances.scatter(1, selfIndex.long().unsqueeze(1), -Infinity);
    const [, order] = distances.sort(1); // stable: exact ties keep gallery order
    const listLength = gallery.shape[0]! - 1;
    const ranked = order.narrow(1, 1, listLength);
    const relevant = galleryLabels.index([ranked]).eq(queryLabels.unsqueeze(1)).double(); // rel_k, [B, L]
    const relevantSoFar = relevant.cumsum(1);
    const relevantCount = relevantSoFar.narrow(1, listLength - 1, 1).squeeze(1);

    const missing = relevantCount.eq(0);
    if (missing.any().item()) {
      const row = missing.to('uint8').argmax().item();
      throw new Error(`query ${firstQuery + row} has no item of its label in the gallery (after removing itself): rank and AP are undefined`);
    }

    const positions = arange(1, listLength + 1, 1, { dtype: 'float64', device: relevant.device }); // 1-based k
    const precisionAtRelevant = relevant.mul(relevantSoFar.div(positions)); // rel_k · precision@k
    // 0-based rank of the first relevant item = number of leading non-relevant items.
    const firstRelevant = relevantSoFar.eq(0).sum(1).double();
    const ap = precisionAtRelevant.sum(1).div(relevantCount);
    const topCount = Math.min(MAP_FIXED_R, listLength); // a shorter list counts the missing positions as non-relevant
    const apAt10 = precisionAtRelevant.narrow(1, 0, topCount).sum(1).div(MAP_FIXED_R);
    const perQuery: Tensor[] = [firstRelevant, ap, apAt10];
    if (layout.withMapAtR) {
      const withinR = positions.unsqueeze(0).le(relevantCount.unsqueeze(1));
      perQuery.push(precisionAtRelevant.mul(withinR).sum(1).div(relevantCount));
    }
    for (const k of layout.recallAt) perQuery.push(firstRelevant.lt(k).double());
    const table = stack(perQuery, 0);
    if (values !== undefined) {
      const flat = table.toArray();
      const size = queries.shape[0]!;
      values.forEach((column, c) => column.push(...flat.slice(c * size, (c + 1) * size)));
    }
    return table.sum(1).toArray();
  });
}

function toMetrics(values: readonly number[], layout: StatLayout): RetrievalMetrics {
  const recallAt: Record<number, number> = {};
  const recallOffset = layout.withMapAtR ? 4 : 3;
  layout.recallAt.forEach((k, i) => {
    recallAt[k] = values[recallOffset + i]!;
  });
  const metrics: RetrievalMetrics = { meanRank: values[0]!, recallAt, mAP: values[1]!, mAPAt10: values[2]! };
  if (layout.withMapAtR) metrics.mAPAtR = values[3]!;
  return metrics;
}

/**
 * Benign retrieval metrics of `queries` [Q, D] against `gallery` [N, D], both
 * already in metric space (`metric.embed`), with integer labels [Q] and [N].
 * Every value is a fraction in [0, 1] except meanRank (a position); callers
 * multiply by 100 for tables. Throws on shape/label mismatches, non-finite
 * embeddings, K > N-1, and queries without any relevant gallery item.
 */
export function retrievalMetrics(
  queries: Tensor,
  gallery: Tensor,
  queryLabels: Tensor,
  galleryLabels: Tensor,
  metric: Metric,
  options: RetrievalOptions = {},
): RetrievalReport {
  assertEmbeddingMatrix(queries, 'query embeddings');
  assertEmbeddingMatrix(gallery, 'gallery embeddings');
  const [queryCount, dim] = queries.shape as [number, number];
  const galleryCount = gallery.shape[0]!;
  if (gallery.shape[1] !== dim) throw new Error(`query embeddings are ${dim}-d but gallery embeddings are ${gallery.shape[1]}-d`);
  if (gallery.dtype !== queries.dtype) throw new Error(`query embeddings are ${queries.dtype} but gallery embeddings are ${gallery.dtype}`);
  assertLabels(queryLabels, queryCount, 'query labels');
  assertLabels(galleryLabels, galleryCount, 'gallery labels');
  if (galleryCount < 2) throw new Error(`the gallery needs at least 2 items (self + one candidate), got ${galleryCount}`);
  assertFinite(queries, 'query embeddings');
  assertFinite(gallery, 'gallery embeddings');

  const batchSize = options.batchSize ?? 128;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  const excludeSelfBy = options.excludeSelfBy ?? 'first';
  if (excludeSelfBy !== 'first' && excludeSelfBy !== 'index') {
    throw new Error(`excludeSelfBy must be 'first' or 'index', got '${String(excludeSelfBy)}'`);
  }
  if (options.queryGalleryIndex !== undefined && excludeSelfBy !== 'index') {
    throw new Error(`queryGalleryIndex is only used with excludeSelfBy 'index'`);
  }
  if (excludeSelfBy === 'index') validateQueryGalleryIndex(options.queryGalleryIndex, queryCount, galleryCount);
  const layout: StatLayout = {
    recallAt: resolveRecallAt(options.recallAt ?? [1, 2], galleryCount - 1),
    withMapAtR: options.withMapAtR ?? false,
  };

  const columns = 3 + (layout.withMapAtR ? 1 : 0) + layout.recallAt.length;
  const sumOfBatchMeans = new Array<number>(columns).fill(0);
  const sumOverQueries = new Array<number>(columns).fill(0);
  const values = options.perQuery === true ? Array.from({ length: columns }, () => [] as number[]) : undefined;
  let batches = 0;
  const bar = progressBar(options.progress, Math.ceil(queryCount / batchSize), `ranking ${queryCount} queries`);
  try {
    for (let start = 0; start < queryCount; start += batchSize) {
      const size = Math.min(batchSize, queryCount - start);
      const sums = tidy(() => {
        const selfIndex =
          excludeSelfBy === 'first' ? null : (options.queryGalleryIndex?.narrow(0, start, size) ?? arange(start, start + size, 1, { device: queries.device }));
        return batchSums(queries.narrow(0, start, size), queryLabels.narrow(0, start, size), gallery, galleryLabels, metric, selfIndex, layout, start, values);
      });
      sums.forEach((s, c) => {
        sumOfBatchMeans[c]! += s / size;
        sumOverQueries[c]! += s;
      });
      batches++;
      bar?.tick();
    }
  } finally {
    bar?.close();
  }
  return {
    batchMean: toMetrics(
      sumOfBatchMeans.map((s) => s / batches),
      layout,
    ),
    queryMean: toMetrics(
      sumOverQueries.map((s) => s / queryCount),
      layout,
    ),
    queries: queryCount,
    batches,
    ...(values === undefined ? {} : { perQuery: perQueryValues(values, layout) }),
  };
}

function perQueryValues(values: number[][], layout: StatLayout): NonNullable<RetrievalReport['perQuery']> {
  const recallOffset = layout.withMapAtR ? 4 : 3;
  const recallAt = Object.fromEntries(layout.recallAt.map((k, i) => [k, values[recallOffset + i]!]));
  return { meanRank: values[0]!, mAP: values[1]!, mAPAt10: values[2]!, ...(layout.withMapAtR ? { mAPAtR: values[3]! } : {}), recallAt };
}

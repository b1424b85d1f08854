// Layer: serve. Nearest gallery items by exact distance. Candidates come from
// the fast distances attacks use (attack/gallery-distance.ts: matmul expansion
// for N/E), twice as many as asked for; they are then measured exactly
// (differences, so an image's own copy is at distance 0) and ordered by
// (distance, id). Searches by id (the precomputed table) and by image (one row)
// go through the same function, so they agree.
import { noGrad, tidy, Tensor } from '../tensor/index.js';
import type { Metric } from '../metric/metric.js';
import { progressBar } from '../util/progress.js';
import type { NeighbourTable, Neighbours } from './protocol.js';

/** Query rows per block of the table: bounds the [rows, 2k, D] block of exact differences. */
const TABLE_ROWS = 64;

/** The k nearest gallery items of each query row [B, D] (metric space); row-major [B, k] ids and distances. */
export function nearestNeighbours(queries: Tensor, gallery: Tensor, metric: Metric, k: number): { ids: Int32Array; distances: Float32Array } {
  const [b, d] = queries.shape as [number, number];
  const n = gallery.shape[0]!;
  const kk = Math.min(k, n);
  const wide = Math.min(n, 2 * kk);
  const [idx, exact] = noGrad(() =>
    tidy(() => {
      const [, candidates] = metric.gallery(queries, gallery).topk(wide, 1, false, false);
      const rows = gallery.indexSelect(0, candidates.reshape(b * wide));
      const repeated = queries
        .unsqueeze(1)
        .expand(b, wide, d)
        .reshape(b * wide, d);
      return [candidates.toArray(), metric.rows(repeated, rows).toFloat32Array()] as const;
    }),
  );
  const ids = new Int32Array(b * kk);
  const distances = new Float32Array(b * kk);
  const order = Array.from({ length: wide }, (_, i) => i);
  for (let r = 0; r < b; r++) {
    const o = r * wide;
    order.sort((x, y) => exact[o + x]! - exact[o + y]! || idx[o + x]! - idx[o + y]!);
    for (let j = 0; j < kk; j++) {
      ids[r * kk + j] = idx[o + order[j]!]!;
      distances[r * kk + j] = exact[o + order[j]!]!;
    }
  }
  return { ids, distances };
}

/** The neighbours of one query [1, D] as lists. */
export function neighboursOf(query: Tensor, gallery: Tensor, metric: Metric, k: number): Neighbours {
  const { ids, distances } = nearestNeighbours(query, gallery, metric, k);
  return { ids: Array.from(ids), distances: Array.from(distances) };
}

/** The k nearest items of every gallery item (its own copy first, at distance 0 for N and E), in blocks, with a progress bar. */
export function neighbourTable(gallery: Tensor, metric: Metric, k: number, progress: boolean): NeighbourTable {
  const n = gallery.shape[0]!;
  const kk = Math.min(k, n);
  const ids = new Int32Array(n * kk);
  const distances = new Float32Array(n * kk);
  const bar = progressBar(progress, Math.ceil(n / TABLE_ROWS), `nearest ${kk} of ${n} gallery images`);
  try {
    for (let start = 0; start < n; start += TABLE_ROWS) {
      const rows = Math.min(TABLE_ROWS, n - start);
      const block = tidy(() => nearestNeighbours(gallery.narrow(0, start, rows), gallery, metric, kk));
      ids.set(block.ids, start * kk);
      distances.set(block.distances, start * kk);
      bar?.tick();
    }
  } finally {
    bar?.close();
  }
  return { k: kk, ids, distances };
}

/**
 * Exact distances from one embedding [1, D] to every row of `rows` [N, D], computed as
 * nearestNeighbours measures its candidates (same operation, same argument order), so a
 * rank counted here agrees with the neighbour lists to the last bit.
 */
export function distancesFrom(query: Tensor, rows: Tensor, metric: Metric): Float32Array {
  const [n, d] = rows.shape as [number, number];
  return noGrad(() => tidy(() => metric.rows(query.expand(n, d), rows).toFloat32Array()));
}

/** 1-based rank of a distance among a row of gallery distances: 1 + the items strictly closer (ties in its favour, as the attacks' prank). */
export function rankOf(row: Float32Array, distance: number): number {
  let closer = 0;
  for (let j = 0; j < row.length; j++) if (row[j]! < distance) closer++;
  return closer + 1;
}

/** A gallery row [1, D] as a fresh tensor. */
export function galleryRow(gallery: Tensor, id: number): Tensor {
  return noGrad(() => tidy(() => gallery.narrow(0, id, 1).clone()));
}

/** Embeddings received over IPC as a tensor on `device`-less CPU memory (the caller moves it). */
export function embeddingsTensor(e: { embeddings: Float32Array; dim: number }): Tensor {
  return Tensor.fromTypedArray(e.embeddings, [e.embeddings.length / e.dim, e.dim], 'float32');
}

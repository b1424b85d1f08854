// Layer: eval. Normalised mutual information between class labels and cluster
// ids, with scikit-learn's default arithmetic-mean normalisation
// NMI = I(Y;C) / ((H(Y) + H(C)) / 2), natural logarithms (the base cancels),
// and the NMI metric of docs/attacks-and-metrics.md §2 (k-means with k = number of
// classes on the metric-space embeddings, then NMI).
import { tidy, type Tensor } from '../tensor/index.js';
import { kmeans, type KMeansOptions } from './kmeans.js';

/** Entropy (nats) of a distribution given by counts summing to `total`. */
function entropy(counts: Iterable<number>, total: number): number {
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / total) * Math.log(c / total);
  return h;
}

/** Maps arbitrary integer ids to 0..m-1 in order of first appearance. */
function denseIds(ids: ArrayLike<number>, what: string): { dense: Int32Array; count: number } {
  const seen = new Map<number, number>();
  const dense = new Int32Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id)) throw new Error(`${what}[${i}] must be an integer id, got ${id}`);
    let d = seen.get(id);
    if (d === undefined) {
      d = seen.size;
      seen.set(id, d);
    }
    dense[i] = d;
  }
  return { dense, count: seen.size };
}

/**
 * NMI(labels, clusters) in [0, 1], as sklearn.metrics.normalized_mutual_info_score
 * with average_method='arithmetic'. The contingency table is kept sparse (a map
 * over occupied cells): SOP has 11 316 classes × 11 316 clusters.
 * Special cases follow scikit-learn: both labelings constant -> 1; zero mutual
 * information -> 0.
 */
export function normalizedMutualInformation(labels: ArrayLike<number>, clusters: ArrayLike<number>): number {
  const n = labels.length;
  if (clusters.length !== n) throw new Error(`NMI: ${n} labels but ${clusters.length} cluster ids`);
  if (n === 0) throw new Error('NMI: no samples');
  const y = denseIds(labels, 'labels');
  const c = denseIds(clusters, 'clusters');
  if (y.count === 1 && c.count === 1) return 1; // one class, one cluster: a perfect (trivial) match

  const classSizes = new Int32Array(y.count);
  const clusterSizes = new Int32Array(c.count);
  const cells = new Map<number, number>(); // key = class * clusterCount + cluster
  for (let i = 0; i < n; i++) {
    classSizes[y.dense[i]!]!++;
    clusterSizes[c.dense[i]!]!++;
    const key = y.dense[i]! * c.count + c.dense[i]!;
    cells.set(key, (cells.get(key) ?? 0) + 1);
  }
  let mutualInformation = 0;
  for (const [key, nij] of cells) {
    const a = classSizes[Math.floor(key / c.count)]!;
    const b = clusterSizes[key % c.count]!;
    mutualInformation += (nij / n) * Math.log((n * nij) / (a * b));
  }
  // Round-off can make an independent pair's MI slightly negative; sklearn clips at 0.
  mutualInformation = Math.max(mutualInformation, 0);
  if (mutualInformation === 0) return 0;
  const normaliser = (entropy(classSizes, n) + entropy(clusterSizes, n)) / 2;
  return mutualInformation / normaliser;
}

/** What `embeddingNmi` returns. */
export interface EmbeddingNmi {
  nmi: number;
  /** k = number of distinct labels. */
  clusters: number;
  /** Each item's label and k-means cluster (what the NMI's bootstrap resamples). */
  labels: number[];
  assignments: number[];
}

/**
 * The NMI metric: k-means (k = number of distinct labels) on `embeddings` [N, D],
 * already in metric space (normalised for N/C), then NMI against `labels` [N].
 */
export function embeddingNmi(embeddings: Tensor, labels: Tensor, options: KMeansOptions = {}): EmbeddingNmi {
  if (labels.ndim !== 1 || labels.shape[0] !== embeddings.shape[0]) {
    throw new Error(`labels must have shape [${embeddings.shape[0]}] to match the embeddings, got [${labels.shape.join(', ')}]`);
  }
  const labelIds = tidy(() => labels.toArray());
  const k = new Set(labelIds).size;
  const result = kmeans(embeddings, k, options);
  result.centroids.dispose();
  return { nmi: normalizedMutualInformation(labelIds, result.assignments), clusters: k, labels: labelIds, assignments: Array.from(result.assignments) };
}

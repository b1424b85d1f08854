// Layer: eval. Lloyd k-means on tensor ops, for the NMI metric
// (docs/attacks-and-metrics.md §2). Modelled on the faiss settings the reference uses:
// 25 Lloyd iterations, one run, centroids trained on a random subsample of at
// most 256·k points, then every point assigned to its nearest centroid.
//
// Randomness comes from libtorch's global generator. With a numeric `seed`
// (default 123, faiss' CPU Kmeans seed) the generator is RESET with
// manualSeed(seed) first, which makes the clustering reproducible but also
// replaces the state any later random op sees; pass `seed: null` to draw from
// the generator as it stands. The results match faiss in distribution, not bit
// for bit (different RNG) — NMI is the one metric the spec calls not exactly
// reproducible.
import { call1, cat, manualSeed, multinomial, onDevice, onesLike, randint, randperm, tensor, tidy, zeros, type Device, type Tensor } from '../tensor/index.js';
import { assertEmbeddingMatrix, assertFinite } from '../metric/check.js';
import { progressBar } from '../util/progress.js';

/**
 * 'random': k distinct training points drawn uniformly (faiss' initialisation);
 * 'kmeans++': D²-weighted seeding (Arthur & Vassilvitskii), one candidate per
 * step (scikit-learn's greedy variant tries several).
 */
export type KMeansInit = 'random' | 'kmeans++';

/** Options of `kmeans` (defaults: faiss' settings). */
export interface KMeansOptions {
  /** Lloyd iterations (assignment + update); default 25. Stops early once assignments stop changing. */
  iterations?: number;
  /** Default 'random' (faiss). */
  init?: KMeansInit;
  /** Reseeds libtorch's global generator when a number (default 123); null keeps its current state. */
  seed?: number | null;
  /** Train on at most this many points per centroid (faiss: 256); null trains on all points. */
  maxPointsPerCentroid?: number | null;
  /** A progress bar with ETA on stderr, one tick per Lloyd iteration (default off; SOP's k = 11 316 takes minutes). */
  progress?: boolean;
}

/** What `kmeans` returns. */
export interface KMeansResult {
  /** [k, D] centroids, same dtype as the points; the caller owns (disposes) it. */
  centroids: Tensor;
  /** Nearest-centroid index of every input point. */
  assignments: Int32Array;
  /** Sum of squared distances of every point to its centroid. */
  inertia: number;
  /** Points the centroids were trained on (after subsampling). */
  trainingPoints: number;
  /** Lloyd iterations actually run. */
  iterations: number;
  /** Empty clusters that were reseeded over all iterations. */
  reseeded: number;
}

/** Rows of a [rows, k] score block per chunk: bounds memory for large k (SOP: k = 11 316). */
const SCORE_BLOCK_ELEMENTS = 1 << 24;

/** Squared Euclidean distance of each point to its nearest centroid, and that centroid's index (int64). */
function nearestCentroid(points: Tensor, centroids: Tensor): [Tensor, Tensor] {
  return tidy(() => {
    const k = centroids.shape[0]!;
    const rowsPerBlock = Math.max(1, Math.floor(SCORE_BLOCK_ELEMENTS / k));
    const centroidNormSq = centroids.square().sum(1);
    const distances: Tensor[] = [];
    const indices: Tensor[] = [];
    for (let start = 0; start < points.shape[0]!; start += rowsPerBlock) {
      const block = points.narrow(0, start, Math.min(rowsPerBlock, points.shape[0]! - start));
      // |x - c|² = |x|² + |c|² - 2 x·c; the argmin needs only the last two terms.
      const scores = block.matmul(centroids.t()).mul(-2).add(centroidNormSq);
      const [best, index] = scores.minDim(1);
      distances.push(best.add(block.square().sum(1)).clampMin(0));
      indices.push(index);
    }
    return [cat(distances), cat(indices)] as [Tensor, Tensor];
  });
}

function randomInit(points: Tensor, k: number): Tensor {
  return tidy(() => points.indexSelect(0, onDevice(randperm(points.shape[0]!).narrow(0, 0, k), points.device as Device)));
}

function kmeansPlusPlusInit(points: Tensor, k: number): Tensor {
  const n = points.shape[0]!;
  const chosen: number[] = [tidy(() => randint(0, n, [1]).item())];
  let closestSq = tidy(() =>
    points
      .sub(points.narrow(0, chosen[0]!, 1))
      .square()
      .sum(1),
  );
  try {
    for (let c = 1; c < k; c++) {
      const next = tidy(() => {
        // All remaining mass zero means every point coincides with a chosen centroid: fall back to uniform.
        const weights = closestSq.sum().item() > 0 ? closestSq : onesLike(closestSq);
        return multinomial(weights, 1).item();
      });
      chosen.push(next);
      const updated = tidy(() =>
        closestSq.minimum(
          points
            .sub(points.narrow(0, next, 1))
            .square()
            .sum(1),
        ),
      );
      closestSq.dispose();
      closestSq = updated;
    }
  } finally {
    closestSq.dispose();
  }
  return tidy(() => points.indexSelect(0, onDevice(tensor(chosen, [k], 'int64'), points.device as Device)));
}

/**
 * One Lloyd update: every centroid moves to the mean of its points. An empty
 * cluster is reseeded at the point farthest from its own centroid (the next
 * farthest for the next empty one), as scikit-learn does; faiss instead splits
 * a large cluster. Returns the new centroids and the number reseeded.
 */
function updateCentroids(points: Tensor, centroids: Tensor, distanceSq: Tensor, assignment: Tensor): [Tensor, number] {
  return tidy(() => {
    const [k, dim] = centroids.shape as [number, number];
    const sums = call1('aten::index_add', [zeros([k, dim], { dtype: points.dtype, device: points.device }), 0, assignment, points, 1]);
    const counts = call1('aten::bincount', [assignment, null, k]);
    let updated = sums.div(counts.clampMin(1).unsqueeze(1).to(points.dtype));
    const empty = counts.eq(0).nonzero().squeeze(1);
    const emptyCount = empty.shape[0]!;
    if (emptyCount > 0) {
      const [, farthest] = distanceSq.topk(emptyCount, 0, true, true);
      updated = call1('aten::index_copy', [updated, 0, empty, points.indexSelect(0, farthest)]);
    }
    return [updated, emptyCount] as [Tensor, number];
  });
}

function validate(points: Tensor, k: number, o: Required<KMeansOptions>): void {
  assertEmbeddingMatrix(points, 'k-means points');
  assertFinite(points, 'k-means points');
  const n = points.shape[0]!;
  if (!Number.isInteger(k) || k < 1 || k > n) throw new Error(`k-means needs an integer k in [1, ${n}] (number of points), got ${k}`);
  if (!Number.isInteger(o.iterations) || o.iterations < 1) throw new Error(`k-means iterations must be a positive integer, got ${o.iterations}`);
  if (o.init !== 'random' && o.init !== 'kmeans++') throw new Error(`k-means init must be 'random' or 'kmeans++', got '${String(o.init)}'`);
  const cap = o.maxPointsPerCentroid;
  if (cap !== null && (!Number.isInteger(cap) || cap < 1)) throw new Error(`maxPointsPerCentroid must be a positive integer or null, got ${cap}`);
}

/** Clusters the rows of `points` [N, D] into k clusters (see the module comment for the protocol). */
export function kmeans(points: Tensor, k: number, options: KMeansOptions = {}): KMeansResult {
  const o: Required<KMeansOptions> = {
    iterations: options.iterations ?? 25,
    init: options.init ?? 'random',
    seed: options.seed === undefined ? 123 : options.seed,
    maxPointsPerCentroid: options.maxPointsPerCentroid === undefined ? 256 : options.maxPointsPerCentroid,
    progress: options.progress ?? false,
  };
  validate(points, k, o);
  if (o.seed !== null) manualSeed(o.seed);
  const n = points.shape[0]!;
  const trainingCount = o.maxPointsPerCentroid === null ? n : Math.min(n, k * o.maxPointsPerCentroid);

  const training = tidy(() =>
    trainingCount < n ? points.indexSelect(0, onDevice(randperm(n).narrow(0, 0, trainingCount), points.device as Device)) : points.clone(),
  );
  let centroids: Tensor | null = null;
  let previous: Tensor | null = null;
  const bar = progressBar(o.progress, o.iterations, `k-means (k = ${k}) on ${trainingCount} points`);
  try {
    centroids = o.init === 'random' ? randomInit(training, k) : kmeansPlusPlusInit(training, k);
    let reseeded = 0;
    let iterations = 0;
    while (iterations < o.iterations) {
      const [distanceSq, assignment] = nearestCentroid(training, centroids);
      const converged = previous !== null && tidy(() => assignment.eq(previous!).all().item() === 1);
      // Unchanged assignments give unchanged centroids: further iterations would be no-ops.
      if (converged) {
        distanceSq.dispose();
        assignment.dispose();
        break;
      }
      const [updated, emptied] = updateCentroids(training, centroids, distanceSq, assignment);
      distanceSq.dispose();
      centroids.dispose();
      centroids = updated;
      previous?.dispose();
      // A reseed moves a centroid without changing any assignment yet: never treat that as converged.
      if (emptied > 0) {
        assignment.dispose();
        previous = null;
      } else {
        previous = assignment;
      }
      reseeded += emptied;
      iterations++;
      bar?.tick();
    }
    const [distanceSq, assignment] = nearestCentroid(points, centroids);
    const inertia = tidy(() => distanceSq.double().sum().item());
    const assignments = tidy(() => assignment.to('int32').data() as Int32Array);
    distanceSq.dispose();
    assignment.dispose();
    const result: KMeansResult = { centroids, assignments, inertia, trainingPoints: trainingCount, iterations, reseeded };
    centroids = null; // ownership passes to the caller
    return result;
  } finally {
    bar?.close();
    training.dispose();
    previous?.dispose();
    centroids?.dispose();
  }
}

// Layer: metric. The three DML metrics (docs/methods.md §1) as objects, and the
// one place that says how they differ:
//   N: Euclidean distance between L2-normalised embeddings (range [0, 2])
//   E: Euclidean distance between raw embeddings
//   C: cosine distance 1 − cos between normalised embeddings (range [0, 2])
// Each instance carries everything that depends on the metric: how an
// embedding enters metric space, its distances (exact, with the reference's
// gallery numerics, row-wise, inside the losses, from a Gram matrix for the
// miners), and its default margin. Code below the
// CLI passes `Metric` objects; configs, checkpoints and JSON keep the name
// (`metricByName` turns one into the other; an instance serialises to its name).
import { call1, tidy, type Tensor } from '../tensor/index.js';
import { namesOf } from '../util/catalogue.js';

/** eps of PyTorch's triplet_margin_loss / pairwise_distance. */
export const TRIPLET_PAIRWISE_EPS = 1e-6;
/** eps of PyTorch's cosine_similarity. */
export const COSINE_SIMILARITY_EPS = 1e-8;

/** A DML metric named N: its names, defaults and distances. Get one from `METRICS` or `metricByName`. */
export interface MetricOf<N extends string> {
  /** The name configs, checkpoints and JSON store. */
  readonly name: N;
  /** The letter that ends a RobRank loss name (`ptripletN`). */
  readonly code: string;
  /** One line for help texts and reports. */
  readonly summary: string;
  /** The triplet margin γ RobRank uses with this metric (its margin_cosine 0.2 for N and C, margin_euclidean 1.0 for E). */
  readonly defaultMargin: number;
  /**
   * The margin RobRank's ACT hands its miner for this metric whatever the loss
   * margin (docs/methods.md §2 quirk): margin_euclidean = 1.0 for the Euclidean
   * metrics N and E; absent for C, whose miner gets the loss margin.
   */
  readonly referenceMinerMargin?: number;
  /** The embedding as the metric uses it ("metric space"): normalised for N and C, a copy of the raw one for E. */
  embed(z: Tensor): Tensor;
  /**
   * Exact distances between every row of `a` [n, d] and every row of `b` [m, d] → [n, m],
   * in metric space: exact differences for N/E (no √(|x|²+|y|²−2x·y) round-off, stable
   * gradients at 0), 1 − a·bᵀ for C.
   */
  pairwise(a: Tensor, b: Tensor): Tensor;
  /**
   * Distances from a batch to the whole gallery → [n, m], as the reference computes them
   * for ranking and attacks: torch.cdist's DEFAULT compute mode for N/E, which for more
   * than 25 rows uses the matmul expansion √(|q|² + |x|² − 2q·x) — ~10× cheaper than
   * `pairwise` per PGD step against a 10 000-item gallery (764 ms vs 74 ms
   * forward+backward for [128, 512] × [10 000, 512], 1 thread), for differences far
   * below the rankings' resolution (near-ties may swap, as in the reference); C as `pairwise`.
   */
  gallery(a: Tensor, b: Tensor): Tensor;
  /** Row-wise distance d(a_i, b_i) → [n], in metric space. */
  rows(a: Tensor, b: Tensor): Tensor;
  /**
   * Row-wise distance as the triplet (and contrastive) loss sees it, exactly as the
   * reference: N/E PyTorch's pairwise_distance, with eps 1e-6 added to EVERY component
   * of the difference (it also keeps the gradient finite at u = v); C
   * 1 − cosine_similarity with its eps 1e-8 guarding the norms' product.
   */
  lossRows(u: Tensor, v: Tensor): Tensor;
  /**
   * All distances of metric-space rows x from their Gram matrix x·xᵀ [n, n], as
   * RobRank's miners compute them (`__miner_pdist`): N/E √(|x_i|² + |x_j|² − 2x_i·x_j)
   * with the squared norms from the Gram diagonal (so the diagonal is exactly 0;
   * round-off may make the radicand slightly negative off it, giving NaN), C 1 − x_i·x_j.
   */
  fromGram(gram: Tensor): Tensor;
  /** The name, so that a metric in a message or a JSON document reads as in a config. */
  toString(): string;
  toJSON(): string;
}

/** x / max(||x||_2, eps) along the last dimension (torch.nn.functional.normalize). */
export function l2normalize(x: Tensor, eps = 1e-12): Tensor {
  return tidy(() => x.div(x.norm(2, -1, true).clampMin(eps)));
}

/** What N and E share: Euclidean distances. */
const euclidean = {
  // compute_mode 2 = "donot_use_mm_for_euclid_dist": exact differences.
  pairwise: (a: Tensor, b: Tensor): Tensor => call1('aten::cdist', [a, b, 2, 2]),
  // compute_mode None = use_mm_for_euclid_dist_if_necessary (the reference's default).
  gallery: (a: Tensor, b: Tensor): Tensor => call1('aten::cdist', [a, b, 2, null]),
  rows: (a: Tensor, b: Tensor): Tensor => tidy(() => a.sub(b).norm(2, -1)),
  lossRows: (u: Tensor, v: Tensor): Tensor => call1('aten::pairwise_distance', [u, v, 2, TRIPLET_PAIRWISE_EPS, false]),
  fromGram: (gram: Tensor): Tensor =>
    tidy(() => {
      const sq = call1('aten::diagonal', [gram, 0, 0, 1]);
      return sq.unsqueeze(1).add(sq.unsqueeze(0)).sub(gram.mul(2)).sqrt();
    }),
};

/** C's distances: 1 − cosine of normalised vectors. */
const cosine = {
  pairwise: (a: Tensor, b: Tensor): Tensor => tidy(() => a.matmul(b.t()).rsub(1)),
  gallery: (a: Tensor, b: Tensor): Tensor => cosine.pairwise(a, b),
  rows: (a: Tensor, b: Tensor): Tensor => tidy(() => a.mul(b).sum(-1).rsub(1)),
  lossRows: (u: Tensor, v: Tensor): Tensor => tidy(() => call1('aten::cosine_similarity', [u, v, -1, COSINE_SIMILARITY_EPS]).rsub(1)),
  fromGram: (gram: Tensor): Tensor => tidy(() => gram.rsub(1)),
};

const normalised = (z: Tensor): Tensor => l2normalize(z);
const raw = (z: Tensor): Tensor => z.clone();

/** RobRank's triplet margins (configs.triplet): margin_euclidean for E, margin_cosine for N and C. */
const MARGIN_EUCLIDEAN = 1.0;
const MARGIN_COSINE = 0.2;

/** A metric entry with its name kept as a literal type (the list below yields `MetricName`). */
function metric<const N extends string>(m: Omit<MetricOf<N>, 'toString' | 'toJSON'>): MetricOf<N> {
  return Object.freeze({ ...m, toString: () => m.name, toJSON: () => m.name });
}

/** Every metric, the default (N) first: the one catalogue. */
export const METRICS = Object.freeze([
  metric({
    name: 'N',
    code: 'N',
    summary: 'Euclidean distance between L2-normalised embeddings (0 … 2)',
    defaultMargin: MARGIN_COSINE,
    referenceMinerMargin: MARGIN_EUCLIDEAN,
    embed: normalised,
    ...euclidean,
  }),
  metric({
    name: 'E',
    code: 'E',
    summary: 'Euclidean distance between raw embeddings (0 … ∞)',
    defaultMargin: MARGIN_EUCLIDEAN,
    referenceMinerMargin: MARGIN_EUCLIDEAN,
    embed: raw,
    ...euclidean,
  }),
  metric({
    name: 'C',
    code: 'C',
    summary: 'cosine distance 1 − cos between L2-normalised embeddings (0 … 2)',
    defaultMargin: MARGIN_COSINE,
    embed: normalised,
    ...cosine,
  }),
] as const);

/** N = normalised Euclidean, E = Euclidean, C = cosine distance (docs/methods.md §1), from the list. */
export type MetricName = (typeof METRICS)[number]['name'];

/** Any metric of the catalogue. */
export type Metric = MetricOf<MetricName>;

/** Every metric name, in catalogue order (for schemas and help texts). */
export const METRIC_NAMES: readonly MetricName[] = namesOf<Metric>(METRICS);

/** The metric of a name or RobRank code letter, case-insensitive; throws listing the names otherwise. */
export function metricByName(name: string): Metric {
  const key = name.toUpperCase();
  const found = METRICS.find((m) => m.name === key || m.code === key);
  if (found === undefined) throw new Error(`unknown metric '${name}' (expected one of ${METRIC_NAMES.join(', ')})`);
  return found;
}

/** A metric name from a user's spelling ('n' → 'N'); throws like `metricByName`. */
export function parseMetric(name: string): MetricName {
  return metricByName(name).name;
}

/** Throws unless `metric` is one of `names`: for methods the reference defines for some metrics only. */
export function requireMetric(metric: Metric, names: readonly MetricName[], what: string): void {
  if (!names.includes(metric.name)) {
    throw new Error(`${what} is defined for metric${names.length > 1 ? 's' : ''} ${names.join(' and ')} only (got ${metric.name}), as in the reference`);
  }
}

// Layer: eval. The certificate of one query against a gallery (docs/certification.md §3), from
//   c   = ĝ(x), the query's Monte Carlo smoothed embedding, within τ_q of g(x);
//   h_j = the gallery's embeddings (clean f(x_j), exact; or smoothed ĝ(x_j), each within τ_g);
//   L   = √(2/π)/σ, so a perturbation e with ‖e‖₂ ≤ r keeps g(x + e) in the ball B(c, τ_q + L·r).
// Retrieval ranks the gallery by Euclidean distance to the smoothed query embedding.
// "a stays ahead of b" (‖z − h_a‖ < ‖z − h_b‖) for every z in B(c, R) when R < ρ_ab, the clearance:
//   clean gallery:    ρ_ab = (‖c − h_b‖² − ‖c − h_a‖²) / (2‖h_a − h_b‖)   (c's signed distance to
//                     the bisecting hyperplane of h_a, h_b: exact for fixed h_a, h_b);
//   smoothed gallery: ρ_ab = (‖c − ĥ_b‖ − ‖c − ĥ_a‖)/2 − τ_g              (triangle inequality; the
//                     true h lie anywhere in B(ĥ, τ_g)).
// In input space that is the radius r_ab = (ρ_ab − τ_q)/L: a stays ahead of b for every ‖e‖₂ ≤ r < r_ab.
// Recall@K is certified at r when some relevant a has fewer than K irrelevant b with r_ab ≤ r
// (then at most K − 1 irrelevant items can come before a, so a relevant item is in the top K).
import { noGrad, tidy, type Tensor } from '../tensor/index.js';

/** How the gallery side of a certificate was embedded. */
export type GalleryMode = 'clean' | 'smoothed';

/** Relevant items tried as the one that stays ahead (the nearest ones by ĝ; any choice is sound, more only tightens). */
export const RELEVANT_CANDIDATES = 10;

/** The bound's constants shared by every query of a run. */
export interface CertificateConstants {
  /** L = √(2/π)/σ. */
  lipschitz: number;
  /** τ_q, the query estimate's error bound. */
  queryError: number;
  /** τ_g, the gallery estimates' error bound (0 for a clean gallery). */
  galleryError: number;
  gallery: GalleryMode;
}

/** The gallery a query is certified against: embeddings [N, D] float64 and labels. */
export interface CertificateGallery {
  embeddings: Tensor;
  labels: Int32Array;
}

/** One query's certificate. */
export interface QueryCertificate {
  /** Per K: the input radius below which Recall@K is certified (≤ 0: not even at radius 0). */
  recallRadius: number[];
  /** ‖ĝ(x)‖. */
  estimateNorm: number;
  /** Whether ĝ's own nearest item (self excluded) is relevant: the smoothed model's clean Recall@1 estimate. */
  estimateCorrect: boolean;
  /** QA+: the candidate, and for each radius the certified lower bound on its position (items strictly closer). */
  qaPlus: { candidate: number; positionAtLeast: number[] };
  /** QA−: the candidate (from ĝ's top 1 %), and for each radius the certified upper bound on its position. */
  qaMinus: { candidate: number; positionAtMost: number[] };
}

/**
 * ρ_a·: the clearance of item a over every gallery item in embedding space ([N]; see the module comment),
 * from `distances` ‖c − h_j‖. Identical embeddings (h_j = h_a) tie: neither is ahead (−∞ both ways).
 */
function clearances(gallery: Tensor, distances: Float64Array, a: number, k: CertificateConstants): Float64Array {
  if (k.gallery === 'smoothed') return Float64Array.from(distances, (d) => (d - distances[a]!) / 2 - k.galleryError);
  const spread = noGrad(() =>
    tidy(() =>
      gallery
        .sub(gallery.narrow(0, a, 1))
        .norm(2, 1)
        .toArray(),
    ),
  );
  const da2 = distances[a]! ** 2;
  return Float64Array.from(distances, (d, j) => (spread[j]! > 0 ? (d ** 2 - da2) / (2 * spread[j]!) : -Infinity));
}

/** ρ_·a: every item's clearance over item a (clean: −ρ_aj, the hyperplane is shared; smoothed: (d_a − d_j)/2 − τ_g). */
function clearancesOver(gallery: Tensor, distances: Float64Array, a: number, k: CertificateConstants): Float64Array {
  if (k.gallery === 'smoothed') return Float64Array.from(distances, (d) => (distances[a]! - d) / 2 - k.galleryError);
  return clearances(gallery, distances, a, k).map((v) => (v === -Infinity ? -Infinity : -v));
}

/** Clearances as input radii (ρ − τ_q)/L, the item itself at −∞. */
function asRadii(rho: Float64Array, a: number, k: CertificateConstants): Float64Array {
  const r = rho.map((v) => (v - k.queryError) / k.lipschitz);
  r[a] = -Infinity;
  return r;
}

/** r_a·: for every j, the input radius below which item a is certified ahead of j ([N], float64; entry a is −∞). */
export function pairRadii(gallery: Tensor, distances: Float64Array, a: number, k: CertificateConstants): Float64Array {
  return asRadii(clearances(gallery, distances, a, k), a, k);
}

/** r_·a: for every j, the input radius below which j is certified ahead of item a ([N]; entry a is −∞). */
export function radiiOver(gallery: Tensor, distances: Float64Array, a: number, k: CertificateConstants): Float64Array {
  return asRadii(clearancesOver(gallery, distances, a, k), a, k);
}

/** The K-th smallest of the values (∞ when there are fewer than K). */
export function kthSmallest(values: readonly number[] | Float64Array, k: number): number {
  if (values.length < k) return Infinity;
  return Float64Array.from(values).sort()[k - 1]!;
}

/**
 * The certificate of one query (see the module comment). `self` is the query's own gallery index (left out of
 * Recall@K, as the benign R@1), or −1. `qaPlus` is QA+'s candidate (a gallery index), `qaMinusPosition` QA−'s
 * (a position in ĝ's ranking, self left out, as QA− draws from the top 1 %); `radii` the input radii of the QA bounds.
 */
export function certifyQuery(
  c: Tensor,
  label: number,
  self: number,
  gallery: CertificateGallery,
  k: CertificateConstants,
  o: { ks: readonly number[]; radii: readonly number[]; qaPlus: number; qaMinusPosition: number },
): QueryCertificate {
  const n = gallery.labels.length;
  const distances = Float64Array.from(noGrad(() => tidy(() => gallery.embeddings.sub(c.reshape(1, -1)).norm(2, 1).toArray())));
  const estimateNorm = noGrad(() => tidy(() => c.norm().item()));
  const order = Array.from(distances.keys())
    .filter((j) => j !== self)
    .sort((x, y) => distances[x]! - distances[y]! || x - y);
  const relevant = order.filter((j) => gallery.labels[j] === label).slice(0, RELEVANT_CANDIDATES);
  const recallRadius = o.ks.map(() => -Infinity);
  for (const a of relevant) {
    const r = pairRadii(gallery.embeddings, distances, a, k);
    const irrelevant: number[] = [];
    for (let j = 0; j < n; j++) if (j !== self && gallery.labels[j] !== label) irrelevant.push(r[j]!);
    irrelevant.sort((x, y) => x - y);
    o.ks.forEach((kk, i) => {
      const radius = irrelevant.length < kk ? Infinity : irrelevant[kk - 1]!;
      if (radius > recallRadius[i]!) recallRadius[i] = radius;
    });
  }
  // QA±: position = number of items strictly closer than the candidate (the whole gallery, as QA's prank).
  // QA+ (the attacker lifts the candidate): at least the items certified ahead of it stay closer.
  const ahead = radiiOver(gallery.embeddings, distances, o.qaPlus, k);
  // QA− (the attacker sinks the candidate): at most the items not certified behind it can come closer.
  const qaMinus = order[Math.min(o.qaMinusPosition, order.length - 1)]!;
  const behind = pairRadii(gallery.embeddings, distances, qaMinus, k);
  const count = (r: Float64Array, radius: number): number => r.reduce((s, v) => s + (v > radius ? 1 : 0), 0);
  const positionAtLeast = o.radii.map((radius) => count(ahead, radius));
  const positionAtMost = o.radii.map((radius) => n - 1 - count(behind, radius));
  return {
    recallRadius,
    estimateNorm,
    estimateCorrect: order.length > 0 && gallery.labels[order[0]!] === label,
    qaPlus: { candidate: o.qaPlus, positionAtLeast },
    qaMinus: { candidate: qaMinus, positionAtMost },
  };
}

/** The certified bound on the smoothed embedding's shift ‖g(x + e) − g(x)‖ for ‖e‖₂ ≤ r: min(L·r, 1 + min(1, ‖ĝ‖ + τ_q)). */
export function embeddingShiftBound(radius: number, estimateNorm: number, k: CertificateConstants): number {
  return Math.min(k.lipschitz * radius, 1 + Math.min(1, estimateNorm + k.queryError));
}

/** Whether Recall@K is certified at input radius r (strictly inside the query's certified radius). */
export function certifiedAt(recallRadius: number, radius: number): boolean {
  return radius < recallRadius;
}

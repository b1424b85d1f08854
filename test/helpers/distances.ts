// Reference distances in plain JavaScript, for hand-computed expectations:
// the formulas of PyTorch's pairwise_distance and cosine_similarity, written
// independently of the library code they check.

/** PyTorch's pairwise_distance (the triplet loss's distance for N/E): ||u − v + eps||₂, eps added to every component. */
export function jsEpsDistance(u: readonly number[], v: readonly number[], eps = 1e-6): number {
  return Math.sqrt(u.reduce((s, ui, i) => s + (ui - v[i]! + eps) ** 2, 0));
}

/** 1 − cosine_similarity(u, v) with PyTorch's eps 1e-8 guarding the norms' product. */
export function jsCosineDistance(u: readonly number[], v: readonly number[]): number {
  const dot = u.reduce((s, ui, i) => s + ui * v[i]!, 0);
  return 1 - dot / Math.max(Math.hypot(...u) * Math.hypot(...v), 1e-8);
}

/** Plain Euclidean distance ||u − v||₂. */
export function jsDistance(u: readonly number[], v: readonly number[]): number {
  return Math.hypot(...u.map((ui, i) => ui - v[i]!));
}

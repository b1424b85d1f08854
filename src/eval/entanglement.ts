// Layer: eval. Class entanglement of an embedding space and the CA-TRIDE
// attention factor λ it implies (docs/methods.md §8.3).
//
// CA-TRIDE publishes λ only for CUB (10.0), Cars (9.5) and SOP (2.0) and ties
// it to "entanglement" = mean intra-class distance / mean inter-class distance
// of the test set (CUB 0.226/0.287, Cars 0.256/0.325, SOP 0.438/0.664). For a
// dataset without a published λ (MNIST, Fashion-MNIST) the project rule is:
// measure the entanglement of the undefended model and interpolate λ linearly
// through the published points, clamped outside them.
import { noGrad, tidy, type Tensor } from '../tensor/index.js';
import type { Metric } from '../metric/metric.js';

/** Mean intra- and inter-class test distances and their ratio. */
export interface Entanglement {
  /** Mean non-zero distance from a test item to the items of its own class. */
  intraClass: number;
  /** Mean distance from a test item to the items of other classes. */
  interClass: number;
  /** intraClass / interClass: near 0 = well separated classes, near 1 = entangled. */
  ratio: number;
}

/**
 * Entanglement of metric-space embeddings [N, D] with labels [N], over every
 * (query, item) pair of the split. Zero distances are left out of the
 * intra-class mean, as the reference's metric code collects only non-zero
 * distances (which drops each item's distance to itself).
 */
export function entanglement(embeddings: Tensor, labels: Tensor, metric: Metric, batchSize = 500): Entanglement {
  const n = embeddings.shape[0]!;
  if (n < 2 || labels.shape[0] !== n)
    throw new Error(`entanglement: need [N, D] embeddings and [N] labels with N ≥ 2, got [${embeddings.shape.join(', ')}] and [${labels.shape.join(', ')}]`);
  let intraSum = 0;
  let intraCount = 0;
  let interSum = 0;
  let interCount = 0;
  noGrad(() => {
    for (let start = 0; start < n; start += batchSize) {
      const len = Math.min(batchSize, n - start);
      tidy(() => {
        const d = metric.gallery(embeddings.narrow(0, start, len), embeddings).double(); // [b, N]
        const same = labels.narrow(0, start, len).unsqueeze(1).eq(labels.unsqueeze(0));
        const intra = same.logicalAnd(d.gt(0));
        const other = same.logicalNot();
        intraSum += d.mul(intra).sum().item();
        intraCount += intra.sum().item();
        interSum += d.mul(other).sum().item();
        interCount += other.sum().item();
      });
    }
  });
  if (intraCount === 0 || interCount === 0) throw new Error('entanglement: needs at least two classes and two distinct items of one class');
  const intraClass = intraSum / intraCount;
  const interClass = interSum / interCount;
  return { intraClass, interClass, ratio: intraClass / interClass };
}

/**
 * Published (entanglement, λ) points: SOP 0.438/0.664 → 2.0; CUB 0.226/0.287
 * → 10.0 and Cars 0.256/0.325 → 9.5 share one entanglement (0.79) and are
 * merged into their mean.
 */
const PUBLISHED: readonly (readonly [number, number])[] = [
  [0.438 / 0.664, 2.0],
  [(0.226 / 0.287 + 0.256 / 0.325) / 2, 9.75],
];

/** λ for an entanglement ratio: linear through the published points, clamped outside them. */
export function catrideLambdaFromEntanglement(ratio: number): number {
  if (!Number.isFinite(ratio) || ratio < 0) throw new Error(`entanglement ratio must be a finite number ≥ 0, got ${ratio}`);
  const [[x0, y0], [x1, y1]] = PUBLISHED as [[number, number], [number, number]];
  if (ratio <= x0) return y0;
  if (ratio >= x1) return y1;
  return y0 + ((ratio - x0) / (x1 - x0)) * (y1 - y0);
}

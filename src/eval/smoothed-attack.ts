// Layer: eval. The empirical side of a certificate (docs/certification.md §4): APGD in the L2 ball
// (src/attack/apgd.ts, with restarts) against the Monte Carlo smoothed model, differentiating through
// the noise by expectation over transformation (EOT: each step's embedding is the mean of f over
// `eot` fresh noise draws). The objective is the query's Recall@1 margin
//   J(x′) = min_{irrelevant j} ‖z − h_j‖² − min_{relevant j ≠ self} ‖z − h_j‖²,   z = mean_k f(x′ + δ_k),
// which the attacker minimises: J < 0 puts an irrelevant item first. The result is then judged by the
// smoothed model itself, ĝ(x′) from n fresh samples: its top-1 relevant or not.
import { manualSeed, noGrad, randn, tensor, tidy, type Tensor } from '../tensor/index.js';
import { apgd } from '../attack/apgd.js';
import type { EmbeddingModel } from '../models/model.js';
import { normalisedEmbedding, smoothedEmbeddings } from './smoothing.js';

/** Defaults of the attack on the smoothed model (the CLI's help is made from them). */
export const SMOOTHED_ATTACK_DEFAULTS = Object.freeze({ steps: 32, restarts: 1, eot: 8 });

/** Options of `attackSmoothedRecall`. */
export interface SmoothedAttackOptions {
  sigma: number;
  /** L2 radius of the attack (pixel units). */
  radius: number;
  steps?: number;
  /** Extra APGD runs from random points of the ball; each query keeps its lowest objective. */
  restarts?: number;
  /** Noise draws per gradient step (EOT). */
  eot?: number;
  seed?: number;
}

/** The query batch under attack, and the fixed gallery it is ranked against. */
export interface SmoothedAttackTarget {
  /** [B, C, H, W] clean queries in [0, 1]. */
  images: Tensor;
  /** [B] each query's label. */
  labels: readonly number[];
  /** [B] each query's own gallery index (left out as a relevant item), or −1. */
  selves: readonly number[];
  /** [N, D] gallery embeddings (Euclidean ranking). */
  gallery: Tensor;
  galleryLabels: Int32Array;
}

/** [B, N] masks (as 0/1 float) of relevant and irrelevant gallery items per query (self left out of both). */
function relevanceMasks(t: SmoothedAttackTarget, dtype: 'float32' | 'float64'): { relevant: Tensor; irrelevant: Tensor } {
  const n = t.galleryLabels.length;
  const rel = new Float32Array(t.labels.length * n);
  const irr = new Float32Array(t.labels.length * n);
  t.labels.forEach((label, i) => {
    for (let j = 0; j < n; j++) {
      if (j === t.selves[i]) continue;
      if (t.galleryLabels[j] === label) rel[i * n + j] = 1;
      else irr[i * n + j] = 1;
    }
  });
  return tidy(() => ({ relevant: tensor(rel, [t.labels.length, n]).to(dtype), irrelevant: tensor(irr, [t.labels.length, n]).to(dtype) }));
}

/** Big enough to take an item out of a minimum over squared distances between unit-ball points (≤ 4). */
const OUT_OF_MIN = 1e3;

/** [B, N] ‖z_i − h_j‖² by the expansion ‖z‖² + ‖h‖² − 2 z·h (no [B, N, D] intermediate). */
export function squaredDistances(z: Tensor, gallery: Tensor): Tensor {
  return tidy(() => z.square().sum(1, true).add(gallery.square().sum(1).unsqueeze(0)).sub(z.mm(gallery.t()).mul(2)));
}

/** [B] the Recall@1 margin J (see the module comment) of embeddings z [B, D]. */
export function recallMargin(z: Tensor, gallery: Tensor, relevant: Tensor, irrelevant: Tensor): Tensor {
  return tidy(() => {
    const d2 = squaredDistances(z, gallery); // [B, N]
    const nearestIrrelevant = d2.add(irrelevant.rsub(1).mul(OUT_OF_MIN)).amin(1);
    const nearestRelevant = d2.add(relevant.rsub(1).mul(OUT_OF_MIN)).amin(1);
    return nearestIrrelevant.sub(nearestRelevant);
  });
}

/** The attack's adversarial queries [B, C, H, W] (the caller owns them) and its cost in passes per query. */
export function attackSmoothedRecall(
  model: EmbeddingModel,
  t: SmoothedAttackTarget,
  o: SmoothedAttackOptions,
): { adversarial: Tensor; forwards: number; backwards: number } {
  const steps = o.steps ?? SMOOTHED_ATTACK_DEFAULTS.steps;
  const restarts = o.restarts ?? SMOOTHED_ATTACK_DEFAULTS.restarts;
  const eot = o.eot ?? SMOOTHED_ATTACK_DEFAULTS.eot;
  if (!Number.isInteger(eot) || eot < 1) throw new Error(`eot must be a positive integer, got ${eot}`);
  if (o.seed !== undefined) manualSeed(o.seed);
  model.eval();
  const gallery = t.gallery.to(t.images.dtype);
  const { relevant, irrelevant } = relevanceMasks(t, t.images.dtype === 'float64' ? 'float64' : 'float32');
  const [b, ...rest] = t.images.shape as [number, ...number[]];
  const smoothedAt = (x: Tensor): Tensor =>
    tidy(() => {
      const noisy = x
        .unsqueeze(1)
        .expand(b, eot, ...rest)
        .add(
          randn([b, eot, ...rest], { device: x.device })
            .to(x.dtype)
            .mul(o.sigma),
        )
        .reshape(b * eot, ...rest);
      return normalisedEmbedding(model, noisy).reshape(b, eot, -1).mean(1);
    });
  const objective = (x: Tensor) => {
    const perQuery = recallMargin(smoothedAt(x), gallery, relevant, irrelevant);
    return { value: perQuery.sum(), perQuery };
  };
  let best: Tensor | undefined;
  let bestValue: Float64Array | undefined;
  let forwards = 0;
  let backwards = 0;
  try {
    for (let run = 0; run <= restarts; run++) {
      const r = apgd({ images: t.images, epsilon: o.radius, steps, norm: 'l2', start: run === 0 ? 'clean' : 'random', objective });
      forwards += r.forwards * eot;
      backwards += r.backwards * eot;
      if (best === undefined) {
        best = r.adversarial;
        bestValue = r.best;
        continue;
      }
      const better = Array.from(r.best, (v, i) => v < bestValue![i]!);
      const merged = noGrad(() =>
        tidy(() => {
          const m = tensor(better.map(Number), [b, ...rest.map(() => 1)]).gt(0.5);
          return r.adversarial.mul(m.to(r.adversarial.dtype)).add(best!.mul(m.logicalNot().to(best!.dtype)));
        }),
      );
      better.forEach((v, i) => {
        if (v) bestValue![i] = r.best[i]!;
      });
      r.adversarial.dispose();
      best.dispose();
      best = merged;
    }
    const adversarial = best!;
    best = undefined;
    return { adversarial, forwards, backwards };
  } finally {
    best?.dispose();
    gallery.dispose();
    relevant.dispose();
    irrelevant.dispose();
  }
}

/** Per query: whether the smoothed model's top-1 (by ĝ from `samples` draws, self left out) is relevant. */
export function smoothedTopOneRelevant(
  model: EmbeddingModel,
  images: Tensor,
  t: Omit<SmoothedAttackTarget, 'images'>,
  o: { sigma: number; samples: number },
): boolean[] {
  const z = smoothedEmbeddings(model, images, o);
  try {
    return noGrad(() =>
      tidy(() => {
        const d = squaredDistances(z, t.gallery.to('float64'));
        const rows = d.toArray();
        const n = t.galleryLabels.length;
        return t.labels.map((label, i) => {
          let bestJ = -1;
          for (let j = 0; j < n; j++) if (j !== t.selves[i] && (bestJ < 0 || rows[i * n + j]! < rows[i * n + bestJ]!)) bestJ = j;
          return t.galleryLabels[bestJ] === label;
        });
      }),
    );
  } finally {
    z.dispose();
  }
}

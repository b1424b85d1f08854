// Layer: attack. The numbers the attacks report (docs/attacks-and-metrics.md §4),
// per image of the batch ([B] tensors, fractions), from adversarial embeddings.
// Callers average over the batch and scale to % where the tables do.
import { tidy, type Tensor } from '../tensor/index.js';
import type { Metric } from '../metric/metric.js';
import { SELF_MASK_DISTANCE } from './context.js';

/**
 * CA prank (§4.1): (1/W) Σ_w |{j : d(X_j, Q_w) < d(c̃, Q_w)}| / N — the fraction of
 * gallery items strictly closer to the query than the candidate (its clean copy counts).
 */
export function candidatePrank(candidates: Tensor, queries: Tensor, queryToGallery: Tensor, metric: Metric): Tensor {
  return tidy(() => {
    const [b, w, d] = queries.shape as [number, number, number];
    const c = candidates
      .unsqueeze(1)
      .expand(b, w, d)
      .reshape(b * w, d);
    const toCandidate = metric.rows(c, queries.reshape(b * w, d)).view(b, w, 1);
    return queryToGallery.lt(toCandidate).float().mean(2).mean(1);
  });
}

/**
 * QA prank (§4.2): (1/M) Σ_m pos(C_m)/N, pos = 0-based position of C_m in the
 * ascending ranking of d(q̃, X) over the full gallery, counted as the number of
 * items strictly closer (ties resolved in the candidate's favour; the
 * reference's unstable argsort leaves them unspecified).
 */
export function queryPrank(queries: Tensor, gallery: Tensor, candidates: Tensor, metric: Metric): Tensor {
  return tidy(() => {
    const toGallery = metric.gallery(queries, gallery); // [B, N]
    const toCandidates = toGallery.gather(1, candidates).unsqueeze(2); // [B, M, 1]
    return toGallery.unsqueeze(1).lt(toCandidates).float().mean(2).mean(1);
  });
}

/** [B, N] adversarial distances with the clean self s_i set to 1e38 (how ES:R, LTM, GTM, GTT rank). */
export function selfMaskedRanking(queries: Tensor, gallery: Tensor, selfIndex: Tensor, metric: Metric): Tensor {
  return tidy(() => metric.gallery(queries, gallery).scatter(1, selfIndex.unsqueeze(1), SELF_MASK_DISTANCE));
}

/** Recall@1 with the clean self masked (§4.5 ES:R, §4.6, §4.7): [B] 1 when the nearest item has the query's label. */
export function recallAt1SelfMasked(queries: Tensor, gallery: Tensor, galleryLabels: Tensor, queryLabels: Tensor, selfIndex: Tensor, metric: Metric): Tensor {
  return tidy(() => {
    const nearest = selfMaskedRanking(queries, gallery, selfIndex, metric).argmin(1);
    return galleryLabels.indexSelect(0, nearest).eq(queryLabels).float();
  });
}

/** retain@k (§4.8): [B] 1 when the clean top-1 `topOne` [B] is still among the k nearest (self masked). */
export function retainAtK(queries: Tensor, gallery: Tensor, selfIndex: Tensor, topOne: Tensor, k: number, metric: Metric): Tensor {
  return tidy(() => {
    const [, nearest] = selfMaskedRanking(queries, gallery, selfIndex, metric).topk(k, 1, false, true);
    return nearest.eq(topOne.unsqueeze(1)).sum(1).gt(0).float();
  });
}

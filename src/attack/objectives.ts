// Layer: attack. The attack objectives as functions of EMBEDDINGS (metric
// space), batched over the B perturbed images: each is a scalar to MINIMISE
// (docs/attacks-and-metrics.md §4). Written without the model so they can be checked
// by finite differences on tiny galleries; the attacks wrap them.
//
// Each returns an `Objective`: the scalar the reference differentiates (its own
// reduction, mean or sum, computed exactly as before so that PGD's numbers do not
// move) and the same terms per attacked image, which the per-image optimisers
// (APGD's step-size schedule, the query-only searches, restarts) need. The images'
// terms are independent (the model is in eval mode), so ∇value has the sign of
// ∇perQuery_i on image i's pixels.
//
// Shapes: adversarial embeddings [B, D]; gallery X [N, D]; index tensors int64.
import { tidy, type Tensor } from '../tensor/index.js';
import { l2normalize, type Metric } from '../metric/metric.js';

/** An attack objective on a batch: the scalar to minimise and each image's own term. */
export interface Objective {
  /** The scalar PGD differentiates (the reference's reduction over the batch). */
  value: Tensor;
  /** [B] each attacked image's term, lower = better for the attacker (value is their mean or sum). */
  perQuery: Tensor;
}

/** '+' pulls the candidate up the ranking, '−' pushes it down. */
export type RankDirection = '+' | '-';

/**
 * CA± (§4.1): candidates c̃ [B, D] attacked against W queries each.
 * `queries` [B, W, D] are the query embeddings, `queryToGallery` [B, W, N] their
 * clean distances to the gallery (fixed: queries and gallery are not perturbed).
 *   CA+: J = mean_B (1/(W·N)) Σ_w Σ_j relu(d(c̃, Q_w) − d(X_j, Q_w))
 *   CA−: J = mean_B (1/(W·N)) Σ_w Σ_j relu(d(X_j, Q_w) − d(c̃, Q_w))
 */
export function candidateAttackObjective(candidates: Tensor, queries: Tensor, queryToGallery: Tensor, metric: Metric, direction: RankDirection): Objective {
  return tidy(() => {
    const [b, w, d] = queries.shape as [number, number, number];
    const c = candidates
      .unsqueeze(1)
      .expand(b, w, d)
      .reshape(b * w, d);
    const toCandidate = metric.rows(c, queries.reshape(b * w, d)).view(b, w, 1);
    const gap = direction === '+' ? toCandidate.sub(queryToGallery) : queryToGallery.sub(toCandidate);
    return hingeMeans(gap);
  });
}

/**
 * QA± (§4.2) and GTT (§4.8): queries q̃ [B, D] against M candidates each,
 * given as gallery indices `candidates` [B, M] (so d(q̃, C_m) is read from the
 * same distance row as d(q̃, X_j)).
 *   QA+: J = mean_B (1/(M·N)) Σ_m Σ_j relu(d(q̃, C_m) − d(X_j, q̃))
 *   QA−: J = mean_B (1/(M·N)) Σ_m Σ_j relu(d(X_j, q̃) − d(q̃, C_m))
 */
export function queryAttackObjective(queries: Tensor, gallery: Tensor, candidates: Tensor, metric: Metric, direction: RankDirection): Objective {
  return tidy(() => {
    const toGallery = metric.gallery(queries, gallery); // [B, N]
    const toCandidates = toGallery.gather(1, candidates).unsqueeze(2); // [B, M, 1]
    const all = toGallery.unsqueeze(1); // [B, 1, N]
    const gap = direction === '+' ? toCandidates.sub(all) : all.sub(toCandidates);
    return hingeMeans(gap);
  });
}

/** relu of a [B, …] gap: the mean over everything (the reference's scalar) and over each image's entries. */
function hingeMeans(gap: Tensor): Objective {
  const hinge = gap.relu();
  const rest = Array.from({ length: hinge.ndim - 1 }, (_, i) => i + 1);
  return { value: hinge.mean(), perQuery: hinge.mean(rest) };
}

/** Row-wise cosine similarity of raw vectors [B, D] → [B] (TMA uses cosine whatever the metric). */
export function cosineSimilarity(a: Tensor, b: Tensor): Tensor {
  return tidy(() => l2normalize(a).mul(l2normalize(b)).sum(-1));
}

/** TMA (§4.4): J = mean_i (1 − cos(q̃_i, X_{t_i})), `targets` [B, D] = X_t. */
export function targetedMismatchObjective(queries: Tensor, targets: Tensor): Objective {
  return tidy(() => {
    const terms = cosineSimilarity(queries, targets).rsub(1);
    return { value: terms.mean(), perQuery: terms };
  });
}

/**
 * The reference shifts the ES target by 1e-7 (every component) at iteration 0:
 * there the adversarial embedding equals the clean one and the distance has no
 * usable gradient.
 */
export const ES_FIRST_TARGET_SHIFT = 1e-7;

/**
 * ES (§4.5): J = −Σ_i d(q̃_i, e0_i) — a SUM over the batch as in the reference
 * (sign steps make the scale irrelevant to the attack).
 *
 * d is the metric's `lossRows`, the distance the reference's ES loss uses:
 * PyTorch's pairwise_distance for N/E, which adds eps = 1e-6 to every component
 * of the difference, and 1 − cosine_similarity for C. The eps is what makes the
 * first step: at iteration 0 the difference is −1e-7 per component, the eps turns
 * it into +9e-7, and so the first gradient (and every later one, since each step
 * moves away from where the first went) points the other way than a plain
 * ‖q̃ − e0‖ would. A plain norm here made ES ~9 % stronger than RobRank's code on
 * a defended model (docs/attacks-and-metrics.md §4.5); stronger ES is what
 * `--restarts` and APGD are for, not an accident of the first step.
 */
export function embeddingShiftObjective(queries: Tensor, clean: Tensor, metric: Metric, iteration: number): Objective {
  return tidy(() => {
    const target = iteration === 0 ? clean.add(ES_FIRST_TARGET_SHIFT) : clean;
    const terms = metric.lossRows(queries, target).neg();
    return { value: terms.sum(), perQuery: terms };
  });
}

/**
 * LTM (§4.6): J = Σ_i relu(max_{j: Y_j ≠ y_i} d(q̃_i, X_j) − min_{j: Y_j = y_i} d(q̃_i, X_j)),
 * a SUM over the batch as in the reference. The reference does NOT exclude the
 * clean self from the same-class minimum; pass `selfIndex` [B] to exclude it.
 */
export function learningToMisrankObjective(
  queries: Tensor,
  gallery: Tensor,
  galleryLabels: Tensor,
  queryLabels: Tensor,
  metric: Metric,
  selfIndex?: Tensor,
): Objective {
  return tidy(() => {
    const toGallery = metric.gallery(queries, gallery); // [B, N]
    const sameClass = galleryLabels.unsqueeze(0).eq(queryLabels.unsqueeze(1)); // [B, N]
    const sameCandidates = selfIndex === undefined ? sameClass : sameClass.scatter(1, selfIndex.unsqueeze(1), 0);
    // Masked entries get a finite sentinel (not ±inf), so they carry zero gradient and no NaN.
    const farthestDifferent = toGallery.maskedFill(sameClass, -MASK_SENTINEL).amax(1);
    const nearestSame = toGallery.maskedFill(sameCandidates.logicalNot(), MASK_SENTINEL).amin(1);
    const terms = farthestDifferent.sub(nearestSame).relu();
    return { value: terms.sum(), perQuery: terms };
  });
}

const MASK_SENTINEL = 1e30;

/** GTM (§4.7): J = mean_i d(q̃_i, X_{t_i}), `targets` [B, D] = X_t. */
export function greedyTopMisrankObjective(queries: Tensor, targets: Tensor, metric: Metric): Objective {
  return tidy(() => {
    const terms = metric.rows(queries, targets);
    return { value: terms.mean(), perQuery: terms };
  });
}

/** GTT (§4.8): QA− with the single candidate m_i (the clean top-1, self excluded), `topOne` [B]. */
export function greedyTopTranslocationObjective(queries: Tensor, gallery: Tensor, topOne: Tensor, metric: Metric): Objective {
  return tidy(() => queryAttackObjective(queries, gallery, topOne.unsqueeze(1), metric, '-'));
}

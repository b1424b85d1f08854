// Layer: attack. CA± — Candidate Attack (docs/attacks-and-metrics.md §4.1): the
// perturbed image is a CANDIDATE, moved up (CA+) or down (CA−) the rankings
// of W queries. Reported: 100·prank (%), robust = high CA+ (benign ≈ 50), low CA−.
import { randint, tidy, type Tensor } from '../tensor/index.js';
import { candidateAttackObjective, type RankDirection } from './objectives.js';
import { candidatePrank } from './measures.js';
import { percentColumn, type RankingAttack } from './attack.js';
import type { BatchContext } from './context.js';

/**
 * Where CA+ draws its queries: 'global' = uniformly from the whole gallery
 * (reference default, env SAMPLE=global); 'local' = neighbour-list positions
 * [⌊0.01N⌋, ⌊0.05N⌋) of the candidate (SAMPLE=local). CA− always draws from the top 1%.
 */
export type CandidateQuerySampling = 'global' | 'local';

/** Options of CA±. */
export interface CandidateAttackOptions {
  /** W, queries per candidate (rob28/rob224: 1). */
  queriesPerCandidate?: number;
  sampling?: CandidateQuerySampling;
}

type CandidateSelection = {
  /** [B, W] gallery indices of the queries. */
  queryIndex: Tensor;
  /** [B, W, D] query embeddings. */
  queries: Tensor;
  /** [B, W, N] their clean distances to the gallery. */
  queryToGallery: Tensor;
};

/** CA±'s selection from the gallery indices [B, W] of the queries (the caller's tensor is taken over). */
export function candidateSelection(ctx: BatchContext, queryIndex: Tensor): CandidateSelection {
  const [b, w] = queryIndex.shape as [number, number];
  const n = ctx.gallery.embeddings.shape[0]!;
  const queries = ctx.gallery.embeddings.index([queryIndex]); // [B, W, D]
  const d = queries.shape[2]!;
  const queryToGallery = ctx.gallery.metric.gallery(queries.reshape(b * w, d), ctx.gallery.embeddings).view(b, w, n);
  return { queryIndex, queries, queryToGallery };
}

/** [B, W] gallery indices drawn with replacement from neighbour-list positions [from, to) (position 0 = self removed). */
function fromNeighbourList(ctx: BatchContext, from: number, to: number, w: number): Tensor {
  return tidy(() => {
    const b = ctx.ranking.shape[0]!;
    const positions = randint(from + 1, to + 1, [b, w], { device: ctx.ranking.device }); // +1: the list starts after the assumed self
    return ctx.ranking.gather(1, positions);
  });
}

/**
 * CA± (candidate attack): perturb each image as a candidate so that it rises (+) or sinks (−) in W chosen queries' rankings.
 * Reports the candidate's rank percentile (%) as column `CA+` or `CA-`.
 */
export function candidateAttack(direction: RankDirection, options: CandidateAttackOptions = {}): RankingAttack<CandidateSelection> {
  const w = options.queriesPerCandidate ?? 1;
  const sampling = options.sampling ?? 'global';
  if (!Number.isInteger(w) || w < 1) throw new Error(`CA${direction}: queriesPerCandidate (W) must be a positive integer, got ${w}`);
  if (sampling !== 'global' && sampling !== 'local') throw new Error(`CA${direction}: sampling must be 'global' or 'local', got '${String(sampling)}'`);
  const kind = direction === '+' ? 'CA+' : 'CA-';
  return {
    kind,
    reports: [kind],
    select(ctx) {
      const n = ctx.gallery.embeddings.shape[0]!;
      const b = ctx.clean.shape[0]!;
      let index: Tensor;
      if (direction === '-') {
        if (ctx.topCount < 1) throw new Error(`CA-: the gallery (${n} items) is too small for a top-1% list`);
        index = fromNeighbourList(ctx, 0, ctx.topCount, w);
      } else if (sampling === 'local') {
        const to = Math.floor(0.05 * n);
        if (to <= ctx.topCount) throw new Error(`CA+ local sampling: the gallery (${n} items) is too small for positions [1%, 5%)`);
        index = fromNeighbourList(ctx, ctx.topCount, to, w);
      } else {
        index = randint(0, n, [b, w], { device: ctx.clean.device });
      }
      return candidateSelection(ctx, index);
    },
    objective(adversarial, s, ctx) {
      return candidateAttackObjective(adversarial, s.queries, s.queryToGallery, ctx.gallery.metric, direction);
    },
    rebase(s, other) {
      return candidateSelection(other, s.queryIndex.clone());
    },
    measure(adv, s, ctx) {
      return { [kind]: percentColumn(candidatePrank(adv.final, s.queries, s.queryToGallery, ctx.gallery.metric)) };
    },
  };
}

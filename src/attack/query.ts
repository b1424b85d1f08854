// Layer: attack. QA± — Query Attack (docs/attacks-and-metrics.md §4.2): the
// perturbed image is a QUERY; M chosen candidates are moved up (QA+) or down
// (QA−) its ranking. Reported: 100·prank (%), robust = high QA+ (≈ 50), low QA−.
import { rand, randint, tidy, type Tensor } from '../tensor/index.js';
import { queryAttackObjective, type RankDirection } from './objectives.js';
import { queryPrank } from './measures.js';
import { percentColumn, type RankingAttack } from './attack.js';
import type { BatchContext } from './context.js';

/** Options of QA±. */
export interface QueryAttackOptions {
  /** M, candidates per query (rob28/rob224: 1). */
  candidatesPerQuery?: number;
}

type QuerySelection = {
  /** [B, M] gallery indices of the candidates. */
  candidates: Tensor;
};

/**
 * [B, T] ranking positions 1…T (the top-1% neighbour list; position 0 = the
 * assumed self is left out) in a uniform random order per query: sorting
 * i.i.d. uniform keys gives every query its own permutation in one op.
 */
export function permutedTopPositions(ctx: BatchContext): Tensor {
  return tidy(() => rand([ctx.clean.shape[0]!, ctx.topCount], { device: ctx.clean.device }).argsort(1).add(1));
}

/**
 * QA± (query attack): perturb each query so that M chosen candidates rise (+) or sink (−) in its ranking.
 * Reports the candidates' rank percentile (%) as column `QA+` or `QA-`.
 */
export function queryAttack(direction: RankDirection, options: QueryAttackOptions = {}): RankingAttack<QuerySelection> {
  const m = options.candidatesPerQuery ?? 1;
  if (!Number.isInteger(m) || m < 1) throw new Error(`QA${direction}: candidatesPerQuery (M) must be a positive integer, got ${m}`);
  const kind = direction === '+' ? 'QA+' : 'QA-';
  return {
    kind,
    reports: [kind],
    select(ctx) {
      const n = ctx.gallery.embeddings.shape[0]!;
      const b = ctx.clean.shape[0]!;
      if (direction === '+') return { candidates: randint(0, n, [b, m], { device: ctx.clean.device }) }; // uniform, with replacement
      if (m > ctx.topCount) throw new Error(`QA-: M = ${m} candidates but the top-1% list has only ${ctx.topCount} entries`);
      // A random permutation of the top-T neighbour list, first M taken.
      return { candidates: tidy(() => ctx.ranking.gather(1, permutedTopPositions(ctx).narrow(1, 0, m))) };
    },
    objective(adversarial, s, ctx) {
      return queryAttackObjective(adversarial, ctx.gallery.embeddings, s.candidates, ctx.gallery.metric, direction);
    },
    measure(adv, s, ctx) {
      return { [kind]: percentColumn(queryPrank(adv.final, ctx.gallery.embeddings, s.candidates, ctx.gallery.metric)) };
    },
  };
}

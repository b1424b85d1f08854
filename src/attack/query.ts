// Layer: attack. QA± — Query Attack (docs/attacks-and-metrics.md §4.2): the
// perturbed image is a QUERY; M chosen candidates are moved up (QA+) or down
// (QA−) its ranking. Reported: 100·prank (%), robust = high QA+ (≈ 50), low QA−.
import { rand, randint, tidy, type Tensor } from '../tensor/index.js';
import { queryAttackObjective, type RankDirection } from './objectives.js';
import { queryPrank } from './measures.js';
import { percentColumn, type RankingAttack } from './attack.js';
import type { BatchContext } from './context.js';
import { defineAttack, PERCENTILE } from './entry.js';
import { intField, type OptionsOf } from './option-fields.js';

/** M, candidates per query of QA± and SPQA± (rob28/rob224: 1; the curve profiles sweep it, so a profile sets it per run). */
export const CANDIDATES_PER_QUERY = intField({
  key: 'candidatesPerQuery',
  flag: 'size',
  value: 'M',
  help: 'M, candidates per query (QA, SPQA)',
  default: 1,
  min: 1,
  perRun: true,
});

const QA_OPTIONS = [CANDIDATES_PER_QUERY] as const;

/** Options of QA±. */
export type QueryAttackOptions = OptionsOf<typeof QA_OPTIONS>;

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
  const m = options.candidatesPerQuery ?? CANDIDATES_PER_QUERY.default; // checked against the field by createAttack
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

export const QA_PLUS = defineAttack({
  kind: 'QA+',
  seedId: 2,
  summary: 'perturbs the query so that M gallery candidates (drawn uniformly) rise in its ranking',
  chooses: 'candidates',
  perturbs: 'query',
  ers: true,
  columns: { 'QA+': { ...PERCENTILE, what: 'rank percentile of the chosen candidate, query perturbed to pull it up (benign ≈ 50)', robust: 'higher' } },
  options: QA_OPTIONS,
  create: (o) => queryAttack('+', o),
});

export const QA_MINUS = defineAttack({
  kind: 'QA-',
  seedId: 3,
  summary: 'perturbs the query so that M candidates drawn from its top-1% neighbours sink in its ranking',
  chooses: 'candidates',
  perturbs: 'query',
  ers: true,
  columns: { 'QA-': { ...PERCENTILE, what: 'rank percentile of a top-1% candidate, query perturbed to push it down', robust: 'lower' } },
  options: QA_OPTIONS,
  create: (o) => queryAttack('-', o),
});

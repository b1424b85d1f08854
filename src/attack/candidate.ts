// Layer: attack. CA± — Candidate Attack (docs/attacks-and-metrics.md §4.1): the
// perturbed image is a CANDIDATE, moved up (CA+) or down (CA−) the rankings
// of W queries. Reported: 100·prank (%), robust = high CA+ (benign ≈ 50), low CA−.
import { randint, tidy, type Tensor } from '../tensor/index.js';
import { candidateAttackObjective, type RankDirection } from './objectives.js';
import { candidatePrank } from './measures.js';
import { percentColumn, type RankingAttack } from './attack.js';
import type { BatchContext } from './context.js';
import { defineAttack, PERCENTILE } from './entry.js';
import { choiceField, intField, type OptionsOf } from './option-fields.js';

/** W, queries per candidate (rob28/rob224: 1; the curve profiles sweep it, so a profile sets it per run). */
export const QUERIES_PER_CANDIDATE = intField({
  key: 'queriesPerCandidate',
  flag: 'size',
  value: 'W',
  help: 'W, queries per candidate (CA)',
  default: 1,
  min: 1,
  perRun: true,
});

/**
 * Where CA+ draws its queries: 'global' = uniformly from the whole gallery
 * (reference default, env SAMPLE=global); 'local' = neighbour-list positions
 * [⌊0.01N⌋, ⌊0.05N⌋) of the candidate (SAMPLE=local). CA− always draws from the top 1%.
 */
export const CA_SAMPLING = choiceField({
  key: 'caSampling',
  flag: 'ca-sampling',
  help: "CA+: where its W queries are drawn from: the whole gallery (global, the reference's)\nor the candidate's neighbour-list positions [1%, 5%) (local)",
  choices: ['global', 'local'],
  default: 'global',
});

const CA_PLUS_OPTIONS = [QUERIES_PER_CANDIDATE, CA_SAMPLING] as const;
const CA_MINUS_OPTIONS = [QUERIES_PER_CANDIDATE] as const;

/** Options of CA± (CA− has no sampling choice). */
export type CandidateAttackOptions = OptionsOf<typeof CA_PLUS_OPTIONS>;
export type CandidateQuerySampling = NonNullable<CandidateAttackOptions['caSampling']>;

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
  // Values are checked against the fields by createAttack.
  const w = options.queriesPerCandidate ?? QUERIES_PER_CANDIDATE.default;
  const sampling = options.caSampling ?? CA_SAMPLING.default;
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

export const CA_PLUS = defineAttack({
  kind: 'CA+',
  seedId: 0,
  summary: 'perturbs the image as a candidate so that it rises in the rankings of W gallery queries (drawn uniformly)',
  chooses: 'queries',
  perturbs: 'candidate',
  ers: true,
  columns: { 'CA+': { ...PERCENTILE, what: 'rank percentile of the candidate pulled up (benign ≈ 50)', robust: 'higher' } },
  options: CA_PLUS_OPTIONS,
  create: (o) => candidateAttack('+', o),
});

export const CA_MINUS = defineAttack({
  kind: 'CA-',
  seedId: 1,
  summary: 'perturbs the image as a candidate so that it sinks in the rankings of W queries drawn from its top-1% neighbours',
  chooses: 'queries',
  perturbs: 'candidate',
  ers: true,
  columns: { 'CA-': { ...PERCENTILE, what: 'rank percentile of the candidate pushed down', robust: 'lower' } },
  options: CA_MINUS_OPTIONS,
  create: (o) => candidateAttack('-', o),
});

// Layer: attack. SPQA± — Semantics-Preserving Query Attack (ECCV'20,
// docs/attacks-and-metrics.md §4.3): QA± on M chosen candidates while M_GT = 5
// "ground-truth" neighbours G must stay at the top of the query's ranking, so
// the attacked query still looks like what it is. Curve profiles only (pami*,
// eccv*, qccurve28); not an ERS column.
//
// The keep-G-on-top term is weighted by ξ = min(exp(k·J_sp), 1e9), recomputed
// every PGD iteration from the current value of that term and not
// differentiated: while G holds (J_sp ≈ 0) ξ ≈ 1 and the QA term dominates; the
// moment G starts to slip, ξ explodes and the step turns to repairing G.
import { DATASETS } from '../data/registry.js';
import { randint, tidy, type Tensor } from '../tensor/index.js';
import { queryAttackObjective, type RankDirection } from './objectives.js';
import { queryPrank } from './measures.js';
import { CANDIDATES_PER_QUERY, permutedTopPositions } from './query.js';
import { percentColumn, type RankingAttack } from './attack.js';
import { defineAttack, PERCENTILE } from './entry.js';
import { positiveNumberField, type OptionsOf } from './option-fields.js';

/** M_GT, the ground-truth neighbours kept on top. */
export const SPQA_GROUND_TRUTH = 5;

/** ξ's ceiling, and its value when exp overflows to a non-finite number. */
const XI_MAX = 1e9;
const XI_NON_FINITE = 1e7;

/** Fashion's k, for datasets that publish none. */
const DEFAULT_XI_RATE = 4e4;

/**
 * k of ξ = exp(k·J_sp) for a dataset: its catalogue entry's (`paper.spqaXiRate`,
 * as the reference tunes it); unknown or unpublished datasets get Fashion's 4e4.
 */
export function spqaXiRate(dataset: string): number {
  const entry = DATASETS.find((d) => d.name === dataset || d.aliases.includes(dataset));
  return entry?.paper.spqaXiRate ?? DEFAULT_XI_RATE;
}

/** ξ from the current J_sp (docs/attacks-and-metrics.md §4.3). */
export function spqaXi(rate: number, semanticsTerm: number): number {
  const xi = Math.exp(rate * semanticsTerm);
  return Number.isFinite(xi) ? Math.min(xi, XI_MAX) : XI_NON_FINITE;
}

/** k of ξ = exp(k·J_sp); absent: spqaXiRate('fashion') = 4e4 (a swipe passes its dataset's). */
export const SPQA_XI_RATE = positiveNumberField({
  key: 'spqaXiRate',
  flag: 'xi-rate',
  value: 'K',
  above: 0,
  help: "SPQA's k in ξ = exp(k·J_sp) (default: the dataset's value, e.g. 4e4 for Fashion)",
});

const SPQA_OPTIONS = [CANDIDATES_PER_QUERY, SPQA_XI_RATE] as const;

/** Options of SPQA± (M as QA±'s). */
export type SemanticsPreservingQueryOptions = OptionsOf<typeof SPQA_OPTIONS>;

type SpqaSelection = {
  /** [B, M] gallery indices of the candidates. */
  candidates: Tensor;
  /** [B, 5] gallery indices of the ground-truth neighbours. */
  groundTruth: Tensor;
};

/**
 * SPQA± (semantics-preserving query attack): QA± while the query's clean top-5 must stay on top.
 * Reports `SPQA±` and `SPQA±:GTprank` (rank percentile of the kept neighbours).
 */
export function semanticsPreservingQueryAttack(direction: RankDirection, options: SemanticsPreservingQueryOptions = {}): RankingAttack<SpqaSelection> {
  // Values are checked against the fields by createAttack.
  const m = options.candidatesPerQuery ?? CANDIDATES_PER_QUERY.default;
  const rate = options.spqaXiRate ?? spqaXiRate('fashion');
  const kind = direction === '+' ? 'SPQA+' : 'SPQA-';
  return {
    kind,
    reports: [kind, `${kind}:GTprank`],
    select(ctx) {
      const n = ctx.gallery.embeddings.shape[0]!;
      const b = ctx.clean.shape[0]!;
      if (direction === '+') {
        if (n < SPQA_GROUND_TRUTH + 1) throw new Error(`SPQA+: the gallery (${n} items) is too small for ${SPQA_GROUND_TRUTH} ground-truth neighbours`);
        // Uniform candidates as QA+; G = the clean top-5 after the assumed self.
        return { candidates: randint(0, n, [b, m], { device: ctx.clean.device }), groundTruth: ctx.ranking.narrow(1, 1, SPQA_GROUND_TRUTH).clone() };
      }
      if (m + SPQA_GROUND_TRUTH > ctx.topCount) {
        throw new Error(`SPQA-: M = ${m} candidates plus ${SPQA_GROUND_TRUTH} ground-truth neighbours exceed the top-1% list (${ctx.topCount} entries)`);
      }
      return tidy(() => {
        // As QA−: a uniform permutation of the top-T list, the first M are the candidates;
        // G = the best-ranked 5 of the entries left over (sorting positions = sorting by clean rank).
        const positions = permutedTopPositions(ctx);
        const candidates = ctx.ranking.gather(1, positions.narrow(1, 0, m));
        const rest = positions
          .narrow(1, m, ctx.topCount - m)
          .sort(1)[0]
          .narrow(1, 0, SPQA_GROUND_TRUTH);
        return { candidates, groundTruth: ctx.ranking.gather(1, rest) };
      });
    },
    objective(adversarial, s, ctx) {
      return tidy(() => {
        const attack = queryAttackObjective(adversarial, ctx.gallery.embeddings, s.candidates, ctx.gallery.metric, direction);
        const semantics = queryAttackObjective(adversarial, ctx.gallery.embeddings, s.groundTruth, ctx.gallery.metric, '+');
        // ξ from the batch's J_sp (the reference's), not differentiated; the same ξ weights every image's term.
        const xi = spqaXi(rate, semantics.value.item());
        return { value: attack.value.add(semantics.value.mul(xi)), perQuery: attack.perQuery.add(semantics.perQuery.mul(xi)) };
      });
    },
    measure(adv, s, ctx) {
      const { embeddings, metric } = ctx.gallery;
      return {
        [kind]: percentColumn(queryPrank(adv.final, embeddings, s.candidates, metric)),
        [`${kind}:GTprank`]: percentColumn(queryPrank(adv.final, embeddings, s.groundTruth, metric)),
      };
    },
  };
}

export const SPQA_PLUS = defineAttack({
  kind: 'SPQA+',
  seedId: 9,
  summary: 'QA+ while the query’s clean top-5 neighbours must stay on top',
  chooses: 'candidates',
  perturbs: 'query',
  ers: false,
  columns: {
    'SPQA+': { ...PERCENTILE, what: 'QA+ while the top-5 neighbours must stay on top', robust: 'higher' },
    'SPQA+:GTprank': { ...PERCENTILE, what: "rank percentile of the five neighbours SPQA+ keeps (the attack's constraint)", robust: 'neither' },
  },
  options: SPQA_OPTIONS,
  create: (o) => semanticsPreservingQueryAttack('+', o),
});

export const SPQA_MINUS = defineAttack({
  kind: 'SPQA-',
  seedId: 10,
  summary: 'QA− while five of the query’s top-1% neighbours must stay on top',
  chooses: 'candidates',
  perturbs: 'query',
  ers: false,
  columns: {
    'SPQA-': { ...PERCENTILE, what: 'QA− while the top-5 neighbours must stay on top', robust: 'lower' },
    'SPQA-:GTprank': { ...PERCENTILE, what: "rank percentile of the five neighbours SPQA− keeps (the attack's constraint)", robust: 'neither' },
  },
  options: SPQA_OPTIONS,
  create: (o) => semanticsPreservingQueryAttack('-', o),
});

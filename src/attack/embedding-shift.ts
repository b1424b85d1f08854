// Layer: attack. ES — Embedding Shift (docs/attacks-and-metrics.md §4.5): move each
// query's embedding as far as possible from its clean embedding. Two numbers:
//   ES:D — mean distance moved (lower = more robust);
//   ES:R — Recall@1 (%) of the shifted queries, clean self masked.
import { embeddingShiftObjective } from './objectives.js';
import { recallAt1SelfMasked } from './measures.js';
import { percentColumn, plainColumn, type RankingAttack } from './attack.js';
import { defineAttack } from './entry.js';
import { choiceField, type OptionsOf } from './option-fields.js';

/**
 * Which embedding ES:D measures. 'last-iteration-start' (reference): the one
 * computed at the start of the last PGD iteration, after η−1 updates (η = 1
 * gives ES:D = 0). 'final': after the last update.
 */
export const ES_DISTANCE_AT = choiceField({
  key: 'esDistanceAt',
  flag: 'es-distance-at',
  help: 'ES: which embedding ES:D measures',
  choices: ['last-iteration-start', 'final'],
  default: 'last-iteration-start',
});

const ES_OPTIONS = [ES_DISTANCE_AT] as const;

/** Options of ES. */
export type EmbeddingShiftOptions = OptionsOf<typeof ES_OPTIONS>;
export type EsDistanceAt = NonNullable<EmbeddingShiftOptions['esDistanceAt']>;

/**
 * ES (embedding shift): move each query's embedding as far as possible from its clean position.
 * Reports `ES:D` (distance moved) and `ES:R` (Recall@1 of the shifted queries, %).
 */
export function embeddingShiftAttack(options: EmbeddingShiftOptions = {}): RankingAttack<Record<string, never>> {
  const distanceAt = options.esDistanceAt ?? ES_DISTANCE_AT.default; // checked against the field by createAttack
  return {
    kind: 'ES',
    reports: ['ES:D', 'ES:R'],
    select() {
      return {};
    },
    objective(adversarial, _s, ctx, iteration) {
      return embeddingShiftObjective(adversarial, ctx.clean, ctx.gallery.metric, iteration);
    },
    measure(adv, _s, ctx) {
      const g = ctx.gallery;
      const shifted = distanceAt === 'final' ? adv.final : adv.lastIterationStart;
      return {
        'ES:D': plainColumn(g.metric.rows(shifted, ctx.clean)),
        'ES:R': percentColumn(recallAt1SelfMasked(adv.final, g.embeddings, g.labels, ctx.labels, ctx.selfIndex, g.metric)),
      };
    },
  };
}

export const ES = defineAttack({
  kind: 'ES',
  seedId: 5,
  aliases: ['ES:D', 'ES:R'],
  summary: "moves the query's embedding as far as possible from its clean position",
  chooses: null,
  perturbs: 'query',
  ers: true,
  columns: {
    'ES:D': { unit: 'distance', what: 'distance the query embedding moved (metric units; ≤ 2 for N and C)', robust: 'lower', digits: 3 },
    'ES:R': { unit: '% R@1', what: 'Recall@1 of the shifted queries', robust: 'higher', digits: 1 },
  },
  options: ES_OPTIONS,
  create: (o) => embeddingShiftAttack(o),
});

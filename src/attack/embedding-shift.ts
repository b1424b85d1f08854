// Layer: attack. ES — Embedding Shift (docs/attacks-and-metrics.md §4.5): move each
// query's embedding as far as possible from its clean embedding. Two numbers:
//   ES:D — mean distance moved (lower = more robust);
//   ES:R — Recall@1 (%) of the shifted queries, clean self masked.
import { embeddingShiftObjective } from './objectives.js';
import { recallAt1SelfMasked } from './measures.js';
import { percentColumn, plainColumn, type RankingAttack } from './attack.js';

/**
 * Which embedding ES:D measures. 'last-iteration-start' (reference): the one
 * computed at the start of the last PGD iteration, after η−1 updates (η = 1
 * gives ES:D = 0). 'final': after the last update.
 */
export type EsDistanceAt = 'last-iteration-start' | 'final';

/** Options of ES. */
export interface EmbeddingShiftOptions {
  distanceAt?: EsDistanceAt;
}

/**
 * ES (embedding shift): move each query's embedding as far as possible from its clean position.
 * Reports `ES:D` (distance moved) and `ES:R` (Recall@1 of the shifted queries, %).
 */
export function embeddingShiftAttack(options: EmbeddingShiftOptions = {}): RankingAttack<Record<string, never>> {
  const distanceAt = options.distanceAt ?? 'last-iteration-start';
  if (distanceAt !== 'last-iteration-start' && distanceAt !== 'final')
    throw new Error(`ES: distanceAt must be 'last-iteration-start' or 'final', got '${String(distanceAt)}'`);
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

// Layer: attack. GTT — Greedy Top-1 Translocation (RobRank, simplified QAIR;
// docs/attacks-and-metrics.md §4.8): push each query's clean top-1 out of its
// top ranks (QA− with that single candidate). Reported: retain@4 (%) — the
// clean top-1 still among the 4 nearest (higher = more robust); also
// GTT:ID-Retain@1, the clean top-1 still first.
import { tidy, type Tensor } from '../tensor/index.js';
import { greedyTopTranslocationObjective } from './objectives.js';
import { retainAtK } from './measures.js';
import { percentColumn, type RankingAttack } from './attack.js';
import { selfMaskedDistances } from './context.js';
import { defineAttack } from './entry.js';

/** GTT counts the clean top-1 as retained while it stays within this many nearest items. */
export const GTT_RETAIN_K = 4;

type GttSelection = {
  /** [B] m_i, the clean top-1 gallery index with the self masked. */
  topOne: Tensor;
};

/**
 * GTT (greedy top-1 translocation): push each query's clean top-1 out of its top 4; reports retain@4 (%) and `GTT:ID-Retain@1`.
 */
export function greedyTopTranslocationAttack(): RankingAttack<GttSelection> {
  return {
    kind: 'GTT',
    reports: ['GTT', 'GTT:ID-Retain@1'],
    select(ctx) {
      return { topOne: tidy(() => selfMaskedDistances(ctx).argmin(1)) };
    },
    objective(adversarial, s, ctx) {
      return greedyTopTranslocationObjective(adversarial, ctx.gallery.embeddings, s.topOne, ctx.gallery.metric);
    },
    measure(adv, s, ctx) {
      const g = ctx.gallery;
      return {
        GTT: percentColumn(retainAtK(adv.final, g.embeddings, ctx.selfIndex, s.topOne, GTT_RETAIN_K, g.metric)),
        'GTT:ID-Retain@1': percentColumn(retainAtK(adv.final, g.embeddings, ctx.selfIndex, s.topOne, 1, g.metric)),
      };
    },
  };
}

export const GTT = defineAttack({
  kind: 'GTT',
  seedId: 8,
  summary: "pushes the query's clean top-1 out of its 4 nearest items",
  chooses: null,
  perturbs: 'query',
  ers: true,
  columns: {
    GTT: { unit: '% retain@4', what: 'queries whose clean top-1 stays among the top 4', robust: 'higher', digits: 1 },
    'GTT:ID-Retain@1': { unit: '% retain@1', what: 'queries whose clean top-1 stays first', robust: 'higher', digits: 1 },
  },
  options: [],
  create: () => greedyTopTranslocationAttack(),
});

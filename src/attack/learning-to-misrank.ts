// Layer: attack. LTM — Learning-To-Misrank (Feng et al.; docs/attacks-and-metrics.md
// §4.6): push every different-class gallery item in front of every same-class
// one. Reported: Recall@1 (%) after the attack, clean self masked (higher = more robust).
import { learningToMisrankObjective } from './objectives.js';
import { recallAt1SelfMasked } from './measures.js';
import { percentColumn, type RankingAttack } from './attack.js';

/** Options of LTM. */
export interface LearningToMisrankOptions {
  /**
   * Exclude the clean self s_i from the same-class minimum. The reference does
   * not (its masking call is not in-place): default false.
   */
  excludeSelf?: boolean;
}

/**
 * LTM (learning to misrank): put every other-class item in front of every same-class item; reports Recall@1 after the attack (%).
 */
export function learningToMisrankAttack(options: LearningToMisrankOptions = {}): RankingAttack<Record<string, never>> {
  const excludeSelf = options.excludeSelf ?? false;
  return {
    kind: 'LTM',
    reports: ['LTM'],
    select() {
      return {};
    },
    objective(adversarial, _s, ctx) {
      const g = ctx.gallery;
      return learningToMisrankObjective(adversarial, g.embeddings, g.labels, ctx.labels, g.metric, excludeSelf ? ctx.selfIndex : undefined);
    },
    measure(adv, _s, ctx) {
      const g = ctx.gallery;
      return { LTM: percentColumn(recallAt1SelfMasked(adv.final, g.embeddings, g.labels, ctx.labels, ctx.selfIndex, g.metric)) };
    },
  };
}

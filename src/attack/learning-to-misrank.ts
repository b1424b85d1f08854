// Layer: attack. LTM — Learning-To-Misrank (Feng et al.; docs/attacks-and-metrics.md
// §4.6): push every different-class gallery item in front of every same-class
// one. Reported: Recall@1 (%) after the attack, clean self masked (higher = more robust).
import { learningToMisrankObjective } from './objectives.js';
import { recallAt1SelfMasked } from './measures.js';
import { percentColumn, type RankingAttack } from './attack.js';
import { defineAttack } from './entry.js';
import { switchField, type OptionsOf } from './option-fields.js';

/**
 * Exclude the clean self s_i from the same-class minimum. The reference does
 * not (its masking call is not in-place): default false.
 */
export const LTM_EXCLUDE_SELF = switchField({
  key: 'ltmExcludeSelf',
  flag: 'ltm-exclude-self',
  help: "LTM: leave the query's clean self out of the same-class minimum",
});

const LTM_OPTIONS = [LTM_EXCLUDE_SELF] as const;

/** Options of LTM. */
export type LearningToMisrankOptions = OptionsOf<typeof LTM_OPTIONS>;

/**
 * LTM (learning to misrank): put every other-class item in front of every same-class item; reports Recall@1 after the attack (%).
 */
export function learningToMisrankAttack(options: LearningToMisrankOptions = {}): RankingAttack<Record<string, never>> {
  const excludeSelf = options.ltmExcludeSelf ?? LTM_EXCLUDE_SELF.default;
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

export const LTM = defineAttack({
  kind: 'LTM',
  seedId: 6,
  summary: 'puts every gallery item of another class in front of every item of the query’s class',
  chooses: null,
  perturbs: 'query',
  ers: true,
  columns: { LTM: { unit: '% R@1', what: 'Recall@1 after learning-to-misrank', robust: 'higher', digits: 1 } },
  options: LTM_OPTIONS,
  create: (o) => learningToMisrankAttack(o),
});

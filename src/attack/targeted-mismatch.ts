// Layer: attack. TMA — Targeted Mismatch Attack (Tolias et al.; docs/attacks-and-metrics.md
// §4.4): pull each query's embedding onto a random gallery item's, by cosine
// (whatever the metric). Reported: mean cosine to the target after the attack
// (lower = more robust).
import { randint, type Tensor } from '../tensor/index.js';
import { cosineSimilarity, targetedMismatchObjective } from './objectives.js';
import { plainColumn, type RankingAttack } from './attack.js';
import { defineAttack } from './entry.js';

type TargetSelection = {
  /** [B] the targets' gallery indices t, uniform in [0, N). */
  targetIndex: Tensor;
  /** [B, D] target embeddings X_t. */
  targets: Tensor;
};

/** TMA (targeted mismatch): pull each query's embedding towards a random gallery item; reports the cosine similarity reached. */
export function targetedMismatchAttack(): RankingAttack<TargetSelection> {
  return {
    kind: 'TMA',
    reports: ['TMA'],
    select(ctx) {
      const n = ctx.gallery.embeddings.shape[0]!;
      const targetIndex = randint(0, n, [ctx.clean.shape[0]!], { device: ctx.clean.device });
      return { targetIndex, targets: ctx.gallery.embeddings.indexSelect(0, targetIndex) };
    },
    rebase(s, other) {
      return { targetIndex: s.targetIndex.clone(), targets: other.gallery.embeddings.indexSelect(0, s.targetIndex) };
    },
    objective(adversarial, s) {
      return targetedMismatchObjective(adversarial, s.targets);
    },
    measure(adv, s) {
      return { TMA: plainColumn(cosineSimilarity(adv.final, s.targets)) };
    },
  };
}

export const TMA = defineAttack({
  kind: 'TMA',
  seedId: 4,
  summary: "pulls the query's embedding towards a random gallery item's (cosine similarity)",
  chooses: null,
  perturbs: 'query',
  ers: true,
  columns: { TMA: { unit: 'cosine', what: 'cosine similarity of the perturbed query to a random target', robust: 'lower', digits: 3 } },
  options: [],
  create: () => targetedMismatchAttack(),
});

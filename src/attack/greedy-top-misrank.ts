// Layer: attack. GTM — Greedy Top-1 Misranking (RobRank; docs/attacks-and-metrics.md
// §4.7): pull each query onto the best-ranked gallery item whose label differs
// from its clean top-1's. Reported: Recall@1 (%) after the attack, clean self
// masked, true query labels (higher = more robust).
import { arange, tidy, type Tensor } from '../tensor/index.js';
import { greedyTopMisrankObjective } from './objectives.js';
import { recallAt1SelfMasked } from './measures.js';
import { percentColumn, type RankingAttack } from './attack.js';
import { selfMaskedDistances, type BatchContext } from './context.js';
import { defineAttack } from './entry.js';
import { choiceField, type OptionsOf } from './option-fields.js';

/**
 * The target of each query. With U = the unmatching gallery indices in
 * increasing order and k* = the position INSIDE U of the best-ranked one:
 * 'reference-bug' (default, reproduces published GTM) uses k* itself as a
 * gallery index, as RobRank's code does; 'intended' uses U[k*].
 */
export const GTM_TARGET = choiceField({
  key: 'gtmTarget',
  flag: 'gtm-target',
  help: "GTM's target: the reference code's index bug or the intended one",
  choices: ['reference-bug', 'intended'],
  default: 'reference-bug',
});

const GTM_OPTIONS = [GTM_TARGET] as const;

/** Options of GTM. */
export type GreedyTopMisrankOptions = OptionsOf<typeof GTM_OPTIONS>;
export type GtmTarget = NonNullable<GreedyTopMisrankOptions['gtmTarget']>;

type GtmSelection = {
  /** [B] gallery index of each target. */
  targetIndex: Tensor;
  /** [B, D] target embeddings. */
  targets: Tensor;
};

/** [B] gallery indices: U[k*] ('intended') or k* ('reference-bug'), from clean self-masked distances. */
export function greedyTopMisrankTargets(ctx: BatchContext, target: GtmTarget): Tensor {
  return tidy(() => {
    const masked = selfMaskedDistances(ctx);
    const ranking = masked.argsort(1); // stable
    const n = masked.shape[1]!;
    const b = masked.shape[0]!;
    const rank = ranking.scatter(1, ranking, arange(n, undefined, 1, { device: masked.device }).unsqueeze(0).expand(b, n)); // rank[i, ranking[i, r]] = r
    const topLabel = ctx.gallery.labels.indexSelect(0, ranking.select(1, 0)); // ℓ*
    const matching = ctx.gallery.labels.unsqueeze(0).eq(topLabel.unsqueeze(1)); // [B, N], not in U
    const best = rank.maskedFill(matching, n).argmin(1, true); // U[k*]: [B, 1]
    if (target === 'intended') return best.squeeze(1);
    // k* = |{u ∈ U : u < U[k*]}| = (running count of unmatching indices at U[k*]) − 1
    return matching.logicalNot().long().cumsum(1).gather(1, best).squeeze(1).sub(1);
  });
}

/**
 * GTM (greedy top-1 misranking): pull each query onto its nearest item of another class; reports Recall@1 after the attack (%).
 */
export function greedyTopMisrankAttack(options: GreedyTopMisrankOptions = {}): RankingAttack<GtmSelection> {
  const target = options.gtmTarget ?? GTM_TARGET.default; // checked against the field by createAttack
  return {
    kind: 'GTM',
    reports: ['GTM'],
    select(ctx) {
      const targetIndex = greedyTopMisrankTargets(ctx, target);
      return { targetIndex, targets: ctx.gallery.embeddings.indexSelect(0, targetIndex) };
    },
    rebase(s, other) {
      return { targetIndex: s.targetIndex.clone(), targets: other.gallery.embeddings.indexSelect(0, s.targetIndex) };
    },
    objective(adversarial, s, ctx) {
      return greedyTopMisrankObjective(adversarial, s.targets, ctx.gallery.metric);
    },
    measure(adv, _s, ctx) {
      const g = ctx.gallery;
      return { GTM: percentColumn(recallAt1SelfMasked(adv.final, g.embeddings, g.labels, ctx.labels, ctx.selfIndex, g.metric)) };
    },
  };
}

export const GTM = defineAttack({
  kind: 'GTM',
  seedId: 7,
  summary: 'pulls the query onto its best-ranked gallery item of another class than its clean top-1',
  chooses: null,
  perturbs: 'query',
  ers: true,
  columns: { GTM: { unit: '% R@1', what: 'Recall@1 after greedy top-1 misranking', robust: 'higher', digits: 1 } },
  options: GTM_OPTIONS,
  create: (o) => greedyTopMisrankAttack(o),
});

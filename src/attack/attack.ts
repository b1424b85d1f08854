// Layer: attack. The one shape every ranking attack has (attacks_and_metrics.md §4):
//   selection rule  — on the batch's CLEAN embeddings, once per batch;
//   objective       — of the adversarial embeddings, minimised by the PGD core;
//   reported number — measured on the embeddings after the attack.
// `attackBatch` is the one runner: it embeds inside PGD (model in eval mode,
// gradients w.r.t. the input only), and hands the attack the final adversarial
// embeddings plus those seen at the start of the last iteration (ES:D's quirk).
import { dispose, keep, noGrad, tidy, type Tensor } from '../tensor/index.js';
import type { EmbeddingModel } from '../models/model.js';
import { pgd, validateBudget } from './pgd.js';
import { embedImages, type BatchContext } from './context.js';

/**
 * Every ranking attack: the nine of the rob28 / rob224 (ERS) profiles — ES
 * yields two numbers — and SPQA± of the curve profiles.
 */
export type AttackKind = 'CA+' | 'CA-' | 'QA+' | 'QA-' | 'TMA' | 'ES' | 'LTM' | 'GTM' | 'GTT' | 'SPQA+' | 'SPQA-';

/** In a fixed order: a kind's index seeds its selections, so new kinds are appended. */
export const ATTACK_KINDS: readonly AttackKind[] = ['CA+', 'CA-', 'QA+', 'QA-', 'TMA', 'ES', 'LTM', 'GTM', 'GTT', 'SPQA+', 'SPQA-'];

/** The nine runs of an ERS profile. */
export const ERS_ATTACK_KINDS: readonly AttackKind[] = ATTACK_KINDS.slice(0, 9);

/** An L∞ PGD budget: radius ε and step α in pixel units, η iterations. */
export interface PgdBudget {
  /** L∞ radius in pixel space, in [0, 1]. */
  epsilon: number;
  /** Step size (> 0); ignored when steps = 1 (FGSM steps ε). */
  alpha: number;
  /** η, the number of PGD iterations (≥ 1). */
  steps: number;
}

/** Embeddings of the adversarial batch handed to `measure`. */
export interface AdversarialEmbeddings {
  /** [B, D] after the final update. */
  final: Tensor;
  /** [B, D] computed at the start of the last PGD iteration (after η−1 updates). */
  lastIterationStart: Tensor;
}

/** Selected indices/embeddings of one batch: a plain object of tensors the runner frees. */
export type Selection = Record<string, Tensor>;

/**
 * A ranking attack: selection on clean embeddings, an objective PGD minimises, and the numbers it reports.
 * Build one with `createAttack` or a factory (`candidateAttack`, `queryAttack`, …); run it with `attackBatch`.
 */
export interface RankingAttack<S extends Selection = Selection> {
  readonly kind: AttackKind;
  /** The table columns it reports, e.g. ['ES:D', 'ES:R']. */
  readonly reports: readonly string[];
  /** Selection rule on clean embeddings (randomness from libtorch's seeded generator). */
  select(ctx: BatchContext): S;
  /** Scalar to minimise, from adversarial embeddings [B, D] (metric space). */
  objective(adversarial: Tensor, selection: S, ctx: BatchContext, iteration: number): Tensor;
  /** The reported numbers for this batch (batch means, in the tables' units). */
  measure(adversarial: AdversarialEmbeddings, selection: S, ctx: BatchContext): Record<string, number>;
}

/** What `attackBatch` returns for one batch. */
export interface AttackBatchResult {
  /** Reported numbers of this batch, keyed by table column. */
  values: Record<string, number>;
  /** Objective value at each PGD iteration. */
  objective: number[];
}

/**
 * Runs one attack on one batch: select, PGD on the batch images, measure.
 * Frees everything it creates; the context stays the caller's.
 */
export function attackBatch<S extends Selection>(model: EmbeddingModel, attack: RankingAttack<S>, ctx: BatchContext, budget: PgdBudget): AttackBatchResult {
  validateBudget(budget.epsilon, budget.alpha, budget.steps);
  model.eval();
  const metric = ctx.gallery.metric;
  const selection = noGrad(() => tidy(() => attack.select(ctx)));
  let lastIterationStart: Tensor | undefined;
  let adversarialImages: Tensor | undefined;
  let final: Tensor | undefined;
  try {
    const run = pgd({
      images: ctx.images,
      epsilon: budget.epsilon,
      alpha: budget.alpha,
      steps: budget.steps,
      objective: (xAdv, iteration) => {
        const embedding = embedImages(model, xAdv, metric);
        if (iteration === budget.steps - 1) lastIterationStart = keep(noGrad(() => embedding.detach()));
        return attack.objective(embedding, selection, ctx, iteration);
      },
    });
    adversarialImages = run.adversarial;
    final = noGrad(() => embedImages(model, run.adversarial, metric));
    const values = noGrad(() => tidy(() => attack.measure({ final: final!, lastIterationStart: lastIterationStart! }, selection, ctx)));
    return { values, objective: run.values };
  } finally {
    dispose([selection, lastIterationStart, adversarialImages, final]);
  }
}

/** Mean of a [B] tensor as a number, ×100 when the table reports a percentage. */
export function batchMean(perImage: Tensor, percent: boolean): number {
  const m = perImage.mean().item();
  return percent ? 100 * m : m;
}

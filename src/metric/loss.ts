// Layer: metric. What a training loss is, as one catalogue entry (losses.ts
// lists them): its names, the metrics it is defined for, what it consumes,
// its hyper-parameters with their defaults (each becomes a `train` flag) and
// the function. Every loss lives in its own file next to this one and exports
// its entry; adding a loss is that file plus one line in LOSSES.
import type { Tensor } from '../tensor/index.js';
import type { Metric, MetricName } from './metric.js';
import type { MinerName } from './miners.js';

/**
 * What a loss consumes:
 *   'triplets': the (a, p, n) the run's miner picked (or a defense perturbed): triplet, contrastive, margin, SNR, quadruplet …;
 *   'batch':    the whole SPC-2 batch and its labels; the loss mines for itself (multi-similarity, lifted structure, n-pair).
 */
export const LOSS_INPUTS = ['triplets', 'batch'] as const;
export type LossInput = (typeof LOSS_INPUTS)[number];

/** One hyper-parameter of a loss: the config field (`lossParams.<name>`), its `train` flag, its default and range. */
export interface LossHyper {
  readonly name: string;
  readonly flag: string;
  readonly help: string;
  /** A number, or one per metric (RobRank's margins differ between E and N/C). */
  readonly default: number | ((metric: MetricName) => number);
  readonly min?: number;
  readonly above?: number;
  readonly max?: number;
  /** The forms of the loss that have this term (RobRank's norm penalties); absent = every form. */
  readonly forms?: readonly string[];
}

/** The `train` flag that picks a loss's form (`--loss-form`); one flag, each loss says its own forms. */
export const LOSS_FORM_FLAG = 'loss-form';

/** One form of a loss: a formula or reduction with a source (a paper as pytorch-metric-learning implements it, or RobRank's). */
export interface LossFormValue {
  readonly name: string;
  readonly summary: string;
  /** The loss margin's default per metric under this form, where it differs from the entry's. */
  readonly margin?: (metric: MetricName) => number;
}

/**
 * The forms a loss comes in (the config's `lossForm`, the `--loss-form` flag):
 * the published one(s) and RobRank's, which differs from the papers in its
 * reduction or its anchors. RobRank's shorthand (`pmarginN`) names RobRank's form.
 */
export interface LossForms {
  readonly help: string;
  /** The form `--loss NAME` trains when none is named. */
  readonly default: string;
  /** The form RobRank trains: what its shorthand names, and what a run recorded before forms existed trained. */
  readonly robrank: string;
  readonly values: readonly LossFormValue[];
}

/**
 * A learnable scalar of a loss (the margin loss's β): initialised from the
 * hyper-parameter `init`, optimised by plain SGD with the learning rate in the
 * hyper-parameter `lr` (RobRank's getOptim), saved in every checkpoint.
 */
export interface LearnableSpec {
  readonly name: string;
  readonly init: string;
  readonly lr: string;
}

/** What every loss function receives besides its inputs. */
export interface LossContext {
  readonly metric: Metric;
  /** The loss margin (`config.margin`); NaN for a loss without one. */
  readonly margin: number;
  /** Every hyper-parameter of the entry, resolved (those of its form only). */
  readonly params: Readonly<Record<string, number>>;
  /** The loss's form (one of its entry's `forms.values`); '' for a loss with a single form. */
  readonly form: string;
  /** The current value of each learnable scalar (0-d tensors with autograd). */
  readonly learned: Readonly<Record<string, Tensor>>;
}

/** Mined triplets in metric space, rows [B, D], with the labels of the anchors and negatives [B]. */
export interface TripletBatch {
  readonly a: Tensor;
  readonly p: Tensor;
  readonly n: Tensor;
  readonly anchorLabels: Tensor;
  readonly negativeLabels: Tensor;
}

interface LossEntryBase<N extends string> {
  /** Our name (`--loss`, configs, checkpoints). */
  readonly name: N;
  /** The word(s) of RobRank's loss names: `p` + miner code + word + metric (`pdmarginN`, `pmsN`). */
  readonly robrankWords: readonly string[];
  readonly summary: string;
  /** The metrics the loss is defined for. */
  readonly metrics: readonly MetricName[];
  /** The loss margin's default per metric (`--margin`); absent = the loss has no margin and refuses one. */
  readonly margin?: (metric: MetricName) => number;
  readonly hypers: readonly LossHyper[];
  /** The forms it comes in; absent = one form. */
  readonly forms?: LossForms;
  readonly learnable?: readonly LearnableSpec[];
  /** A miner the loss always uses (pDtriplet: distance-weighted); absent = the run's `--miner`. Batch losses mine for themselves. */
  readonly miner?: MinerName;
}

/** A loss on mined triplets. */
export interface TripletLossEntry<N extends string = string> extends LossEntryBase<N> {
  readonly input: 'triplets';
  readonly fn: (t: TripletBatch, ctx: LossContext) => Tensor;
}

/** A loss on the whole SPC-2 batch [2B, D] with its labels [2B]. */
export interface BatchLossEntry<N extends string = string> extends LossEntryBase<N> {
  readonly input: 'batch';
  readonly fn: (embeddings: Tensor, labels: Tensor, ctx: LossContext) => Tensor;
}

export type LossEntry<N extends string = string> = TripletLossEntry<N> | BatchLossEntry<N>;

/** A loss entry with its name kept as a literal type (the list in losses.ts yields the `LossKind` union). */
export function defineLoss<const N extends string>(entry: LossEntry<N>): LossEntry<N> {
  return entry;
}

/** The default of a hyper-parameter for a metric. */
export function hyperDefault(h: LossHyper, metric: MetricName): number {
  return typeof h.default === 'number' ? h.default : h.default(metric);
}

/** The hyper-parameters a loss has under a form ('' or undefined: its default form). */
export function formHypers(loss: LossEntryBase<string>, form?: string): readonly LossHyper[] {
  const f = form === undefined || form === '' ? (loss.forms?.default ?? '') : form;
  return loss.hypers.filter((h) => h.forms === undefined || h.forms.includes(f));
}

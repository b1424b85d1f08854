// Layer: metric. A loss of the catalogue made ready for one run: its resolved
// margin and hyper-parameters, and its learnable scalars (the margin loss's β)
// with their own SGD optimiser at the entry's learning rate, as the reference
// optimises them beside the model. The trainer steps them after every
// backward pass and the checkpoint records their values (plain SGD has no
// other state, so a resumed run continues exactly).
import { keep, noGrad, tensor, tidy, type Tensor } from '../tensor/index.js';
import { SGD } from '../optim/index.js';
import type { Metric } from './metric.js';
import { formHypers, hyperDefault, lossEntry, lossFormOf, requireLossMetric, type LossContext, type LossEntry, type TripletBatch } from './losses.js';

export interface TrainingLoss {
  readonly entry: LossEntry;
  /** The loss's form ('' for a loss with one form). */
  readonly form: string;
  /** The loss of mined (or perturbed) triplets; only for a loss whose input is 'triplets'. */
  triplets(t: TripletBatch, metric: Metric): Tensor;
  /** The loss of a whole SPC-2 batch [2B, D] in metric space; only for a loss whose input is 'batch'. */
  batch(embeddings: Tensor, labels: Tensor, metric: Metric): Tensor;
  /** Clears the learnable scalars' gradients (before a backward pass). */
  zeroGrad(): void;
  /** One SGD step of the learnable scalars (after the backward pass); nothing for a loss without any. */
  step(): void;
  /** The learnable scalars by name (`loss.beta` in checkpoints). */
  state(): Record<string, number>;
  loadState(s: Record<string, number>): void;
  dispose(): void;
}

/** The prefix of a learnable scalar's key in a checkpoint's state record. */
export const LOSS_STATE_PREFIX = 'loss.';

/**
 * A run's loss from its name, form (undefined: the entry's default), margin and
 * resolved hyper-parameters (missing ones take the entry's defaults for `metric`).
 */
export function buildTrainingLoss(name: string, o: { margin: number; form?: string; params?: Readonly<Record<string, number>>; metric: Metric }): TrainingLoss {
  const entry = lossEntry(name);
  requireLossMetric(entry, o.metric.name);
  const form = lossFormOf(name, o.form);
  const hypers = formHypers(entry, form);
  for (const k of Object.keys(o.params ?? {})) {
    if (!hypers.some((h) => h.name === k)) throw new Error(`loss ${entry.name}${form !== '' ? ` (form ${form})` : ''} has no hyper-parameter ${k}`);
  }
  const params: Record<string, number> = {};
  for (const h of hypers) params[h.name] = o.params?.[h.name] ?? hyperDefault(h, o.metric.name);
  const learnable = entry.learnable ?? [];
  const learned: Record<string, Tensor> = {};
  for (const l of learnable) learned[l.name] = tidy(() => keep(tensor([params[l.init]!], undefined, 'float32').view().requiresGrad_()));
  const optims = learnable.map((l) => new SGD([learned[l.name]!], { lr: params[l.lr]! }));
  const ctx = (metric: Metric): LossContext => ({ metric, margin: o.margin, params, learned, form });
  return {
    entry,
    form,
    triplets(t, metric) {
      if (entry.input !== 'triplets') throw new Error(`loss ${entry.name} takes the whole batch, not mined triplets`);
      return entry.fn(t, ctx(metric));
    },
    batch(x, labels, metric) {
      if (entry.input !== 'batch') throw new Error(`loss ${entry.name} takes mined triplets, not the whole batch`);
      return entry.fn(x, labels, ctx(metric));
    },
    zeroGrad: () => optims.forEach((s) => s.zeroGrad()),
    step: () => optims.forEach((s) => s.step()),
    state: () => Object.fromEntries(learnable.map((l) => [LOSS_STATE_PREFIX + l.name, noGrad(() => learned[l.name]!.item())])),
    loadState(s) {
      for (const l of learnable) {
        const v = s[LOSS_STATE_PREFIX + l.name];
        if (typeof v !== 'number') continue;
        const t = learned[l.name]!;
        noGrad(() => t.mul_(0).add_(v));
      }
    },
    dispose() {
      optims.forEach((s) => s.dispose());
      Object.values(learned).forEach((t) => t.dispose());
    },
  };
}

// Layer: metric. The training losses as one catalogue. Each loss lives in its
// own file and exports its entry (loss.ts says what an entry holds); the config
// schema, the `train` flags and help texts, RobRank's shorthand parser and the
// defenses' accept rules derive from this list. Adding a loss: its file, one line here.
import { entryByName, namesOf } from '../util/catalogue.js';
import type { MetricName } from './metric.js';
import { formHypers, hyperDefault, LOSS_FORM_FLAG, type LossEntry } from './loss.js';
import { tripletEntry } from './triplet.js';
import { contrastiveEntry } from './contrastive.js';
import { marginEntry } from './margin.js';
import { multiSimilarityEntry } from './multi-similarity.js';
import { liftedEntry } from './lifted.js';
import { npairEntry } from './npair.js';
import { snrEntry } from './snr.js';
import { quadrupletEntry } from './quadruplet.js';
import { spectralTripletEntry } from './spectral-triplet.js';
import { circleEntry } from './circle.js';

export * from './loss.js';

/** Every loss, the default (triplet) first. */
export const LOSSES = [
  tripletEntry,
  contrastiveEntry,
  marginEntry,
  multiSimilarityEntry,
  liftedEntry,
  npairEntry,
  snrEntry,
  quadrupletEntry,
  spectralTripletEntry,
  circleEntry,
] as const;

/** A loss's name, as configs and `--loss` spell it. */
export type LossKind = (typeof LOSSES)[number]['name'];

/** The catalogue as entries of the common shape (each with its name typed as a LossKind). */
const ENTRIES: readonly LossEntry<LossKind>[] = LOSSES;

export const LOSS_NAMES: readonly LossKind[] = namesOf(ENTRIES);

/** A loss entry by name; throws listing the known names. */
export function lossEntry(name: string): LossEntry<LossKind> {
  return entryByName(ENTRIES, name, 'loss');
}

/**
 * A loss's form by name, checked: undefined = the entry's default form; '' for
 * a loss with one form. Throws naming the loss's forms for an unknown one, or
 * when the loss has a single form.
 */
export function lossFormOf(loss: string, form?: string): string {
  const e = lossEntry(loss);
  if (e.forms === undefined) {
    if (form !== undefined && form !== '')
      throw new Error(`loss ${e.name} comes in one form: --${LOSS_FORM_FLAG} ${form} does not apply (losses with forms: ${lossesWithForms().join(', ')})`);
    return '';
  }
  if (form === undefined) return e.forms.default;
  if (!e.forms.values.some((v) => v.name === form))
    throw new Error(`loss ${e.name} has no form '${form}' (its forms: ${e.forms.values.map((v) => v.name).join(', ')})`);
  return form;
}

/** The loss margin for a loss, metric and form (undefined: the default form); 0 for a loss without a margin. */
export function defaultLossMargin(loss: string, metric: MetricName, form?: string): number {
  const e = lossEntry(loss);
  const f = lossFormOf(loss, form);
  return e.forms?.values.find((v) => v.name === f)?.margin?.(metric) ?? e.margin?.(metric) ?? 0;
}

/** Every hyper-parameter a loss has under a form, at its default for a metric (what a resolved config records). */
export function defaultLossParams(loss: string, metric: MetricName, form?: string): Record<string, number> {
  return Object.fromEntries(formHypers(lossEntry(loss), lossFormOf(loss, form)).map((h) => [h.name, hyperDefault(h, metric)]));
}

/** The losses that come in more than one form. */
export function lossesWithForms(): string[] {
  return ENTRIES.filter((l) => l.forms !== undefined).map((l) => l.name);
}

/** The `--loss-form` option, from the entries: every form name once, and per loss its forms, summaries and default. */
export function lossFormOption(): { flag: string; choices: string[]; help: string } {
  const withForms = ENTRIES.flatMap((l) => (l.forms === undefined ? [] : [{ loss: l.name, forms: l.forms }]));
  return {
    flag: LOSS_FORM_FLAG,
    choices: [...new Set(withForms.flatMap((l) => l.forms.values.map((v) => v.name)))],
    help: [
      "the loss's published form or RobRank's (RobRank's shorthand names RobRank's form)",
      ...withForms.flatMap((l) => [
        `${l.loss} (${l.forms.help}):`,
        ...l.forms.values.map((v) => `  ${v.name}${v.name === l.forms.default ? ' (default)' : ''}: ${v.summary}`),
      ]),
    ].join('\n'),
  };
}

/** Throws unless the loss is defined for the metric. */
export function requireLossMetric(loss: LossEntry, metric: MetricName): void {
  if (!loss.metrics.includes(metric))
    throw new Error(
      `loss ${loss.name} is defined for metric${loss.metrics.length > 1 ? 's' : ''} ${loss.metrics.join(' and ')} only, not ${metric} (as in the reference)`,
    );
}

/** Each distinct hyper-parameter flag once, with the losses that take it (the `train` options). */
export function lossFlags(): { flag: string; help: string; min?: number; above?: number; max?: number; losses: string[] }[] {
  const byFlag = new Map<string, { flag: string; help: string; min?: number; above?: number; max?: number; losses: string[] }>();
  for (const l of LOSSES as readonly LossEntry[]) {
    for (const h of l.hypers) {
      const seen = byFlag.get(h.flag);
      if (seen !== undefined) seen.losses.push(l.name);
      else
        byFlag.set(h.flag, {
          flag: h.flag,
          help: `${h.help}   (${typeof h.default === 'number' ? h.default : 'per metric'})`,
          ...(h.min !== undefined ? { min: h.min } : {}),
          ...(h.above !== undefined ? { above: h.above } : {}),
          ...(h.max !== undefined ? { max: h.max } : {}),
          losses: [l.name],
        });
    }
  }
  return [...byFlag.values()];
}

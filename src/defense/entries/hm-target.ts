// Layer: defense. HM's target — source sampler, destination, gradual base, ICS
// weight — shared by HM and by free adversarial training on HM: its fields, its
// name in the papers, its defaults and its loss refusal.
import type { LossEntry } from '../../metric/losses.js';
import { HM_SAMPLERS, type Miner, type MinerName, minerByName, minerEntry } from '../../metric/miners.js';
import type { MetricName } from '../../metric/metric.js';
import { tripletsOnly } from '../entry.js';
import { choiceField, numberField, parsedField } from '../fields.js';
import { type Destination, GRADUAL_DESTINATIONS, type GradualDestination } from '../hm.js';
import { z } from 'zod';

/** Sampler names as HM's letters (R, M, S, D, H) read them. */
export type SamplerName = Exclude<MinerName, 'gradual-semihard'>;
/** Every sampler an HM source or destination may name (the miners with an HM letter). */
export const SAMPLERS = HM_SAMPLERS as readonly [SamplerName, ...SamplerName[]];

/** The weight of HM's ICS term when the shorthand's `i` asks for it and the dataset publishes none (docs/methods.md §7). */
export const ICS_WEIGHT = 0.5;

/** The sampler drawing the triplets of a gradual destination unless --gradual-base says otherwise. */
export const GRADUAL_BASE: SamplerName = 'semihard';

/** HM's hardness bounds ([-2, 2]) and its reference runs are those of normalised Euclidean distances. */
export const HM_METRICS: readonly MetricName[] = ['N'];

const samplerSchema = z.enum(SAMPLERS);

/** HM's target fields (HM requires source and destination; free AT needs them only on HM). */
export const HM_TARGET_FIELDS = {
  source: choiceField({ flag: 'source', value: 'S', choices: SAMPLERS, help: 'HM source sampler' }),
  destination: parsedField({
    flag: 'destination',
    value: 'D',
    help: `HM destination: a sampler, ${GRADUAL_DESTINATIONS.join(' | ')} (gradual), or a constant hardness in [-2, 2]`,
    schema: z.union([samplerSchema, z.enum(GRADUAL_DESTINATIONS), z.number().min(-2).max(2)]),
    parse: (raw) => (typeof raw === 'string' && raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw),
  }),
  gradualBase: choiceField({
    flag: 'gradual-base',
    value: 'S',
    choices: SAMPLERS,
    default: GRADUAL_BASE,
    help: 'HM with a gradual destination: the sampler drawing its triplets',
  }),
  ics: numberField({ flag: 'ics', value: 'L', min: 0, default: 0, help: `HM intra-class structure loss weight λ (paper ${ICS_WEIGHT}; SOP 0.05; 0: off)` }),
} as const;

/** HM's source, destination and ICS weight as a config holds them. */
export interface HmTarget {
  source: SamplerName;
  /** A sampler, a gradual adversary (GRADUAL_DESTINATIONS) or a constant hardness. */
  destination: SamplerName | GradualDestination | number;
  /** With a gradual destination: the sampler whose triplets are drawn as in the reference (default semihard). */
  gradualBase?: SamplerName | undefined;
  ics?: number | undefined;
}

export function isGradual(s: string): s is GradualDestination {
  return (GRADUAL_DESTINATIONS as readonly string[]).includes(s);
}

/** The miner of a sampler name. */
export function sampler(name: SamplerName): Miner {
  if (!SAMPLERS.includes(name)) throw new Error(`unknown sampler '${String(name)}' (known: ${SAMPLERS.join(', ')})`);
  return minerByName(name);
}

/** A sampler's HM letter (r, m, s, d, h). */
export function hmLetter(s: SamplerName): string {
  const l = minerEntry(s).hmLetter;
  if (l === undefined) throw new Error(`internal: sampler ${s} has no HM letter`);
  return l;
}

/** The sampler of an HM letter. */
export function samplerOfLetter(l: string): SamplerName {
  const s = SAMPLERS.find((x) => minerEntry(x).hmLetter === l);
  if (s === undefined) throw new Error(`internal: no sampler has the HM letter '${l}'`);
  return s;
}

/** HM[S,g_LGA]&ICS: the paper's name of a target. */
export function hmName(d: HmTarget): string {
  const dst =
    typeof d.destination === 'number'
      ? String(d.destination)
      : isGradual(d.destination)
        ? `g_${d.destination === 'lga' ? 'LGA' : d.destination}`
        : hmLetter(d.destination).toUpperCase();
  return `HM[${hmLetter(d.source).toUpperCase()},${dst}]${d.ics ? '&ICS' : ''}`;
}

/** The target's defaults: a gradual destination's base sampler, ICS off. */
export function resolveHmTarget<T extends HmTarget>(c: T): T {
  return {
    ...c,
    ...(typeof c.destination === 'string' && isGradual(c.destination) ? { gradualBase: c.gradualBase ?? GRADUAL_BASE } : {}),
    ics: c.ics ?? 0,
  };
}

/** The destination HM's mechanics take. */
export function hmDestination(d: HmTarget): Destination {
  if (typeof d.destination === 'number') return { kind: 'constant', value: d.destination };
  if (isGradual(d.destination)) return { kind: 'gradual', fn: d.destination, miner: sampler(d.gradualBase ?? GRADUAL_BASE), name: d.destination };
  return { kind: 'miner', miner: sampler(d.destination), name: d.destination };
}

/** Why an HM target refuses a loss (a gradual destination is defined by the triplet loss). */
export function hmRefusesLoss(loss: LossEntry, c: HmTarget): string | undefined {
  return (
    tripletsOnly('HM manipulates the hardness of mined triplets')(loss) ??
    (typeof c.destination === 'string' && isGradual(c.destination) && loss.name !== 'triplet'
      ? `HM's gradual destination ${c.destination} is a function of the previous step's triplet loss normalised by the triplet margin; with loss ${loss.name} it has no meaning`
      : undefined)
  );
}

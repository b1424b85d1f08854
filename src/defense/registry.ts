// Layer: defense. The defense catalogue: the list of entries (each in
// src/defense/entries/<kind>.ts, owning its fields, names, suffix grammar,
// defaults and build) and the functions every caller goes through — resolve a
// config's defaults for a dataset, build the training-step strategy, name it,
// read and write RobRank's model suffixes, and the JSON schema of any config.
import { z } from 'zod';
import type { MinerName } from '../metric/miners.js';
import { metricByName, type MetricName } from '../metric/metric.js';
import { lossEntry } from '../metric/losses.js';
import { buildTrainingLoss } from '../metric/training-loss.js';
import type { RunDefense } from './defense.js';
import type { DefenseEntry, DefenseFacts, DefenseResolution } from './entry.js';
import { noneEntry } from './entries/none.js';
import { estEntry } from './entries/est.js';
import { actEntry } from './entries/act.js';
import { hmEntry } from './entries/hm.js';
import { catrideEntry } from './entries/catride.js';
import { amdEntry } from './entries/amd.js';
import { ramdEntry } from './entries/ramd.js';
import { sesEntry } from './entries/ses.js';
import { restEntry } from './entries/rest.js';
import { freeEntry } from './entries/free.js';
import { noiseEntry } from './entries/noise.js';
import { gaussianEntry } from './entries/gaussian.js';
import { ICS_WEIGHT } from './entries/hm-target.js';

export { CATRIDE_MODES, CATRIDE_WEIGHTINGS } from './catride.js';
export { FREE_BASES } from './free.js';
export { GRADUAL_DESTINATIONS } from './hm.js';
export { GAUSSIAN_SIGMA } from './entries/gaussian.js';
export { ICS_WEIGHT, SAMPLERS, type SamplerName } from './entries/hm-target.js';
export type { DefenseOption } from './fields.js';
export type { DefenseEntry, DefenseResolution } from './entry.js';

/** Every defense, in the order the help texts list them. Adding a defense: its file in entries/ and one line here. */
// biome-ignore format: one entry a line, so that adding a defense is one line here
const ENTRIES = [
  noneEntry,
  estEntry,
  actEntry,
  hmEntry,
  catrideEntry,
  amdEntry,
  ramdEntry,
  sesEntry,
  restEntry,
  freeEntry,
  noiseEntry,
  gaussianEntry,
] as const;

type AnyEntry = (typeof ENTRIES)[number];

/** A defense as plain data (JSON in checkpoints): what one entry's schema accepts. `resolveDefense` fills its defaults, `buildDefense` makes the `Defense`. */
export type DefenseConfig = z.output<AnyEntry['schema']>;

export type DefenseKind = DefenseConfig['kind'];

/** One entry, seen through its config type (what the generic functions below need of it). */
type EntryOf<C extends DefenseConfig> = Omit<DefenseEntry, keyof DefenseFacts<C>> & DefenseFacts<C> & { readonly kind: C['kind'] };

/** Every defense by kind (each entry under its own `kind`, which is what the mapped type says). */
export const DEFENSES: { readonly [K in DefenseKind]: Extract<AnyEntry, { kind: K }> } = Object.fromEntries(ENTRIES.map((e) => [e.kind, e])) as {
  readonly [K in DefenseKind]: Extract<AnyEntry, { kind: K }>;
};

/** The `kind`s of DefenseConfig, in catalogue order. */
export const DEFENSE_KINDS: readonly DefenseKind[] = ENTRIES.map((e) => e.kind);

function entryOf<C extends DefenseConfig>(c: C): EntryOf<C> {
  const e = (DEFENSES as Readonly<Record<string, AnyEntry | undefined>>)[c.kind];
  if (e === undefined) throw new Error(`unknown defense '${String(c.kind)}' (known: ${DEFENSE_KINDS.join(', ')})`);
  // The entry of c.kind takes configs of that kind; TypeScript cannot tie a looked-up entry to C.
  return e as unknown as EntryOf<C>;
}

/** Schema that validates a DefenseConfig read from JSON: every field typed and ranged, unknown fields refused. */
export const defenseConfigSchema = z.discriminatedUnion(
  'kind',
  // One schema per entry; the list is not empty (ENTRIES is a literal).
  ENTRIES.map((e) => e.schema) as [AnyEntry['schema'], ...AnyEntry['schema'][]],
);

/** The papers' short name of a defense: N/A, EST, ACT, HM[S,g_LGA]&ICS, CA-TRIDE. */
export function describeDefense(d: DefenseConfig): string {
  return entryOf(d).paperName(d);
}

/** Why a defense is not defined for a metric, or undefined when it is. */
function metricRefusal(d: DefenseConfig, metric: MetricName): string | undefined {
  const e = entryOf(d);
  const metrics = typeof e.metrics === 'function' ? e.metrics(d) : e.metrics;
  return metrics === undefined || metrics.includes(metric)
    ? undefined
    : `defense ${e.paperName(d)} is defined for metric ${metrics.join(' or ')} only, not ${metric}`;
}

/** The config with every default filled in for the experiment; a metric the defense is not defined for is an error here. */
export function resolveDefense<C extends DefenseConfig>(d: C, r: DefenseResolution): C {
  const refusal = metricRefusal(d, r.metric);
  if (refusal !== undefined) throw new Error(refusal);
  return entryOf(d).resolve(d, r);
}

/** What building a run's defense reads from its resolved experiment config (an ExperimentConfig is one). */
export interface ResolvedRun {
  readonly defense: DefenseConfig;
  readonly loss: string;
  readonly metric: MetricName;
  readonly margin: number;
  readonly lossForm?: string;
  readonly lossParams?: Readonly<Record<string, number>>;
}

/** Why a defense refuses a run's loss or metric, or undefined when it accepts both. */
export function defenseRefusal(d: DefenseConfig, loss: string, metric: MetricName): string | undefined {
  return metricRefusal(d, metric) ?? entryOf(d).refusesLoss(lossEntry(loss), d);
}

/**
 * The training-step strategy of a resolved config, bound to the run's loss
 * (its learnable scalars included). A config whose defense was not resolved
 * (resolveConfig, resolveDefense) is an error.
 */
export function buildDefense(c: ResolvedRun): RunDefense {
  const refusal = defenseRefusal(c.defense, c.loss, c.metric);
  if (refusal !== undefined) throw new Error(refusal);
  const defense = entryOf(c.defense).build(c.defense);
  const loss = buildTrainingLoss(c.loss, {
    margin: c.margin,
    metric: metricByName(c.metric),
    ...(c.lossForm !== undefined ? { form: c.lossForm } : {}),
    ...(c.lossParams !== undefined ? { params: c.lossParams } : {}),
  });
  return {
    name: describeDefense(c.defense),
    loss,
    step: (ctx) => defense.step({ ...ctx, loss }),
    state: () => ({ ...(defense.state?.() ?? {}), ...loss.state() }),
    loadState: (s) => {
      defense.loadState?.(s);
      loss.loadState(s);
    },
    replays: defense.replays ?? 1,
    afterBackward: () => defense.afterBackward?.(),
    tensors: () => defense.tensors?.() ?? new Map(),
    loadTensors: (t) => defense.loadTensors?.(t),
    dispose: () => {
      defense.dispose?.();
      loss.dispose();
    },
  };
}

/** Every defense's suffix grammar, for help texts and messages. */
export const SUFFIX_GRAMMAR = ENTRIES.map((e) => e.suffix.grammar)
  .filter((g) => g !== '')
  .join(', ');

/**
 * RobRank / robdml model-name suffixes after the backbone (docs/methods.md §9),
 * parsed by each defense entry (`i` in HM's: ICS with the dataset's published
 * weight, `icsWeight`). Returns null for a suffix that is not a defense name.
 */
export function defenseFromModelSuffix(suffix: string, icsWeight = ICS_WEIGHT): DefenseConfig | null {
  for (const e of ENTRIES) {
    const d = e.suffix.parse(suffix, icsWeight);
    if (d !== null) return d;
  }
  if (/^(rh|hm(kl|l2))/.test(suffix) || /^g?hm(kl|l2)/.test(suffix)) {
    throw new Error(`model suffix '${suffix}': the fixed-anchor (rh) and KL/L2 HM variants are not supported (the authors report they do not work)`);
  }
  return null;
}

/** The defense the shorthand means: the suffix's, unless another entry claims it for this miner (CA-TRIDE). */
export function defenseOfShorthand(parsed: DefenseConfig, miner: MinerName): DefenseConfig {
  const claimer = ENTRIES.find((e) => 'claims' in e.suffix && e.suffix.claims?.(parsed, miner) === true);
  return claimer === undefined ? parsed : ({ kind: claimer.kind } as DefenseConfig);
}

/** RobRank's model suffix of a defense config, or null when it has none. */
export function modelSuffix(d: DefenseConfig): string | null {
  return entryOf(d).suffix.format(d);
}

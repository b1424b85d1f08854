// Layer: defense. The defense catalogue: each training-step strategy's
// settings as plain data (configs, checkpoints), its options (the CLI makes its
// flags from them), its schema, how its defaults resolve for a dataset, and the
// one function that turns the settings into a Defense.
import { z } from 'zod';
import { HM_SAMPLERS, minerByName, minerEntry, type MinerName, type Miner } from '../metric/miners.js';
import { metricByName, type MetricName } from '../metric/metric.js';
import { lossEntry, type LossEntry } from '../metric/losses.js';
import { buildTrainingLoss } from '../metric/training-loss.js';
import type { Defense, RunDefense } from './defense.js';
import { defaultBudget } from './common.js';
import { asPixels, BUDGETS, type PgdBudget } from '../attack/budget.js';
import { noDefense } from './none.js';
import { embeddingShiftedTriplet } from './est.js';
import { antiCollapseTriplet } from './act.js';
import { GRADUAL_DESTINATIONS, hardnessManipulation, type Destination, type GradualDestination } from './hm.js';
import { CATRIDE_MARGIN, CATRIDE_MODES, CATRIDE_WEIGHTINGS, collapseAwareTripletDecoupling, type CatrideMode, type CollapseWeighting } from './catride.js';
import { madryTriplet } from './amd.js';
import { suppressEmbeddingShift } from './ses.js';
import { revisedEmbeddingShiftedTriplet } from './rest.js';
import { FREE_BASES, FREE_REPLAYS, freeAdversarialTraining, type FreeBase } from './free.js';
import { uniformNoise } from './noise.js';
import { GAUSSIAN_SIGMA_MAX, gaussianNoise } from './gaussian.js';

export { CATRIDE_MODES, CATRIDE_WEIGHTINGS, FREE_BASES, GRADUAL_DESTINATIONS };

/** Sampler names as HM's letters (R, M, S, D, H) read them. */
export type SamplerName = Exclude<MinerName, 'gradual-semihard'>;
/** Every sampler an HM source or destination may name (the miners with an HM letter). */
export const SAMPLERS = HM_SAMPLERS as readonly SamplerName[];

/** PGD iterations of the inner maximisation: BUDGETS' (RobRank, HM); the released CA-TRIDE code runs 16. */
const DEFAULT_STEPS = BUDGETS.small.training.steps;
const CATRIDE_STEPS = 16;

/** The weight of HM's ICS term when the shorthand's `i` asks for it and the dataset publishes none (docs/methods.md §7). */
export const ICS_WEIGHT = 0.5;

interface PgdOverrides {
  /** PGD steps η (default 32; CA-TRIDE 16). */
  steps?: number;
  /** L∞ budget and step in pixel units (default: the image size's, docs/methods.md §3). */
  epsilon?: number;
  alpha?: number;
}

/** A defense as plain data (JSON in checkpoints); `resolveDefense` fills its defaults, `buildDefense` makes the `Defense`. */
export type DefenseConfig =
  | { kind: 'none' }
  | ({ kind: 'est' } & PgdOverrides)
  | ({
      kind: 'act';
      /** Probability that a step is adversarial (RobRank px: 0.5); absent = 1. */
      probability?: number;
    } & PgdOverrides)
  | ({ kind: 'hm'; skipSatisfied?: boolean } & HmTarget & PgdOverrides)
  | ({ kind: 'catride'; lambda?: number; weighting?: CollapseWeighting; mode?: CatrideMode } & PgdOverrides)
  | ({ kind: 'amd' } & PgdOverrides)
  | ({ kind: 'ramd' } & PgdOverrides)
  | ({ kind: 'ses' } & PgdOverrides)
  | ({ kind: 'rest' } & PgdOverrides)
  | ({
      kind: 'free';
      /** The defense whose images carry the perturbation (FREE_BASES). */
      base: FreeBase;
      /** Replays m of each batch (RobRank 4). */
      replays?: number;
    } & Partial<HmTarget> &
      Omit<PgdOverrides, 'steps'>)
  | ({ kind: 'noise' } & Pick<PgdOverrides, 'epsilon'>)
  | {
      kind: 'gaussian';
      /** The noise's standard deviation σ in pixel units (default GAUSSIAN_SIGMA). */
      sigma?: number;
    };

/** HM's source, destination and ICS weight (HM, and free AT on HM). */
interface HmTarget {
  source: SamplerName;
  /** A sampler, a gradual adversary (GRADUAL_DESTINATIONS) or a constant hardness. */
  destination: SamplerName | GradualDestination | number;
  /** With a gradual destination: the sampler whose triplets are drawn as in the reference (default semihard). */
  gradualBase?: SamplerName;
  ics?: number;
}

export type DefenseKind = DefenseConfig['kind'];

/**
 * One option of a defense as the CLI shows it (`--flag VALUE`): the config
 * field it sets, its type and help. Structurally a CLI option spec.
 */
export interface DefenseOption {
  readonly flag: string;
  readonly field: string;
  readonly kind: 'string' | 'number' | 'int' | 'boolean';
  readonly value?: string;
  readonly help: string;
  readonly choices?: readonly string[];
  readonly min?: number;
  readonly above?: number;
  readonly max?: number;
  /** Turns the flag's value into the field's (HM's destination: a name or a number). */
  readonly parse?: (raw: string | number | boolean) => string | number | boolean;
}

/** What resolving a defense's defaults needs to know about the experiment. */
export interface DefenseResolution {
  /** Image side of the dataset (28 or 224): the budget's column. */
  readonly imageSide: number;
  /** The dataset's published values (CA-TRIDE λ, ICS weight). */
  readonly paper: { readonly catrideLambda?: number; readonly icsWeight?: number };
  readonly metric: MetricName;
  /** Dataset name, for messages. */
  readonly dataset: string;
}

/** One defense of the catalogue. */
export interface DefenseEntry<C extends DefenseConfig = DefenseConfig> {
  readonly kind: C['kind'];
  readonly summary: string;
  /** Metrics the defense's objectives are defined for (with this config); absent = all. */
  readonly metrics?: readonly MetricName[] | ((c: C) => readonly MetricName[] | undefined);
  readonly options: readonly DefenseOption[];
  /** The shape of its JSON (types, ranges, no unknown fields). */
  readonly schema: z.ZodObject;
  /** The papers' short name: N/A, EST, ACT, HM[S,g_LGA]&ICS, CA-TRIDE. */
  readonly paperName: (c: C) => string;
  /** Every default filled in (the config a checkpoint records). */
  readonly resolve: (c: C, r: Omit<DefenseResolution, 'metric'>) => C;
  /** The training-step strategy of a resolved config (it trains with the run's loss, `DefenseContext.loss`). */
  readonly build: (c: C) => Defense;
  /** Why the defense refuses a loss (with this config), or undefined when it accepts it. */
  readonly refusesLoss: (loss: LossEntry, c: C) => string | undefined;
  /** Whether models trained with it train BatchNorm (EST, as the reference); the others keep it frozen (docs/methods.md §3). */
  readonly trainsBatchNorm: boolean;
  /** Why the defense cannot train sharded (data parallel), or absent when it can. */
  readonly sharding?: string;
  /** The loss margin a run with this defense gets unless `--margin` says otherwise; absent = the loss's. */
  readonly defaultMargin?: number;
  /** RobRank's model-name suffix after the backbone (docs/methods.md §9). */
  readonly suffix: {
    /** How help texts show it (`p`, `[g]hmet<src><dst>[i]`; '' when RobRank has no name for it). */
    readonly grammar: string;
    /** The config of a suffix, or null when it is not this defense's. */
    readonly parse: (suffix: string, icsWeight: number) => C | null;
    /** The suffix of a config, or null when RobRank has no name for it. */
    readonly format: (c: C) => string | null;
    /** The shorthand's loss can turn another defense's suffix into this one (CA-TRIDE: ACT's `p` with the gradual semihard miner). */
    readonly claims?: (parsed: DefenseConfig, miner: MinerName) => boolean;
  };
}

/** The refusal of a defense whose training loss must be computed on (perturbed) triplets. */
const tripletsOnly =
  (what: string) =>
  (loss: LossEntry): string | undefined =>
    loss.input === 'triplets'
      ? undefined
      : `${what}; loss ${loss.name} is computed on the whole batch (it forms its own pairs: all of them, or those its miner keeps), so there is no triplet to perturb`;

const PGD_OPTIONS: readonly DefenseOption[] = [
  { flag: 'pgd-steps', field: 'steps', kind: 'int', value: 'N', min: 1, max: 10_000, help: `PGD steps η (${DEFAULT_STEPS}; CA-TRIDE ${CATRIDE_STEPS})` },
  {
    flag: 'epsilon',
    field: 'epsilon',
    kind: 'number',
    value: 'X',
    min: 0,
    max: 1,
    help: `L∞ budget in pixel units (${asPixels(BUDGETS.small.training.epsilon)} for 28×28, ${asPixels(BUDGETS.large.training.epsilon)} for 224×224)`,
  },
  {
    flag: 'alpha',
    field: 'alpha',
    kind: 'number',
    value: 'X',
    above: 0,
    max: 1,
    help: `PGD step in pixel units (${asPixels(BUDGETS.small.training.alpha)} for 28×28, ${asPixels(BUDGETS.large.training.alpha)} for 224×224)`,
  },
];

const pgdSchema = {
  steps: z.number().int().min(1).max(10_000).optional(),
  epsilon: z.number().min(0).max(1).optional(),
  alpha: z.number().gt(0).max(1).optional(),
};
const samplerSchema = z.enum(SAMPLERS as [SamplerName, ...SamplerName[]]);

/** The budget with the image size's defaults filled in. */
function resolveBudget(o: PgdOverrides, imageSide: number, steps: number): Required<PgdOverrides> {
  const b = defaultBudget(imageSide, o.steps ?? steps);
  return { epsilon: o.epsilon ?? b.epsilon, alpha: o.alpha ?? b.alpha, steps: b.steps };
}

function budgetOf(o: PgdOverrides): PgdBudget {
  if (o.epsilon === undefined || o.alpha === undefined || o.steps === undefined)
    throw new Error('internal: a defense was built from an unresolved config (call resolveDefense first)');
  return { epsilon: o.epsilon, alpha: o.alpha, steps: o.steps };
}

function sampler(name: SamplerName): Miner {
  if (!SAMPLERS.includes(name)) throw new Error(`unknown sampler '${String(name)}' (known: ${SAMPLERS.join(', ')})`);
  return minerByName(name);
}

function letter(s: SamplerName): string {
  return minerEntry(s).hmLetter!.toUpperCase();
}

type Of<K extends DefenseKind> = Extract<DefenseConfig, { kind: K }>;

const none: DefenseEntry<Of<'none'>> = {
  kind: 'none',
  summary: 'regular training (no adversarial examples)',
  options: [],
  schema: z.object({ kind: z.literal('none') }).strict(),
  paperName: () => 'N/A',
  resolve: (c) => c,
  build: () => noDefense(),
  refusesLoss: () => undefined,
  trainsBatchNorm: false,
  suffix: { grammar: "''", parse: (s) => (s === '' ? { kind: 'none' } : null), format: () => '' },
};

/** `d`/`p` and `df`/`pf` (η = 1, the fast variants) of EST and ACT. */
function etaSuffix<K extends 'est' | 'act'>(kind: K, letter: string): DefenseEntry<Of<K>>['suffix'] {
  return {
    grammar: `${letter}, ${letter}f`,
    parse: (s) => (s === letter ? ({ kind } as Of<K>) : s === `${letter}f` ? ({ kind, steps: 1 } as Of<K>) : null),
    format: (c: PgdOverrides) => (c.steps === 1 ? `${letter}f` : c.steps === undefined || c.steps === DEFAULT_STEPS ? letter : null),
  };
}

const est: DefenseEntry<Of<'est'>> = {
  kind: 'est',
  summary: 'embedding-shifted triplet: train on adversarial anchors (RobRank EST, shorthand suffix d)',
  options: PGD_OPTIONS,
  schema: z.object({ kind: z.literal('est'), ...pgdSchema }).strict(),
  paperName: () => 'EST',
  resolve: (c, r) => ({ ...c, ...resolveBudget(c, r.imageSide, DEFAULT_STEPS) }),
  build: (c) => embeddingShiftedTriplet(budgetOf(c)),
  // Every image is perturbed, so a loss on triplets or on the whole batch trains on the adversarial batch.
  refusesLoss: () => undefined,
  trainsBatchNorm: true,
  suffix: etaSuffix('est', 'd'),
};

/** RobRank's px ("ACT-50 %"): half the steps adversarial. */
const PX_PROBABILITY = 0.5;

const actSuffix = etaSuffix('act', 'p');

const act: DefenseEntry<Of<'act'>> = {
  kind: 'act',
  summary: 'anti-collapse triplet: collapse positives and negatives, then train (RobRank ACT, suffix p; px: half the steps)',
  options: [
    {
      flag: 'adversarial-probability',
      field: 'probability',
      kind: 'number',
      value: 'P',
      above: 0,
      max: 1,
      help: `ACT: probability that a step trains adversarially, the others regular (px: ${PX_PROBABILITY})   (1)`,
    },
    ...PGD_OPTIONS,
  ],
  schema: z.object({ kind: z.literal('act'), probability: z.number().gt(0).max(1).optional(), ...pgdSchema }).strict(),
  paperName: (c) => (c.probability === undefined || c.probability === 1 ? 'ACT' : `ACT-${Math.round(c.probability * 100)}%`),
  resolve: (c, r) => ({ ...c, ...resolveBudget(c, r.imageSide, DEFAULT_STEPS) }),
  build: (c) => antiCollapseTriplet({ ...budgetOf(c), ...(c.probability !== undefined ? { probability: c.probability } : {}) }),
  refusesLoss: tripletsOnly('ACT perturbs the positive and negative of each mined triplet'),
  trainsBatchNorm: false,
  suffix: {
    grammar: `${actSuffix.grammar}, px`,
    parse: (s, w) => (s === 'px' ? { kind: 'act', probability: PX_PROBABILITY } : actSuffix.parse(s, w)),
    format: (c) => {
      if (c.probability === undefined || c.probability === 1) return actSuffix.format(c);
      return c.probability === PX_PROBABILITY && (c.steps === undefined || c.steps === DEFAULT_STEPS) ? 'px' : null;
    },
  },
};

/** HM's hardness bounds ([-2, 2]) and its reference runs are those of normalised Euclidean distances. */
const HM_METRICS: readonly MetricName[] = ['N'];

/** HM's target options (HM, and free AT on HM). */
const HM_TARGET_OPTIONS: readonly DefenseOption[] = [
  { flag: 'source', field: 'source', kind: 'string', value: 'S', choices: SAMPLERS, help: 'HM source sampler' },
  {
    flag: 'destination',
    field: 'destination',
    kind: 'string',
    value: 'D',
    help: `HM destination: a sampler, ${GRADUAL_DESTINATIONS.join(' | ')} (gradual), or a constant hardness in [-2, 2]`,
    parse: (raw) => (typeof raw === 'string' && raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw),
  },
  {
    flag: 'gradual-base',
    field: 'gradualBase',
    kind: 'string',
    value: 'S',
    choices: SAMPLERS,
    help: 'HM with a gradual destination: the sampler drawing its triplets   (semihard)',
  },
  { flag: 'ics', field: 'ics', kind: 'number', value: 'L', min: 0, help: `HM intra-class structure loss weight λ (paper ${ICS_WEIGHT}; SOP 0.05)   (0: off)` },
];

const hmTargetSchema = {
  source: samplerSchema,
  destination: z.union([samplerSchema, z.enum(GRADUAL_DESTINATIONS), z.number().min(-2).max(2)]),
  gradualBase: samplerSchema.optional(),
  ics: z.number().min(0).finite().optional(),
};

/** HM[S,g_LGA]&ICS: the paper's name of a target. */
function hmName(d: HmTarget): string {
  const dst =
    typeof d.destination === 'number'
      ? String(d.destination)
      : isGradual(d.destination)
        ? `g_${d.destination === 'lga' ? 'LGA' : d.destination}`
        : letter(d.destination);
  return `HM[${letter(d.source)},${dst}]${d.ics ? '&ICS' : ''}`;
}

/** The target's defaults: a gradual destination's base sampler, ICS off. */
function resolveHmTarget<T extends HmTarget>(c: T): T {
  return { ...c, ...(typeof c.destination === 'string' && isGradual(c.destination) ? { gradualBase: c.gradualBase ?? 'semihard' } : {}), ics: c.ics ?? 0 };
}

function hmDestination(d: HmTarget): Destination {
  if (typeof d.destination === 'number') return { kind: 'constant', value: d.destination };
  if (isGradual(d.destination)) return { kind: 'gradual', fn: d.destination, miner: sampler(d.gradualBase ?? 'semihard'), name: d.destination };
  return { kind: 'miner', miner: sampler(d.destination), name: d.destination };
}

/** Why an HM target refuses a loss (a gradual destination is defined by the triplet loss). */
function hmRefusesLoss(loss: LossEntry, c: HmTarget): string | undefined {
  return (
    tripletsOnly('HM manipulates the hardness of mined triplets')(loss) ??
    (typeof c.destination === 'string' && isGradual(c.destination) && loss.name !== 'triplet'
      ? `HM's gradual destination ${c.destination} is a function of the previous step's triplet loss normalised by the triplet margin; with loss ${loss.name} it has no meaning`
      : undefined)
  );
}

const hm: DefenseEntry<Of<'hm'>> = {
  kind: 'hm',
  summary: 'hardness manipulation HM[source, destination], optional gradual adversary and ICS (suffix [g]hmet<src><dst>[i])',
  metrics: HM_METRICS,
  options: [
    ...HM_TARGET_OPTIONS,
    { flag: 'skip-satisfied', field: 'skipSatisfied', kind: 'boolean', help: 'HM: skip PGD work for triplets already at their destination (exact, faster)' },
    ...PGD_OPTIONS,
  ],
  schema: z.object({ kind: z.literal('hm'), ...hmTargetSchema, skipSatisfied: z.boolean().optional(), ...pgdSchema }).strict(),
  paperName: hmName,
  resolve: (c, r) => ({ ...resolveHmTarget(c), skipSatisfied: c.skipSatisfied ?? false, ...resolveBudget(c, r.imageSide, DEFAULT_STEPS) }),
  build: (d) =>
    hardnessManipulation({
      ...budgetOf(d),
      source: sampler(d.source),
      sourceName: d.source,
      destination: hmDestination(d),
      ics: d.ics,
      skipSatisfied: d.skipSatisfied,
    }),
  refusesLoss: hmRefusesLoss,
  trainsBatchNorm: false,
  suffix: {
    grammar: '[g]hmet<src><dst>[i]',
    parse: (suffix, icsWeight) => {
      const letters = SAMPLERS.map((s) => minerEntry(s).hmLetter!).join('');
      const m = new RegExp(`^(g?)hmet([${letters}])([${letters}])(i?)$`).exec(suffix);
      if (m === null) return null;
      const [, gradual, src, dst, ics] = m as unknown as [string, string, string, string, string];
      const byLetter = (l: string): SamplerName => SAMPLERS.find((s) => minerEntry(s).hmLetter === l)!;
      return {
        kind: 'hm',
        source: byLetter(src),
        destination: gradual ? 'lga' : byLetter(dst),
        ...(gradual ? { gradualBase: byLetter(dst) } : {}),
        ics: ics ? icsWeight : 0,
      };
    },
    format: (c) => {
      const l = (s: SamplerName): string => minerEntry(s).hmLetter!;
      const tail = c.ics ? 'i' : '';
      if (typeof c.destination === 'number') return null;
      if (typeof c.destination === 'string' && isGradual(c.destination))
        return c.destination === 'lga' ? `ghmet${l(c.source)}${l(c.gradualBase ?? 'semihard')}${tail}` : null;
      return `hmet${l(c.source)}${l(c.destination)}${tail}`;
    },
  },
};

const catride: DefenseEntry<Of<'catride'>> = {
  kind: 'catride',
  summary: 'CA-TRIDE: collapse-aware anchor (ANP) and candidate (CAP) perturbations (shorthand rres18p:pgtripletN)',
  // Its separation term is defined for N and E only.
  metrics: ['N', 'E'],
  options: [
    {
      flag: 'lambda',
      field: 'lambda',
      kind: 'number',
      value: 'L',
      above: 0,
      help: 'CA-TRIDE attention factor λ (CUB 10, Cars 9.5, SOP 2; other datasets: give it,\nor --lambda-from an undefended run)',
    },
    {
      flag: 'catride-mode',
      field: 'mode',
      kind: 'string',
      choices: CATRIDE_MODES,
      help: 'CA-TRIDE branches: both alternating, or the CA-ANP / CA-CAP ablation   (alternate)',
    },
    {
      flag: 'catride-weighting',
      field: 'weighting',
      kind: 'string',
      choices: CATRIDE_WEIGHTINGS,
      help: "collapse-aware weights: the code's soft-max or the slides' soft-min   (softmax)",
    },
    ...PGD_OPTIONS,
  ],
  schema: z
    .object({
      kind: z.literal('catride'),
      lambda: z.number().gt(0).finite().optional(),
      weighting: z.enum(CATRIDE_WEIGHTINGS).optional(),
      mode: z.enum(CATRIDE_MODES).optional(),
      ...pgdSchema,
    })
    .strict(),
  paperName: (d) => (d.mode === undefined || d.mode === 'alternate' ? 'CA-TRIDE' : `CA-${d.mode.toUpperCase()}`),
  resolve: (c, r) => {
    const lambda = c.lambda ?? r.paper.catrideLambda;
    if (lambda === undefined) {
      throw new Error(
        `CA-TRIDE on ${r.dataset} needs λ: it is published for cub (10), cars (9.5) and sop (2) only; give --lambda L, or --lambda-from RUN to take it from an undefended run's entanglement (eval --entanglement shows it)`,
      );
    }
    return { ...c, lambda, weighting: c.weighting ?? 'softmax', mode: c.mode ?? 'alternate', ...resolveBudget(c, r.imageSide, CATRIDE_STEPS) };
  },
  build: (c) => collapseAwareTripletDecoupling({ ...budgetOf(c), lambda: c.lambda, weighting: c.weighting, mode: c.mode }),
  // The separation term is added inside the triplet loss (the released code's triplet kernel).
  refusesLoss: (loss) =>
    loss.name === 'triplet' ? undefined : `CA-TRIDE adds its separation term inside the triplet loss; it is not defined for loss ${loss.name}`,
  trainsBatchNorm: false,
  defaultMargin: CATRIDE_MARGIN,
  suffix: {
    grammar: 'p with a pg… loss',
    parse: () => null,
    format: (c) => (c.mode === undefined || c.mode === 'alternate' ? 'p' : null),
    // CA-TRIDE's released configuration is the ACT model class with the gradual semihard loss (docs/methods.md §8.1).
    claims: (parsed, miner) => parsed.kind === 'act' && parsed.probability === undefined && miner === 'gradual-semihard',
  },
};

/** A defense with the shared PGD budget and a fixed RobRank suffix. */
function pgdDefense<K extends 'amd' | 'ramd' | 'ses' | 'rest'>(
  kind: K,
  e: { summary: string; paperName: string; suffix: string; build: (b: PgdBudget) => Defense; refusesLoss: (loss: LossEntry) => string | undefined },
): DefenseEntry<Of<K>> {
  const entry: DefenseEntry<{ kind: 'amd' } & PgdOverrides> = {
    kind: kind as 'amd',
    summary: e.summary,
    options: PGD_OPTIONS,
    schema: z.object({ kind: z.literal(kind), ...pgdSchema }).strict(),
    paperName: () => e.paperName,
    resolve: (c, r) => ({ ...c, ...resolveBudget(c, r.imageSide, DEFAULT_STEPS) }),
    build: (c) => e.build(budgetOf(c)),
    refusesLoss: e.refusesLoss,
    trainsBatchNorm: false,
    suffix: {
      grammar: e.suffix,
      parse: (s) => (s === e.suffix ? { kind: kind as 'amd' } : null),
      format: (c: PgdOverrides) => (c.steps === undefined || c.steps === DEFAULT_STEPS ? e.suffix : null),
    },
  };
  // The four configs have the same shape ({ kind } & PgdOverrides); TypeScript cannot see that for a generic K.
  return entry as unknown as DefenseEntry<Of<K>>;
}

const amd = pgdDefense('amd', {
  summary: 'Madry-style min-max: PGD makes anchor, positive and negative as hard as it can, then train (RobRank AMD, suffix amd)',
  paperName: 'AMD',
  suffix: 'amd',
  build: (b) => madryTriplet(b, 'apn'),
  refusesLoss: tripletsOnly('AMD perturbs the members of each mined triplet'),
});

const ramd = pgdDefense('ramd', {
  summary: 'revised AMD: benign anchors, PGD perturbs positives and negatives only (suffix ramd)',
  paperName: 'RAMD',
  suffix: 'ramd',
  build: (b) => madryTriplet(b, 'pn'),
  refusesLoss: tripletsOnly('RAMD perturbs the positive and negative of each mined triplet'),
});

const ses = pgdDefense('ses', {
  summary: "suppress embedding shift: the loss on the clean batch plus EST's achieved shift (suffix e)",
  paperName: 'SES',
  suffix: 'e',
  build: (b) => suppressEmbeddingShift(b),
  // The loss trains on the clean batch, so any loss works; the shift term is its own.
  refusesLoss: () => undefined,
});

const rest = pgdDefense('rest', {
  summary: "revised EST: EST's shift on positives and negatives, benign anchors (suffix r)",
  paperName: 'REST',
  suffix: 'r',
  build: (b) => revisedEmbeddingShiftedTriplet(b),
  refusesLoss: tripletsOnly('REST perturbs the positive and negative of each mined triplet'),
});

/** RobRank's free-AT model suffixes (the bases it names). */
const FREE_SUFFIXES: Partial<Record<FreeBase, string>> = { none: 'fatnone', amd: 'fatamd', amdsemi: 'fatamdsemi' };

const free: DefenseEntry<Of<'free'>> = {
  kind: 'free',
  summary: `free adversarial training: ${FREE_REPLAYS} replays per batch, the perturbation ascends the same backward pass; on a base defense (suffix fatnone, fatamd, fatamdsemi)`,
  // On HM, HM's metric (its hardness bounds are those of normalised Euclidean distances).
  metrics: (c) => (c.base === 'hm' ? HM_METRICS : undefined),
  options: [
    {
      flag: 'free-base',
      field: 'base',
      kind: 'string',
      value: 'D',
      choices: FREE_BASES,
      help: 'free AT: the defense whose images carry the perturbation (hm: HM + free, with --source/--destination)',
    },
    {
      flag: 'replays',
      field: 'replays',
      kind: 'int',
      value: 'M',
      min: 1,
      max: 64,
      help: `free AT: replays of each batch, one optimizer step each (RobRank ${FREE_REPLAYS});\n--epochs E/M trains as many steps as E epochs   (${FREE_REPLAYS})`,
    },
    ...HM_TARGET_OPTIONS,
    ...PGD_OPTIONS.filter((o) => o.field !== 'steps'),
  ],
  schema: z
    .object({
      kind: z.literal('free'),
      base: z.enum(FREE_BASES),
      replays: z.number().int().min(1).max(64).optional(),
      source: hmTargetSchema.source.optional(),
      destination: hmTargetSchema.destination.optional(),
      gradualBase: hmTargetSchema.gradualBase,
      ics: hmTargetSchema.ics,
      epsilon: pgdSchema.epsilon,
      alpha: pgdSchema.alpha,
    })
    .strict(),
  paperName: (c) =>
    c.base === 'hm' && c.source !== undefined && c.destination !== undefined
      ? `${hmName({ ...c, source: c.source, destination: c.destination })}+free`
      : `FreeAT[${c.base}]`,
  resolve: (c, r) => {
    const { epsilon, alpha } = resolveBudget(c, r.imageSide, 1);
    const base = { ...c, replays: c.replays ?? FREE_REPLAYS, epsilon, alpha };
    if (c.base === 'hm') {
      if (c.source === undefined || c.destination === undefined)
        throw new Error('free AT on hm needs --source and --destination (HM + free: the HM target it perturbs towards)');
      return resolveHmTarget({ ...base, source: c.source, destination: c.destination });
    }
    const stray = (['source', 'destination', 'gradualBase', 'ics'] as const).filter((k) => c[k] !== undefined);
    if (stray.length > 0) throw new Error(`free AT on ${c.base}: ${stray.join(', ')} ${stray.length === 1 ? 'is' : 'are'} HM's (--free-base hm)`);
    return base;
  },
  build: (c) =>
    freeAdversarialTraining({
      base: c.base,
      replays: c.replays ?? FREE_REPLAYS,
      ...budgetOf({ ...c, steps: 1 }),
      ...(c.base === 'hm'
        ? { hm: { source: sampler(c.source!), destination: hmDestination({ ...c, source: c.source!, destination: c.destination! }), ics: c.ics ?? 0 } }
        : {}),
    }),
  refusesLoss: (loss, c) => {
    if (c.base === 'none' || c.base === 'est') return undefined; // the run's loss on the (perturbed) batch
    if (c.base === 'hm')
      return c.source !== undefined && c.destination !== undefined ? hmRefusesLoss(loss, { ...c, source: c.source, destination: c.destination }) : undefined;
    return tripletsOnly(`free AT on ${c.base} perturbs the members of each mined triplet`)(loss);
  },
  trainsBatchNorm: false,
  sharding: 'free AT replays whole batches with a perturbation carried across them; it does not train sharded (--shards, --nproc)',
  suffix: {
    grammar: Object.values(FREE_SUFFIXES).join(', '),
    parse: (s) => {
      const base = (Object.keys(FREE_SUFFIXES) as FreeBase[]).find((b) => FREE_SUFFIXES[b] === s);
      return base === undefined ? null : { kind: 'free', base };
    },
    format: (c) => (c.replays === undefined || c.replays === FREE_REPLAYS ? (FREE_SUFFIXES[c.base] ?? null) : null),
  },
};

const noise: DefenseEntry<Of<'noise'>> = {
  kind: 'noise',
  summary: 'uniform noise from the ε-ball on every image, no search: the baseline that separates search from noise',
  options: PGD_OPTIONS.filter((o) => o.field === 'epsilon'),
  schema: z.object({ kind: z.literal('noise'), epsilon: pgdSchema.epsilon }).strict(),
  paperName: () => 'Noise',
  resolve: (c, r) => ({ ...c, epsilon: resolveBudget(c, r.imageSide, 1).epsilon }),
  build: (c) => uniformNoise(budgetOf({ ...c, alpha: 1, steps: 1 }).epsilon),
  // Every image is perturbed: any loss trains on the noisy batch.
  refusesLoss: () => undefined,
  trainsBatchNorm: false,
  // RobRank has no such model.
  suffix: { grammar: '', parse: () => null, format: () => null },
};

/** Every defense by kind, in the order the help texts list them. */
/** σ of Gaussian-noise training unless --sigma says otherwise: the smoothing level `certify` defaults to. */
export const GAUSSIAN_SIGMA = 0.25;

const gaussian: DefenseEntry<Of<'gaussian'>> = {
  kind: 'gaussian',
  summary: 'Gaussian noise N(0, σ²I) on every image, unclipped: the training of randomized smoothing (certify at the same σ)',
  options: [
    {
      flag: 'sigma',
      field: 'sigma',
      kind: 'number',
      value: 'S',
      above: 0,
      max: GAUSSIAN_SIGMA_MAX,
      help: `gaussian: the noise's standard deviation σ in pixel units (${GAUSSIAN_SIGMA})`,
    },
  ],
  schema: z.object({ kind: z.literal('gaussian'), sigma: z.number().gt(0).max(GAUSSIAN_SIGMA_MAX).optional() }).strict(),
  paperName: (c) => `Gaussian σ=${c.sigma ?? GAUSSIAN_SIGMA}`,
  resolve: (c) => ({ ...c, sigma: c.sigma ?? GAUSSIAN_SIGMA }),
  build: (c) => gaussianNoise(c.sigma ?? GAUSSIAN_SIGMA),
  // Every image is perturbed: any loss trains on the noisy batch.
  refusesLoss: () => undefined,
  trainsBatchNorm: false,
  // RobRank has no such model.
  suffix: { grammar: '', parse: () => null, format: () => null },
};

export const DEFENSES: { readonly [K in DefenseKind]: DefenseEntry<Of<K>> } = { none, est, act, hm, catride, amd, ramd, ses, rest, free, noise, gaussian };

/** The `kind`s of DefenseConfig. */
export const DEFENSE_KINDS = Object.keys(DEFENSES) as DefenseKind[];

function isGradual(s: string): s is GradualDestination {
  return (GRADUAL_DESTINATIONS as readonly string[]).includes(s);
}

function entryOf<C extends DefenseConfig>(c: C): DefenseEntry<C> {
  const e = DEFENSES[c.kind] as DefenseEntry<DefenseConfig> | undefined;
  if (e === undefined) throw new Error(`unknown defense '${String(c.kind)}' (known: ${DEFENSE_KINDS.join(', ')})`);
  return e as unknown as DefenseEntry<C>;
}

/** Schema that validates a DefenseConfig read from JSON: every field typed and ranged, unknown fields refused. */
export const defenseConfigSchema = z.discriminatedUnion('kind', [
  none.schema,
  est.schema,
  act.schema,
  hm.schema,
  catride.schema,
  amd.schema,
  ramd.schema,
  ses.schema,
  rest.schema,
  free.schema,
  noise.schema,
  gaussian.schema,
]);

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
    name: defense.name,
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
export const SUFFIX_GRAMMAR = DEFENSE_KINDS.map((k) => DEFENSES[k].suffix.grammar)
  .filter((g) => g !== '')
  .join(', ');

/**
 * RobRank / robdml model-name suffixes after the backbone (docs/methods.md §9),
 * parsed by each defense entry (`i` in HM's: ICS with the dataset's published
 * weight, `icsWeight`). Returns null for a suffix that is not a defense name.
 */
export function defenseFromModelSuffix(suffix: string, icsWeight = ICS_WEIGHT): DefenseConfig | null {
  for (const k of DEFENSE_KINDS) {
    const d = (DEFENSES[k] as DefenseEntry<DefenseConfig>).suffix.parse(suffix, icsWeight);
    if (d !== null) return d;
  }
  if (/^(rh|hm(kl|l2))/.test(suffix) || /^g?hm(kl|l2)/.test(suffix)) {
    throw new Error(`model suffix '${suffix}': the fixed-anchor (rh) and KL/L2 HM variants are not supported (the authors report they do not work)`);
  }
  return null;
}

/** The defense the shorthand means: the suffix's, unless another entry claims it for this miner (CA-TRIDE). */
export function defenseOfShorthand(parsed: DefenseConfig, miner: MinerName): DefenseConfig {
  const claimer = DEFENSE_KINDS.find((k) => DEFENSES[k].suffix.claims?.(parsed, miner) === true);
  return claimer === undefined ? parsed : ({ kind: claimer } as DefenseConfig);
}

/** RobRank's model suffix of a defense config, or null when it has none. */
export function modelSuffix(d: DefenseConfig): string | null {
  return entryOf(d).suffix.format(d);
}

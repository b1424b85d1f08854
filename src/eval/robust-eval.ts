// Layer: eval. The robust evaluation (`swipe --robust-eval`, docs/attacks-and-metrics.md §8):
// every ERS attack of the profile, on the same queries and the same selections, by four
// components — the profile's PGD, APGD with random restarts, a query-only search (no gradient
// of the model is read) and a transfer attack crafted on an undefended surrogate — then per
// attacked image the WORST case over the components (the one leaving the least of the attack's
// ERS terms: its main column, or ES:D and ES:R together), its table, ERS and ARS (never above any
// component's ERS), and a gradient-masking verdict:
//   rule A  a query-only or transferred attack beats the white-box ones (per image, the
//           stronger of PGD and APGD) on the same images by more than the noise;
//   rule B  white-box PGD does worse at a larger ε than at a smaller one (an ε sweep).
// "More than the noise": the mean paired difference over the attacked images exceeds both
// VERDICT_Z standard errors of that mean and the column's smallest difference worth a flag
// (verdictFloor). A second finding says when the profile's PGD itself is not to be trusted:
// APGD beats it beyond the noise on most attacks AND PGD does less than half of APGD's damage
// (PGD_RULE; a defended model's usual APGD gain, its larger step finishing PGD's work, stays
// below that line). The budget is a preset: cheap (the profile's η, Square 100) or standard
// (AutoAttack's: APGD 100 iterations × 5 starts, Square 5,000), with EOT for random forwards.
// Numbers per batch are batch means averaged over batches, as the swipe.
import { dispose, manualSeed, type Tensor } from '../tensor/index.js';
import type { Metric, MetricName } from '../metric/metric.js';
import type { EmbeddingModel } from '../models/model.js';
import { testLoader, type DmlDataset } from '../data/index.js';
import {
  attackBatch,
  attackEntry,
  buildBatchContext,
  disposeBatchContext,
  ersProfile,
  getProfile,
  methodEntry,
  methodSettings,
  type AttackBatchOptions,
  type AttackOptions,
  type BatchContext,
  type Gallery,
  type MethodName,
  type MethodSettings,
  type PgdBudget,
  type Profile,
  type Surrogate,
} from '../attack/index.js';
import { attackOfRun, attackSeed, batchContexts, benignHits, benignRecallAt1, checkSurrogate, embedGallery, ersColumns, type SwipeResult } from './swipe.js';
import { bootstrapInfo, POINT_ESTIMATOR, type BootstrapInfo, type Interval } from './bootstrap.js';
import { BENIGN_R1_KEY, queryIndicesSha256, splitSha256, swipeIntervals, type SwipeProvenance } from './score-intervals.js';
import { adjustedRobustnessScore, ARS_LOW_RECALL_PERCENT, ATTACK_NAMES, empiricalRobustnessScore, ersTerm, type AttackName } from './robustness.js';
import { progressBar } from '../util/progress.js';

/** The components, in the order their tables are printed (ties in the worst case go to the earlier one). */
export const COMPONENTS = ['pgd', 'apgd', 'query', 'transfer'] as const;
export type ComponentName = (typeof COMPONENTS)[number];
/** Which components read the attacked model's gradients. */
const WHITE_BOX: readonly ComponentName[] = ['pgd', 'apgd'];

/** Standard errors a paired difference must exceed to count (rule A and rule B). */
export const VERDICT_Z = 2;
/** The smallest mean difference that counts, by the column's unit: 1 point for percentages, 0.01 for cosines and distances. */
export function verdictFloor(unit: string): number {
  return unit.startsWith('%') ? 1 : 0.01;
}

/** The two budgets of the robust evaluation (`--robust-eval cheap|standard`). */
export type RobustEvalPreset = 'cheap' | 'standard';
export const ROBUST_EVAL_PRESET_NAMES: readonly RobustEvalPreset[] = ['cheap', 'standard'];

/** What a preset fixes: APGD's iterations (null = the profile's η) and random starts, Square's queries per image. */
export interface RobustEvalBudget {
  apgdSteps: number | null;
  restarts: number;
  queries: number;
  /** One line for --help and the docs: what it is and what it costs. */
  summary: string;
}

/**
 * The presets, stated once (the CLI's help and the docs are made from them).
 * standard is AutoAttack's budget (Croce & Hein 2020: APGD 100 iterations, Square 5,000
 * queries); AutoAttack spends its further APGD runs on target classes, which a ranking attack
 * does not have, so here they are 5 random starts (AutoAttack's "plus" restarts). cheap is a
 * screening run at about five plain swipes.
 */
export const ROBUST_EVAL_PRESETS: Readonly<Record<RobustEvalPreset, Readonly<RobustEvalBudget>>> = Object.freeze({
  cheap: Object.freeze({
    apgdSteps: null,
    restarts: 1,
    queries: 100,
    summary: "APGD at the profile's η from 1 random start, Square 100 queries per image: about 5 plain swipes",
  }),
  standard: Object.freeze({
    apgdSteps: 100,
    restarts: 5,
    queries: 5000,
    summary: "AutoAttack's budget: APGD 100 iterations from 5 random starts, Square 5,000 queries per image: about ten times cheap in CPU time",
  }),
});

/** Defaults of the robust evaluation, stated once (the CLI's help is made from them). */
export const ROBUST_EVAL_DEFAULTS = Object.freeze({
  /**
   * cheap: on the 2-core CPUs this project is measured on, standard costs ~16× cheap (Square's
   * 5,000 forward passes per image and attack dominate); cheap is the screening run, and its
   * result is named with its budget so that it is never read as the standard one.
   */
  preset: 'cheap' as RobustEvalPreset,
  queryMethod: 'square' as MethodName,
  /** ε fractions of the sweep below the profile's ε (which is the PGD component itself). */
  epsilonFractions: Object.freeze([0.25, 0.5]) as readonly number[],
  /**
   * Queries the ε sweep runs on (the first of the first batch). Rule B is a trend check, so a
   * quarter batch is enough, and it keeps the sweep at 3 × 32 / 128 = 0.75 of one batch's PGD run.
   */
  sweepQueries: 32,
});

/**
 * The unreliable-PGD finding's margin: PGD is unreliable when its damage (100 − ERS) is less
 * than this share of APGD's. Defended models at a small training η lose half or more of their
 * PGD ERS to APGD (rob28, η = 4: HM 11.8 → 6.0, ACT 16.2 → 4.6), yet PGD still does 88–97 % of
 * APGD's damage there (and 86 % for HM's 21.8 → 9.4): APGD's larger adaptive step finishes what PGD started. A model whose input gradient is
 * shattered leaves PGD at a small fraction of it (ERS 83.5 against APGD's 12.7: 19 %).
 */
export const PGD_DAMAGE_SHARE_MIN = 0.5;

export interface RobustEvalOptions {
  /** An ERS profile (rob28 / rob224); default the one for the images' size. */
  profile?: string | Profile;
  maxIter?: number;
  seed?: number;
  benignRecallAt1?: number;
  attackOptions?: AttackOptions;
  /** The budget (default cheap); `restarts`, `apgdSteps` and `querySettings.queries` override its fields. */
  preset?: RobustEvalPreset;
  /** APGD's runs, each from a uniform point of the ε-ball (≥ 1; the clean start is the PGD component's). */
  restarts?: number;
  /** APGD's iterations (default the preset's; null = the profile's η). */
  apgdSteps?: number | null;
  /** The query-only component's method ('square' or 'nes') and its settings (queries, samples). */
  queryMethod?: MethodName;
  querySettings?: Partial<MethodSettings>;
  /** EOT: noise draws averaged per gradient or query in every component (default 1). */
  eot?: number;
  /** The transfer component's surrogate (same input shape); null leaves the component out. */
  surrogate: EmbeddingModel | null;
  /** Where the surrogate came from, for the report. */
  surrogateSource?: string;
  epsilonFractions?: readonly number[];
  sweepQueries?: number;
  progress?: boolean;
  /** Stops before the next attack run (the service's cancellation), as the swipe's. */
  signal?: AbortSignal;
  /** The per-query bootstrap of every table's intervals (default B = 1000, seed 0, 95 %). */
  bootstrap?: Partial<Omit<BootstrapInfo, 'unit'>>;
  /** Before each attack run: `done` of `total` runs (the service's progress events). */
  onAttack?: (p: { attack: string; done: number; total: number }) => void;
}

/** A table of one component (or of the worst case), with its scores and what it cost. */
export interface ComponentTable {
  attacks: Record<string, number>;
  ERS: number | null;
  ARS: number | null;
  /** Passes per attacked image over the nine attacks: on the attacked model, and on the surrogate. */
  passes: { forward: number; backward: number; surrogateForward: number; surrogateBackward: number };
  seconds: number;
  /** Intervals of every column, benignRecallAt1, ERS and ARS (per-query bootstrap, `RobustEvalResult.bootstrap`). */
  intervals: Record<string, Interval>;
}

/** The evidence for one attack's verdict. */
export interface VerdictEvidence {
  attack: string;
  column: string;
  unit: string;
  /** Mean over the attacked images of the white-box (per image, the stronger of PGD and APGD) and of each other component. */
  whiteBox: number;
  others: Partial<Record<ComponentName, number>>;
  /** The strongest non-white-box component, its mean paired advantage over white-box (in the column's unit, positive = stronger) and the standard error. */
  strongest: ComponentName | null;
  advantage: number;
  standardError: number;
  floor: number;
  flagged: boolean;
  /** Rule B: main column of PGD at each ε of the sweep (ascending), on the sweep's images. */
  sweep: { epsilon: number; value: number }[];
  sweepFlagged: boolean;
}

/** The evidence of the unreliable-PGD finding for one attack: APGD against the profile's PGD on the same images. */
export interface PgdEvidence {
  attack: string;
  column: string;
  unit: string;
  pgd: number;
  apgd: number;
  /** Mean paired advantage of APGD over PGD (positive = APGD stronger), its standard error and the column's floor. */
  advantage: number;
  standardError: number;
  floor: number;
  beyondNoise: boolean;
}

/** The second finding: whether the profile's PGD is an unreliable measure of this model. */
export interface PgdReliability {
  rule: string;
  /** Attacks on which APGD beats PGD beyond the noise, of all. */
  attacksBeyondNoise: number;
  attacks: number;
  /** 100 − ERS of PGD and of APGD, and PGD's share of APGD's (null when APGD does no damage). */
  pgdDamage: number | null;
  apgdDamage: number | null;
  damageShare: number | null;
  reasons: string[];
  evidence: PgdEvidence[];
}

export interface RobustEvalResult {
  profile: string;
  metric: MetricName;
  queries: number;
  batches: number;
  budget: PgdBudget;
  settings: {
    preset: RobustEvalPreset;
    restarts: number;
    /** APGD's iterations (the profile's η in cheap). */
    apgdSteps: number;
    queryMethod: MethodName;
    querySettings: MethodSettings;
    eot: number;
    surrogate: string | null;
    epsilonFractions: readonly number[];
    sweepQueries: number;
    verdictZ: number;
  };
  benignRecallAt1: number;
  components: Partial<Record<ComponentName, ComponentTable>>;
  /** `name` says what it is: the worst case over the components run, with their budgets. */
  worstCase: ComponentTable & { name: string; from: Record<string, Partial<Record<ComponentName, number>>> };
  verdict: {
    /** First finding: gradient masking (rules A and B). */
    flagged: boolean;
    rule: string;
    reasons: string[];
    evidence: VerdictEvidence[];
    /** Second finding: APGD beats the profile's PGD by far more than the noise (see PgdReliability). */
    pgdUnreliable: boolean;
    pgdReliability: PgdReliability;
  };
  seconds: number;
  bootstrap: BootstrapInfo;
  estimator: typeof POINT_ESTIMATOR;
  madeOn: SwipeProvenance;
  /** Per query, per column: each component's values and the worst case's, and the benign hits (0/100). */
  perQuery: Record<ComponentName | 'worst', Record<string, number[]>>;
}

/** The verdict's rule in words (printed with every verdict). */
export const VERDICT_RULE =
  `flagged when a query-only or transferred attack beats the white-box ones (per image, the stronger of PGD and APGD) ` +
  `on the same images by more than ${VERDICT_Z} standard errors of the mean paired difference and at least 1 point (%) or 0.01 (cosine, distance), ` +
  `or when PGD does worse at a larger ε than at a smaller one by as much`;

/** The second finding's rule in words (printed with every verdict). */
export const PGD_RULE =
  `PGD unreliable when APGD beats the profile's PGD on the same images by more than ${VERDICT_Z} standard errors of the mean paired difference ` +
  `and at least 1 point (%) or 0.01 (cosine, distance) on more than half of the attacks, and PGD's damage (100 − ERS) is less than ` +
  `${PGD_DAMAGE_SHARE_MIN * 100} % of APGD's: then PGD's ERS measures the attack, not the model`;

/** Everything the evaluation runs with, checked before any work. */
interface Plan {
  profile: Profile;
  runs: Profile['runs'];
  budget: PgdBudget;
  seed: number;
  batches: number;
  components: ComponentName[];
  settings: RobustEvalResult['settings'];
  /** How each component searches, and with which budget for a run of the profile. */
  search: Record<ComponentName, { options: AttackBatchOptions; budget: (profileBudget: PgdBudget) => PgdBudget }>;
}

function planRobustEval(model: EmbeddingModel, ds: DmlDataset, o: RobustEvalOptions): Plan {
  const profile = typeof o.profile === 'object' ? o.profile : o.profile === undefined ? ersProfile(ds.height) : getProfile(o.profile);
  const runs = profile.runs.filter((r) => attackEntry(r.attack).ers);
  if (runs.length === 0) throw new Error(`robust eval: profile ${profile.name} has no ERS attack (use rob28 or rob224)`);
  const budget = runs[0]!.budget;
  const presetName = o.preset ?? ROBUST_EVAL_DEFAULTS.preset;
  const preset = ROBUST_EVAL_PRESETS[presetName];
  if (preset === undefined) throw new Error(`robust eval: unknown budget '${presetName}' (expected ${ROBUST_EVAL_PRESET_NAMES.join(' or ')})`);
  const restarts = o.restarts ?? preset.restarts;
  if (!Number.isInteger(restarts) || restarts < 1)
    throw new Error(`robust eval: restarts (APGD runs from random starts) must be a positive integer, got ${restarts}`);
  const apgdSteps = (o.apgdSteps === undefined ? preset.apgdSteps : o.apgdSteps) ?? budget.steps;
  if (!Number.isInteger(apgdSteps) || apgdSteps < 1) throw new Error(`robust eval: APGD's iterations must be a positive integer, got ${apgdSteps}`);
  const queryMethod = o.queryMethod ?? ROBUST_EVAL_DEFAULTS.queryMethod;
  if (methodEntry(queryMethod).gradients)
    throw new Error(`robust eval: the query-only component needs a gradient-free method (square or nes), got '${queryMethod}'`);
  const eot = o.eot ?? o.querySettings?.eot ?? 1;
  const querySettings = methodSettings({ ...o.querySettings, queries: o.querySettings?.queries ?? preset.queries, eot });
  const fractions = [...(o.epsilonFractions ?? ROBUST_EVAL_DEFAULTS.epsilonFractions)].sort((a, b) => a - b);
  for (const f of fractions) if (!(f > 0 && f < 1)) throw new Error(`robust eval: ε fractions must be in (0, 1), got ${f}`);
  const sweepQueries = o.sweepQueries ?? ROBUST_EVAL_DEFAULTS.sweepQueries;
  if (!Number.isInteger(sweepQueries) || sweepQueries < 2)
    throw new Error(`robust eval: the ε sweep needs at least 2 queries (a standard error), got ${sweepQueries}`);
  if (o.surrogate !== null) checkSurrogate(model, o.surrogate);
  const totalBatches = Math.ceil(ds.length / profile.batchSize);
  const same = (b: PgdBudget): PgdBudget => b;
  return {
    profile,
    runs,
    budget,
    seed: o.seed ?? 0,
    batches: Math.min(totalBatches, o.maxIter ?? totalBatches),
    components: COMPONENTS.filter((c) => c !== 'transfer' || o.surrogate !== null),
    settings: {
      preset: presetName,
      restarts,
      apgdSteps,
      queryMethod,
      querySettings,
      eot,
      surrogate: o.surrogate === null ? null : (o.surrogateSource ?? 'given'),
      epsilonFractions: fractions,
      sweepQueries,
      verdictZ: VERDICT_Z,
    },
    search: {
      pgd: { options: { method: 'pgd', settings: { eot } }, budget: same },
      // The clean start is PGD's; APGD runs from `restarts` uniform points of the ball, for its own number of iterations (it has no α).
      apgd: { options: { method: 'apgd', start: 'random', settings: { restarts: restarts - 1, eot } }, budget: (b) => ({ ...b, steps: apgdSteps }) },
      query: { options: { method: queryMethod, settings: querySettings }, budget: same },
      transfer: { options: { method: 'pgd', settings: { eot: 1 } }, budget: same }, // the surrogate is an undefended, deterministic model
    },
  };
}

/** What the worst case is, in words with every budget: the headline's name wherever it is shown. */
export function worstCaseName(s: RobustEvalResult['settings'], budget: PgdBudget, components: readonly ComponentName[]): string {
  const eot = s.eot > 1 ? `, EOT ${s.eot} draws` : '';
  const parts = components.map((c) => {
    switch (c) {
      case 'pgd':
        return `PGD (η ${budget.steps}${eot})`;
      case 'apgd':
        return `APGD (η ${s.apgdSteps} × ${s.restarts} random start${s.restarts === 1 ? '' : 's'}${eot})`;
      case 'query':
        return s.queryMethod === 'square'
          ? `Square (${s.querySettings.queries.toLocaleString('en-US')} queries${eot})`
          : `NES (${s.querySettings.samples} probes × η ${budget.steps}${eot})`;
      case 'transfer':
        return `transfer (PGD η ${budget.steps} from ${s.surrogate ?? 'a surrogate'})`;
    }
  });
  return `worst case over ${parts.join(', ')} — ${s.preset}`;
}

/** The ε sweep's images: the first `queries` of the batch (all of it if smaller), with their own context. */
function sweepContext(
  model: EmbeddingModel,
  gallery: Gallery,
  images: Tensor,
  labels: Tensor,
  queries: number,
): { images: Tensor; labels: Tensor; ctx: BatchContext } {
  const n = Math.min(queries, images.shape[0]!);
  const sub = { images: images.narrow(0, 0, n).contiguous(), labels: labels.narrow(0, 0, n).contiguous() };
  try {
    return { ...sub, ctx: buildBatchContext(model, gallery, sub.images, sub.labels) };
  } catch (e) {
    dispose([sub.images, sub.labels]);
    throw e;
  }
}

/** 'higher' robust → harm = −value; 'lower' → harm = value: larger harm = stronger attack. */
function harmSign(attack: string, column: string): number {
  const c = attackEntry(attack).columns[column];
  if (c === undefined) throw new Error(`robust eval: ${attack} has no column ${column}`);
  return c.robust === 'higher' ? -1 : 1;
}

/** Mean and standard error of a list. */
function meanAndError(v: readonly number[]): { mean: number; error: number } {
  const n = v.length;
  const mean = v.reduce((s, x) => s + x, 0) / Math.max(1, n);
  const variance = n > 1 ? v.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, error: Math.sqrt(variance / Math.max(1, n)) };
}

const mean = (v: readonly number[]): number => v.reduce((s, x) => s + x, 0) / v.length;

/** A paired difference counts when its mean exceeds VERDICT_Z standard errors and the column's floor. */
function beyondNoise(d: { mean: number; error: number }, floor: number): boolean {
  return d.mean > VERDICT_Z * d.error && d.mean >= floor;
}

type Passes = ComponentTable['passes'];
const noPasses = (): Passes => ({ forward: 0, backward: 0, surrogateForward: 0, surrogateBackward: 0 });

/** What the batches accumulate: per component the sums of batch means, seconds and passes; per attack the per-image main columns. */
interface Tally {
  sums: Record<ComponentName | 'worst', Map<string, number>>;
  seconds: Record<ComponentName, number>;
  passes: Record<ComponentName, Passes>;
  mainValues: Map<string, Record<ComponentName, number[]>>;
  from: Map<string, Partial<Record<ComponentName, number>>>;
  sweepValues: Map<string, number[][]>;
  /** Per component (and the worst case) and column, every attacked query's value, for the intervals. */
  perQuery: Record<ComponentName | 'worst', Record<string, number[]>>;
}

function emptyTally(components: readonly ComponentName[]): Tally {
  return {
    sums: Object.fromEntries([...components, 'worst'].map((c) => [c, new Map<string, number>()])) as Tally['sums'],
    seconds: Object.fromEntries(components.map((c) => [c, 0])) as Tally['seconds'],
    passes: Object.fromEntries(components.map((c) => [c, noPasses()])) as Tally['passes'],
    mainValues: new Map(),
    from: new Map(),
    sweepValues: new Map(),
    perQuery: Object.fromEntries([...components, 'worst'].map((c) => [c, {}])) as Tally['perQuery'],
  };
}

/** Appends one batch's per-query values of a column (for the bootstrap). */
function appendPerQuery(tally: Tally, c: ComponentName | 'worst', column: string, v: readonly number[]): void {
  (tally.perQuery[c][column] ??= []).push(...v);
}

/** One attack on one batch by every component, with the same seeded selections; each component's per-image columns. */
function attackByComponents(
  plan: Plan,
  model: EmbeddingModel,
  attack: ReturnType<typeof attackOfRun>,
  run: Plan['runs'][number],
  b: number,
  ctx: BatchContext,
  surrogate: Surrogate | undefined,
  tally: Tally,
  tick: (c: string) => void,
): Record<ComponentName, Record<string, number[]>> {
  const perImage = {} as Record<ComponentName, Record<string, number[]>>;
  for (const c of plan.components) {
    const t0 = performance.now();
    // The same seed for every component: the same selections (candidates, targets) on the same images.
    manualSeed(attackSeed(plan.seed, run.attack, b));
    const s = plan.search[c];
    const res = attackBatch(model, attack, ctx, s.budget(run.budget), { ...s.options, ...(c === 'transfer' ? { surrogate: surrogate! } : {}) });
    tally.seconds[c] += (performance.now() - t0) / 1000;
    const p = tally.passes[c];
    if (res.passes.surrogate) {
      p.surrogateForward += res.passes.forward;
      p.surrogateBackward += res.passes.backward;
    } else {
      p.forward += res.passes.forward;
      p.backward += res.passes.backward;
    }
    p.forward += 1; // the measuring pass on the attacked model
    perImage[c] = res.perImage;
    for (const [column, v] of Object.entries(res.perImage)) appendPerQuery(tally, c, column, v);
    for (const [column, v] of Object.entries(res.values)) tally.sums[c].set(column, (tally.sums[c].get(column) ?? 0) + v);
    tick(c);
  }
  return perImage;
}

/**
 * Per image, the component that leaves the least of this attack's ERS terms (ties: the earlier
 * component); its columns go to the worst case. For an attack with one ERS column this is the
 * most harmful main column; for ES (ES:D and ES:R) it weighs both as ERS does, so that the worst
 * case's ERS is never above any component's (a pick by ES:D alone could keep a retained R@1 that
 * PGD had broken). An attack without ERS columns is picked by its main column.
 */
function tallyWorstCase(
  plan: Plan,
  run: Plan['runs'][number],
  reports: readonly string[],
  perImage: Record<ComponentName, Record<string, number[]>>,
  tally: Tally,
): void {
  const main = reports[0]!;
  const sign = harmSign(run.attack, main);
  const ersColumnsOf = reports.filter((c): c is AttackName => (ATTACK_NAMES as readonly string[]).includes(c));
  // Larger = worse for the model: minus the image's ERS terms, or the main column's harm.
  const harm = (c: ComponentName, i: number): number =>
    ersColumnsOf.length === 0 ? sign * perImage[c][main]![i]! : -ersColumnsOf.reduce((s, col) => s + ersTerm(col, perImage[c][col]![i]!), 0);
  const n = perImage.pgd[main]!.length;
  const pick: ComponentName[] = [];
  for (let i = 0; i < n; i++) {
    let worst: ComponentName = plan.components[0]!;
    for (const c of plan.components) if (harm(c, i) > harm(worst, i)) worst = c;
    pick.push(worst);
  }
  const counts = tally.from.get(run.attack) ?? {};
  for (const c of pick) counts[c] = (counts[c] ?? 0) + 1;
  tally.from.set(run.attack, counts);
  for (const column of reports) {
    const v = pick.map((c, i) => perImage[c][column]![i]!);
    appendPerQuery(tally, 'worst', column, v);
    tally.sums.worst.set(column, (tally.sums.worst.get(column) ?? 0) + v.reduce((s, x) => s + x, 0) / n);
  }
  const mv = tally.mainValues.get(run.attack) ?? (Object.fromEntries(plan.components.map((c) => [c, []])) as unknown as Record<ComponentName, number[]>);
  for (const c of plan.components) mv[c].push(...perImage[c][main]!);
  tally.mainValues.set(run.attack, mv);
}

/**
 * Rule B's sweep: PGD at every ε of the sweep, the profile's included, on the first queries of
 * the first batch with one seed, so the points differ only by ε. Per ε, the per-image main column.
 */
function sweepEpsilon(
  plan: Plan,
  model: EmbeddingModel,
  attack: ReturnType<typeof attackOfRun>,
  run: Plan['runs'][number],
  b: number,
  ctx: BatchContext,
  tick: (f: number) => void,
): number[][] {
  const main = attack.reports[0]!;
  return [...plan.settings.epsilonFractions, 1].map((f) => {
    manualSeed(attackSeed(plan.seed, run.attack, b));
    const at = { epsilon: run.budget.epsilon * f, alpha: Math.min(run.budget.alpha, run.budget.epsilon * f), steps: run.budget.steps };
    const res = attackBatch(model, attack, ctx, at, { method: 'pgd', settings: { eot: plan.settings.eot } });
    tick(f);
    return res.perImage[main]!;
  });
}

/** The first finding (gradient masking), attack by attack: rule A against the white-box ones, rule B over the ε sweep. */
function maskingEvidence(plan: Plan, tally: Tally): VerdictEvidence[] {
  return plan.runs.map((run) => {
    const main = attackEntry(run.attack).columns;
    const column = Object.keys(main)[0]!;
    const unit = main[column]!.unit;
    const sign = harmSign(run.attack, column);
    const mv = tally.mainValues.get(run.attack)!;
    const white = mv.pgd.map((v, i) => (sign * v >= sign * mv.apgd[i]! ? v : mv.apgd[i]!));
    const others: Partial<Record<ComponentName, number>> = {};
    let strongest: ComponentName | null = null;
    let advantage = -Infinity;
    let standardError = 0;
    for (const c of plan.components.filter((x) => !WHITE_BOX.includes(x))) {
      others[c] = mean(mv[c]);
      const d = meanAndError(mv[c].map((v, i) => sign * (v - white[i]!)));
      if (d.mean > advantage) {
        advantage = d.mean;
        standardError = d.error;
        strongest = c;
      }
    }
    const floor = verdictFloor(unit);
    const flagged = strongest !== null && beyondNoise({ mean: advantage, error: standardError }, floor);
    const sv = tally.sweepValues.get(run.attack) ?? [];
    const epsilons = [...plan.settings.epsilonFractions, 1].map((f) => f * run.budget.epsilon);
    const sweep = sv.map((v, k) => ({ epsilon: epsilons[k]!, value: mean(v) }));
    let sweepFlagged = false;
    // Harm at the smaller ε minus harm at the larger one, per image: positive = more budget, less success.
    for (let k = 0; k + 1 < sv.length; k++) if (beyondNoise(meanAndError(sv[k]!.map((v, i) => sign * (v - sv[k + 1]![i]!))), floor)) sweepFlagged = true;
    return {
      attack: run.attack,
      column,
      unit,
      whiteBox: mean(white),
      others,
      strongest,
      advantage: strongest === null ? 0 : advantage,
      standardError,
      floor,
      flagged,
      sweep,
      sweepFlagged,
    };
  });
}

function maskingReasons(evidence: readonly VerdictEvidence[]): string[] {
  const reasons: string[] = [];
  for (const e of evidence) {
    if (e.flagged)
      reasons.push(
        `${e.column}: ${e.strongest} beats white-box by ${e.advantage.toFixed(e.unit.startsWith('%') ? 1 : 3)} ${e.unit} (s.e. ${e.standardError.toFixed(e.unit.startsWith('%') ? 2 : 4)}) on the same images`,
      );
    if (e.sweepFlagged)
      reasons.push(`${e.column}: PGD does worse at a larger ε (${e.sweep.map((s) => `ε ${s.epsilon.toFixed(4)}: ${s.value.toFixed(3)}`).join(', ')})`);
  }
  return reasons;
}

/**
 * The second finding (PGD_RULE) from each attack's paired APGD − PGD differences on the main
 * column and the two components' ERS. Exported for its tests: the rule on hand-made numbers.
 */
export function pgdReliability(
  perAttack: readonly { attack: string; column: string; unit: string; sign: number; pgd: readonly number[]; apgd: readonly number[] }[],
  ers: { pgd: number | null; apgd: number | null },
): { unreliable: boolean; reliability: PgdReliability } {
  const evidence: PgdEvidence[] = perAttack.map((a) => {
    const d = meanAndError(a.apgd.map((v, i) => a.sign * (v - a.pgd[i]!)));
    const floor = verdictFloor(a.unit);
    return {
      attack: a.attack,
      column: a.column,
      unit: a.unit,
      pgd: mean(a.pgd),
      apgd: mean(a.apgd),
      advantage: d.mean,
      standardError: d.error,
      floor,
      beyondNoise: beyondNoise(d, floor),
    };
  });
  const attacksBeyondNoise = evidence.filter((e) => e.beyondNoise).length;
  const pgdDamage = ers.pgd === null ? null : 100 - ers.pgd;
  const apgdDamage = ers.apgd === null ? null : 100 - ers.apgd;
  const damageShare = pgdDamage === null || apgdDamage === null || !(apgdDamage > 0) ? null : pgdDamage / apgdDamage;
  const most = attacksBeyondNoise > evidence.length / 2;
  const far = damageShare !== null && damageShare < PGD_DAMAGE_SHARE_MIN;
  const reasons: string[] = [];
  if (most && far) {
    reasons.push(
      `APGD beats PGD beyond the noise on ${attacksBeyondNoise} of ${evidence.length} attacks (${evidence
        .filter((e) => e.beyondNoise)
        .map((e) => e.column)
        .join(', ')})`,
    );
    reasons.push(
      `PGD does ${(100 * damageShare!).toFixed(0)} % of APGD's damage: 100 − ERS = ${pgdDamage!.toFixed(1)} against ${apgdDamage!.toFixed(1)} (ERS ${ers.pgd!.toFixed(1)} → ${ers.apgd!.toFixed(1)})`,
    );
  }
  return {
    unreliable: most && far,
    reliability: { rule: PGD_RULE, attacksBeyondNoise, attacks: evidence.length, pgdDamage, apgdDamage, damageShare, reasons, evidence },
  };
}

/** The robust evaluation (see the module comment). */
export async function runRobustEval(model: EmbeddingModel, ds: DmlDataset, metric: Metric, o: RobustEvalOptions): Promise<RobustEvalResult> {
  const plan = planRobustEval(model, ds, o);
  const started = performance.now();
  const attacked = await attackEveryBatch(plan, model, ds, metric, o);
  return robustEvalResult(plan, attacked, ds, metric, o, (performance.now() - started) / 1000);
}

/** What attacking the query batches collected: the tally per component, and the benign hits per query. */
interface AttackedBatches {
  tally: Tally;
  /** Sum of the batches' benign R@1 (RobRank's mean of batch means divides it by the batches). */
  recallSum: number;
  /** Per query, 100 when its nearest gallery item shares its label, else 0. */
  hits: number[];
  queryIndices: number[];
}

/**
 * Step 1: every query batch of the plan, each ERS run attacked by every component (and, on the first
 * batch, the ε sweep), with the model in eval mode and the galleries embedded once.
 */
async function attackEveryBatch(plan: Plan, model: EmbeddingModel, ds: DmlDataset, metric: Metric, o: RobustEvalOptions): Promise<AttackedBatches> {
  const { profile, runs, batches, components } = plan;
  const fractions = plan.settings.epsilonFractions;
  const wasTraining = model.training;
  const gallery = await embedGallery(model, ds, metric, profile.batchSize, o.progress);
  const surrogateGallery = o.surrogate === null ? undefined : await embedGallery(o.surrogate, ds, metric, profile.batchSize, o.progress);
  const attacks = runs.map((r) => attackOfRun(r, ds, o.attackOptions));
  const out: AttackedBatches = { tally: emptyTally(components), recallSum: 0, hits: [], queryIndices: [] };
  const { tally } = out;
  const bar = progressBar(
    o.progress,
    runs.length * (batches * components.length + fractions.length + 1),
    `robust eval ${profile.name} (${plan.settings.preset})`,
  );
  try {
    model.eval();
    let b = 0;
    for await (const batch of testLoader(ds, { batchSize: profile.batchSize, onlyBatches: (k) => k < batches })) {
      const { images, labels, ctx, surrogate } = batchContexts(
        model,
        gallery,
        batch,
        o.surrogate === null ? undefined : { model: o.surrogate, gallery: surrogateGallery! },
      );
      const sweep = b === 0 ? sweepContext(model, gallery, images, labels, plan.settings.sweepQueries) : undefined;
      try {
        out.recallSum += benignRecallAt1(ctx);
        out.hits.push(...benignHits(ctx).map((h) => 100 * h));
        out.queryIndices.push(...batch.indices);
        for (const [r, run] of runs.entries()) {
          if (o.signal !== undefined) {
            await new Promise((resolve) => setImmediate(resolve));
            o.signal.throwIfAborted();
          }
          o.onAttack?.({ attack: run.attack, done: b * runs.length + r, total: batches * runs.length });
          const attack = attacks[r]!;
          const perImage = attackByComponents(plan, model, attack, run, b, ctx, surrogate, tally, (c) =>
            bar?.tick(1, `batch ${b + 1}/${batches} ${run.attack} ${c}`),
          );
          tallyWorstCase(plan, run, attack.reports, perImage, tally);
          if (sweep !== undefined)
            tally.sweepValues.set(
              run.attack,
              sweepEpsilon(plan, model, attack, run, b, sweep.ctx, (f) => bar?.tick(1, `batch ${b + 1}/${batches} ${run.attack} ε×${f}`)),
            );
        }
      } finally {
        disposeBatchContext(ctx);
        if (surrogate !== undefined) disposeBatchContext(surrogate.ctx);
        if (sweep !== undefined) {
          disposeBatchContext(sweep.ctx);
          dispose([sweep.images, sweep.labels]);
        }
        dispose([images, labels]);
      }
      b++;
    }
  } finally {
    bar?.close();
    dispose([gallery.embeddings, gallery.labels, surrogateGallery?.embeddings, surrogateGallery?.labels] as (Tensor | undefined)[]);
    model.train(wasTraining);
  }
  return out;
}

/**
 * Step 2: the tables (each component's and the worst case's, with their per-query intervals), the
 * verdict's two findings, and where the numbers were made.
 */
function robustEvalResult(plan: Plan, attacked: AttackedBatches, ds: DmlDataset, metric: Metric, o: RobustEvalOptions, seconds: number): RobustEvalResult {
  const { profile, runs, batches, components } = plan;
  const { tally, hits } = attacked;
  const queries = attacked.queryIndices.length;
  const benign = o.benignRecallAt1 ?? (100 * attacked.recallSum) / batches;
  const info = bootstrapInfo(o.bootstrap);
  for (const c of [...components, 'worst'] as const) tally.perQuery[c][BENIGN_R1_KEY] = hits;
  const table = (c: ComponentName | 'worst', p: Passes, s: number): ComponentTable => {
    const attacksOut = Object.fromEntries([...tally.sums[c]].map(([k, v]) => [k, v / batches]));
    const ers = ersColumns(attacksOut);
    const ars = ers !== null && benign > 0 ? adjustedRobustnessScore(ers, benign).score : null;
    // Every table's replicates draw the same queries (one seed): their intervals are paired.
    const intervals = swipeIntervals(tally.perQuery[c], o.benignRecallAt1 ?? null, info);
    return { attacks: attacksOut, ERS: ers === null ? null : empiricalRobustnessScore(ers), ARS: ars, passes: scalePasses(p, batches), seconds: s, intervals };
  };
  const out: Partial<Record<ComponentName, ComponentTable>> = {};
  for (const c of components) out[c] = table(c, tally.passes[c], tally.seconds[c]);
  const total = components.reduce((acc, c) => addPasses(acc, tally.passes[c]), noPasses());
  const madeOn: SwipeProvenance = {
    dataset: ds.name,
    split: ds.split,
    splitSha256: splitSha256(ds),
    queries,
    queryIndicesSha256: queryIndicesSha256(attacked.queryIndices),
    profile: `${profile.name} robust-eval ${plan.settings.preset}`,
    seed: plan.seed,
    method: 'robust-eval',
    transfer: false,
    attackOptions: JSON.stringify(Object.fromEntries(Object.entries(o.attackOptions ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)))),
    benignRecallAt1Given: o.benignRecallAt1 ?? null,
  };
  const worstCase = {
    ...table(
      'worst',
      total,
      components.reduce((s, c) => s + tally.seconds[c], 0),
    ),
    name: worstCaseName(plan.settings, plan.budget, components),
    from: Object.fromEntries(tally.from),
  };
  const evidence = maskingEvidence(plan, tally);
  const reasons = maskingReasons(evidence);
  const pgd = pgdReliability(
    runs.map((run) => {
      const columns = attackEntry(run.attack).columns;
      const column = Object.keys(columns)[0]!;
      const mv = tally.mainValues.get(run.attack)!;
      return { attack: run.attack, column, unit: columns[column]!.unit, sign: harmSign(run.attack, column), pgd: mv.pgd, apgd: mv.apgd };
    }),
    { pgd: out.pgd!.ERS, apgd: out.apgd!.ERS },
  );
  return {
    profile: profile.name,
    metric: metric.name,
    queries,
    batches,
    budget: plan.budget,
    settings: plan.settings,
    benignRecallAt1: benign,
    components: out,
    worstCase,
    verdict: { flagged: reasons.length > 0, rule: VERDICT_RULE, reasons, evidence, pgdUnreliable: pgd.unreliable, pgdReliability: pgd.reliability },
    seconds,
    bootstrap: info,
    estimator: POINT_ESTIMATOR,
    madeOn,
    perQuery: tally.perQuery,
  };
}

function scalePasses(p: ComponentTable['passes'], batches: number): ComponentTable['passes'] {
  return {
    forward: p.forward / batches,
    backward: p.backward / batches,
    surrogateForward: p.surrogateForward / batches,
    surrogateBackward: p.surrogateBackward / batches,
  };
}

function addPasses(a: ComponentTable['passes'], b: ComponentTable['passes']): ComponentTable['passes'] {
  return {
    forward: a.forward + b.forward,
    backward: a.backward + b.backward,
    surrogateForward: a.surrogateForward + b.surrogateForward,
    surrogateBackward: a.surrogateBackward + b.surrogateBackward,
  };
}

/** A swipe result that came from a robust evaluation: the headline ERS/ARS and columns are the worst case's, PGD's beside them. */
export type RobustSwipeResult = SwipeResult & {
  /** What the headline numbers are (the worst case's name, with its budgets). */
  headline: string;
  /** The profile's PGD alone: what a plain swipe reports. */
  pgd: { attacks: Record<string, number>; ERS: number | null; ARS: number | null };
  robustEval: RobustEvalResult;
};

/** A robust evaluation as a swipe result: the worst case on top (the headline), the PGD component beside it, everything else under `robustEval`. */
export function asSwipeResult(r: RobustEvalResult): RobustSwipeResult {
  const pgd = r.components.pgd!;
  return {
    profile: r.profile,
    metric: r.metric,
    queries: r.queries,
    batches: r.batches,
    budgets: [r.budget],
    headline: r.worstCase.name,
    attacks: r.worstCase.attacks,
    benignRecallAt1: r.benignRecallAt1,
    ERS: r.worstCase.ERS,
    ARS: r.worstCase.ARS,
    pgd: { attacks: pgd.attacks, ERS: pgd.ERS, ARS: pgd.ARS },
    lowBenignRecall: r.benignRecallAt1 < ARS_LOW_RECALL_PERCENT,
    seconds: r.seconds,
    gallerySeconds: 0,
    // The headline's intervals and per-query values: the worst case's, as its numbers.
    intervals: r.worstCase.intervals,
    bootstrap: r.bootstrap,
    estimator: r.estimator,
    madeOn: r.madeOn,
    perQuery: r.perQuery.worst,
    robustEval: r,
  };
}

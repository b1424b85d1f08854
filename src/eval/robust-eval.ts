// Layer: eval. The robust evaluation (`swipe --robust-eval`, docs/attacks-and-metrics.md §8):
// every ERS attack of the profile, on the same queries and the same selections, by four
// components — the profile's PGD, APGD with random restarts, a query-only search (no gradient
// of the model is read) and a transfer attack crafted on an undefended surrogate — then per
// attacked image the WORST case over the components (by the attack's main column), its table,
// ERS and ARS, and a gradient-masking verdict:
//   rule A  a query-only or transferred attack beats the white-box ones (per image, the
//           stronger of PGD and APGD) on the same images by more than the noise;
//   rule B  white-box PGD does worse at a larger ε than at a smaller one (an ε sweep).
// "More than the noise": the mean paired difference over the attacked images exceeds both
// VERDICT_Z standard errors of that mean and the column's smallest difference worth a flag
// (VERDICT_FLOORS). Numbers per batch are batch means averaged over batches, as the swipe.
import { dispose, manualSeed, type Tensor } from '../tensor/index.js';
import type { Metric, MetricName } from '../metric/metric.js';
import type { EmbeddingModel } from '../models/model.js';
import { testLoader, type DmlDataset } from '../data/index.js';
import {
  attackBatch, attackEntry, buildBatchContext, disposeBatchContext, ersProfile, getProfile, methodEntry, methodSettings,
  type AttackBatchOptions, type AttackOptions, type BatchContext, type Gallery, type MethodName, type MethodSettings, type PgdBudget, type Profile,
} from '../attack/index.js';
import { attackOfRun, attackSeed, batchContexts, benignHits, benignRecallAt1, checkSurrogate, embedGallery, ersColumns, type SwipeResult } from './swipe.js';
import { bootstrapInfo, POINT_ESTIMATOR, type BootstrapInfo, type Interval } from './bootstrap.js';
import { BENIGN_R1_KEY, queryIndicesSha256, splitSha256, swipeIntervals, type SwipeProvenance } from './score-intervals.js';
import { adjustedRobustnessScore, ARS_LOW_RECALL_PERCENT, empiricalRobustnessScore } from './robustness.js';
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

/** Defaults of the robust evaluation, stated once (the CLI's help is made from them). */
export const ROBUST_EVAL_DEFAULTS = Object.freeze({
  restarts: 1,
  queryMethod: 'square' as MethodName,
  /** ε fractions of the sweep below the profile's ε (which is the PGD component itself). */
  epsilonFractions: Object.freeze([0.25, 0.5]) as readonly number[],
  /**
   * Queries the ε sweep runs on (the first of the first batch). Rule B is a trend check, so a
   * quarter batch is enough, and it keeps the sweep at 3 × 32 / 128 = 0.75 of one batch's PGD run.
   */
  sweepQueries: 32,
});

export interface RobustEvalOptions {
  /** An ERS profile (rob28 / rob224); default the one for the images' size. */
  profile?: string | Profile;
  maxIter?: number;
  seed?: number;
  benignRecallAt1?: number;
  attackOptions?: AttackOptions;
  /** APGD's runs, each from a uniform point of the ε-ball (≥ 1; the clean start is the PGD component's). */
  restarts?: number;
  /** The query-only component's method ('square' or 'nes') and its settings (queries, samples). */
  queryMethod?: MethodName;
  querySettings?: Partial<MethodSettings>;
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

export interface RobustEvalResult {
  profile: string;
  metric: MetricName;
  queries: number;
  batches: number;
  budget: PgdBudget;
  settings: {
    restarts: number;
    queryMethod: MethodName;
    querySettings: MethodSettings;
    surrogate: string | null;
    epsilonFractions: readonly number[];
    sweepQueries: number;
    verdictZ: number;
  };
  benignRecallAt1: number;
  components: Partial<Record<ComponentName, ComponentTable>>;
  worstCase: ComponentTable & { from: Record<string, Partial<Record<ComponentName, number>>> };
  verdict: { flagged: boolean; rule: string; reasons: string[]; evidence: VerdictEvidence[] };
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

/** The ε sweep's images: the first `queries` of the batch (all of it if smaller), with their own context. */
function sweepContext(model: EmbeddingModel, gallery: Gallery, images: Tensor, labels: Tensor, queries: number): { images: Tensor; labels: Tensor; ctx: BatchContext } {
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

/** The robust evaluation (see the module comment). */
export async function runRobustEval(model: EmbeddingModel, ds: DmlDataset, metric: Metric, o: RobustEvalOptions): Promise<RobustEvalResult> {
  const profile = typeof o.profile === 'object' ? o.profile : o.profile === undefined ? ersProfile(ds.height) : getProfile(o.profile);
  const runs = profile.runs.filter((r) => attackEntry(r.attack).ers);
  if (runs.length === 0) throw new Error(`robust eval: profile ${profile.name} has no ERS attack (use rob28 or rob224)`);
  const budget = runs[0]!.budget;
  const seed = o.seed ?? 0;
  const restarts = o.restarts ?? ROBUST_EVAL_DEFAULTS.restarts;
  if (!Number.isInteger(restarts) || restarts < 1) throw new Error(`robust eval: restarts (APGD runs from random starts) must be a positive integer, got ${restarts}`);
  const queryMethod = o.queryMethod ?? ROBUST_EVAL_DEFAULTS.queryMethod;
  if (methodEntry(queryMethod).gradients) throw new Error(`robust eval: the query-only component needs a gradient-free method (square or nes), got '${queryMethod}'`);
  const querySettings = methodSettings(o.querySettings);
  const fractions = [...(o.epsilonFractions ?? ROBUST_EVAL_DEFAULTS.epsilonFractions)].sort((a, b) => a - b);
  for (const f of fractions) if (!(f > 0 && f < 1)) throw new Error(`robust eval: ε fractions must be in (0, 1), got ${f}`);
  const sweepQueries = o.sweepQueries ?? ROBUST_EVAL_DEFAULTS.sweepQueries;
  if (!Number.isInteger(sweepQueries) || sweepQueries < 2) throw new Error(`robust eval: the ε sweep needs at least 2 queries (a standard error), got ${sweepQueries}`);
  if (o.surrogate !== null) checkSurrogate(model, o.surrogate);
  const totalBatches = Math.ceil(ds.length / profile.batchSize);
  const batches = Math.min(totalBatches, o.maxIter ?? totalBatches);
  const components: ComponentName[] = COMPONENTS.filter((c) => c !== 'transfer' || o.surrogate !== null);
  const options: Record<ComponentName, AttackBatchOptions> = {
    pgd: { method: 'pgd' },
    // The clean start is PGD's; APGD runs from `restarts` uniform points of the ball.
    apgd: { method: 'apgd', start: 'random', settings: { restarts: restarts - 1 } },
    query: { method: queryMethod, settings: querySettings },
    transfer: { method: 'pgd' },
  };

  const started = performance.now();
  const wasTraining = model.training;
  const gallery = await embedGallery(model, ds, metric, profile.batchSize, o.progress);
  const surrogateGallery = o.surrogate === null ? undefined : await embedGallery(o.surrogate, ds, metric, profile.batchSize, o.progress);
  const attacks = runs.map((r) => attackOfRun(r, ds, o.attackOptions));
  // Per component, per column: the sum of batch means; per attack: the per-image main-column values.
  const sums = Object.fromEntries([...components, 'worst'].map((c) => [c, new Map<string, number>()])) as Record<ComponentName | 'worst', Map<string, number>>;
  const seconds = Object.fromEntries(components.map((c) => [c, 0])) as Record<ComponentName, number>;
  const passes = Object.fromEntries(components.map((c) => [c, { forward: 0, backward: 0, surrogateForward: 0, surrogateBackward: 0 }])) as Record<ComponentName, ComponentTable['passes']>;
  const mainValues = new Map<string, Record<ComponentName, number[]>>();
  const from = new Map<string, Partial<Record<ComponentName, number>>>();
  const sweepValues = new Map<string, number[][]>(); // attack → per ε (fractions…, 1) → per image
  let recallSum = 0;
  let queries = 0;
  const perQuery = Object.fromEntries([...components, 'worst'].map((c) => [c, {} as Record<string, number[]>])) as Record<ComponentName | 'worst', Record<string, number[]>>;
  const hits: number[] = [];
  const queryIndices: number[] = [];
  const append = (c: ComponentName | 'worst', column: string, v: readonly number[]): void => void (perQuery[c][column] ??= []).push(...v);
  const bar = progressBar(o.progress, runs.length * (batches * components.length + fractions.length + 1), `robust eval ${profile.name}`);
  try {
    model.eval();
    let b = 0;
    for await (const batch of testLoader(ds, { batchSize: profile.batchSize, onlyBatches: (k) => k < batches })) {
      const { images, labels, ctx, surrogate } = batchContexts(model, gallery, batch, o.surrogate === null ? undefined : { model: o.surrogate, gallery: surrogateGallery! });
      const sweep = b === 0 ? sweepContext(model, gallery, images, labels, sweepQueries) : undefined;
      try {
        recallSum += benignRecallAt1(ctx);
        hits.push(...benignHits(ctx).map((h) => 100 * h));
        queryIndices.push(...batch.indices);
        for (const [r, run] of runs.entries()) {
          if (o.signal !== undefined) {
            await new Promise((resolve) => setImmediate(resolve));
            o.signal.throwIfAborted();
          }
          o.onAttack?.({ attack: run.attack, done: b * runs.length + r, total: batches * runs.length });
          const attack = attacks[r]!;
          const main = attack.reports[0]!;
          const sign = harmSign(run.attack, main);
          const perImage: Partial<Record<ComponentName, Record<string, number[]>>> = {};
          for (const c of components) {
            const t0 = performance.now();
            // The same seed for every component: the same selections (candidates, targets) on the same images.
            manualSeed(attackSeed(seed, run.attack, b));
            const res = attackBatch(model, attack, ctx, run.budget, { ...options[c], ...(c === 'transfer' ? { surrogate: surrogate! } : {}) });
            seconds[c] += (performance.now() - t0) / 1000;
            const p = passes[c];
            if (res.passes.surrogate) {
              p.surrogateForward += res.passes.forward;
              p.surrogateBackward += res.passes.backward;
            } else {
              p.forward += res.passes.forward;
              p.backward += res.passes.backward;
            }
            p.forward += 1; // the measuring pass on the attacked model
            perImage[c] = res.perImage;
            for (const [column, v] of Object.entries(res.perImage)) append(c, column, v);
            for (const [column, v] of Object.entries(res.values)) sums[c].set(column, (sums[c].get(column) ?? 0) + v);
            bar?.tick(1, `batch ${b + 1}/${batches} ${run.attack} ${c}`);
          }
          // Per image, the worst component by the main column (ties: the earlier component).
          const n = perImage.pgd![main]!.length;
          const pick: ComponentName[] = [];
          for (let i = 0; i < n; i++) {
            let worst: ComponentName = components[0]!;
            for (const c of components) if (sign * perImage[c]![main]![i]! > sign * perImage[worst]![main]![i]!) worst = c;
            pick.push(worst);
          }
          const counts = from.get(run.attack) ?? {};
          for (const c of pick) counts[c] = (counts[c] ?? 0) + 1;
          from.set(run.attack, counts);
          for (const column of attack.reports) {
            const v = pick.map((c, i) => perImage[c]![column]![i]!);
            append('worst', column, v);
            sums.worst.set(column, (sums.worst.get(column) ?? 0) + v.reduce((s, x) => s + x, 0) / n);
          }
          const mv = mainValues.get(run.attack) ?? (Object.fromEntries(components.map((c) => [c, []])) as unknown as Record<ComponentName, number[]>);
          for (const c of components) mv[c].push(...perImage[c]![main]!);
          mainValues.set(run.attack, mv);
          // Rule B's sweep: PGD at every ε of the sweep, the profile's included, on the first queries
          // of the first batch with one seed, so the points differ only by ε.
          if (sweep !== undefined) {
            const sv = [...fractions, 1].map((f) => {
              manualSeed(attackSeed(seed, run.attack, b));
              const at = { epsilon: run.budget.epsilon * f, alpha: Math.min(run.budget.alpha, run.budget.epsilon * f), steps: run.budget.steps };
              const res = attackBatch(model, attack, sweep.ctx, at, { method: 'pgd' });
              bar?.tick(1, `batch ${b + 1}/${batches} ${run.attack} ε×${f}`);
              return res.perImage[main]!;
            });
            sweepValues.set(run.attack, sv);
          }
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
      queries += batch.indices.length;
      b++;
    }
  } finally {
    bar?.close();
    dispose([gallery.embeddings, gallery.labels, surrogateGallery?.embeddings, surrogateGallery?.labels] as (Tensor | undefined)[]);
    model.train(wasTraining);
  }

  const benign = o.benignRecallAt1 ?? (100 * recallSum) / batches;
  const info = bootstrapInfo(o.bootstrap);
  for (const c of [...components, 'worst'] as const) perQuery[c][BENIGN_R1_KEY] = hits;
  const table = (c: ComponentName | 'worst', p: ComponentTable['passes'], s: number): ComponentTable => {
    const attacksOut = Object.fromEntries([...sums[c]].map(([k, v]) => [k, v / batches]));
    const ers = ersColumns(attacksOut);
    const ars = ers !== null && benign > 0 ? adjustedRobustnessScore(ers, benign).score : null;
    // Every table's replicates draw the same queries (one seed): their intervals are paired.
    const intervals = swipeIntervals(perQuery[c], o.benignRecallAt1 ?? null, info);
    return { attacks: attacksOut, ERS: ers === null ? null : empiricalRobustnessScore(ers), ARS: ars, passes: scalePasses(p, batches), seconds: s, intervals };
  };
  const out: Partial<Record<ComponentName, ComponentTable>> = {};
  for (const c of components) out[c] = table(c, passes[c], seconds[c]);
  const total = components.reduce((acc, c) => addPasses(acc, passes[c]), { forward: 0, backward: 0, surrogateForward: 0, surrogateBackward: 0 });
  const worstCase = { ...table('worst', total, components.reduce((s, c) => s + seconds[c], 0)), from: Object.fromEntries(from) };
  const madeOn: SwipeProvenance = {
    dataset: ds.name, split: ds.split, splitSha256: splitSha256(ds), queries, queryIndicesSha256: queryIndicesSha256(queryIndices), profile: `${profile.name} robust-eval`, seed,
    method: 'robust-eval', transfer: false, attackOptions: JSON.stringify(Object.fromEntries(Object.entries(o.attackOptions ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)))), benignRecallAt1Given: o.benignRecallAt1 ?? null,
  };

  // The verdict, attack by attack.
  const evidence: VerdictEvidence[] = runs.map((run) => {
    const main = attackEntry(run.attack).columns;
    const column = Object.keys(main)[0]!;
    const unit = main[column]!.unit;
    const sign = harmSign(run.attack, column);
    const mv = mainValues.get(run.attack)!;
    const white = mv.pgd.map((v, i) => (sign * v >= sign * mv.apgd[i]! ? v : mv.apgd[i]!));
    const mean = (v: readonly number[]): number => v.reduce((s, x) => s + x, 0) / v.length;
    const others: Partial<Record<ComponentName, number>> = {};
    let strongest: ComponentName | null = null;
    let advantage = -Infinity;
    let standardError = 0;
    for (const c of components.filter((x) => !WHITE_BOX.includes(x))) {
      others[c] = mean(mv[c]);
      const d = meanAndError(mv[c].map((v, i) => sign * (v - white[i]!)));
      if (d.mean > advantage) {
        advantage = d.mean;
        standardError = d.error;
        strongest = c;
      }
    }
    const floor = verdictFloor(unit);
    const flagged = strongest !== null && advantage > VERDICT_Z * standardError && advantage >= floor;
    const sv = sweepValues.get(run.attack) ?? [];
    const epsilons = [...fractions, 1].map((f) => f * run.budget.epsilon);
    const sweep = sv.map((v, k) => ({ epsilon: epsilons[k]!, value: mean(v) }));
    let sweepFlagged = false;
    for (let k = 0; k + 1 < sv.length; k++) {
      // Harm at the smaller ε minus harm at the larger one, per image: positive = more budget, less success.
      const d = meanAndError(sv[k]!.map((v, i) => sign * (v - sv[k + 1]![i]!)));
      if (d.mean > VERDICT_Z * d.error && d.mean >= floor) sweepFlagged = true;
    }
    return { attack: run.attack, column, unit, whiteBox: mean(white), others, strongest, advantage: strongest === null ? 0 : advantage, standardError, floor, flagged, sweep, sweepFlagged };
  });
  const reasons: string[] = [];
  for (const e of evidence) {
    if (e.flagged) reasons.push(`${e.column}: ${e.strongest} beats white-box by ${e.advantage.toFixed(e.unit.startsWith('%') ? 1 : 3)} ${e.unit} (s.e. ${e.standardError.toFixed(e.unit.startsWith('%') ? 2 : 4)}) on the same images`);
    if (e.sweepFlagged) reasons.push(`${e.column}: PGD does worse at a larger ε (${e.sweep.map((s) => `ε ${s.epsilon.toFixed(4)}: ${s.value.toFixed(3)}`).join(', ')})`);
  }
  return {
    profile: profile.name,
    metric: metric.name,
    queries,
    batches,
    budget,
    settings: { restarts, queryMethod, querySettings, surrogate: o.surrogate === null ? null : (o.surrogateSource ?? 'given'), epsilonFractions: fractions, sweepQueries, verdictZ: VERDICT_Z },
    benignRecallAt1: benign,
    components: out,
    worstCase,
    verdict: { flagged: reasons.length > 0, rule: VERDICT_RULE, reasons, evidence },
    seconds: (performance.now() - started) / 1000,
    bootstrap: info,
    estimator: POINT_ESTIMATOR,
    madeOn,
    perQuery,
  };
}

function scalePasses(p: ComponentTable['passes'], batches: number): ComponentTable['passes'] {
  return { forward: p.forward / batches, backward: p.backward / batches, surrogateForward: p.surrogateForward / batches, surrogateBackward: p.surrogateBackward / batches };
}

function addPasses(a: ComponentTable['passes'], b: ComponentTable['passes']): ComponentTable['passes'] {
  return { forward: a.forward + b.forward, backward: a.backward + b.backward, surrogateForward: a.surrogateForward + b.surrogateForward, surrogateBackward: a.surrogateBackward + b.surrogateBackward };
}

/** A swipe result that came from a robust evaluation: the fields of a swipe are its PGD component's. */
export type RobustSwipeResult = SwipeResult & { robustEval: RobustEvalResult };

/** A robust evaluation as a swipe result: the PGD component's numbers on top (what a plain swipe reports), everything else under `robustEval`. */
export function asSwipeResult(r: RobustEvalResult): RobustSwipeResult {
  const pgd = r.components.pgd!;
  return {
    profile: r.profile,
    metric: r.metric,
    queries: r.queries,
    batches: r.batches,
    budgets: [r.budget],
    attacks: pgd.attacks,
    benignRecallAt1: r.benignRecallAt1,
    ERS: pgd.ERS,
    ARS: pgd.ARS,
    lowBenignRecall: r.benignRecallAt1 < ARS_LOW_RECALL_PERCENT,
    seconds: r.seconds,
    gallerySeconds: 0,
    intervals: pgd.intervals,
    bootstrap: r.bootstrap,
    estimator: r.estimator,
    madeOn: r.madeOn,
    perQuery: r.perQuery.pgd,
    robustEval: r,
  };
}


// Layer: eval. The robustness swipe (RobRank `cmdline.Swipe`, docs/attacks-and-metrics.md
// §1, §3, §5, §6): every attack of a profile over the test split, the gallery
// = the whole split embedded once (clean, eval mode, metric space), queries in
// loader order in batches (128 for 28×28, 112 for 224×224). Each batch's
// numbers are batch means; the reported number is the UNWEIGHTED mean over
// batches, as the reference aggregates. Then ERS (and ARS with benign R@1).
//
// Batch-major order: each batch is embedded and ranked once and every attack of
// the profile runs on it. Each (attack, batch) pair re-seeds libtorch's
// generator from (seed, attack kind, batch), so a number does not depend on
// which other attacks ran or in what order — `rankshield attack` reproduces a
// swipe column, and runs of one kind at several budgets share their selections.
import { dispose, manualSeed, noGrad, onDevice, SINGLE_PROCESS, tidy, Tensor, type ProcessGroup } from '../tensor/index.js';
import type { Metric, MetricName } from '../metric/metric.js';
import type { EmbeddingModel } from '../models/model.js';
import { mixSeed, testLoader, type DmlDataset } from '../data/index.js';
import {
  seedIdOf,
  methodSettings,
  attackBatch,
  buildBatchContext,
  createAttack,
  disposeBatchContext,
  getProfile,
  makeGallery,
  normOf,
  perRunSize,
  spqaXiRate,
  type AttackKind,
  type AttackExamples,
  type AttackOptions,
  type BatchContext,
  type Gallery,
  type MethodName,
  type MethodSettings,
  type PgdBudget,
  type Profile,
  type ProfileRun,
  type Surrogate,
} from '../attack/index.js';
import { embedDataset } from './embed.js';
import { readBenignMetrics, robrankBenignKeys, type BenignMetrics } from './benign.js';
import { progressBar } from '../util/progress.js';
import { allreduceNumbers } from '../tensor/index.js';
import { ATTACK_NAMES, adjustedRobustnessScore, empiricalRobustnessScore, type AttackResults } from './robustness.js';
import { bootstrapInfo, POINT_ESTIMATOR, type BootstrapInfo, type Interval } from './bootstrap.js';
import { BENIGN_R1_KEY, queryIndicesSha256, splitSha256, swipeIntervals, type SwipeProvenance } from './score-intervals.js';

/** Options of `runSwipe`. */
export interface SwipeOptions {
  /** A profile name of attack/profiles.ts (default 'rob28') or a profile object. */
  profile?: string | Profile;
  /** Limit on the number of query batches (RobRank's maxiter); default all. */
  maxIter?: number;
  /** Base seed of every selection (default 0). */
  seed?: number;
  /** Benign R@1 (%) for ARS; default: measured on the same gallery (drop-first, §2). */
  benignRecallAt1?: number;
  /** Non-reference behaviours (GTM intended target, …); default none. */
  attackOptions?: AttackOptions;
  /** How each attack searches its ε-ball (default 'pgd', the reference; attack/methods.ts). */
  method?: MethodName;
  /** The method's settings (restarts, queries, …). */
  methodSettings?: Partial<MethodSettings>;
  /**
   * Transfer: craft every adversarial image on this model (same input shape; its own gallery
   * embedding, the attacked model's selections) and measure it on the attacked model.
   */
  surrogate?: EmbeddingModel;
  /** The per-query bootstrap of the intervals (default B = 1000, seed 0, 95 %). */
  bootstrap?: Partial<Omit<BootstrapInfo, 'unit'>>;
  /** Called after each batch (progress). */
  onBatch?: (progress: SwipeProgress) => void;
  /** Called before each attack run of each batch (finer progress than onBatch). */
  onAttack?: (progress: SwipeAttackProgress) => void;
  /**
   * Stops the swipe before its next attack run (it throws the signal's reason).
   * With a signal the swipe yields to the event loop before each run, so an
   * abort sent by a message or a timer can arrive; without one it never yields.
   */
  signal?: AbortSignal;
  /** Keep what the attacks did to query batch 0 (images, neighbour lists) for pictures of it; default none. */
  examples?: SwipeExamplesOption;
  /** Progress bars with ETA on stderr: the gallery embedding, then one tick per attack per batch (default off). */
  progress?: boolean;
  /**
   * Share the queries over a process group: rank r attacks batches b ≡ r (mod W);
   * every batch is seeded by its index, and the per-batch numbers are summed in
   * batch order on every rank, so the result equals the one-process swipe's.
   */
  group?: ProcessGroup;
}

/** SwipeOptions.examples: `keep` sees each run's result on query batch 0 as the swipe computes it (no second attack). */
export interface SwipeExamplesOption {
  /** Neighbours listed per query before and after. */
  topK: number;
  /** Called once per profile run; the tensors are freed when it returns (clone what you keep). */
  keep: (example: SwipeExample) => void;
}

/** One profile run on query batch 0. */
export interface SwipeExample {
  run: ProfileRun;
  /** That batch's numbers. */
  values: Record<string, number>;
  examples: AttackExamples;
  /** [B, C, H, W] clean query images and their dataset indices. */
  clean: Tensor;
  indices: Int32Array;
}

/** What `onBatch` receives after each query batch. */
export interface SwipeProgress {
  batch: number;
  batches: number;
  queries: number;
  seconds: number;
  /** Running unweighted means over the batches so far. */
  attacks: Record<string, number>;
}

/** What `onAttack` receives before each attack run: `done` runs of `total` (= batches × runs) are finished. */
export interface SwipeAttackProgress {
  attack: AttackKind;
  /** 1-based index of the query batch being attacked, of `batches`. */
  batch: number;
  batches: number;
  done: number;
  total: number;
  seconds: number;
}

/** The outcome of a swipe (also the JSON the CLI prints and writes). */
export interface SwipeResult {
  profile: string;
  /** The metric's name (`Metric.name`). */
  metric: MetricName;
  /** Queries attacked (each by every attack of the profile). */
  queries: number;
  batches: number;
  /** The distinct PGD budgets of the profile's runs (one for rob28 / rob224). */
  budgets: PgdBudget[];
  /** The search method (attack/methods.ts) and, for a transfer swipe, that the images were crafted on a surrogate. */
  method?: { name: MethodName; settings: MethodSettings; transfer: boolean };
  /** Reported numbers keyed by table column (CA+ … GTT, plus extras like GTT:ID-Retain@1). */
  attacks: Record<string, number>;
  /** Benign R@1 (%) on the attacked batches, drop-first convention, or the one given. */
  benignRecallAt1: number;
  /** Empirical robustness score (ten ERS columns), null when the profile lacks one. */
  ERS: number | null;
  /** CA-TRIDE's score, null when the profile lacks a column. */
  ARS: number | null;
  /** True when benign R@1 < 5% (ARS ratios unreliable, §6.3). */
  lowBenignRecall: boolean;
  seconds: number;
  /** Of which embedding the gallery. */
  gallerySeconds: number;
  /** The model's benign metrics on the whole test split, when the caller adds them (the CLI: the checkpoint's). */
  benign?: Partial<BenignMetrics>;
  /** 95 % (or `bootstrap.confidence`) intervals of every attack column, benignRecallAt1, ERS and ARS, same keys. */
  intervals: Record<string, Interval>;
  bootstrap: BootstrapInfo;
  /** How the point estimates are made: RobRank's mean of per-batch means (the intervals resample queries). */
  estimator: typeof POINT_ESTIMATOR;
  /** What the swipe was made on (dataset, queries, profile, seeds): `compare` pairs only equal ones. */
  madeOn: SwipeProvenance;
  /** Each query's value per column (tables' units; benignRecallAt1 0 or 100), in query order: paired comparisons read them. */
  perQuery: Record<string, number[]>;
}

/** The fields a swipe JSON written before intervals existed lacks. */
type IntervalFields = 'intervals' | 'bootstrap' | 'estimator' | 'madeOn' | 'perQuery';
/** A swipe result as read back from a file: possibly written before intervals existed. */
export type StoredSwipeResult = Omit<SwipeResult, IntervalFields> & Partial<Pick<SwipeResult, IntervalFields>>;

/** Each query's benign hit (1 or 0): the per-query values behind `benignRecallAt1`. */
export function benignHits(ctx: BatchContext): number[] {
  return noGrad(() => tidy(() => ctx.gallery.labels.indexSelect(0, ctx.ranking.select(1, 1)).eq(ctx.labels).float().toArray()));
}

/** Embeds the whole split once, clean, in metric space, with its labels. Caller disposes both tensors. */
export async function embedGallery(
  model: EmbeddingModel,
  ds: DmlDataset,
  metric: Metric,
  batchSize: number,
  progress = false,
  group?: ProcessGroup,
): Promise<Gallery> {
  const raw = await embedDataset(model, ds, { batchSize, progress, group });
  const embeddings = tidy(() => metric.embed(raw));
  raw.dispose();
  const labels = tidy(() => onDevice(Tensor.fromTypedArray(ds.labels, [ds.length]).long(), model.device));
  return makeGallery(embeddings, labels, metric);
}

/** Benign R@1 of a batch (fraction), the reference's way: position 0 dropped as "self", position 1 judged. */
export function benignRecallAt1(ctx: BatchContext): number {
  return noGrad(() => tidy(() => ctx.gallery.labels.indexSelect(0, ctx.ranking.select(1, 1)).eq(ctx.labels).float().mean().item()));
}

/** One column name per reported number; runs whose columns repeat in a profile get their budget appended. */
function columnNames(runs: readonly { attack: AttackKind; budget: PgdBudget; options?: AttackOptions }[], reports: readonly (readonly string[])[]): string[][] {
  const count = new Map<string, number>();
  for (const r of reports) for (const c of r) count.set(c, (count.get(c) ?? 0) + 1);
  return runs.map((run, i) =>
    reports[i]!.map((c) => {
      if (count.get(c) === 1) return c;
      const size = perRunSize(run.attack, run.options ?? {});
      return `${c} ε=${run.budget.epsilon.toFixed(5)} α=${run.budget.alpha.toFixed(5)} η=${run.budget.steps} W/M=${size}`;
    }),
  );
}

/** The ten ERS columns when the swipe produced all of them. */
export function ersColumns(attacks: Record<string, number>): AttackResults | null {
  const table: Partial<AttackResults> = {};
  for (const name of ATTACK_NAMES) {
    const v = attacks[name];
    if (v === undefined) return null;
    table[name] = v;
  }
  return table as AttackResults; // every column checked above
}

/** The attack a profile run describes, with the dataset's SPQA rate and the caller's options. */
export function attackOfRun(run: ProfileRun, ds: DmlDataset, options: AttackOptions = {}): ReturnType<typeof createAttack> {
  return createAttack(run.attack, { spqaXiRate: spqaXiRate(ds.name), ...run.options, ...options });
}

/**
 * The generator seed of one attack kind on one query batch: a swipe's numbers do not depend on what else ran,
 * nor on where the kind sits in the catalogue (its entry's fixed seed id).
 */
export function attackSeed(seed: number, kind: AttackKind, batch: number): number {
  return mixSeed(seed, seedIdOf(kind), batch) >>> 0;
}

/**
 * One run of a profile on query batch `batch`, exactly as the swipe attacks it
 * (same seed), keeping the adversarial images and the top-k neighbour lists
 * before and after. The caller owns `examples.adversarial` and `clean`.
 */
export async function attackExamples(
  model: EmbeddingModel,
  ds: DmlDataset,
  metric: Metric,
  o: { run: ProfileRun; batchSize: number; batch?: number; seed?: number; attackOptions?: AttackOptions; topK?: number },
): Promise<{ values: Record<string, number>; examples: AttackExamples; clean: Tensor; indices: Int32Array }> {
  const batch = o.batch ?? 0;
  const gallery = await embedGallery(model, ds, metric, o.batchSize);
  const wasTraining = model.training;
  try {
    for await (const b of testLoader(ds, { batchSize: o.batchSize, onlyBatches: (k) => k === batch })) {
      const images = onDevice(b.images, model.device);
      const labels = onDevice(b.labels, model.device);
      const ctx = buildBatchContext(model, gallery, images, labels);
      try {
        manualSeed(attackSeed(o.seed ?? 0, o.run.attack, batch));
        const r = attackBatch(model, attackOfRun(o.run, ds, o.attackOptions), ctx, o.run.budget, { examples: o.topK ?? 10 });
        return { values: r.values, examples: r.examples!, clean: images === b.images ? images : (b.images.dispose(), images), indices: b.indices };
      } finally {
        disposeBatchContext(ctx);
        if (labels !== b.labels) b.labels.dispose();
        labels.dispose();
      }
    }
    throw new Error(`attackExamples: the split has no query batch ${batch}`);
  } finally {
    dispose([gallery.embeddings, gallery.labels]);
    model.train(wasTraining);
  }
}

/** Every attack of a profile over the split's queries against its clean gallery, then ERS and ARS (see the module comment). */
export async function runSwipe(model: EmbeddingModel, ds: DmlDataset, metric: Metric, o: SwipeOptions = {}): Promise<SwipeResult> {
  const plan = planSwipe(ds, o);
  const started = performance.now();
  const rows = await attackMyBatches(plan, model, ds, metric, o, started);
  return swipeResult(plan, rows, ds, metric, o, started);
}

/** What a swipe attacks: the profile's runs on the first `batches` query batches, and its report columns. */
interface SwipePlan {
  profile: Profile;
  runs: readonly ProfileRun[];
  seed: number;
  batches: number;
  attacks: ReturnType<typeof attackOfRun>[];
  /** Report columns in run order (ERS columns first where the profile has them). */
  flat: string[];
  group: ProcessGroup;
  /** Queries the swipe attacks, over all ranks. */
  queryCount: number;
}

function planSwipe(ds: DmlDataset, o: SwipeOptions): SwipePlan {
  const profile = typeof o.profile === 'object' ? o.profile : getProfile(o.profile ?? 'rob28');
  const runs = profile.runs;
  if (o.maxIter !== undefined && (!Number.isInteger(o.maxIter) || o.maxIter < 1))
    throw new Error(`swipe: maxIter must be a positive integer, got ${o.maxIter}`);
  const totalBatches = Math.ceil(ds.length / profile.batchSize);
  const batches = Math.min(totalBatches, o.maxIter ?? totalBatches);
  const attacks = runs.map((r) => attackOfRun(r, ds, o.attackOptions));
  const flat = columnNames(
    runs,
    attacks.map((a) => a.reports),
  ).flat();
  const queryCount = Math.min(ds.length, batches * profile.batchSize);
  return { profile, runs, seed: o.seed ?? 0, batches, attacks, flat, group: o.group ?? SINGLE_PROCESS, queryCount };
}

/**
 * This rank's numbers, in arrays every rank lays out alike (0 where other ranks fill in), so one sum
 * over the ranks assembles the swipe: per batch its benign R@1 and every column's batch mean; per
 * query its split index, benign hit (0/100) and every column's value.
 */
interface SwipeRows {
  batchRows: Float64Array;
  queryRows: Float64Array;
  gallerySeconds: number;
}

/** Step 1: the query batches of this rank, each attacked by every run of the profile under its fixed seed. */
async function attackMyBatches(plan: SwipePlan, model: EmbeddingModel, ds: DmlDataset, metric: Metric, o: SwipeOptions, started: number): Promise<SwipeRows> {
  const { profile, runs, seed, batches, attacks, flat, group } = plan;
  const mine = (b: number): boolean => b < batches && b % group.worldSize === group.rank;
  const rows = new Float64Array(batches * (1 + flat.length));
  const width = 2 + flat.length;
  const queryRows = new Float64Array(plan.queryCount * width);
  const sums = new Map<string, number>();
  let queries = 0;
  let done = 0;

  const wasTraining = model.training;
  const gallery = await embedGallery(model, ds, metric, profile.batchSize, o.progress, group);
  if (o.surrogate !== undefined) checkSurrogate(model, o.surrogate);
  const surrogateGallery = o.surrogate === undefined ? undefined : await embedGallery(o.surrogate, ds, metric, profile.batchSize, o.progress, group);
  const gallerySeconds = (performance.now() - started) / 1000;
  const settings = methodSettings(o.methodSettings);
  const myBatches = Array.from({ length: batches }, (_, b) => b).filter(mine);
  const bar = progressBar(o.progress, myBatches.length * runs.length, `swipe ${profile.name}`);
  try {
    model.eval();
    let k = 0;
    for await (const batch of testLoader(ds, { batchSize: profile.batchSize, onlyBatches: mine })) {
      const b = myBatches[k++]!;
      const row = b * (1 + flat.length);
      const { images, labels, ctx, surrogate } = batchContexts(
        model,
        gallery,
        batch,
        o.surrogate === undefined ? undefined : { model: o.surrogate, gallery: surrogateGallery! },
      );
      try {
        rows[row] = benignRecallAt1(ctx);
        const firstQuery = b * profile.batchSize;
        const hits = benignHits(ctx);
        batch.indices.forEach((index, q) => {
          queryRows[(firstQuery + q) * width] = index;
          queryRows[(firstQuery + q) * width + 1] = 100 * hits[q]!;
        });
        let c = 1;
        for (const [r, run] of runs.entries()) {
          if (o.signal !== undefined) {
            await new Promise((resolve) => setImmediate(resolve));
            o.signal.throwIfAborted();
          }
          o.onAttack?.({
            attack: run.attack,
            batch: done + 1,
            batches: myBatches.length,
            done: done * runs.length + r,
            total: myBatches.length * runs.length,
            seconds: (performance.now() - started) / 1000,
          });
          manualSeed(attackSeed(seed, run.attack, b));
          const keep = b === 0 ? o.examples : undefined;
          const { values, perImage, examples } = attackBatch(model, attacks[r]!, ctx, run.budget, {
            method: o.method,
            settings,
            ...(surrogate === undefined ? {} : { surrogate }),
            ...(keep === undefined ? {} : { examples: keep.topK }),
          });
          if (keep !== undefined) {
            try {
              keep.keep({ run, values, examples: examples!, clean: images, indices: batch.indices });
            } finally {
              examples!.adversarial.dispose();
            }
          }
          for (const report of attacks[r]!.reports) {
            const own = perImage[report]!;
            if (own.length !== batch.indices.length)
              throw new Error(`swipe: ${report} measured ${own.length} values for a batch of ${batch.indices.length} queries`);
            own.forEach((v, q) => (queryRows[(firstQuery + q) * width + 1 + c] = v));
            rows[row + c++] = values[report]!;
          }
          bar?.tick(1, `batch ${b + 1}/${batches} ${run.attack}`);
        }
      } finally {
        disposeBatchContext(ctx);
        if (surrogate !== undefined) disposeBatchContext(surrogate.ctx);
        dispose([images, labels]);
      }
      // This rank's running means (the whole swipe's numbers are summed in swipeResult).
      flat.forEach((col, i) => sums.set(col, (sums.get(col) ?? 0) + rows[row + 1 + i]!));
      queries += batch.indices.length;
      done++;
      o.onBatch?.({ batch: done, batches: myBatches.length, queries, seconds: (performance.now() - started) / 1000, attacks: means(sums, done) });
    }
  } finally {
    bar?.close();
    dispose([gallery.embeddings, gallery.labels, surrogateGallery?.embeddings, surrogateGallery?.labels]);
    model.train(wasTraining);
  }
  return { batchRows: rows, queryRows, gallerySeconds };
}

/** Step 2: every rank's rows summed, the means in batch order, ERS/ARS, the per-query intervals and where they were made. */
function swipeResult(plan: SwipePlan, mine: SwipeRows, ds: DmlDataset, metric: Metric, o: SwipeOptions, started: number): SwipeResult {
  const { profile, runs, seed, batches, flat, group, queryCount } = plan;
  const width = 2 + flat.length;
  const rows = allreduceNumbers(mine.batchRows, group);
  const queryRows = allreduceNumbers(mine.queryRows, group);
  // Sums in batch order: the same additions whatever the number of ranks.
  const sums = new Map<string, number>();
  let recallSum = 0;
  for (let b = 0; b < batches; b++) {
    const row = b * (1 + flat.length);
    recallSum += rows[row]!;
    flat.forEach((col, i) => sums.set(col, (sums.get(col) ?? 0) + rows[row + 1 + i]!));
  }
  const perQuery: Record<string, number[]> = {};
  [BENIGN_R1_KEY, ...flat].forEach((col, i) => (perQuery[col] = Array.from({ length: queryCount }, (_, q) => queryRows[q * width + 1 + i]!)));
  const info = bootstrapInfo(o.bootstrap);
  const intervals = swipeIntervals(perQuery, o.benignRecallAt1 ?? null, info);
  const method = o.method ?? 'pgd';
  const madeOn: SwipeProvenance = {
    dataset: ds.name,
    split: ds.split,
    splitSha256: splitSha256(ds),
    queries: queryCount,
    queryIndicesSha256: queryIndicesSha256(Array.from({ length: queryCount }, (_, q) => queryRows[q * width]!)),
    profile: profile.name,
    seed,
    method,
    transfer: o.surrogate !== undefined,
    attackOptions: JSON.stringify(Object.fromEntries(Object.entries(o.attackOptions ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)))),
    benignRecallAt1Given: o.benignRecallAt1 ?? null,
  };

  const attacksOut = means(sums, batches);
  const benign = o.benignRecallAt1 ?? (100 * recallSum) / batches;
  const table = ersColumns(attacksOut);
  const ers = table === null ? null : empiricalRobustnessScore(table);
  let ars: number | null = null;
  let lowBenignRecall = false;
  if (table !== null && benign > 0) {
    const a = adjustedRobustnessScore(table, benign);
    ars = a.score;
    lowBenignRecall = a.lowBenignRecall;
  }
  return {
    profile: profile.name,
    metric: metric.name,
    queries: queryCount,
    batches,
    budgets: distinctBudgets(runs.map((r) => r.budget)),
    ...(o.method === undefined && o.surrogate === undefined
      ? {}
      : { method: { name: method, settings: methodSettings(o.methodSettings), transfer: o.surrogate !== undefined } }),
    attacks: attacksOut,
    benignRecallAt1: benign,
    ERS: ers,
    ARS: ars,
    lowBenignRecall,
    seconds: (performance.now() - started) / 1000,
    gallerySeconds: mine.gallerySeconds,
    intervals,
    bootstrap: info,
    estimator: POINT_ESTIMATOR,
    madeOn,
    perQuery,
  };
}

/**
 * A swipe result with the benign metrics a checkpoint stored (and the same
 * numbers under RobRank's names), as `swipe --json` prints it; unchanged when
 * there are none (a --model-file, or a checkpoint taken before any evaluation).
 */
export function withStoredBenign(r: SwipeResult, stored: Readonly<Record<string, number>> | null): SwipeResult & { robrank?: Record<string, number> } {
  const benign = stored === null ? {} : readBenignMetrics(stored);
  return Object.keys(benign).length === 0 ? r : { ...r, benign, robrank: robrankBenignKeys(benign) };
}

/**
 * A query batch on the model's device (decoded on the CPU, uploaded per batch: a no-op on the CPU)
 * with its context, and the surrogate's context of the same images for a transfer attack.
 * The caller disposes the images, labels and contexts.
 */
export function batchContexts(
  model: EmbeddingModel,
  gallery: Gallery,
  batch: { images: Tensor; labels: Tensor },
  surrogate?: { model: EmbeddingModel; gallery: Gallery },
): { images: Tensor; labels: Tensor; ctx: BatchContext; surrogate: Surrogate | undefined } {
  const images = onDevice(batch.images, model.device);
  const labels = onDevice(batch.labels, model.device);
  if (images !== batch.images) batch.images.dispose();
  if (labels !== batch.labels) batch.labels.dispose();
  const ctx = buildBatchContext(model, gallery, images, labels);
  return {
    images,
    labels,
    ctx,
    surrogate: surrogate === undefined ? undefined : { model: surrogate.model, ctx: buildBatchContext(surrogate.model, surrogate.gallery, images, labels) },
  };
}

/** A surrogate must take the attacked model's inputs. */
export function checkSurrogate(model: EmbeddingModel, surrogate: EmbeddingModel): void {
  if (surrogate.inputShape.join(',') !== model.inputShape.join(',')) {
    throw new Error(`transfer: the surrogate takes inputs [${surrogate.inputShape.join(', ')}], the attacked model [${model.inputShape.join(', ')}]`);
  }
}

function distinctBudgets(all: readonly PgdBudget[]): PgdBudget[] {
  const seen = new Map<string, PgdBudget>();
  // An L∞ budget stays without a `norm` field (the JSON of L∞ swipes is unchanged).
  for (const b of all)
    seen.set(`${b.epsilon}/${b.alpha}/${b.steps}/${normOf(b)}`, {
      epsilon: b.epsilon,
      alpha: b.alpha,
      steps: b.steps,
      ...(normOf(b) === 'l2' ? { norm: 'l2' as const } : {}),
    });
  return [...seen.values()];
}

function means(sums: Map<string, number>, batches: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of sums) out[k] = v / Math.max(1, batches);
  return out;
}

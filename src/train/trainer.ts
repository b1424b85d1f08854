// Layer: train. The DML trainer: SPC-2 batches → the defense's training step
// (mining, adversarial inputs, loss) → Adam, with evaluation, checkpoints and a
// JSONL log, and exact resumption from any checkpoint, also inside an epoch.
//
// Reproducibility: libtorch's generator (mining, init, PGD starts) is re-seeded
// from (seed, epoch) at the start of every epoch and batch order is a pure
// function of (seed, epoch). A checkpoint inside an epoch also records the
// generator's state and the epoch's running sums, so a run resumed from any
// checkpoint continues exactly as the uninterrupted run would have.
//
// Losing work: a checkpoint is committed every `checkpointEvery` steps or
// seconds (default: every DEFAULT_CHECKPOINT_SECONDS), at the end of every
// epoch before its evaluation, and when the `signal` aborts (SIGINT/SIGTERM in
// the CLI): the current step finishes, a checkpoint is written, and
// TrainingInterrupted says where to resume.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { dispose, manualSeed, rngState, setRngState, tidy } from '../tensor/index.js';
import { Adam } from '../optim/index.js';
import { openDataset, spc2Loader, type DmlDataset } from '../data/index.js';
import { minerByName } from '../metric/miners.js';
import { buildDefense } from '../defense/registry.js';
import type { Defense, DefenseStats } from '../defense/defense.js';
import { evaluateBenign, type BenignMetrics } from '../eval/benign.js';
import type { EmbeddingModel } from '../models/model.js';
import {
  createModel, latestGoodCheckpoint, loadModelWeights, loadOptimizerState, saveCheckpoint,
  type CheckpointInfo, type CheckpointState, type EpochProgress, type TrainingPosition, type VerifiedCheckpoint,
} from './checkpoint.js';
import { validateConfig, type ExperimentConfig } from './config.js';
import { ProgressBar } from './progress.js';
import { writeReport } from './report.js';
import { RunDirectory } from './run-dir.js';

/** Without --checkpoint-every, a checkpoint at least this often (a kill loses minutes, not an epoch). */
export const DEFAULT_CHECKPOINT_SECONDS = 300;

export interface CheckpointEvery {
  /** Optimizer steps between checkpoints inside an epoch (0 = only by time). */
  steps?: number;
  /** Seconds between checkpoints inside an epoch (default DEFAULT_CHECKPOINT_SECONDS; 0 = only by steps). */
  seconds?: number;
}

export interface TrainOptions {
  config: ExperimentConfig;
  /** Run directory: checkpoints, log.jsonl, report.json, report.md. */
  outDir: string;
  /** Continue from the newest complete checkpoint in outDir (an error if there is none). */
  resume?: boolean;
  /** Replace a run already in outDir (its files only). */
  overwrite?: boolean;
  /** Show progress bars on stderr. */
  progress?: boolean;
  checkpointEvery?: CheckpointEvery;
  /** Aborting it stops training cleanly after the current step, with a checkpoint (TrainingInterrupted). */
  signal?: AbortSignal;
  /** Things a user should know that are not errors (a fallback to an older checkpoint, where training resumes). */
  onNotice?: (message: string) => void;
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  seconds: number;
  steps: number;
  metrics?: BenignMetrics;
  /** Per-step defense accounting, averaged over the epoch (forward/backward passes, hardness, …). */
  defense: Record<string, number>;
}

export interface TrainResult {
  config: ExperimentConfig;
  epochs: EpochRecord[];
  final: BenignMetrics;
  seconds: number;
  outDir: string;
}

/** Training stopped on request after committing a checkpoint; `position` is where it resumes. */
export class TrainingInterrupted extends Error {
  override name = 'TrainingInterrupted';
  constructor(readonly reason: string, readonly position: TrainingPosition, readonly outDir: string) {
    super(`${reason}: stopped at epoch ${position.epoch + 1}, step ${position.step} with a checkpoint in ${outDir}`);
  }
}

/** Mixes run seed and epoch into the libtorch seed of that epoch. */
const epochSeed = (seed: number, epoch: number): number => (seed * 1_000_003 + epoch * 7919 + 17) % 2 ** 31;

/** Everything a checkpoint records about where training stands. */
interface RunState {
  epoch: number;
  position: TrainingPosition;
  pendingEval: boolean;
  metrics: Record<string, number>;
  rngState: string | null;
  epochProgress: EpochProgress | null;
}

const FRESH: RunState = { epoch: -1, position: { epoch: 0, step: 0 }, pendingEval: false, metrics: {}, rngState: null, epochProgress: null };

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const config = validateConfig({ ...opts.config });
  if (opts.resume && opts.overwrite) throw new Error('--resume and --overwrite exclude each other');
  const run = RunDirectory.open(opts.outDir, opts.resume ? 'resume' : opts.overwrite ? 'overwrite' : 'new');
  try {
    // Everything that can be refused is refused before the data is loaded.
    const from = opts.resume ? checkpointToResume(run.dir, config, opts.onNotice) : null;
    const data = await openDataset(config.dataset);
    manualSeed(config.seed);
    const model = createModel(config);
    const opt = new Adam(model.parameters(), { lr: config.lr, weightDecay: config.weightDecay });
    try {
      const defense = buildDefense(config.defense, data.train.height, config.loss);
      let state = FRESH;
      if (from !== null) {
        loadModelWeights(from, model);
        loadOptimizerState(from, opt);
        defense.loadState?.(from.info.defenseState);
        state = stateOf(from.info);
        run.truncateLog(from.info.logBytes);
        run.log({ event: 'resume', ...state.position, pid: process.pid });
        opts.onNotice?.(`resuming ${run.dir} at epoch ${state.position.epoch + 1}, step ${state.position.step}`);
      } else {
        run.log({ event: 'start', pid: process.pid, config });
      }
      return await new TrainingRun(config, run, model, opt, defense, data.test, opts).run(data.train, state);
    } finally {
      opt.dispose();
      model.dispose();
    }
  } finally {
    run.close();
  }
}

/** The newest complete checkpoint, checked to belong to this config (only the epoch count may grow). */
function checkpointToResume(dir: string, config: ExperimentConfig, notice?: (m: string) => void): VerifiedCheckpoint {
  const ck = latestGoodCheckpoint(dir);
  if (ck.problem !== undefined) notice?.(`${ck.problem}\n  → falling back to the previous complete checkpoint ${ck.base}`);
  if (JSON.stringify({ ...ck.info.config, epochs: 0 }) !== JSON.stringify({ ...config, epochs: 0 })) {
    throw new Error(`--resume: the checkpoint in ${dir} was trained with a different config; use another --out`);
  }
  if (ck.info.position.epoch > config.epochs) throw new Error(`--resume: the checkpoint is at epoch ${ck.info.position.epoch}, beyond --epochs ${config.epochs}`);
  return ck;
}

function stateOf(info: CheckpointInfo): RunState {
  return { epoch: info.epoch, position: info.position, pendingEval: info.pendingEval, metrics: info.metrics, rngState: info.rngState, epochProgress: info.epochProgress };
}

/** One training process over a run directory: the epoch loop, evaluation and checkpoint policy. */
class TrainingRun {
  readonly #started = Date.now();
  readonly #records: EpochRecord[] = [];
  #final: BenignMetrics | undefined;
  #lastCheckpoint = { time: Date.now(), step: 0 };

  constructor(
    readonly config: ExperimentConfig,
    readonly dir: RunDirectory,
    readonly model: EmbeddingModel,
    readonly opt: Adam,
    readonly defense: Defense,
    readonly test: DmlDataset,
    readonly opts: TrainOptions,
  ) {}

  async run(trainSet: DmlDataset, state: RunState): Promise<TrainResult> {
    const { config } = this;
    this.#lastCheckpoint.step = this.opt.stepCount;
    if (Object.keys(state.metrics).length > 0) this.#final = state.metrics as unknown as BenignMetrics;
    if (state.pendingEval && state.epochProgress !== null) state = await this.#finishEpoch(state.epochProgress, true);
    for (let epoch = state.position.epoch; epoch < config.epochs; epoch++) {
      const resumeInside = epoch === state.position.epoch && state.position.step > 0 && state.epochProgress !== null;
      const progress = await trainEpoch({
        model: this.model, opt: this.opt, defense: this.defense, train: trainSet, config, epoch, progress: this.opts.progress ?? false,
        firstStep: this.opt.stepCount - (resumeInside ? state.position.step : 0),
        resumeFrom: resumeInside ? { progress: state.epochProgress!, rngState: state.rngState } : undefined,
        onStep: (s) => this.dir.log({ event: 'step', ...s }),
        afterStep: (p, isLast) => this.#afterStep(p, isLast, state),
      });
      const evalDue = epoch === config.epochs - 1 || (epoch + 1) % config.evalEvery === 0;
      state = await this.#finishEpoch(progress, evalDue);
      if (epoch < config.epochs - 1) this.#stopIfAsked(state.position);
    }
    const final = this.#final ?? (await evaluateBenign(this.model, this.test, config.metric));
    const result: TrainResult = { config, epochs: this.#records, final, seconds: (Date.now() - this.#started) / 1000, outDir: this.dir.dir };
    try {
      writeReport(this.dir.dir, result);
    } catch (e) {
      // The training is committed; a report that cannot be written must not throw it away.
      this.opts.onNotice?.(`could not write the report (${(e as Error).message}); the checkpoint and log.jsonl are complete`);
    }
    return result;
  }

  /** Commits the trained epoch (before evaluating it, so a kill during evaluation loses no training), evaluates, logs. */
  async #finishEpoch(p: EpochProgress, evaluate: boolean): Promise<RunState> {
    const done: RunState = { epoch: p.epoch, position: { epoch: p.epoch + 1, step: 0 }, pendingEval: evaluate, metrics: { ...(this.#final ?? {}) }, rngState: null, epochProgress: evaluate ? p : null };
    const rec: EpochRecord = { epoch: p.epoch, loss: p.lossSum / Math.max(1, p.steps), seconds: p.seconds, steps: p.steps, defense: meanStats(p) };
    if (evaluate) {
      this.#commit(done);
      rec.metrics = await evaluateBenign(this.model, this.test, this.config.metric);
      this.#final = rec.metrics;
    }
    this.#records.push(rec);
    this.dir.log({ event: 'epoch', ...rec });
    const after: RunState = { ...done, pendingEval: false, epochProgress: null, metrics: { ...(this.#final ?? {}) } };
    this.#commit(after);
    if (this.opts.progress) {
      const m = rec.metrics ? `  R@1 ${(100 * rec.metrics['R@1']).toFixed(1)}  mAP ${(100 * rec.metrics.mAP).toFixed(1)}` : '';
      process.stderr.write(`epoch ${p.epoch + 1}/${this.config.epochs}: loss ${rec.loss.toFixed(4)}  ${rec.seconds.toFixed(0)} s${m}\n`);
    }
    return after;
  }

  /** Between steps: a checkpoint when one is due or training must stop; then let signals in. */
  async #afterStep(p: EpochProgress, isLastOfEpoch: boolean, before: RunState): Promise<void> {
    const aborted = this.opts.signal?.aborted === true;
    const every = this.opts.checkpointEvery ?? {};
    const seconds = every.seconds ?? DEFAULT_CHECKPOINT_SECONDS;
    const due =
      ((every.steps ?? 0) > 0 && this.opt.stepCount - this.#lastCheckpoint.step >= every.steps!) ||
      (seconds > 0 && Date.now() - this.#lastCheckpoint.time >= seconds * 1000);
    // The epoch's own checkpoint follows its last step at once, unless training stops here.
    if (aborted || (due && !isLastOfEpoch)) {
      const position = { epoch: p.epoch, step: p.steps };
      if (aborted) this.dir.log({ event: 'interrupted', ...position, reason: String(this.opts.signal!.reason) });
      this.#commit({ ...before, epoch: p.epoch - 1, position, pendingEval: false, metrics: { ...(this.#final ?? {}) }, rngState: Buffer.from(rngState()).toString('base64'), epochProgress: p });
      this.#stopIfAsked(position);
    }
    // Signals (SIGINT/SIGTERM) are delivered between event-loop turns; the step loop is otherwise synchronous.
    await nextTurn();
  }

  /** After a committed checkpoint at `position`: stop there if the signal has aborted. */
  #stopIfAsked(position: TrainingPosition): void {
    const signal = this.opts.signal;
    if (signal?.aborted !== true) return;
    throw new TrainingInterrupted(String(signal.reason), position, this.dir.dir);
  }

  #commit(s: RunState): void {
    const state: CheckpointState = { config: this.config, ...s, defenseState: this.defense.state?.() ?? {}, logBytes: this.dir.logBytes() };
    saveCheckpoint(this.dir.dir, this.model, this.opt, state);
    this.#lastCheckpoint = { time: Date.now(), step: this.opt.stepCount };
  }
}

/** One epoch of SPC-2 training with the configured defense (exported for `bench train`). */
export interface EpochOptions {
  model: EmbeddingModel;
  opt: Adam;
  defense: Defense;
  train: DmlDataset;
  config: ExperimentConfig;
  epoch: number;
  progress?: boolean;
  /** Global index of the epoch's first step (CA-TRIDE alternates on it). */
  firstStep?: number;
  /** Continue an epoch from a checkpoint taken inside it: its running sums and generator state. */
  resumeFrom?: { progress: EpochProgress; rngState: string | null };
  /** Called after every optimizer step with its loss and defense accounting. */
  onStep?: (step: { epoch: number; step: number; loss: number } & DefenseStats) => void;
  /** Awaited after every step with the epoch's running sums (checkpoints, interruption). */
  afterStep?: (progress: EpochProgress, isLastOfEpoch: boolean) => Promise<void>;
}

export async function trainEpoch(o: EpochOptions): Promise<EpochProgress> {
  const { model, opt, defense, train, config, epoch } = o;
  const firstStep = o.firstStep ?? 0;
  const p: EpochProgress = o.resumeFrom ? structuredClone(o.resumeFrom.progress) : { epoch, steps: 0, lossSum: 0, seconds: 0, statSums: {}, statCount: 0 };
  if (p.epoch !== epoch) throw new Error(`resume: the saved progress is of epoch ${p.epoch + 1}, not ${epoch + 1}`);
  manualSeed(epochSeed(config.seed, epoch));
  if (o.resumeFrom?.rngState) setRngState(new Uint8Array(Buffer.from(o.resumeFrom.rngState, 'base64')));
  const miner = minerByName(config.miner);
  const full = spc2Loader(train, { seed: config.seed, epoch, batchPairs: config.batchPairs }).batches;
  const total = config.maxBatches > 0 ? Math.min(config.maxBatches, full) : full;
  if (p.steps > total) throw new Error(`resume: the checkpoint is at step ${p.steps} of epoch ${epoch + 1}, which has ${total} steps`);
  const loader = spc2Loader(train, { seed: config.seed, epoch, batchPairs: config.batchPairs, startBatch: p.steps });
  const bar = o.progress ? new ProgressBar(total, `epoch ${epoch + 1}/${config.epochs}`) : null;
  bar?.tick(p.steps);
  let since = Date.now();
  try {
    for await (const batch of loader) {
      if (p.steps >= total) break; // resumed after the epoch's last step: nothing left to train
      const { loss, stepStats } = tidy(() => {
        const s = defense.step({
          model, images: batch.images, labels: batch.labels, metric: config.metric, margin: config.margin, miner,
          epoch, maxEpochs: config.epochs, step: firstStep + p.steps,
        });
        opt.zeroGrad();
        s.loss.backward();
        return { loss: s.loss.item(), stepStats: s.stats };
      });
      opt.step();
      dispose([batch.images, batch.labels]);
      if (!Number.isFinite(loss)) throw new Error(`epoch ${epoch + 1}, step ${p.steps + 1}: the loss became ${loss}`);
      o.onStep?.({ epoch, step: firstStep + p.steps, loss, ...stepStats });
      addStep(p, loss, stepStats);
      const now = Date.now();
      p.seconds += (now - since) / 1000;
      since = now;
      bar?.tick(1, `loss ${(p.lossSum / p.steps).toFixed(4)}`);
      await o.afterStep?.(p, p.steps >= total);
      since = Date.now();
      if (p.steps >= total) break;
    }
  } finally {
    await loader.close();
  }
  return p;
}

function addStep(p: EpochProgress, loss: number, s: DefenseStats): void {
  p.steps += 1;
  p.lossSum += loss;
  p.statCount += 1;
  for (const [k, v] of Object.entries(s)) if (typeof v === 'number') p.statSums[k] = (p.statSums[k] ?? 0) + v;
}

/** Per-step defense statistics averaged over the epoch. */
export function meanStats(p: EpochProgress): Record<string, number> {
  return Object.fromEntries(Object.entries(p.statSums).map(([k, v]) => [k, v / Math.max(1, p.statCount)]));
}

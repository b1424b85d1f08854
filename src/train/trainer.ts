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
//
// Keeping epochs (--keep-every N): the end-of-epoch commit of epochs N, 2N, …
// and of the last epoch is kept under epochs/ (run/kept-epochs.ts); those epochs are
// always evaluated, so each kept commit holds its own benign metrics. The
// policy is saved in every checkpoint, so a resumed run keeps the same epochs.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CPU, dispose, manualSeed, onDevice, rngState, setRngState, SINGLE_PROCESS, tidy, type Device, type ProcessGroup } from '../tensor/index.js';
import { Adam } from '../optim/index.js';
import { openDataset, spc2Loader, type Batch, type DmlDataset } from '../data/index.js';
import { minerByName } from '../metric/miners.js';
import { metricByName } from '../metric/metric.js';
import { buildDefense } from '../defense/registry.js';
import { DEFENSE_STAT_KEYS, type DefenseStats, type RunDefense } from '../defense/defense.js';
import { evaluateBenign, type BenignMetrics } from '../eval/benign.js';
import type { EmbeddingModel } from '../models/model.js';
import { createModel, keepModuleFile, runConfig } from '../run/model-factory.js';
import {
  latestGoodCheckpoint,
  loadModelWeights,
  loadOptimizerState,
  readCheckpoint,
  type CheckpointInfo,
  type CheckpointState,
  type DeviceRngState,
  type EpochProgress,
  type KeepPolicy,
  type TrainingPosition,
  type VerifiedCheckpoint,
} from '../run/checkpoint.js';
import { repairKeptEpoch } from '../run/kept-epochs.js';
import { saveCheckpoint } from '../run/commit.js';
import { canonicalJson, resolveConfig, type ExperimentConfig } from '../run/config.js';
import { ProgressBar } from '../util/progress.js';
import { writeReport } from './report.js';
import type { EpochRecord, TrainResult } from './records.js';
import { RunDirectory } from '../run/run-dir.js';
import { allreduceGradients, pairRange, shardSeed, shardsOfRank } from './data-parallel.js';
import { allreduceNumbers, broadcastJson } from '../tensor/index.js';

/** Without --checkpoint-every, a checkpoint at least this often (a kill loses minutes, not an epoch). */
export const DEFAULT_CHECKPOINT_SECONDS = 300;

/** How often a checkpoint is committed inside an epoch. */
export interface CheckpointEvery {
  /** Optimizer steps between checkpoints inside an epoch (0 = only by time). */
  steps?: number;
  /** Seconds between checkpoints inside an epoch (default DEFAULT_CHECKPOINT_SECONDS; 0 = only by steps). */
  seconds?: number;
}

/** Input of `train`. */
export interface TrainOptions {
  config: ExperimentConfig;
  /** Run directory: checkpoints, log.jsonl, report.json, report.md. */
  outDir: string;
  /** Continue from the newest complete checkpoint in outDir (an error if there is none); 'auto': if there is one, else start. */
  resume?: boolean | 'auto';
  /** Replace a run already in outDir (its files only). */
  overwrite?: boolean;
  /** Show progress bars on stderr. */
  progress?: boolean;
  checkpointEvery?: CheckpointEvery;
  /** Aborting it stops training cleanly after the current step, with a checkpoint (TrainingInterrupted). */
  signal?: AbortSignal;
  /** Things a user should know that are not errors (a fallback to an older checkpoint, where training resumes). */
  onNotice?: (message: string) => void;
  /** Data-parallel training: this process's group (default: this process alone). Rank 0 writes the run directory. */
  group?: ProcessGroup;
  /** Where the model, optimizer state and PGD run (default 'cpu'); checkpoints stay device-independent. */
  device?: Device;
  /**
   * Keep every N-th epoch's checkpoint (and the last epoch's) under epochs/ (default none). A resumed
   * run keeps its own policy: give the same N or leave it out.
   */
  keepEvery?: number;
  /** How this rank was started (launcher, torchrun's restart count and group rank …): recorded in the log's start/resume lines. */
  launch?: Readonly<Record<string, string | number>>;
}

/** Whether a run keeping every `every`-th epoch keeps epoch `epoch` (0-based) of `epochs`: N, 2N, … and the last. */
export function keepsEpoch(every: number, epoch: number, epochs: number): boolean {
  return (epoch + 1) % every === 0 || epoch === epochs - 1;
}

export type { EpochRecord, TrainResult } from './records.js';

/** Training stopped on request after committing a checkpoint; `position` is where it resumes. */
export class TrainingInterrupted extends Error {
  override name = 'TrainingInterrupted';
  constructor(
    readonly reason: string,
    readonly position: TrainingPosition,
    readonly outDir: string,
  ) {
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
  /** A CUDA run's device generator state at `position` (inside an epoch). */
  deviceRngState?: DeviceRngState;
  epochProgress: EpochProgress | null;
}

const FRESH: RunState = { epoch: -1, position: { epoch: 0, step: 0 }, pendingEval: false, metrics: {}, rngState: null, epochProgress: null };

/**
 * Trains `config` into `outDir` (checkpoints, log.jsonl, report.json/.md, training.svg) and returns the
 * final benign metrics. `resume` continues exactly from the newest committed checkpoint; after a clean
 * stop on `signal` it throws TrainingInterrupted, which says where to resume.
 */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const group = opts.group ?? SINGLE_PROCESS;
  const lead = group.rank === 0;
  if (opts.resume && opts.overwrite) throw new Error('--resume and --overwrite exclude each other');
  // Only rank 0 owns the run directory; the others learn from it what to resume.
  const run = lead ? RunDirectory.open(opts.outDir, opts.resume === 'auto' ? 'auto' : opts.resume ? 'resume' : opts.overwrite ? 'overwrite' : 'new') : null;
  try {
    // Everything that can be refused is refused before the data is loaded.
    const from = resumePoint(run, opts, group);
    const config = agreedConfig(opts.config, from, group, opts.resume === 'auto' ? 'auto-resume' : 'resume');
    const keep = keepPolicy(opts.keepEvery, from);
    const data = await openDataset(config.dataset, config.root === undefined ? {} : { root: config.root });
    manualSeed(config.seed);
    // Parameters move before the optimizer sees them; its state is then made on the same device.
    // A resumed run takes its weights from the checkpoint: the --pretrained file is not read again.
    const model = createModel(from === null ? config : runConfig(config, from.base), from === null ? 'initial' : 'checkpoint').to(opts.device ?? CPU);
    if (from === null && run !== null) keepModuleFile(config, run.dir);
    const opt = new Adam(model.parameters(), { lr: config.lr, weightDecay: config.weightDecay });
    let defense: RunDefense | undefined;
    try {
      defense = buildDefense(config);
      let state = FRESH;
      if (from !== null) {
        loadModelWeights(from, model);
        const tensors = loadOptimizerState(from, opt);
        try {
          defense.loadTensors(tensors);
        } finally {
          dispose([...tensors.values()]);
        }
        defense.loadState(from.info.defenseState);
        state = stateOf(from.info);
        run?.truncateLog(from.info.logBytes);
        if (run !== null) repairKeptEpoch(run.dir, from);
        run?.log({
          event: 'resume',
          ...state.position,
          pid: process.pid,
          worldSize: group.worldSize,
          ...(opts.launch !== undefined ? { launch: opts.launch } : {}),
        });
        if (lead) opts.onNotice?.(`${restartNote(opts.launch)}resuming ${opts.outDir} at epoch ${state.position.epoch + 1}, step ${state.position.step}`);
      } else {
        run?.log({ event: 'start', pid: process.pid, worldSize: group.worldSize, config, ...(opts.launch !== undefined ? { launch: opts.launch } : {}) });
        if (lead && opts.resume === 'auto') opts.onNotice?.(`${restartNote(opts.launch)}no checkpoint in ${opts.outDir} yet: starting the run`);
      }
      return await new TrainingRun(config, run, model, opt, defense, data.test, opts, group, keep).run(data.train, state);
    } finally {
      defense?.dispose();
      opt.dispose();
      model.dispose();
    }
  } finally {
    run?.close();
  }
}

/** "torchrun restart 1 of at most 2: " when an elastic launcher restarted this group. */
function restartNote(launch: TrainOptions['launch']): string {
  const restart = launch?.restart;
  return typeof restart === 'number' && restart > 0 ? `${launch!.launcher} restart ${restart} of at most ${launch!.maxRestarts}: ` : '';
}

/** The checkpoint to resume, or null to start (rank 0 picks it; every rank reads and verifies the same commit). */
function resumePoint(run: RunDirectory | null, opts: TrainOptions, group: ProcessGroup): VerifiedCheckpoint | null {
  if (!opts.resume) return null;
  const picked = run === null || !run.resuming ? undefined : latestGoodCheckpoint(run.dir);
  if (picked?.problem !== undefined) opts.onNotice?.(`${picked.problem}\n  → falling back to the previous complete checkpoint ${picked.base}`);
  const base = broadcastJson<string | null>(picked?.base ?? null, group);
  if (base === null) return null;
  return picked ?? readCheckpoint(base);
}

/**
 * The config every rank trains: the caller's, with `shards` taken from the
 * checkpoint on resume (or the world size on a fresh run) when not given; on
 * resume only the epoch count may differ from the checkpoint's. Ranks check
 * that they were all started with the same config.
 */
function agreedConfig(given: ExperimentConfig, from: VerifiedCheckpoint | null, group: ProcessGroup, resumeFlag: string): ExperimentConfig {
  const shards = given.shards ?? (from !== null ? from.info.config.shards : group.worldSize > 1 ? group.worldSize : undefined);
  const config = resolveConfig({ ...given, ...(shards !== undefined ? { shards } : {}) });
  // Paths may differ (a moved --pretrained or --root); what is trained may not.
  const comparable = (c: ExperimentConfig): Record<string, unknown> =>
    JSON.parse(canonicalJson({ ...resolveConfig(c), epochs: 0, root: undefined, pretrained: undefined, modelFile: undefined })) as Record<string, unknown>;
  if (from !== null) {
    const differences = configDifferences(comparable(from.info.config), comparable(config));
    if (differences.length > 0) {
      throw new Error(
        `--${resumeFlag}: the checkpoint in ${from.base} was trained with a different config (${differences.join('; ')}); use another --out, or --overwrite to replace that run`,
      );
    }
  }
  if (from !== null && from.info.position.epoch > config.epochs) {
    throw new Error(`--resume: the checkpoint is at epoch ${from.info.position.epoch}, beyond --epochs ${config.epochs}`);
  }
  shardsOfRank(group.rank, group.worldSize, config.shards ?? 1);
  const lead = broadcastJson(group.rank === 0 ? config : undefined, group);
  if (JSON.stringify(lead) !== JSON.stringify(config)) {
    throw new Error(`rank ${group.rank} was started with a different config than rank 0 (start every rank with the same arguments)`);
  }
  return config;
}

/** The fields (dotted paths) where two configs differ, as "field: checkpoint's → given". */
function configDifferences(saved: unknown, given: unknown, at = ''): string[] {
  if (typeof saved === 'object' && saved !== null && typeof given === 'object' && given !== null && !Array.isArray(saved) && !Array.isArray(given)) {
    const keys = [...new Set([...Object.keys(saved), ...Object.keys(given)])].sort();
    return keys.flatMap((k) => configDifferences((saved as Record<string, unknown>)[k], (given as Record<string, unknown>)[k], at === '' ? k : `${at}.${k}`));
  }
  return JSON.stringify(saved) === JSON.stringify(given) ? [] : [`${at}: ${JSON.stringify(saved) ?? 'unset'} → ${JSON.stringify(given) ?? 'unset'}`];
}

/** The run's keep policy: a new run's from --keep-every; a resumed run's from its checkpoint (a different --keep-every is refused). */
function keepPolicy(every: number | undefined, from: VerifiedCheckpoint | null): KeepPolicy | undefined {
  if (every !== undefined && (!Number.isInteger(every) || every < 1)) throw new Error(`--keep-every must be a positive integer, got ${every}`);
  if (from === null) return every === undefined ? undefined : { every, epochs: [] };
  const saved = from.info.keep;
  if (every !== undefined && saved?.every !== every) {
    throw new Error(
      `--resume: the run was started ${saved === undefined ? 'without --keep-every' : `with --keep-every ${saved.every}`}, not --keep-every ${every} (a resumed run keeps the same epochs; leave it out)`,
    );
  }
  return saved;
}

function stateOf(info: CheckpointInfo): RunState {
  return {
    epoch: info.epoch,
    position: info.position,
    pendingEval: info.pendingEval,
    metrics: info.metrics,
    rngState: info.rngState,
    epochProgress: info.epochProgress,
    ...(info.deviceRngState !== undefined ? { deviceRngState: info.deviceRngState } : {}),
  };
}

/** One training process over a run directory: the epoch loop, evaluation and checkpoint policy. */
class TrainingRun {
  readonly #started = Date.now();
  readonly #records: EpochRecord[] = [];
  #final: BenignMetrics | undefined;
  #lastCheckpoint = { time: Date.now(), step: 0 };
  /** The keep policy and the epochs kept so far (rank 0's copy; undefined without --keep-every). */
  #keep: KeepPolicy | undefined;

  constructor(
    readonly config: ExperimentConfig,
    /** The run directory; null on ranks other than 0, which write nothing. */
    readonly dir: RunDirectory | null,
    readonly model: EmbeddingModel,
    readonly opt: Adam,
    readonly defense: RunDefense,
    readonly test: DmlDataset,
    readonly opts: TrainOptions,
    readonly group: ProcessGroup,
    keep: KeepPolicy | undefined,
  ) {
    this.#keep = keep;
  }

  async run(trainSet: DmlDataset, state: RunState): Promise<TrainResult> {
    const { config } = this;
    this.#lastCheckpoint.step = this.opt.stepCount;
    if (Object.keys(state.metrics).length > 0) this.#final = state.metrics as unknown as BenignMetrics;
    if (state.pendingEval && state.epochProgress !== null) state = await this.#finishEpoch(state.epochProgress, true);
    for (let epoch = state.position.epoch; epoch < config.epochs; epoch++) {
      const resumeInside = epoch === state.position.epoch && state.position.step > 0 && state.epochProgress !== null;
      const progress = await trainEpoch({
        model: this.model,
        opt: this.opt,
        defense: this.defense,
        train: trainSet,
        config,
        epoch,
        group: this.group,
        progress: (this.opts.progress ?? false) && this.group.rank === 0,
        firstStep: this.opt.stepCount - (resumeInside ? state.position.step : 0),
        resumeFrom: resumeInside
          ? {
              progress: state.epochProgress!,
              rngState: state.rngState,
              ...(state.deviceRngState !== undefined ? { deviceRngState: state.deviceRngState } : {}),
            }
          : undefined,
        onStep: (s) => this.dir?.log({ event: 'step', ...s }),
        decide: () => ({ stop: this.opts.signal?.aborted === true, checkpoint: this.#checkpointDue() }),
        afterStep: (p, isLast, agreed) => this.#afterStep(p, isLast, agreed, state),
      });
      // A kept epoch is always evaluated: its commit then holds its own benign metrics.
      const kept = this.#keep !== undefined && keepsEpoch(this.#keep.every, epoch, config.epochs);
      const evalDue = epoch === config.epochs - 1 || (epoch + 1) % config.evalEvery === 0 || kept;
      state = await this.#finishEpoch(progress, evalDue);
      if (epoch < config.epochs - 1 && this.#agreedStop()) this.#interrupt(state.position);
    }
    const final = this.#final ?? (await this.#evaluate());
    const result: TrainResult = {
      config,
      epochs: this.#records,
      final,
      seconds: (Date.now() - this.#started) / 1000,
      outDir: this.opts.outDir,
      device: this.model.device,
      processes: this.group.worldSize,
    };
    if (this.dir !== null) {
      try {
        writeReport(this.dir.dir, result);
      } catch (e) {
        // The training is committed; a report that cannot be written must not throw it away.
        this.opts.onNotice?.(`could not write the report (${(e as Error).message}); the checkpoint and log.jsonl are complete`);
      }
    }
    return result;
  }

  #evaluate(): Promise<BenignMetrics> {
    return evaluateBenign(this.model, this.test, metricByName(this.config.metric), {
      group: this.group,
      progress: (this.opts.progress ?? false) && this.group.rank === 0,
    });
  }

  /** Commits the trained epoch (before evaluating it, so a kill during evaluation loses no training), evaluates, logs. */
  async #finishEpoch(p: EpochProgress, evaluate: boolean): Promise<RunState> {
    const done: RunState = {
      epoch: p.epoch,
      position: { epoch: p.epoch + 1, step: 0 },
      pendingEval: evaluate,
      metrics: { ...(this.#final ?? {}) },
      rngState: null,
      epochProgress: evaluate ? p : null,
    };
    const rec: EpochRecord = { epoch: p.epoch, loss: p.lossSum / Math.max(1, p.steps), seconds: p.seconds, steps: p.steps, defense: meanStats(p) };
    if (evaluate) {
      this.#commit(done);
      const evalStarted = Date.now();
      rec.metrics = await this.#evaluate();
      rec.evalSeconds = (Date.now() - evalStarted) / 1000;
      this.#final = rec.metrics;
    }
    this.#records.push(rec);
    this.dir?.log({ event: 'epoch', ...rec });
    const after: RunState = { ...done, pendingEval: false, epochProgress: null, metrics: { ...(this.#final ?? {}) } };
    this.#commit(after, this.#keep !== undefined && keepsEpoch(this.#keep.every, p.epoch, this.config.epochs) ? p.epoch + 1 : undefined);
    if (this.opts.progress && this.dir !== null) {
      const m = rec.metrics ? `  R@1 ${(100 * rec.metrics['R@1']).toFixed(1)}  mAP ${(100 * rec.metrics.mAP).toFixed(1)}` : '';
      process.stderr.write(`epoch ${p.epoch + 1}/${this.config.epochs}: loss ${rec.loss.toFixed(4)}  ${rec.seconds.toFixed(0)} s${m}\n`);
    }
    return after;
  }

  /** Rank 0's view: a checkpoint is due by steps or by time since the last one. */
  #checkpointDue(): boolean {
    const every = this.opts.checkpointEvery ?? {};
    const seconds = every.seconds ?? DEFAULT_CHECKPOINT_SECONDS;
    return (
      ((every.steps ?? 0) > 0 && this.opt.stepCount + 1 - this.#lastCheckpoint.step >= every.steps!) ||
      (seconds > 0 && Date.now() - this.#lastCheckpoint.time >= seconds * 1000)
    );
  }

  /** Between steps: a checkpoint when the ranks agreed one is due or training must stop; then let signals in. */
  async #afterStep(p: EpochProgress, isLastOfEpoch: boolean, agreed: StepAgreement, before: RunState): Promise<void> {
    // The epoch's own checkpoint follows its last step at once, unless training stops here.
    if (agreed.stop || (agreed.checkpoint && !isLastOfEpoch)) {
      const position = { epoch: p.epoch, step: p.steps };
      if (agreed.stop) this.dir?.log({ event: 'interrupted', ...position, reason: this.#stopReason() });
      const device = this.model.device;
      const { deviceRngState: _previous, ...rest } = before;
      this.#commit({
        ...rest,
        epoch: p.epoch - 1,
        position,
        pendingEval: false,
        metrics: { ...(this.#final ?? {}) },
        rngState: Buffer.from(rngState()).toString('base64'),
        epochProgress: p,
        ...(device !== CPU ? { deviceRngState: { device, state: Buffer.from(rngState(device)).toString('base64') } } : {}),
      });
      if (agreed.stop) this.#interrupt(position);
    }
    // Signals (SIGINT/SIGTERM) are delivered between event-loop turns; the step loop is otherwise synchronous.
    await nextTurn();
  }

  /** Whether any rank was asked to stop (an agreement, so that all ranks stop at the same point). */
  #agreedStop(): boolean {
    const mine = this.opts.signal?.aborted === true ? 1 : 0;
    return allreduceNumbers(new Float64Array([mine]), this.group)[0]! > 0;
  }

  #stopReason(): string {
    const signal = this.opts.signal;
    return signal?.aborted === true ? String(signal.reason) : 'another rank was stopped';
  }

  #interrupt(position: TrainingPosition): never {
    throw new TrainingInterrupted(this.#stopReason(), position, this.opts.outDir);
  }

  /** Rank 0 writes the checkpoint (every rank holds the same weights); the others only keep the clock. */
  #commit(s: RunState, keepEpoch?: number): void {
    if (this.dir !== null) {
      const state: CheckpointState = {
        config: this.config,
        ...s,
        ...(this.#keep !== undefined ? { keep: this.#keep } : {}),
        defenseState: this.defense.state(),
        logBytes: this.dir.logBytes(),
      };
      this.#keep = saveCheckpoint(this.dir.dir, this.model, this.opt, state, {
        ...(keepEpoch === undefined ? {} : { keepEpoch }),
        defenseTensors: this.defense.tensors(),
      }).keep;
    }
    this.#lastCheckpoint = { time: Date.now(), step: this.opt.stepCount };
  }
}

/** One epoch of SPC-2 training with the configured defense (exported for `bench train`). */
export interface EpochOptions {
  model: EmbeddingModel;
  opt: Adam;
  defense: RunDefense;
  train: DmlDataset;
  config: ExperimentConfig;
  epoch: number;
  progress?: boolean;
  /** Global index of the epoch's first step (CA-TRIDE alternates on it). */
  firstStep?: number;
  /** Continue an epoch from a checkpoint taken inside it: its running sums and generator state. */
  resumeFrom?: { progress: EpochProgress; rngState: string | null; deviceRngState?: DeviceRngState };
  /** Called after every optimizer step with its loss and defense accounting. */
  onStep?: (step: { epoch: number; step: number; loss: number } & DefenseStats) => void;
  /** The process group of a data-parallel run (default: this process alone). */
  group?: ProcessGroup;
  /** Asked before each step's agreement: should training stop / checkpoint after it (this rank's view)? */
  decide?: () => StepAgreement;
  /** Awaited after every step with the epoch's running sums and what the ranks agreed (checkpoints, interruption). */
  afterStep?: (progress: EpochProgress, isLastOfEpoch: boolean, agreed: StepAgreement) => Promise<void>;
}

/** One epoch of SPC-2 batches through the defense's training step and the optimizer; returns the epoch's running sums. */
export async function trainEpoch(o: EpochOptions): Promise<EpochProgress> {
  const { train, config, epoch } = o;
  const firstStep = o.firstStep ?? 0;
  const group = o.group ?? SINGLE_PROCESS;
  const shards = config.shards ?? 1;
  const mine = shardsOfRank(group.rank, group.worldSize, shards);
  const p: EpochProgress = o.resumeFrom ? structuredClone(o.resumeFrom.progress) : { epoch, steps: 0, lossSum: 0, seconds: 0, statSums: {}, statCount: 0 };
  if (p.epoch !== epoch) throw new Error(`resume: the saved progress is of epoch ${p.epoch + 1}, not ${epoch + 1}`);
  manualSeed(epochSeed(config.seed, epoch));
  if (o.resumeFrom?.rngState) setRngState(new Uint8Array(Buffer.from(o.resumeFrom.rngState, 'base64')));
  // A CUDA run's device generator too (the state is per device kind: resuming a CUDA run on the CPU
  // or the other way round continues correctly but not bit-exactly, as the draws come from another generator).
  const saved = o.resumeFrom?.deviceRngState;
  if (saved !== undefined && o.model.device !== CPU) setRngState(new Uint8Array(Buffer.from(saved.state, 'base64')), o.model.device);
  if (config.maxBatches > 0 && p.steps > config.maxBatches)
    throw new Error(`resume: the checkpoint is at step ${p.steps} of epoch ${epoch + 1}, which has ${config.maxBatches} steps`);
  const loader = spc2Loader(train, { seed: config.seed, epoch, batchPairs: config.batchPairs, startBatch: p.steps });
  const full = p.steps + loader.batches; // the loader holds the batches after startBatch
  const total = config.maxBatches > 0 ? Math.min(config.maxBatches, full) : full;
  const bar = o.progress ? new ProgressBar(total, `epoch ${epoch + 1}/${config.epochs}`) : null;
  bar?.tick(p.steps);
  let since = Date.now();
  try {
    for await (const batch of loader) {
      if (p.steps >= total) {
        dispose([batch.images, batch.labels]); // resumed after the epoch's last step: nothing left to train
        break;
      }
      const local = o.decide?.() ?? { stop: false, checkpoint: false };
      // Decoded on the CPU, uploaded once per batch (the same tensors on the CPU).
      const onModel: Batch = { ...batch, images: onDevice(batch.images, o.model.device), labels: onDevice(batch.labels, o.model.device) };
      let step: StepOutcome;
      try {
        step = shards === 1 ? singleStep(o, onModel, firstStep + p.steps, local) : shardedStep(o, onModel, firstStep + p.steps, { shards, mine, group }, local);
      } finally {
        dispose([...new Set([batch.images, batch.labels, onModel.images, onModel.labels])]);
      }
      const { loss, stats: stepStats } = step;
      if (!Number.isFinite(loss)) throw new Error(`epoch ${epoch + 1}, step ${p.steps + 1}: the loss became ${loss}`);
      o.onStep?.({ epoch, step: firstStep + p.steps, loss, ...stepStats });
      addStep(p, loss, stepStats);
      const now = Date.now();
      p.seconds += (now - since) / 1000;
      since = now;
      bar?.tick(1, `loss ${(p.lossSum / p.steps).toFixed(4)}`);
      await o.afterStep?.(p, p.steps >= total, step.agreed);
      since = Date.now();
      if (p.steps >= total) break;
    }
  } finally {
    await loader.close();
  }
  return p;
}

/** What the ranks agree on after each step: stop (any rank was asked to) and checkpoint (rank 0's clock). */
export interface StepAgreement {
  stop: boolean;
  checkpoint: boolean;
}

interface StepOutcome {
  loss: number;
  stats: DefenseStats;
  agreed: StepAgreement;
}

/** The optimizer step after a backward pass: the model's parameters, then the loss's learnable scalars (margin loss β, their own learning rate). */
function applyStep(o: EpochOptions): void {
  o.opt.step();
  o.defense.loss.step();
}

/**
 * One process, the whole batch: the trainer's original step, numbers unchanged.
 * Free adversarial training replays the batch (`defense.replays` optimizer
 * steps); the outcome then sums the passes and averages the loss and the rest.
 */
function singleStep(o: EpochOptions, batch: Batch, step: number, local: StepAgreement): StepOutcome {
  const { model, opt, defense, config, epoch } = o;
  const replays: { loss: number; stats: DefenseStats }[] = [];
  for (let replay = 0; replay < defense.replays; replay++) {
    replays.push(
      tidy(() => {
        const s = defense.step({
          model,
          images: batch.images,
          labels: batch.labels,
          metric: metricByName(config.metric),
          margin: config.margin,
          miner: minerByName(config.miner),
          epoch,
          maxEpochs: config.epochs,
          step,
          replay,
        });
        opt.zeroGrad();
        defense.loss.zeroGrad();
        s.loss.backward();
        defense.afterBackward();
        return { loss: s.loss.item(), stats: s.stats };
      }),
    );
    applyStep(o);
  }
  return { ...replayOutcome(replays), agreed: local };
}

/** The step outcome of a batch's replays: passes and PGD iterations summed, the loss and the other statistics averaged. */
function replayOutcome(replays: readonly { loss: number; stats: DefenseStats }[]): { loss: number; stats: DefenseStats } {
  if (replays.length === 1) return replays[0]!;
  const summed: readonly (keyof DefenseStats)[] = ['forwardPasses', 'backwardPasses', 'pgdIterations'];
  const stats: Partial<Record<keyof DefenseStats, number>> = {};
  for (const key of DEFENSE_STAT_KEYS) {
    const values = replays.map((r) => r.stats[key]).filter((v): v is number => v !== undefined);
    if (values.length === 0) continue;
    const total = values.reduce((a, b) => a + b, 0);
    stats[key] = summed.includes(key) ? total : total / values.length;
  }
  return { loss: replays.reduce((a, r) => a + r.loss, 0) / replays.length, stats: stats as DefenseStats };
}

/**
 * This rank's shards of the batch (see data-parallel.ts), then the sums over
 * ranks: gradients, and one vector holding each shard's weighted loss, stats and
 * defense state plus the two agreement flags.
 */
function shardedStep(
  o: EpochOptions,
  batch: Batch,
  step: number,
  d: { shards: number; mine: number[]; group: ProcessGroup },
  local: StepAgreement,
): StepOutcome {
  const { model, opt, defense, config, epoch } = o;
  const pairs = batch.labels.shape[0]! / 2;
  const before = defense.state();
  const stateKeys = Object.keys(before);
  const width = 1 + DEFENSE_STAT_KEYS.length + stateKeys.length;
  const values = new Float64Array(d.shards * width + 2);
  opt.zeroGrad();
  defense.loss.zeroGrad();
  for (const s of d.mine) {
    const [from, to] = pairRange(pairs, d.shards, s);
    if (to === from) continue; // a shard with no pairs weighs nothing
    const weight = (to - from) / pairs;
    manualSeed(shardSeed(config.seed, epoch, step, s));
    defense.loadState(before);
    const r = tidy(() => {
      const st = defense.step({
        model,
        images: batch.images.narrow(0, 2 * from, 2 * (to - from)),
        labels: batch.labels.narrow(0, 2 * from, 2 * (to - from)),
        metric: metricByName(config.metric),
        margin: config.margin,
        miner: minerByName(config.miner),
        epoch,
        maxEpochs: config.epochs,
        step,
        replay: 0,
      });
      st.loss.mul(weight).backward();
      return { loss: st.loss.item(), stats: st.stats };
    });
    const after = defense.state();
    const row = [r.loss, ...DEFENSE_STAT_KEYS.map((k) => r.stats[k] ?? Number.NaN), ...stateKeys.map((k) => after[k] ?? Number.NaN)];
    row.forEach((v, k) => (values[s * width + k] = weight * v));
  }
  values[d.shards * width] = local.stop ? 1 : 0;
  values[d.shards * width + 1] = d.group.rank === 0 && local.checkpoint ? 1 : 0;
  allreduceGradients(model.parameters(), d.group);
  const sum = allreduceNumbers(values, d.group);
  const column = (k: number): number => {
    let t = 0;
    for (let s = 0; s < d.shards; s++) t += sum[s * width + k]!; // shard order: the same sum on every world size
    return t;
  };
  const stats = Object.fromEntries(DEFENSE_STAT_KEYS.map((key, k) => [key, column(1 + k)]).filter(([, v]) => !Number.isNaN(v))) as unknown as DefenseStats;
  defense.loadState(Object.fromEntries(stateKeys.map((key, k) => [key, column(1 + DEFENSE_STAT_KEYS.length + k)])));
  applyStep(o);
  return { loss: column(0), stats, agreed: { stop: sum[d.shards * width]! > 0, checkpoint: sum[d.shards * width + 1]! > 0 } };
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

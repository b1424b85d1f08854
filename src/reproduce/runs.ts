// Layer: reproduce. Where a row's run lives and how far it got: one directory
// per experiment key (equal configs share it, across rows and tables), the
// swipe results inside it by the swipe settings, the standard swipe itself, and
// the benign evaluation with intervals (the trainer's own evaluation has none).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { getProfile, type Profile } from '../attack/profiles.js';
import type { OpenedDataset } from '../data/entry.js';
import { openDataset } from '../data/registry.js';
import type { EmbeddingModel } from '../models/model.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { metricByName } from '../metric/metric.js';
import { readCheckpointInfo, SIDECAR, type CheckpointInfo } from '../run/checkpoint.js';
import { loadCheckpoint } from '../run/model-factory.js';
import type { ExperimentConfig } from '../run/config.js';
import { benignJson, evaluateBenign } from '../eval/benign.js';
import { bootstrapInfo, POINT_ESTIMATOR, type BootstrapInfo, type Interval } from '../eval/bootstrap.js';
import { swipeReports } from '../eval/report-svg.js';
import { runSwipe, withStoredBenign } from '../eval/swipe.js';
import type { Device } from '../tensor/index.js';
import type { MeasuredResult } from './compare.js';
import { configKey, SCALE_BUDGETS, type Scale } from './scale.js';

/** The training report the trainer writes when the last epoch is evaluated. */
const REPORT = 'report.json';

/** The benign evaluation of the trained model with per-query bootstrap intervals, in the run directory. */
export const BENIGN_FILE = 'benign.json';

/** The swipe a row's table asks for at a scale. */
export interface SwipeSettings {
  profile: Profile;
  /** Query batches (null = all). */
  maxIter: number | null;
  seed: number;
  robust: boolean;
}

export function swipeSettings(profileName: string, scale: Scale, robust: boolean): SwipeSettings {
  const b = SCALE_BUDGETS[scale];
  const base = getProfile(profileName);
  // A smaller query batch changes only how many queries a batch holds, not the attacks.
  const profile = b.swipeBatchSize === null ? base : { ...base, batchSize: b.swipeBatchSize };
  return { profile, maxIter: b.swipeBatches, seed: 0, robust };
}

/** The folder inside the run holding a swipe with these settings, e.g. swipe-rob28-q4-b128-s0. */
export function swipeDirName(s: SwipeSettings): string {
  return `swipe-${s.profile.name}-q${s.maxIter ?? 'all'}-b${s.profile.batchSize}-s${s.seed}${s.robust ? '-robust' : ''}`;
}

export interface RowRunPaths {
  key: string;
  dir: string;
  /** The resolved config as a file (`train --config` reads it; ranks of --nproc do). */
  configFile: string;
  swipeDir: string;
}

export function rowRunPaths(runsRoot: string, config: ExperimentConfig, swipe: SwipeSettings): RowRunPaths {
  const key = configKey(config);
  const dir = path.join(runsRoot, key);
  return { key, dir, configFile: path.join(runsRoot, `${key}.config.json`), swipeDir: path.join(dir, swipeDirName(swipe)) };
}

/** new → partial (training) → trained (the swipe and the benign evaluation to make) → measured (both stored). */
export type RunState =
  | { state: 'new' }
  | { state: 'partial'; epochsDone: number; epochs: number }
  | { state: 'trained'; swiped: boolean; evaluated: boolean }
  | { state: 'measured' };

/** How far a row's run got; a directory holding another experiment is an error (it is never overwritten). */
export function runState(p: RowRunPaths, config: ExperimentConfig): RunState {
  if (!existsSync(path.join(p.dir, SIDECAR))) return { state: 'new' };
  const info = readCheckpointInfo(p.dir);
  const stored = configKey(info.config);
  if (stored !== p.key) throw new Error(`${p.dir} holds another experiment (config key ${stored}, expected ${p.key}); move it away`);
  const done = info.epoch + 1;
  if (done < config.epochs || info.pendingEval || !existsSync(path.join(p.dir, REPORT))) return { state: 'partial', epochsDone: done, epochs: config.epochs };
  const swiped = existsSync(path.join(p.swipeDir, 'swipe.json'));
  const evaluated = existsSync(path.join(p.dir, BENIGN_FILE));
  return swiped && evaluated ? { state: 'measured' } : { state: 'trained', swiped, evaluated };
}

/** What `benign.json` holds: `rankshield eval --json`'s numbers for the run's final model. */
export interface BenignResult {
  metrics: Readonly<Record<string, number>>;
  intervals: Readonly<Record<string, Interval>>;
  bootstrap: BootstrapInfo;
  estimator: string;
  /** Test queries evaluated (the whole test split). */
  queries: number;
}

/** The stored benign evaluation of a row's run, or null before it is made. */
export function readBenign(p: RowRunPaths): BenignResult | null {
  const f = path.join(p.dir, BENIGN_FILE);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as BenignResult) : null;
}

/**
 * The stored result of a row, or null before it is swiped: the swipe's attack columns and
 * scores with their intervals (over the swiped queries), and the benign columns from
 * `benign.json` with theirs (over the whole test split) where it has been made; before that,
 * the trainer's benign numbers, without intervals.
 */
export function readMeasured(p: RowRunPaths): MeasuredResult | null {
  const f = path.join(p.swipeDir, 'swipe.json');
  if (!existsSync(f)) return null;
  const swiped = JSON.parse(readFileSync(f, 'utf8')) as MeasuredResult;
  const benign = readBenign(p);
  if (benign === null) return swiped;
  return {
    ...swiped,
    benign: { ...swiped.benign, ...benign.metrics },
    intervals: { ...swiped.intervals, ...benign.intervals },
    benignQueries: benign.queries,
  };
}

/** The benign evaluation of a trained run on the whole test split with 95 % per-query bootstrap intervals, written to `benign.json`. */
export async function evaluateRun(p: RowRunPaths, o: RunModelOptions): Promise<BenignResult> {
  return withRunModel(p, o, async (model, info, data) => {
    const bootstrap = bootstrapInfo();
    const { intervals, ...metrics } = await evaluateBenign(model, data.test, metricByName(info.config.metric), { progress: o.progress, bootstrap });
    const result: BenignResult = {
      metrics: { ...benignJson(metrics), 'r@M': metrics['r@M'] },
      intervals: benignJson(intervals ?? {}),
      bootstrap,
      estimator: POINT_ESTIMATOR,
      queries: data.test.length,
    };
    writeFileAtomicSync(path.join(p.dir, BENIGN_FILE), `${JSON.stringify(result, null, 2)}\n`);
    return result;
  });
}

/** The standard swipe of a trained run (in this process), its reports written to the row's swipe folder. */
export async function swipeRun(p: RowRunPaths, s: SwipeSettings, o: RunModelOptions): Promise<MeasuredResult> {
  return withRunModel(p, o, async (model, info, data) => {
    const swiped = await runSwipe(model, data.test, metricByName(info.config.metric), {
      profile: s.profile,
      ...(s.maxIter !== null ? { maxIter: s.maxIter } : {}),
      seed: s.seed,
      progress: o.progress,
    });
    const result = withStoredBenign(swiped, info.metrics);
    const { json, markdown, svg } = swipeReports(result);
    // swipe.json last: its presence says the swipe is done.
    writeFileAtomicSync(path.join(p.swipeDir, 'swipe.md'), markdown);
    if (svg !== null) writeFileAtomicSync(path.join(p.swipeDir, 'swipe.svg'), svg);
    writeFileAtomicSync(path.join(p.swipeDir, 'swipe.json'), json);
    return JSON.parse(json) as MeasuredResult;
  });
}

interface RunModelOptions {
  device: Device;
  progress: boolean;
  /** The dataset's folder, when not the one the run was trained from. */
  root?: string;
}

/** Runs `use` with a run's final model on the device and its dataset opened; the model is disposed after. */
async function withRunModel<T>(
  p: RowRunPaths,
  o: RunModelOptions,
  use: (model: EmbeddingModel, info: CheckpointInfo, data: OpenedDataset) => Promise<T>,
): Promise<T> {
  const { model, info } = loadCheckpoint(p.dir);
  try {
    model.to(o.device);
    const root = o.root ?? info.config.root;
    return await use(model, info, await openDataset(info.config.dataset, root === undefined ? {} : { root }));
  } finally {
    model.dispose();
  }
}

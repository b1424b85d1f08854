// Layer: reproduce. Where a row's run lives and how far it got: one directory
// per experiment key (equal configs share it, across rows and tables), the
// swipe results inside it by the swipe settings, and the standard swipe itself.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { getProfile, type Profile } from '../attack/profiles.js';
import { openDataset } from '../data/registry.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { metricByName } from '../metric/metric.js';
import { readCheckpointInfo, SIDECAR } from '../run/checkpoint.js';
import { loadCheckpoint } from '../run/model-factory.js';
import type { ExperimentConfig } from '../run/config.js';
import { swipeReports } from '../eval/report-svg.js';
import { runSwipe, withStoredBenign } from '../eval/swipe.js';
import type { Device } from '../tensor/index.js';
import type { MeasuredResult } from './compare.js';
import { configKey, SCALE_BUDGETS, type Scale } from './scale.js';

/** The training report the trainer writes when the last epoch is evaluated. */
const REPORT = 'report.json';

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

export type RunState = { state: 'new' } | { state: 'partial'; epochsDone: number; epochs: number } | { state: 'trained' } | { state: 'swiped' };

/** How far a row's run got; a directory holding another experiment is an error (it is never overwritten). */
export function runState(p: RowRunPaths, config: ExperimentConfig): RunState {
  if (!existsSync(path.join(p.dir, SIDECAR))) return { state: 'new' };
  const info = readCheckpointInfo(p.dir);
  const stored = configKey(info.config);
  if (stored !== p.key) throw new Error(`${p.dir} holds another experiment (config key ${stored}, expected ${p.key}); move it away`);
  const done = info.epoch + 1;
  if (done < config.epochs || info.pendingEval || !existsSync(path.join(p.dir, REPORT))) return { state: 'partial', epochsDone: done, epochs: config.epochs };
  return existsSync(path.join(p.swipeDir, 'swipe.json')) ? { state: 'swiped' } : { state: 'trained' };
}

/** The stored swipe result of a row, or null before it is swiped. */
export function readMeasured(p: RowRunPaths): MeasuredResult | null {
  const f = path.join(p.swipeDir, 'swipe.json');
  if (!existsSync(f)) return null;
  return JSON.parse(readFileSync(f, 'utf8')) as MeasuredResult;
}

/** The standard swipe of a trained run (in this process), its reports written to the row's swipe folder. */
export async function swipeRun(p: RowRunPaths, s: SwipeSettings, o: { device: Device; progress: boolean; root?: string }): Promise<MeasuredResult> {
  const { model, info } = loadCheckpoint(p.dir);
  try {
    model.to(o.device);
    const root = o.root ?? info.config.root;
    const data = await openDataset(info.config.dataset, root === undefined ? {} : { root });
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
  } finally {
    model.dispose();
  }
}

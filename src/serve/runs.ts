// Layer: serve. The run directories beside the served checkpoint (or under
// --runs): their settings, benign metrics and plots. A client names a run only
// by a name of this listing, read afresh each time; no path from a request is
// ever opened.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { readCheckpointInfo, SIDECAR } from '../run/checkpoint.js';
import { benignJson, readBenignMetrics } from '../eval/benign.js';
import { readTrails, TRAIL_FILES, trailDir, type TrailRow } from '../eval/trail.js';
import { notFound } from './errors.js';

/** The plots a run may hold: training.svg (written by train), swipe.svg (swipe --out into the run); and trail-<profile>.svg per RunTrail. */
export const RUN_PLOTS = ['training.svg', 'swipe.svg'] as const;
export type RunPlot = (typeof RUN_PLOTS)[number];

export interface RunSummary {
  name: string;
  dataset: string;
  model: string;
  defense: string;
  /** Epochs trained (the checkpoint's last finished epoch + 1). */
  epochs: number;
  benign: Record<string, number> | null;
  hasTraining: boolean;
  hasSwipe: boolean;
  /** Robustness over training (`swipe RUN --epochs`), one table per swiped profile; empty when none. */
  trail: RunTrail[];
}

/** One profile's robustness-over-training table of a run, and the name of its chart under /api/runs/NAME/. */
export interface RunTrail {
  profile: string;
  /** The attack columns of `rows[].attacks`, in table order. */
  columns: string[];
  rows: TrailRow[];
  scope: string;
  /** `trail-<profile>.svg`. */
  plot: string;
}

const trailPlot = (profile: string): string => `trail-${profile}.svg`;

/** Every run directory directly under `dir` (those with a readable checkpoint.json), by name. */
export function listRuns(dir: string | null): RunSummary[] {
  if (dir === null) return [];
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() || e.isSymbolicLink())
      .map((e) => e.name);
  } catch {
    return [];
  }
  const runs: RunSummary[] = [];
  for (const name of names.sort()) {
    const run = path.join(dir, name);
    if (!existsSync(path.join(run, SIDECAR))) continue;
    try {
      const info = readCheckpointInfo(run);
      const benign = benignJson(readBenignMetrics(info.metrics));
      runs.push({
        name,
        dataset: info.config.dataset,
        model: info.config.model,
        defense: info.config.defense.kind,
        epochs: info.epoch + 1,
        benign: Object.keys(benign).length === 0 ? null : benign,
        hasTraining: existsSync(path.join(run, 'training.svg')),
        hasSwipe: existsSync(path.join(run, 'swipe.svg')),
        trail: readTrails(run).map((t) => ({ profile: t.profile, columns: t.columns, rows: t.rows, scope: t.scope, plot: trailPlot(t.profile) })),
      });
    } catch {
      // A directory whose checkpoint.json does not parse is not a run to show.
    }
  }
  return runs;
}

/** The file of plot `file` of the listed run `name`; 404 unless both are known and the file exists. */
export function runPlotPath(dir: string | null, name: string, file: string): string {
  const run = listRuns(dir).find((r) => r.name === name);
  if (run === undefined) throw notFound(`no run named '${name}' (GET /api/runs lists them)`);
  const trail = run.trail.find((t) => t.plot === file);
  if (trail !== undefined) {
    const svg = path.join(trailDir(path.join(dir!, run.name), trail.profile), TRAIL_FILES.svg);
    if (!existsSync(svg)) throw notFound(`run '${name}' has no ${file}`);
    return svg;
  }
  if (!(RUN_PLOTS as readonly string[]).includes(file))
    throw notFound(`a run has no file '${file}' (only ${[...RUN_PLOTS, ...run.trail.map((t) => t.plot)].join(', ')})`);
  const p = path.join(dir!, run.name, file);
  if (!existsSync(p)) throw notFound(`run '${name}' has no ${file}`);
  return p;
}

// Layer: eval. Robustness over training: `rankshield swipe RUN --epochs LIST`
// swipes the epochs a run kept (train --keep-every) and stores each result
// beside the run, as RUN/swipe-epochs/<profile>/epoch-<N>.json (written
// atomically), so a rerun redoes only what is missing: an epoch whose stored
// result was measured with other settings, or on a checkpoint that has changed
// since, is swiped again. The table of every stored epoch (epoch, benign R@1
// and mAP, ERS, ARS, each attack's column) is written beside them as
// trail.json, trail.md, trail.svg and a page (index.html); the run's
// report.md, and the service's Runs tab, show it.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomicSync } from '../io/atomic.js';
import { epochCurvesSvg } from './plot.js';
import { SWIPE_EPOCHS_DIR } from '../run/run-dir.js';
import { keptEpochs, type KeptEpochStatus } from '../run/kept-epochs.js';
import { loadCheckpoint } from '../run/model-factory.js';
import { readCheckpointInfo } from '../run/checkpoint.js';
import { openDataset } from '../data/index.js';
import { metricByName } from '../metric/metric.js';
import { ersProfile, type Profile } from '../attack/profiles.js';
import { SWIPE_WIDE_OPTION_FIELDS, type AttackOptions, type MethodName, type MethodSettings } from '../attack/index.js';
import type { EmbeddingModel } from '../models/model.js';
import type { Device } from '../tensor/index.js';
import { attackColumn, formatAttackValue } from './columns.js';
import { formatScore } from './format.js';
import { ATTACK_NAMES } from './robustness.js';
import { ARS_MEANING, ERS_MEANING, swipeScope } from './report-svg.js';
import { runSwipe, withStoredBenign, type StoredSwipeResult, type SwipeResult } from './swipe.js';
import { formatInterval, type Interval } from './bootstrap.js';
import { pageCss } from './report-html.js';
import { escapeXml as esc } from './report-svg.js';

const EPOCH_FORMAT = 'rankshield-swipe-epoch/1';
const TRAIL_FORMAT = 'rankshield-trail/1';
/** The files of a profile's table, in RUN/swipe-epochs/<profile>/. */
export const TRAIL_FILES = { json: 'trail.json', markdown: 'trail.md', svg: 'trail.svg', page: 'index.html' } as const;
/** report.md's robustness-over-training section starts at this line (everything after it is rewritten). */
const REPORT_MARKER = '<!-- robustness over training (rankshield swipe RUN --epochs) -->';

/**
 * The swipe-wide attack options of a trail's swipes, null when not given. Optional: a result stored
 * before an option existed lacks its key, which reads as null (epochSwipeCurrent).
 */
export type TrailAttackSettings = { [K in keyof AttackOptions]?: NonNullable<AttackOptions[K]> | null };

/** Everything besides the checkpoint that a swipe's numbers depend on; a stored result with other settings is redone. */
export type TrailSettings = TrailAttackSettings & {
  profile: string;
  maxIter: number | null;
  seed: number | null;
  benignRecallAt1: number | null;
  method: string | null;
  methodSettings: Record<string, number>;
  /** The surrogate of a transfer swipe (the path given), null otherwise. */
  transferFrom: string | null;
};

/** Settings as one string: every swipe-wide attack option present (null when absent) and keys in one order. */
function settingsKey(s: TrailSettings): string {
  const withOptions: Record<string, unknown> = { ...s };
  for (const f of SWIPE_WIDE_OPTION_FIELDS) withOptions[f.key] ??= null;
  return JSON.stringify(Object.fromEntries(Object.entries(withOptions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

/** One stored epoch: RUN/swipe-epochs/<profile>/epoch-<N>.json. */
export interface EpochSwipe {
  format: typeof EPOCH_FORMAT;
  epoch: number;
  /** The kept commit swiped (relative to the run) and its model's SHA-256. */
  checkpoint: { path: string; sha256: string };
  settings: TrailSettings;
  result: StoredSwipeResult;
  savedAt: string;
}

/** One row of the table: the numbers of one epoch. */
export interface TrailRow {
  epoch: number;
  /** Benign R@1 and mAP (%) on the whole test split, as the kept checkpoint's evaluation measured them (R@1 falls back to the attacked queries'). */
  'R@1': number | null;
  mAP: number | null;
  ERS: number | null;
  ARS: number | null;
  /** Each attack's column (its units: attackColumn). */
  attacks: Record<string, number>;
  /** The swipe's per-query bootstrap intervals (ERS, ARS, benignRecallAt1, every column), keyed as the result's. */
  intervals: Record<string, Interval>;
  queries: number;
  seconds: number;
}

/** trail.json: a profile's robustness over training. */
export interface TrailTable {
  format: typeof TRAIL_FORMAT;
  profile: string;
  settings: TrailSettings;
  /** The attack columns of the rows, in table order. */
  columns: string[];
  rows: TrailRow[];
  /** The scope of the swipes (queries, budget), from the latest row's result. */
  scope: string;
}

/** The directory of a profile's per-epoch results; `profile` is a name of attack/profiles.ts. */
export function trailDir(runDir: string, profile: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(profile)) throw new Error(`profile name '${profile}' cannot name a directory`);
  return path.join(runDir, SWIPE_EPOCHS_DIR, profile);
}

export const epochFile = (runDir: string, profile: string, epoch: number): string => path.join(trailDir(runDir, profile), `epoch-${epoch}.json`);

/**
 * The epochs of `--epochs SPEC`: `all` (every kept epoch) or a comma-separated
 * list of 1-based epochs (`2,4,8`), each of which the run must have trained and
 * kept. Every error names the value and what would be accepted.
 */
export function parseEpochList(spec: string, kept: readonly number[], trained: number): number[] {
  const keptList = kept.length === 0 ? 'none (train with --keep-every N to keep epochs)' : kept.join(', ');
  if (spec.trim() === 'all') {
    if (kept.length === 0) throw new Error(`--epochs all: the run kept no epochs; train it with --keep-every N (or --trail)`);
    return [...kept];
  }
  const parts = spec.split(',').map((x) => x.trim());
  const epochs: number[] = [];
  for (const part of parts) {
    if (!/^\d+$/.test(part) || Number(part) < 1)
      throw new Error(`--epochs '${spec}': '${part}' is not an epoch number (give 'all' or 1-based epochs such as 2,4,8)`);
    const e = Number(part);
    if (e > trained) throw new Error(`--epochs: the run has no epoch ${e} (it trained ${trained} epoch(s); kept: ${keptList})`);
    if (!kept.includes(e)) throw new Error(`--epochs: epoch ${e} was not kept (kept: ${keptList})`);
    if (epochs.includes(e)) throw new Error(`--epochs '${spec}': epoch ${e} is listed twice`);
    epochs.push(e);
  }
  return epochs.sort((a, b) => a - b);
}

/** A stored epoch result, or null when there is none or it does not parse (it is then swiped again). */
export function readEpochSwipe(file: string): EpochSwipe | null {
  if (!existsSync(file)) return null;
  try {
    const e = JSON.parse(readFileSync(file, 'utf8')) as EpochSwipe;
    return e.format === EPOCH_FORMAT && typeof e.epoch === 'number' && typeof e.result?.attacks === 'object' ? e : null;
  } catch {
    return null;
  }
}

/** Whether a stored result still stands for `kept` swiped with `settings`. */
export function epochSwipeCurrent(e: EpochSwipe | null, kept: KeptEpochStatus, settings: TrailSettings): e is EpochSwipe {
  // A result stored before intervals existed is swiped again, so every row of the table has them.
  return (
    e !== null &&
    e.result.intervals !== undefined &&
    e.epoch === kept.epoch &&
    e.checkpoint.sha256 === kept.sha256 &&
    settingsKey(e.settings) === settingsKey(settings)
  );
}

/** Writes one epoch's result (atomically: a kill leaves the old file or the new one). */
export function writeEpochSwipe(runDir: string, kept: KeptEpochStatus, settings: TrailSettings, result: SwipeResult): EpochSwipe {
  const e: EpochSwipe = {
    format: EPOCH_FORMAT,
    epoch: kept.epoch,
    checkpoint: { path: kept.path, sha256: kept.sha256 },
    settings,
    result,
    savedAt: new Date().toISOString(),
  };
  writeFileAtomicSync(epochFile(runDir, settings.profile, kept.epoch), `${JSON.stringify(e, null, 2)}\n`);
  return e;
}

/** The attack columns of a result: the ten ERS columns when it has them, else every column. */
function mainColumns(r: StoredSwipeResult): string[] {
  const ers = ATTACK_NAMES.filter((n) => r.attacks[n] !== undefined);
  return ers.length > 0 ? ers : Object.keys(r.attacks);
}

/** The table of stored epochs (one row each, by epoch). */
export function trailTable(entries: readonly EpochSwipe[]): TrailTable {
  if (entries.length === 0) throw new Error('no swiped epochs to tabulate');
  const sorted = [...entries].sort((a, b) => a.epoch - b.epoch);
  const last = sorted[sorted.length - 1]!;
  const columns = mainColumns(last.result);
  const rows = sorted.map((e): TrailRow => {
    const b = e.result.benign;
    return {
      epoch: e.epoch,
      'R@1': b?.['R@1'] !== undefined ? 100 * b['R@1'] : e.result.benignRecallAt1,
      mAP: b?.mAP !== undefined ? 100 * b.mAP : null,
      ERS: e.result.ERS,
      ARS: e.result.ARS,
      attacks: Object.fromEntries(columns.filter((c) => e.result.attacks[c] !== undefined).map((c) => [c, e.result.attacks[c]!])),
      intervals: e.result.intervals ?? {},
      queries: e.result.queries,
      seconds: e.result.seconds,
    };
  });
  return { format: TRAIL_FORMAT, profile: last.settings.profile, settings: last.settings, columns, rows, scope: swipeScope(last.result) };
}

const cell = (x: number | null, digits = 1): string => (x === null ? '–' : x.toFixed(digits));
/** A score with its interval when the row has one. */
const scoreCell = (r: TrailRow, key: 'ERS' | 'ARS'): string =>
  r[key] === null ? '–' : `${formatScore(r[key])} ${formatInterval(r.intervals?.[key], 1)}`.trim();

/** The table as Markdown: one row per epoch, units in the header, what ERS/ARS mean under it. */
export function trailMarkdown(t: TrailTable, heading = '#'): string {
  const unit = (c: string): string => {
    const u = attackColumn(c).unit;
    return u === '' ? c : `${c} (${u})`;
  };
  const head = ['epoch', 'R@1 (%)', 'mAP (%)', 'ERS', 'ARS', ...t.columns.map(unit)];
  return [
    `${heading} Robustness over training — profile ${t.profile}`,
    '',
    `Each kept epoch's checkpoint swiped alike: ${t.scope}${t.settings.method !== null ? `, method ${t.settings.method}` : ''}${t.settings.transferFrom !== null ? `, crafted on ${t.settings.transferFrom}` : ''}${t.settings.seed !== null ? `, --seed ${t.settings.seed}` : ''}.`,
    '',
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...t.rows.map(
      (r) =>
        `| ${[r.epoch, cell(r['R@1']), cell(r.mAP), scoreCell(r, 'ERS'), scoreCell(r, 'ARS'), ...t.columns.map((c) => (r.attacks[c] === undefined ? '–' : `${formatAttackValue(c, r.attacks[c]!)} ${formatInterval(r.intervals?.[c], attackColumn(c).digits)}`.trim()))].join(' | ')} |`,
    ),
    '',
    `[lo, hi]: 95 % per-query bootstrap intervals (ERS and ARS through their formulas); the points are means of batch means.`,
    `R@1 and mAP: benign, on the whole test split, as each kept checkpoint's evaluation measured them. **ERS**: ${ERS_MEANING} **ARS**: ${ARS_MEANING}`,
    'Attack columns in their own units and directions: docs/attacks-and-metrics.md §3.',
    '',
  ].join('\n');
}

/** trail.svg: ERS and ARS per epoch in one panel, benign R@1 (and mAP) in the other. */
export function trailSvg(t: TrailTable, title: string): string {
  const line = (label: string, pick: (r: TrailRow) => number | null): { label: string; points: [number, number][] } => ({
    label,
    points: t.rows.flatMap((r) => {
      const v = pick(r);
      return v === null || !Number.isFinite(v) ? [] : [[r.epoch, v] as [number, number]];
    }),
  });
  return epochCurvesSvg({
    title,
    notes: [`Profile ${t.profile}: ${t.scope}.`],
    panels: [
      {
        title: 'Robustness scores per kept epoch',
        yTitle: 'score (0–100, higher = more robust)',
        series: [line('ERS', (r) => r.ERS), line('ARS', (r) => r.ARS)],
      },
      { title: 'Benign retrieval per kept epoch', yTitle: '% on the test split', series: [line('R@1', (r) => r['R@1']), line('mAP', (r) => r.mAP)] },
    ],
  });
}

/** Every stored epoch result of a profile, by epoch. */
export function storedEpochSwipes(runDir: string, profile: string): EpochSwipe[] {
  const dir = trailDir(runDir, profile);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => /^epoch-\d+\.json$/.test(n))
    .map((n) => readEpochSwipe(path.join(dir, n)))
    .filter((e): e is EpochSwipe => e !== null)
    .sort((a, b) => a.epoch - b.epoch);
}

/** Writes trail.json, trail.md, trail.svg and the page index.html of a profile; returns their paths. */
export function writeTrail(runDir: string, t: TrailTable, title: string): { json: string; markdown: string; svg: string; page: string } {
  const dir = trailDir(runDir, t.profile);
  const files = {
    json: path.join(dir, TRAIL_FILES.json),
    markdown: path.join(dir, TRAIL_FILES.markdown),
    svg: path.join(dir, TRAIL_FILES.svg),
    page: path.join(dir, TRAIL_FILES.page),
  };
  const svg = trailSvg(t, title);
  writeFileAtomicSync(files.json, `${JSON.stringify(t, null, 2)}\n`);
  writeFileAtomicSync(files.markdown, trailMarkdown(t));
  writeFileAtomicSync(files.svg, svg);
  writeFileAtomicSync(files.page, trailHtml(t, svg, title));
  return files;
}

/** The tables a run holds (one per swiped profile, by name); unreadable ones are left out. */
export function readTrails(runDir: string): TrailTable[] {
  const root = path.join(runDir, SWIPE_EPOCHS_DIR);
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .sort()
    .flatMap((profile) => {
      try {
        const t = JSON.parse(readFileSync(path.join(root, profile, TRAIL_FILES.json), 'utf8')) as TrailTable;
        return t.format === TRAIL_FORMAT && Array.isArray(t.rows) && t.profile === profile ? [t] : [];
      } catch {
        return [];
      }
    });
}

/** report.md's section: each profile's table and chart (relative links), after REPORT_MARKER; empty without tables. */
export function trailReportSection(runDir: string): string[] {
  const tables = readTrails(runDir);
  if (tables.length === 0) return [];
  return [
    REPORT_MARKER,
    '',
    ...tables.flatMap((t) => [
      trailMarkdown(t, '##'),
      `![robustness over training, ${t.profile}](${path.posix.join(SWIPE_EPOCHS_DIR, t.profile, TRAIL_FILES.svg)})`,
      '',
      `The same as a page: [${path.posix.join(SWIPE_EPOCHS_DIR, t.profile, TRAIL_FILES.page)}](${path.posix.join(SWIPE_EPOCHS_DIR, t.profile, TRAIL_FILES.page)}).`,
      '',
    ]),
  ];
}

/** Rewrites report.md's robustness-over-training section (a run without report.md is left alone). */
export function refreshReportTrail(runDir: string): string | null {
  const file = path.join(runDir, 'report.md');
  if (!existsSync(file)) return null;
  const text = readFileSync(file, 'utf8');
  const at = text.indexOf(REPORT_MARKER);
  const head = (at < 0 ? text : text.slice(0, at)).replace(/\n*$/, '\n\n');
  writeFileAtomicSync(file, head + trailReportSection(runDir).join('\n'));
  return file;
}

/** Options of `swipeKeptEpochs`: the swipe's (as `runSwipe`), and where the data and model go. */
export interface EpochSwipeOptions {
  /** A profile name or object (default: rob28 / rob224 by the dataset's image size). */
  profile?: string | Profile;
  maxIter?: number;
  seed?: number;
  benignRecallAt1?: number;
  /** The swipe-wide attack options (src/attack/*.ts fields); W and M come from the profile. */
  attackOptions?: AttackOptions;
  method?: MethodName;
  methodSettings?: Partial<MethodSettings>;
  /** A transfer swipe's surrogate, and the path it came from (part of the settings). */
  surrogate?: EmbeddingModel;
  transferFrom?: string;
  /** The dataset's folder (default: the run's recorded root). */
  root?: string;
  device?: Device;
  /** Progress bars and a line per epoch with the ETA, on stderr. */
  progress?: boolean;
  /** An epoch found done (not redone), and each epoch's scores. */
  onNotice?: (message: string) => void;
}

/** The swipe-wide attack options as settings: each field's key, its value or null. */
function attackSettings(o: AttackOptions): TrailAttackSettings {
  const given = o as Readonly<Record<string, unknown>>;
  return Object.fromEntries(SWIPE_WIDE_OPTION_FIELDS.map((f) => [f.key, given[f.key] ?? null])) as TrailAttackSettings;
}

/** What `swipeKeptEpochs` did: the table of every stored epoch, which epochs it swiped and which it found done. */
export interface EpochSwipesDone {
  table: TrailTable;
  swiped: number[];
  reused: number[];
  files: { json: string; markdown: string; svg: string; page: string };
}

/**
 * Swipes the kept epochs `epochs` (1-based, from parseEpochList) of the run in
 * `runDir` and stores each result (RUN/swipe-epochs/<profile>/epoch-N.json); an
 * epoch already stored with the same settings and checkpoint is not redone.
 * Each kept commit is verified (every file hashed, the model's SHA-256 equal to
 * the run's record) before it is swiped. Then the table, chart and report.md section.
 */
export async function swipeKeptEpochs(runDir: string, epochs: readonly number[], o: EpochSwipeOptions = {}): Promise<EpochSwipesDone> {
  const runInfo = readCheckpointInfo(runDir);
  const kept = keptEpochs(runDir, { hash: false });
  for (const e of epochs)
    if (!kept.some((k) => k.epoch === e)) throw new Error(`epoch ${e} was not kept (kept: ${kept.map((k) => k.epoch).join(', ') || 'none'})`);
  const root = o.root ?? runInfo.config.root;
  const data = await openDataset(runInfo.config.dataset, root === undefined ? {} : { root });
  const profile = o.profile ?? ersProfile(data.test.height).name;
  const profileName = typeof profile === 'string' ? profile : profile.name;
  const settings: TrailSettings = {
    profile: profileName,
    maxIter: o.maxIter ?? null,
    seed: o.seed ?? null,
    benignRecallAt1: o.benignRecallAt1 ?? null,
    ...attackSettings(o.attackOptions ?? {}),
    method: o.method ?? null,
    methodSettings: Object.fromEntries(Object.entries(o.methodSettings ?? {}).filter((e): e is [string, number] => typeof e[1] === 'number')),
    transferFrom: o.transferFrom ?? null,
  };
  const keptOf = (e: number): KeptEpochStatus => kept.find((k) => k.epoch === e)!;
  const todo = epochs.filter((e) => !epochSwipeCurrent(readEpochSwipe(epochFile(runDir, profileName, e)), keptOf(e), settings));
  const swiped: number[] = [];
  const reused: number[] = [];
  const started = Date.now();
  for (const epoch of epochs) {
    if (!todo.includes(epoch)) {
      reused.push(epoch);
      o.onNotice?.(`epoch ${epoch}: swiped earlier with these settings (${path.relative(runDir, epochFile(runDir, profileName, epoch))}), not redone`);
      continue;
    }
    const done = swiped.length;
    if (o.progress) {
      const eta = done === 0 ? '' : `, ETA ${formatDuration(((Date.now() - started) / done) * (todo.length - done))}`;
      process.stderr.write(`rankshield swipe: epoch ${epoch} (${done + 1}/${todo.length} to swipe${eta})\n`);
    }
    const status = keptEpochs(runDir).find((x) => x.epoch === epoch);
    if (status === undefined || status.problem !== null) throw new Error(`kept epoch ${epoch} does not verify: ${status?.problem ?? 'no longer listed'}`);
    const { model, info } = loadCheckpoint(status.dir);
    try {
      if (o.device !== undefined) model.to(o.device);
      const result = await runSwipe(model, data.test, metricByName(info.config.metric), {
        profile,
        maxIter: o.maxIter,
        seed: o.seed,
        benignRecallAt1: o.benignRecallAt1,
        attackOptions: o.attackOptions ?? {},
        method: o.method,
        methodSettings: o.methodSettings,
        surrogate: o.surrogate,
        progress: o.progress ?? false,
      });
      writeEpochSwipe(runDir, status, settings, withStoredBenign(result, info.metrics));
      swiped.push(epoch);
      o.onNotice?.(
        `epoch ${epoch}: ERS ${result.ERS === null ? 'n/a' : formatScore(result.ERS)}, ARS ${result.ARS === null ? 'n/a' : formatScore(result.ARS)} (${result.seconds.toFixed(0)} s)`,
      );
    } finally {
      model.dispose();
    }
  }
  // The table: every stored epoch of this profile swiped with these settings on the checkpoints kept now.
  const entries = storedEpochSwipes(runDir, profileName).filter((e) => kept.some((k) => k.epoch === e.epoch && epochSwipeCurrent(e, k, settings)));
  const table = trailTable(entries);
  const c = runInfo.config;
  const files = writeTrail(
    runDir,
    table,
    `Robustness over training: ${path.basename(path.resolve(runDir))} (${c.dataset} · ${c.model} · defense ${c.defense.kind})`,
  );
  refreshReportTrail(runDir);
  return { table, swiped, reused, files };
}

/** "1 h 05 min", "3 min 20 s", "42 s". */
function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
  return s >= 60 ? `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s` : `${s} s`;
}

/**
 * A run's robustness over training as a page (RUN/swipe-epochs/<profile>/index.html, offline):
 * the table of the kept epochs and its chart (`svg`, trail.svg's text).
 */
export function trailHtml(t: TrailTable, svg: string, title: string): string {
  const num = (x: number | null): string => (x === null ? '–' : x.toFixed(1));
  const head = ['epoch', 'R@1 (%)', 'mAP (%)', 'ERS', 'ARS', ...t.columns.map((c) => `${c} (${attackColumn(c).unit})`)];
  const rows = t.rows.map(
    (r) =>
      `<tr><th scope="row">${r.epoch}</th>${[num(r['R@1']), num(r.mAP), r.ERS === null ? '–' : formatScore(r.ERS), r.ARS === null ? '–' : formatScore(r.ARS), ...t.columns.map((c) => (r.attacks[c] === undefined ? '–' : formatAttackValue(c, r.attacks[c]!)))].map((v) => `<td class="num">${esc(v)}</td>`).join('')}</tr>`,
  );
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(title)}</title>`,
    `<style>${pageCss(false)}</style>`,
    '</head><body><main>',
    `<header><h1>${esc(title)}</h1><p class="sub">Each kept epoch's checkpoint swiped alike with profile ${esc(t.profile)}: ${esc(t.scope)}.</p></header>`,
    `<section class="card chart">${svg}</section>`,
    `<section class="card"><h2>Per epoch</h2><table data-testid="trail"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`,
    `<p class="note">R@1 and mAP: benign, on the whole test split, as each kept checkpoint's evaluation measured them. ERS: ${esc(ERS_MEANING)} ARS: ${esc(ARS_MEANING)}</p></section>`,
    '</main></body></html>',
    '',
  ].join('\n');
}

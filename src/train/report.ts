// Layer: train. The final report of a run: JSON first (for scripts), Markdown rendered from it.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomicSync } from '../io/atomic.js';
import type { EpochRecord, TrainResult } from './records.js';
import { trainingCurvesSvg, type StepRecord } from '../eval/plot.js';
import { describeDefense } from '../defense/registry.js';
import { BENIGN_COLUMNS, formatBenign, readBenignMetrics } from '../eval/benign.js';
import { getNumThreads, torchVersion } from '../tensor/index.js';
import { trailReportSection } from '../eval/trail.js';

/**
 * Records of one event kind from a run's JSONL log, one per key (the last
 * wins): an epoch interrupted and redone after --resume appears once.
 */
function readLog<T>(file: string, event: 'step' | 'epoch', key: (r: T) => number): T[] {
  if (!existsSync(file)) return [];
  const byKey = new Map<number, T>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.includes(`"event":"${event}"`)) continue;
    // A line that does not parse (a torn write repaired by hand, a disk error) is
    // left out rather than failing the report at the very end of a run.
    let r: T;
    try {
      r = JSON.parse(line) as T;
    } catch {
      continue;
    }
    byKey.set(key(r), r);
  }
  return [...byKey.entries()].sort((a, b) => a[0] - b[0]).map(([, r]) => r);
}

const pct = (x: number | undefined): string => (x === undefined ? '–' : (100 * x).toFixed(1));
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** What a reader needs to judge the numbers: how much data each epoch saw, on what, and where the time went. */
function runNotes(r: TrainResult): string[] {
  const c = r.config;
  const steps = r.epochs.map((e) => e.steps);
  const evals = r.epochs.filter((e) => e.evalSeconds !== undefined);
  const trainSeconds = sum(r.epochs.map((e) => e.seconds));
  const evalSeconds = sum(evals.map((e) => e.evalSeconds!));
  return [
    c.maxBatches > 0
      ? `Epochs stopped at --max-batches ${c.maxBatches}: each trained on at most ${c.maxBatches} batches of ${c.batchPairs} SPC-2 pairs (${(c.maxBatches * c.batchPairs).toLocaleString('en-US')} pairs), not a full pass over the training split.`
      : `Full epochs: ${steps.length > 0 ? `${Math.max(...steps)} batches` : 'every batch'} of ${c.batchPairs} SPC-2 pairs each.`,
    `Compute: ${r.device ?? 'cpu'}${(r.processes ?? 1) > 1 ? ` × ${r.processes} data-parallel processes` : ''}, libtorch ${torchVersion()}, ` +
      `${getNumThreads()} intra-op thread(s) per process (the process that wrote this report).`,
    `Wall time of that process: ${r.seconds.toFixed(0)} s, evaluation included. Over all ${r.epochs.length} logged epoch(s): training ${trainSeconds.toFixed(0)} s, ` +
      (evals.length > 0
        ? `evaluation ${evalSeconds.toFixed(0)} s (${evals.length} evaluation(s) of the test split)`
        : 'evaluation time not logged (a run older than that field)') +
      '; checkpoints, data loading and start-up make up the rest.',
  ];
}

/** Writes report.json, report.md and training.svg of a finished run into its directory. */
export function writeReport(dir: string, result: TrainResult): void {
  const logFile = path.join(dir, 'log.jsonl');
  // Epochs come from the log so a resumed run reports all of them, not only those of the last process.
  const logged = readLog<EpochRecord>(logFile, 'epoch', (e) => e.epoch);
  const r: TrainResult = { ...result, epochs: logged.length > 0 ? logged : result.epochs };
  writeFileAtomicSync(path.join(dir, 'report.json'), `${JSON.stringify(r, null, 2)}\n`);
  const c = r.config;
  const run = `${c.dataset} · ${c.model} · defense ${describeDefense(c.defense)} · ${c.loss} ${c.metric}`;
  const notes = runNotes(r);
  const steps = readLog<StepRecord>(logFile, 'step', (s) => s.step);
  if (steps.length > 0) {
    // Metrics of runs written before mAP@10 existed are read with their old key (readBenignMetrics).
    const evaluated = r.epochs.filter((e) => e.metrics !== undefined).map((e) => ({ epoch: e.epoch, ...readBenignMetrics(e.metrics!) }));
    const svg = trainingCurvesSvg({ title: `${run}: ${r.epochs.length} epoch(s), seed ${c.seed}`, notes: notes.slice(0, 1), steps, evaluated });
    writeFileAtomicSync(path.join(dir, 'training.svg'), svg);
  }
  const head = ['epoch', 'steps', 'loss', 'train s', 'eval s', ...BENIGN_COLUMNS];
  const lines = [
    `# rankshield training report`,
    '',
    `${run} (margin ${c.margin}) · miner ${c.miner} · ${c.epochs} epochs of ${c.batchPairs} pairs · Adam lr ${c.lr}, wd ${c.weightDecay} · seed ${c.seed}`,
    '',
    ...notes.flatMap((n) => [n, '']),
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...r.epochs.map((e) => {
      const m = e.metrics === undefined ? {} : readBenignMetrics(e.metrics);
      const evalS = e.evalSeconds === undefined ? '–' : e.evalSeconds.toFixed(0);
      return `| ${[e.epoch + 1, e.steps, e.loss.toFixed(4), e.seconds.toFixed(0), evalS, ...BENIGN_COLUMNS.map((k) => pct(m[k]))].join(' | ')} |`;
    }),
    '',
    `Final (test split, ×100): ${formatBenign(readBenignMetrics(r.final), ', ')}.`,
    '',
    'Benign metrics are ×100 on the test split, which is both query set and gallery. mAP@10 is RobRank\'s "mAP@R" (R fixed to 10);',
    'mAP@R is the standard one (R = the query\'s number of relevant items); "–" = not measured (or a run older than that column).',
    'Definitions: docs/attacks-and-metrics.md §2.',
    '',
    ...(steps.length > 0 ? ['![training curves](training.svg)', ''] : []),
    // The robustness-over-training tables of `swipe RUN --epochs` (rewritten by each such swipe).
    ...trailReportSection(dir),
  ];
  writeFileAtomicSync(path.join(dir, 'report.md'), lines.join('\n'));
}

// Layer: train. The final report of a run: JSON first (for scripts), Markdown rendered from it.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomicSync } from '../io/atomic.js';
import type { EpochRecord, TrainResult } from './trainer.js';
import { trainingCurvesSvg, type StepRecord } from './plot.js';
import { describeDefense } from '../defense/registry.js';

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

export function writeReport(dir: string, result: TrainResult): void {
  const logFile = path.join(dir, 'log.jsonl');
  // Epochs come from the log so a resumed run reports all of them, not only those of the last process.
  const logged = readLog<EpochRecord>(logFile, 'epoch', (e) => e.epoch);
  const r: TrainResult = { ...result, epochs: logged.length > 0 ? logged : result.epochs };
  writeFileAtomicSync(path.join(dir, 'report.json'), JSON.stringify(r, null, 2) + '\n');
  const steps = readLog<StepRecord>(logFile, 'step', (s) => s.step);
  if (steps.length > 0) writeFileAtomicSync(path.join(dir, 'training.svg'), trainingCurvesSvg(steps, `${r.config.dataset} · ${describeDefense(r.config.defense)} · per-step accounting`));
  const c = r.config;
  const lines = [
    `# rankshield training report`,
    '',
    `${c.dataset} · ${c.model} · defense ${describeDefense(c.defense)} · ${c.loss} ${c.metric} (margin ${c.margin}) · miner ${c.miner} · ${c.epochs} epochs of ${c.batchPairs} pairs · Adam lr ${c.lr}, wd ${c.weightDecay} · seed ${c.seed}`,
    '',
    '| epoch | loss | seconds | R@1 | R@2 | mAP | mAP@R | NMI |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...r.epochs.map((e) => {
      const m = e.metrics;
      return `| ${e.epoch + 1} | ${e.loss.toFixed(4)} | ${e.seconds.toFixed(0)} | ${pct(m?.['R@1'])} | ${pct(m?.['R@2'])} | ${pct(m?.mAP)} | ${pct(m?.['mAP@R'])} | ${pct(m?.NMI)} |`;
    }),
    '',
    `Final (test split, ×100): R@1 ${pct(r.final['R@1'])}, R@2 ${pct(r.final['R@2'])}, mAP ${pct(r.final.mAP)}, mAP@R ${pct(r.final['mAP@R'])}, NMI ${pct(r.final.NMI)}. Wall time ${r.seconds.toFixed(0)} s.`,
    '',
  ];
  writeFileAtomicSync(path.join(dir, 'report.md'), lines.join('\n'));
}

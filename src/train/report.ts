// Layer: train. The final report of a run: JSON first (for scripts), Markdown rendered from it.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomicSync } from '../io/atomic.js';
import type { TrainResult } from './trainer.js';
import { trainingCurvesSvg, type StepRecord } from './plot.js';
import { describeDefense } from '../defense/registry.js';

/** The per-step records of a run's JSONL log (a resumed run's log holds every step once). */
function readStepLog(file: string): StepRecord[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"event":"step"'))
    .map((l) => JSON.parse(l) as StepRecord);
}

const pct = (x: number | undefined): string => (x === undefined ? '–' : (100 * x).toFixed(1));

export function writeReport(dir: string, r: TrainResult): void {
  writeFileAtomicSync(path.join(dir, 'report.json'), JSON.stringify(r, null, 2) + '\n');
  const steps = readStepLog(path.join(dir, 'log.jsonl'));
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

// Reports people can read: report.md says how much of each epoch ran, on how
// many threads and where the wall time went; training.svg titles its axes,
// marks epochs, shows the benign metrics per evaluated epoch and leaves out
// panels that are constant for the run; progress bars stay silent for short
// jobs and under --quiet / --json. Built from hand-written logs (no training).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultConfig } from '../src/run/config.js';
import { writeReport } from '../src/train/report.js';
import { niceTicks } from '../src/eval/plot.js';
import { ProgressBar } from '../src/util/progress.js';
import type { EpochRecord, TrainResult } from '../src/train/trainer.js';
import type { BenignMetrics } from '../src/eval/benign.js';
import { OUTPUT_OPTIONS, parseOptions, showProgress } from '../src/cli/args.js';
import { parseEpochList, trailMarkdown, trailSvg, trailTable, type EpochSwipe, type TrailSettings } from '../src/eval/trail.js';

const metrics = (r1: number): BenignMetrics => ({ 'R@1': r1, 'R@2': r1 + 0.05, mAP: r1 - 0.1, 'mAP@10': r1 - 0.05, 'mAP@R': r1 - 0.3, NMI: 0.7, 'r@M': 3 });

/** A run directory with a log of 2 epochs × 5 steps; `defended` makes the defense's accounting vary. */
function runDir(defended: boolean): { dir: string; result: TrainResult } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rankshield-report-'));
  const lines: string[] = [];
  for (let step = 0; step < 10; step++) {
    const epoch = Math.floor(step / 5);
    const source = -0.5 + 0.01 * step;
    const stats = defended
      ? { pgdIterations: 8, perturbedFraction: 0.1 * (step % 4), sourceHardness: source, trainedHardness: source + 0.2, destinationHardness: -0.1 }
      : { pgdIterations: 0, perturbedFraction: 0, sourceHardness: source, trainedHardness: source };
    lines.push(JSON.stringify({ event: 'step', epoch, step, loss: 0.1 - 0.005 * step, forwardPasses: 1, backwardPasses: 1, ...stats }));
  }
  // Epoch 1 as a run written before mAP@10 existed logged it: R = 10 stored as 'mAP@R', no evaluation time.
  const { 'mAP@10': old, 'mAP@R': _standard, ...rest } = metrics(0.7);
  const epochs: EpochRecord[] = [
    { epoch: 0, loss: 0.09, seconds: 30, steps: 5, metrics: { ...rest, 'mAP@R': old } as unknown as BenignMetrics, defense: {} },
    { epoch: 1, loss: 0.07, seconds: 28, steps: 5, metrics: metrics(0.8), evalSeconds: 12, defense: {} },
  ];
  for (const e of epochs) lines.push(JSON.stringify({ event: 'epoch', ...e }));
  writeFileSync(path.join(dir, 'log.jsonl'), `${lines.join('\n')}\n`);
  const config = { ...defaultConfig('fashion'), epochs: 2, maxBatches: 5, ...(defended ? { defense: { kind: 'est' as const, steps: 8 } } : {}) };
  return { dir, result: { config, epochs, final: metrics(0.8), seconds: 75, outDir: dir } };
}

test('report.md states --max-batches, threads and wall times with evaluation; old metric names read as mAP@10', () => {
  const { dir, result } = runDir(false);
  writeReport(dir, result);
  const md = readFileSync(path.join(dir, 'report.md'), 'utf8');
  assert.match(md, /--max-batches 5: each trained on at most 5 batches of 128 SPC-2 pairs \(640 pairs\), not a full pass/);
  assert.match(md, /Compute: cpu, libtorch [\d.]+, \d+ intra-op thread\(s\) per process/);
  assert.match(md, /Wall time of that process: 75 s, evaluation included\. Over all 2 logged epoch\(s\): training 58 s, evaluation 12 s \(1 evaluation\(s\)/);
  assert.match(md, /\| epoch \| steps \| loss \| train s \| eval s \| R@1 \| R@2 \| mAP \| mAP@10 \| mAP@R \| NMI \|/);
  // Epoch 1 (old names): mAP@10 = the stored 'mAP@R' (65.0), standard mAP@R not measured.
  assert.match(md, /\| 1 \| 5 \| 0\.0900 \| 30 \| – \| 70\.0 \| 75\.0 \| 60\.0 \| 65\.0 \| – \| 70\.0 \|/);
  assert.match(md, /\| 2 \| 5 \| 0\.0700 \| 28 \| 12 \| 80\.0 \| 85\.0 \| 70\.0 \| 75\.0 \| 50\.0 \| 70\.0 \|/);
});

test('training.svg: titled axes, epoch marks, benign metrics per evaluated epoch, no panels for constants', () => {
  const plain = runDir(false);
  writeReport(plain.dir, plain.result);
  const svg = readFileSync(path.join(plain.dir, 'training.svg'), 'utf8');
  assert.match(svg, /optimizer step \(dashed: epoch starts\)/);
  assert.match(svg, />epoch 2</, 'the boundary between epoch 1 and 2 is marked');
  assert.match(svg, /Benign test metrics after each evaluated epoch/);
  assert.match(svg, />% on the test split</);
  assert.match(svg, />loss \(distance units\)</);
  assert.equal((svg.match(/<circle /g) ?? []).length, 4, 'R@1 and mAP after each of the two evaluated epochs');
  // Undefended: nothing perturbed and no PGD, so no such panels — only a note saying so.
  assert.match(svg, /Constant over the run, so not plotted: Triplets perturbed by the defense: 0 %; PGD iterations per step: 0\./);
  assert.doesNotMatch(svg, /font-weight="bold">Triplets perturbed/);
  assert.doesNotMatch(svg, />trained on</, 'trained-on hardness equals the source hardness without a defense');

  const est = runDir(true);
  writeReport(est.dir, est.result);
  const svgEst = readFileSync(path.join(est.dir, 'training.svg'), 'utf8');
  assert.match(svgEst, /font-weight="bold">Triplets perturbed by the defense</);
  assert.match(svgEst, />% of the batch</);
  assert.match(svgEst, />trained on</);
  assert.match(svgEst, />destination H_D</);
  assert.match(svgEst, /Constant over the run, so not plotted: PGD iterations per step: 8\./);
});

test('y-axis ticks enclose the data on round values; x ticks stay inside', () => {
  assert.deepEqual(niceTicks(-0.69, -0.13, 4, true), [-0.8, -0.6, -0.4, -0.2, 0]);
  assert.deepEqual(niceTicks(62.4, 77.7, 4, true), [60, 65, 70, 75, 80]);
  assert.deepEqual(niceTicks(0, 59, 5), [0, 20, 40]);
});

/** A stderr stand-in that records what a bar writes (not a TTY, as in CI logs). */
function recorder(): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({ write: (chunk: Buffer, _enc, done) => void (chunks.push(chunk.toString()), done()) });
  return { stream: w as unknown as NodeJS.WriteStream, text: () => chunks.join('') };
}

test('progress bars: silent for jobs under a second, then lines with ETA; off under --quiet and --json', async () => {
  const quick = recorder();
  const a = new ProgressBar(10, 'quick', quick.stream);
  for (let i = 0; i < 10; i++) a.tick();
  assert.equal(quick.text(), '', 'a job done within a second prints nothing');

  const slow = recorder();
  const b = new ProgressBar(4, 'embedding 512 images', slow.stream);
  b.tick();
  await sleep(1100);
  b.tick(1, 'batch 2');
  assert.match(slow.text(), /^embedding 512 images 2\/4 {2}50% \d+s<\d+s batch 2\n$/);

  assert.equal(showProgress(parseOptions([], OUTPUT_OPTIONS)), true);
  assert.equal(showProgress(parseOptions(['--quiet'], OUTPUT_OPTIONS)), false);
  assert.equal(showProgress(parseOptions(['--json'], OUTPUT_OPTIONS)), false);
});

test('robustness over training: --epochs lists are checked by name; the table and chart of stored epochs', () => {
  const kept = [2, 4, 5];
  assert.deepEqual(parseEpochList('all', kept, 5), [2, 4, 5]);
  assert.deepEqual(parseEpochList('4, 2', kept, 5), [2, 4]);
  assert.throws(() => parseEpochList('2,x', kept, 5), /--epochs '2,x': 'x' is not an epoch number \(give 'all' or 1-based epochs such as 2,4,8\)/);
  assert.throws(() => parseEpochList('0', kept, 5), /'0' is not an epoch number/);
  assert.throws(() => parseEpochList('', kept, 5), /'' is not an epoch number/);
  assert.throws(() => parseEpochList('9', kept, 5), /the run has no epoch 9 \(it trained 5 epoch\(s\); kept: 2, 4, 5\)/);
  assert.throws(() => parseEpochList('3', kept, 5), /epoch 3 was not kept \(kept: 2, 4, 5\)/);
  assert.throws(() => parseEpochList('2,2', kept, 5), /epoch 2 is listed twice/);
  assert.throws(() => parseEpochList('all', [], 5), /the run kept no epochs; train it with --keep-every N \(or --trail\)/);
  assert.throws(() => parseEpochList('1', [], 5), /epoch 1 was not kept \(kept: none \(train with --keep-every N/);

  const attacks = (x: number): Record<string, number> => ({
    'CA+': 2 + x,
    'CA-': 90,
    'QA+': 1,
    'QA-': 80,
    TMA: 0.99,
    'ES:D': 0.05,
    'ES:R': 15,
    LTM: 6,
    GTM: 12,
    GTT: 0,
  });
  const settings: TrailSettings = {
    profile: 'rob28',
    maxIter: 1,
    seed: null,
    benignRecallAt1: null,
    gtmTarget: null,
    method: null,
    methodSettings: {},
    transferFrom: null,
  };
  const entry = (epoch: number, ers: number): EpochSwipe => ({
    format: 'rankshield-swipe-epoch/1',
    epoch,
    checkpoint: { path: `epochs/000${epoch}`, sha256: 'a'.repeat(64) },
    settings,
    savedAt: '',
    result: {
      profile: 'rob28',
      metric: 'N',
      queries: 128,
      batches: 1,
      budgets: [{ epsilon: 77 / 255, alpha: 3 / 255, steps: 32 }],
      attacks: attacks(epoch),
      benignRecallAt1: 70,
      ERS: ers,
      ARS: ers - 5,
      lowBenignRecall: false,
      seconds: 80,
      gallerySeconds: 1,
      benign: { 'R@1': 0.6 + 0.05 * epoch, mAP: 0.5 },
    },
  });
  const t = trailTable([entry(4, 20), entry(2, 17)]);
  assert.deepEqual(
    t.rows.map((r) => [r.epoch, r['R@1'], r.ERS]),
    [
      [2, 70, 17],
      [4, 80, 20],
    ],
    'by epoch, R@1 from the checkpoint (%)',
  );
  assert.deepEqual(t.columns, ['CA+', 'CA-', 'QA+', 'QA-', 'TMA', 'ES:D', 'ES:R', 'LTM', 'GTM', 'GTT']);
  const md = trailMarkdown(t);
  assert.match(md, /\| epoch \| R@1 \(%\) \| mAP \(%\) \| ERS \| ARS \| CA\+ \(%\) \|/);
  assert.match(md, /\| 2 \| 70\.0 \| 50\.0 \| 17\.0 \| 12\.0 \| 4\.0 \|/);
  const svg = trailSvg(t, 'a run');
  for (const text of ['epoch (the kept checkpoint after it)', 'score (0–100, higher = more robust)', '% on the test split', '>ERS<', '>ARS<', '>R@1<', '>mAP<'])
    assert.ok(svg.includes(text), `the chart has ${text}`);
});

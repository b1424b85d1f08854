// Layer: train. The DML trainer: SPC-2 batches → the defense's training step
// (mining, adversarial inputs, loss) → Adam, with evaluation, a checkpoint and a
// JSONL log line every epoch, and exact resumption (defense state included).
//
// Reproducibility: libtorch's generator (mining, init) is re-seeded from
// (seed, epoch) at the start of every epoch and batch order is a pure function
// of (seed, epoch), so a run resumed after epoch k continues exactly as the
// uninterrupted run would have.
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { dispose, manualSeed, tidy } from '../tensor/index.js';
import { Adam } from '../optim/index.js';
import { openDataset, spc2Loader, type DmlDataset } from '../data/index.js';
import { minerByName } from '../metric/miners.js';
import { buildDefense } from '../defense/registry.js';
import type { Defense, DefenseStats } from '../defense/defense.js';
import { evaluateBenign, type BenignMetrics } from '../eval/benign.js';
import type { EmbeddingModel } from '../models/model.js';
import { createModel, loadModelWeights, loadOptimizerState, readCheckpointInfo, saveCheckpoint, SIDECAR } from './checkpoint.js';
import { validateConfig, type ExperimentConfig } from './config.js';
import { ProgressBar } from './progress.js';
import { writeReport } from './report.js';

export interface TrainOptions {
  config: ExperimentConfig;
  /** Run directory: checkpoint, log.jsonl, report.json, report.md. */
  outDir: string;
  /** Continue from the checkpoint in outDir if there is one. */
  resume?: boolean;
  /** Show progress bars on stderr. */
  progress?: boolean;
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

/** Mixes run seed and epoch into the libtorch seed of that epoch. */
const epochSeed = (seed: number, epoch: number): number => (seed * 1_000_003 + epoch * 7919 + 17) % 2 ** 31;

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const config = validateConfig({ ...opts.config });
  mkdirSync(opts.outDir, { recursive: true });
  const logFile = path.join(opts.outDir, 'log.jsonl');
  const data = await openDataset(config.dataset);
  manualSeed(config.seed);
  const model = createModel(config);
  const opt = new Adam(model.parameters(), { lr: config.lr, weightDecay: config.weightDecay });
  const defense = buildDefense(config.defense, data.train.height, config.loss);
  const t0 = Date.now();
  const records: EpochRecord[] = [];
  let startEpoch = 0;
  let final: BenignMetrics | undefined;

  try {
    if (opts.resume && existsSync(path.join(opts.outDir, SIDECAR))) {
      const info = readCheckpointInfo(opts.outDir);
      // Only the epoch count may change on resume (to extend a finished run).
      if (JSON.stringify({ ...info.config, epochs: 0 }) !== JSON.stringify({ ...config, epochs: 0 })) {
        throw new Error(`--resume: the checkpoint in ${opts.outDir} was trained with a different config; use another --out`);
      }
      loadModelWeights(opts.outDir, info, model);
      loadOptimizerState(opts.outDir, info, opt);
      if (info.defenseState) defense.loadState?.(info.defenseState);
      startEpoch = info.epoch + 1;
      final = info.metrics as unknown as BenignMetrics;
      log(logFile, { event: 'resume', epoch: startEpoch });
    }

    for (let epoch = startEpoch; epoch < config.epochs; epoch++) {
      const rec = await trainEpoch({
        model, opt, defense, train: data.train, config, epoch, progress: opts.progress ?? false, firstStep: opt.stepCount,
        onStep: (s) => log(logFile, { event: 'step', ...s }),
      });
      const last = epoch === config.epochs - 1;
      if (last || (epoch + 1) % config.evalEvery === 0) {
        rec.metrics = await evaluateBenign(model, data.test, config.metric);
        final = rec.metrics;
      }
      records.push(rec);
      saveCheckpoint(opts.outDir, model, opt, { config, epoch, metrics: { ...(rec.metrics ?? final ?? {}) }, defenseState: defense.state?.() ?? {} });
      log(logFile, { event: 'epoch', ...rec });
      if (opts.progress) {
        const m = rec.metrics ? `  R@1 ${(100 * rec.metrics['R@1']).toFixed(1)}  mAP ${(100 * rec.metrics.mAP).toFixed(1)}` : '';
        process.stderr.write(`epoch ${epoch + 1}/${config.epochs}: loss ${rec.loss.toFixed(4)}  ${rec.seconds.toFixed(0)} s${m}\n`);
      }
    }
    if (final === undefined) final = await evaluateBenign(model, data.test, config.metric);
    const result: TrainResult = { config, epochs: records, final, seconds: (Date.now() - t0) / 1000, outDir: opts.outDir };
    writeReport(opts.outDir, result);
    return result;
  } finally {
    opt.dispose();
    model.dispose();
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
  /** Called after every optimizer step with its loss and defense accounting. */
  onStep?: (step: { epoch: number; step: number; loss: number } & DefenseStats) => void;
}

export async function trainEpoch(o: EpochOptions): Promise<EpochRecord> {
  const { model, opt, defense, train, config, epoch } = o;
  const firstStep = o.firstStep ?? 0;
  manualSeed(epochSeed(config.seed, epoch));
  const miner = minerByName(config.miner);
  const loader = spc2Loader(train, { seed: config.seed, epoch, batchPairs: config.batchPairs });
  const total = config.maxBatches > 0 ? Math.min(config.maxBatches, loader.batches) : loader.batches;
  const bar = o.progress ? new ProgressBar(total, `epoch ${epoch + 1}/${config.epochs}`) : null;
  const start = Date.now();
  const stats = new StatsMean();
  let lossSum = 0;
  let steps = 0;
  try {
    for await (const batch of loader) {
      const { loss, stepStats } = tidy(() => {
        const s = defense.step({
          model, images: batch.images, labels: batch.labels, metric: config.metric, margin: config.margin, miner,
          epoch, maxEpochs: config.epochs, step: firstStep + steps,
        });
        opt.zeroGrad();
        s.loss.backward();
        return { loss: s.loss.item(), stepStats: s.stats };
      });
      opt.step();
      dispose([batch.images, batch.labels]);
      if (!Number.isFinite(loss)) throw new Error(`epoch ${epoch + 1}, step ${steps + 1}: the loss became ${loss}`);
      lossSum += loss;
      stats.add(stepStats);
      o.onStep?.({ epoch, step: firstStep + steps, loss, ...stepStats });
      steps += 1;
      bar?.tick(1, `loss ${(lossSum / steps).toFixed(4)}`);
      if (steps >= total) break;
    }
  } finally {
    await loader.close();
  }
  return { epoch, loss: lossSum / Math.max(1, steps), seconds: (Date.now() - start) / 1000, steps, defense: stats.mean() };
}

/** Running means of the per-step defense statistics. */
class StatsMean {
  readonly #sums = new Map<string, number>();
  #n = 0;
  add(s: DefenseStats): void {
    this.#n += 1;
    for (const [k, v] of Object.entries(s)) if (typeof v === 'number') this.#sums.set(k, (this.#sums.get(k) ?? 0) + v);
  }
  mean(): Record<string, number> {
    return Object.fromEntries([...this.#sums].map(([k, v]) => [k, v / Math.max(1, this.#n)]));
  }
}

function log(file: string, record: object): void {
  appendFileSync(file, JSON.stringify({ time: new Date().toISOString(), ...record }) + '\n');
}

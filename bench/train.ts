// `rankshield bench train`: SPC-2 triplet training of c2f2 on Fashion-MNIST
// (batch 128 pairs, random miner, metric N) — rankshield's trainer epoch vs the
// same loop in PyTorch, alternating over rounds; reports seconds per batch.
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { manualSeed, setNumThreads } from '../src/tensor/index.js';
import { openDataset, type InMemoryDataset } from '../src/data/index.js';
import { Adam } from '../src/optim/index.js';
import { buildDefense } from '../src/defense/registry.js';
import { createModel } from '../src/train/checkpoint.js';
import { defaultConfig } from '../src/train/config.js';
import { trainEpoch } from '../src/train/trainer.js';
import { exportFashionTrain, medianOfRounds, parseBenchArgs, pythonTorch } from './common.js';

export async function runTrainBench(argv: string[]): Promise<number> {
  // --iters = timed batches per round (a full epoch is 469 batches).
  const args = parseBenchArgs(argv, { batch: 128, warmup: 0, iters: 100, rounds: 2 });
  setNumThreads(args.threads);
  const data = await openDataset('fashion');
  const train = data.train as InMemoryDataset;
  const { dir, imagesFile, labelsFile } = exportFashionTrain(train, 'train');
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'train.py');
  const config = { ...defaultConfig('fashion'), batchPairs: args.batch, maxBatches: args.iters };
  const ours: Record<string, number>[] = [];
  const theirs: Record<string, number>[] = [];
  try {
    for (let r = 0; r < args.rounds; r++) {
      manualSeed(r);
      const model = createModel(config);
      const opt = new Adam(model.parameters(), { lr: config.lr, weightDecay: config.weightDecay });
      const rec = await trainEpoch({ model, opt, defense: buildDefense(config.defense, train.height, config.loss), train, config, epoch: r });
      opt.dispose();
      model.dispose();
      ours.push({ ms_per_batch: (1000 * rec.seconds) / rec.steps });
      const py = pythonTorch(script, [imagesFile, labelsFile, args.threads, args.batch, args.iters]);
      theirs.push({ ms_per_batch: (1000 * py.seconds!) / py.batches! });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const o = medianOfRounds(ours).ms_per_batch!;
  const t = medianOfRounds(theirs).ms_per_batch!;
  const epochBatches = Math.ceil(train.length / args.batch);
  const result = {
    bench: 'train',
    threads: args.threads,
    batch_pairs: args.batch,
    timed_batches: args.iters,
    rankshield_ms_per_batch: Math.round(o * 10) / 10,
    pytorch_ms_per_batch: Math.round(t * 10) / 10,
    rankshield_epoch_s: Math.round((o * epochBatches) / 100) / 10,
    pytorch_epoch_s: Math.round((t * epochBatches) / 100) / 10,
    ratio: Math.round((o / t) * 1000) / 1000,
  };
  if (!args.json) {
    console.log(`train bench: Fashion-MNIST c2f2, ${args.batch} pairs/batch, ${args.iters} batches × ${args.rounds} rounds, ${args.threads} thread(s)`);
    console.log(`  rankshield ${result.rankshield_ms_per_batch} ms/batch (epoch ≈ ${result.rankshield_epoch_s} s)   pytorch ${result.pytorch_ms_per_batch} ms/batch (epoch ≈ ${result.pytorch_epoch_s} s)   ratio ${result.ratio}`);
  }
  console.log(JSON.stringify(result));
  return 0;
}

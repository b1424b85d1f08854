// `rankshield bench train`: SPC-2 triplet training of c2f2 on Fashion-MNIST
// (batch 128 pairs, random miner, metric N) — rankshield's trainer epoch vs the
// same loop in PyTorch, alternating over rounds; reports seconds per batch.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { freeLoopbackPort, manualSeed, setNumThreads } from '../src/tensor/index.js';
import { openDataset, type InMemoryDataset } from '../src/data/index.js';
import { Adam } from '../src/optim/index.js';
import { buildDefense } from '../src/defense/registry.js';
import { createModel } from '../src/run/model-factory.js';
import { defaultConfig } from '../src/run/config.js';
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
    if (args.nproc > 1) {
      // Data parallel: N rankshield ranks (c10d Gloo) against N PyTorch DDP ranks (Gloo), same global batch.
      const ddp = path.join(path.dirname(script), 'train_ddp.py');
      const rank = path.join(path.dirname(fileURLToPath(import.meta.url)), 'train-rank.js');
      for (let r = 0; r < args.rounds; r++) {
        const mine = await rankshieldRanks(rank, args.nproc, [args.threads, args.batch, args.iters]);
        ours.push({ ms_per_batch: (1000 * mine.seconds!) / mine.batches! });
        const py = pythonTorch(ddp, [imagesFile, labelsFile, args.threads, args.batch, args.iters, args.nproc, await freeLoopbackPort()]);
        theirs.push({ ms_per_batch: (1000 * py.seconds!) / py.batches! });
      }
    }
    for (let r = 0; args.nproc === 1 && r < args.rounds; r++) {
      manualSeed(r);
      const model = createModel(config);
      const opt = new Adam(model.parameters(), { lr: config.lr, weightDecay: config.weightDecay });
      const rec = await trainEpoch({ model, opt, defense: buildDefense(config), train, config, epoch: r });
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
    against: args.nproc > 1 ? 'PyTorch DistributedDataParallel (Gloo)' : 'PyTorch',
    nproc: args.nproc,
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
    console.log(
      `train bench: Fashion-MNIST c2f2, ${args.batch} pairs/batch, ${args.iters} batches × ${args.rounds} rounds, ${args.nproc} process(es) × ${args.threads} thread(s)`,
    );
    console.log(
      `  rankshield ${result.rankshield_ms_per_batch} ms/batch (epoch ≈ ${result.rankshield_epoch_s} s)   pytorch ${result.pytorch_ms_per_batch} ms/batch (epoch ≈ ${result.pytorch_epoch_s} s)   ratio ${result.ratio}`,
    );
  }
  console.log(JSON.stringify(result));
  return 0;
}

/** Runs bench/train-rank as `n` ranks on loopback; rank 0's JSON line. */
async function rankshieldRanks(script: string, n: number, args: number[]): Promise<Record<string, number>> {
  const port = await freeLoopbackPort();
  const runs = Array.from(
    { length: n },
    (_, rank) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [script, ...args.map(String)], {
          env: { ...process.env, RANK: String(rank), WORLD_SIZE: String(n), LOCAL_RANK: String(rank), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d));
        child.stderr.on('data', (d: Buffer) => (stderr += d));
        child.on('exit', (code) => resolve({ code, stdout, stderr }));
      }),
  );
  const done = await Promise.all(runs);
  const failed = done.findIndex((d) => d.code !== 0);
  if (failed >= 0) throw new Error(`bench rank ${failed} failed: ${done[failed]!.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(done[0]!.stdout.trim().split('\n').pop()!) as Record<string, number>;
}

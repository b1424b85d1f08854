// `rankshield bench defense`: HM[S, g_LGA] adversarial training of c2f2 on
// Fashion-MNIST (η = 8 by default) — rankshield's trainer vs the same loop in
// PyTorch, alternating over rounds — plus rankshield with HM's own stopping
// rule (skip the PGD work of triplets already at their destination hardness).
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { manualSeed, setNumThreads } from '../src/tensor/index.js';
import { openDataset, type InMemoryDataset } from '../src/data/index.js';
import { Adam } from '../src/optim/index.js';
import { buildDefense, type DefenseConfig } from '../src/defense/registry.js';
import { createModel } from '../src/run/model-factory.js';
import { defaultConfig, resolveConfig } from '../src/run/config.js';
import { meanStats, trainEpoch } from '../src/train/trainer.js';
import { exportFashionTrain, medianOfRounds, parseBenchArgs, pythonTorch } from './common.js';

export async function runDefenseBench(argv: string[]): Promise<number> {
  // --iters = timed batches per round (469 = one epoch); η has its own flag, --eta.
  const args = parseBenchArgs(argv, { batch: 128, warmup: 0, iters: 10, rounds: 2 }, { eta: { kind: 'int', value: 'N', min: 1, help: 'PGD steps η' } });
  const eta = (args.extra.get('eta') as number | undefined) ?? 8;
  setNumThreads(args.threads);
  const train = (await openDataset('fashion')).train as InMemoryDataset;
  const { dir, imagesFile, labelsFile } = exportFashionTrain(train, 'defense');
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'defense.py');
  const hm = (skipSatisfied: boolean): DefenseConfig => ({
    kind: 'hm',
    source: 'softhard',
    destination: 'lga',
    gradualBase: 'semihard',
    steps: eta,
    skipSatisfied,
  });
  /** ms per batch, and the share of full-batch PGD triplet work the epoch did. */
  const time = async (defense: DefenseConfig, round: number): Promise<{ ms: number; work: number }> => {
    const config = { ...defaultConfig('fashion'), batchPairs: args.batch, maxBatches: args.iters, defense };
    manualSeed(round);
    const model = createModel(config);
    const opt = new Adam(model.parameters(), { lr: config.lr, weightDecay: config.weightDecay });
    try {
      const rec = await trainEpoch({ model, opt, defense: buildDefense(resolveConfig(config)), train, config, epoch: round });
      return { ms: (1000 * rec.seconds) / rec.steps, work: meanStats(rec).pgdWorkFraction ?? 1 };
    } finally {
      opt.dispose();
      model.dispose();
    }
  };
  const rounds: Record<string, number>[] = [];
  try {
    for (let r = 0; r < args.rounds; r++) {
      const reference = await time(hm(false), r);
      const skipping = await time(hm(true), r);
      const py = pythonTorch(script, [imagesFile, labelsFile, args.threads, args.batch, args.iters, eta]);
      rounds.push({ reference: reference.ms, skipping: skipping.ms, skippingWork: skipping.work, pytorch: (1000 * py.seconds!) / py.batches! });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const m = medianOfRounds(rounds);
  const r1 = (x: number): number => Math.round(x * 10) / 10;
  const result = {
    bench: 'defense',
    defense: `HM[S,g_LGA] eta=${eta}`,
    threads: args.threads,
    timed_batches: args.iters,
    rankshield_ms_per_batch: r1(m.reference!),
    rankshield_skip_satisfied_ms_per_batch: r1(m.skipping!),
    pytorch_ms_per_batch: r1(m.pytorch!),
    ratio: Math.round((m.reference! / m.pytorch!) * 1000) / 1000,
    skip_satisfied_speedup: Math.round((m.reference! / m.skipping!) * 1000) / 1000,
    skip_satisfied_pgd_work: Math.round(m.skippingWork! * 1000) / 1000,
  };
  if (!args.json) {
    console.log(
      `defense bench: ${result.defense}, c2f2 on Fashion-MNIST, ${args.batch} pairs/batch, ${args.iters} batches × ${args.rounds} rounds, ${args.threads} thread(s)`,
    );
    console.log(`  rankshield ${result.rankshield_ms_per_batch} ms/batch   pytorch ${result.pytorch_ms_per_batch} ms/batch   ratio ${result.ratio}`);
    console.log(
      `  rankshield with skip-satisfied ${result.rankshield_skip_satisfied_ms_per_batch} ms/batch (${result.skip_satisfied_speedup}× faster, same adversarial batches; ${(100 * result.skip_satisfied_pgd_work).toFixed(1)} % of the PGD triplet work)`,
    );
  }
  console.log(JSON.stringify(result));
  return 0;
}

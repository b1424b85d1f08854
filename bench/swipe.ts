// `rankshield bench swipe`: queries/s of the batched rob28 swipe (all nine
// attacks on each query batch) in rankshield and in an equivalent batched
// PyTorch implementation (bench/swipe.py), same thread count, one after the
// other. Both sides: an untrained c2f2 (eval mode, metric N), a synthetic
// 10 000-image gallery (only shapes matter for speed), batches of 128;
// gallery embedding is timed apart from the attacks.
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { manualSeed, parseDevice, setNumThreads, torchVersion, type Device } from '../src/tensor/index.js';
import { C2F2 } from '../src/models/c2f2.js';
import { InMemoryImageDataset, Rng } from '../src/data/index.js';
import { getProfile, type Profile } from '../src/attack/index.js';
import { runSwipe } from '../src/eval/swipe.js';
import { UsageError } from '../src/util/usage-error.js';
import { flagNumber, flagString, parseOptions } from '../src/util/options.js';
import { benchPytorch, BENCH_OPTIONS, defaultThreads, DEVICE_OPTION, useBenchPython } from './common.js';
import { metricByName } from '../src/metric/metric.js';
import { pythonTorch } from './common.js';

interface SwipeBenchArgs {
  threads: number;
  gallery: number;
  batches: number;
  steps: number;
  device: Device;
}

function parse(argv: string[]): SwipeBenchArgs {
  const p = parseOptions(argv, {
    threads: { kind: 'int', value: 'N', min: 1, help: 'libtorch intra-op threads' },
    gallery: { kind: 'int', value: 'N', min: 1, help: 'gallery images' },
    batches: { kind: 'int', value: 'N', min: 1, help: 'query batches of 128' },
    steps: { kind: 'int', value: 'N', min: 1, help: 'PGD steps' },
    device: DEVICE_OPTION,
    python: BENCH_OPTIONS.python,
    json: { kind: 'boolean', help: 'the last line is JSON anyway' },
  });
  useBenchPython(flagString(p, 'python'));
  const out: SwipeBenchArgs = {
    threads: flagNumber(p, 'threads') ?? defaultThreads(),
    gallery: flagNumber(p, 'gallery') ?? 10000,
    batches: flagNumber(p, 'batches') ?? 1,
    steps: flagNumber(p, 'steps') ?? 32,
    device: parseDevice(flagString(p, 'device') ?? 'cpu'),
  };
  if (out.batches * 128 > out.gallery) throw new UsageError('--batches × 128 must not exceed --gallery');
  return out;
}

function syntheticGallery(n: number): InMemoryImageDataset {
  const rng = new Rng(1);
  const pixels = new Uint8Array(n * 784);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rng.nextInt(256);
  const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
  return new InMemoryImageDataset({ name: 'synthetic', split: 'test', source: 'bench', channels: 1, height: 28, width: 28, pixels, labels });
}

export async function runSwipeBench(argv: string[]): Promise<number> {
  const args = parse(argv);
  setNumThreads(args.threads);
  const pytorch = benchPytorch();
  manualSeed(0);
  const model = new C2F2().to(args.device);
  const rob28 = getProfile('rob28');
  const profile: Profile = { ...rob28, runs: rob28.runs.map((r) => ({ ...r, budget: { ...r.budget, steps: args.steps } })) };
  const ours = await runSwipe(model, syntheticGallery(args.gallery), metricByName('N'), { profile, maxIter: args.batches });
  model.dispose();
  const oursSeconds = ours.seconds - ours.gallerySeconds;
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'swipe.py');
  const theirs = pythonTorch(script, [args.threads, args.gallery, 128, args.batches, args.steps, args.device]);
  const rankshieldQps = ours.queries / oursSeconds;
  const pytorchQps = theirs.qps!;
  console.log(
    `rob28 swipe, ${args.batches} batch(es) of 128 queries × 9 attacks × η ${args.steps}, gallery ${args.gallery}, ${args.threads} thread(s), ${args.device}`,
  );
  console.log(`  rankshield on libtorch ${torchVersion()}; PyTorch ${pytorch.version} (${pytorch.python})`);
  console.log(`  rankshield  ${rankshieldQps.toFixed(2)} queries/s  (attacks ${oursSeconds.toFixed(1)} s, gallery ${ours.gallerySeconds.toFixed(1)} s)`);
  console.log(`  PyTorch     ${pytorchQps.toFixed(2)} queries/s  (attacks ${theirs.seconds!.toFixed(1)} s, gallery ${theirs.gallery_s!.toFixed(1)} s)`);
  console.log(`  ratio rankshield/PyTorch throughput ${(rankshieldQps / pytorchQps).toFixed(3)}`);
  console.log(
    JSON.stringify({
      bench: 'swipe',
      device: args.device,
      rankshield_libtorch: torchVersion(),
      pytorch: pytorch.version,
      python: pytorch.python,
      threads: args.threads,
      batches: args.batches,
      rankshield_qps: round(rankshieldQps),
      pytorch_qps: round(pytorchQps),
      ratio: round(rankshieldQps / pytorchQps),
    }),
  );
  return 0;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

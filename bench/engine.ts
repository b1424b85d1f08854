// `rankshield bench engine`: c2f2 (batch 128 of 1×28×28) in rankshield and in
// PyTorch, same thread count and device, run one after the other in one command;
// medians. On CUDA every timed call ends with a device synchronize on both sides.
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { gradOf, noGrad, ones, rand, manualSeed, setNumThreads, synchronize, tidy, call1, torchVersion } from '../src/tensor/index.js';
import { C2F2 } from '../src/models/c2f2.js';
import { Adam } from '../src/optim/index.js';
import { benchPytorch, DEVICE_OPTION, medianMs, medianOfRounds, parseBenchArgs, pythonTorch, type BenchCase } from './common.js';

export async function runEngineBench(argv: string[]): Promise<number> {
  const args = parseBenchArgs(argv, { batch: 128, warmup: 5, iters: 20, rounds: 3 }, { device: DEVICE_OPTION });
  const { device } = args;
  setNumThreads(args.threads);
  const pytorch = benchPytorch();
  manualSeed(0);
  const model = new C2F2().to(device);
  const opt = new Adam(model.parameters(), { lr: 1e-3, weightDecay: 1e-7 });
  const x = rand([args.batch, 1, 28, 28], { device });
  const timed =
    (fn: () => void): (() => void) =>
    () => {
      fn();
      synchronize(device);
    };

  const forward = (): void => noGrad(() => tidy(() => void model.forward(x)));
  const trainStep = (): void => {
    tidy(() => {
      opt.zeroGrad();
      model.forward(x).pow(2).mean().backward();
    });
    opt.step();
  };
  const inputGrad = (): void =>
    tidy(() => {
      const xa = x.clone().requiresGrad_();
      gradOf(model.forward(xa).pow(2).mean(), xa);
    });
  const a = ones([4], { device });
  const tinyAdd = (): void => {
    for (let i = 0; i < 1000; i++) call1('aten::add.Tensor', [a, a, 1]).dispose();
  };

  const measureOurs = (): Record<string, number> => ({
    forward: medianMs(timed(forward), args.warmup, args.iters),
    train_step: medianMs(timed(trainStep), args.warmup, args.iters),
    input_grad: medianMs(timed(inputGrad), args.warmup, args.iters),
    op_call_us: medianMs(timed(tinyAdd), 2, 10),
  });
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'engine.py');
  // Alternate the two engines over several rounds and take the median of the
  // round medians, so a burst of machine noise hits both sides alike.
  const oursRounds: Record<string, number>[] = [];
  const theirsRounds: Record<string, number>[] = [];
  for (let r = 0; r < args.rounds; r++) {
    oursRounds.push(measureOurs());
    theirsRounds.push(pythonTorch(script, [args.threads, args.batch, args.warmup, args.iters, device]));
  }
  model.dispose();
  opt.dispose();
  x.dispose();
  a.dispose();
  const ours = medianOfRounds(oursRounds);
  const theirs = medianOfRounds(theirsRounds);

  const cases: BenchCase[] = (['forward', 'train_step', 'input_grad'] as const).map((name) => ({
    name,
    rankshield_ms: round(ours[name]!),
    pytorch_ms: round(theirs[name]!),
    ratio: round(ours[name]! / theirs[name]!, 3),
  }));
  const result = {
    bench: 'engine',
    device,
    rankshield_libtorch: torchVersion(),
    pytorch: pytorch.version,
    python: pytorch.python,
    threads: args.threads,
    batch: args.batch,
    cases,
    worst_ratio: Math.max(...cases.map((c) => c.ratio)),
    rounds: args.rounds,
    op_call_overhead_us: { rankshield: round(ours.op_call_us!, 2), pytorch: round(theirs.op_call_us!, 2) },
  };
  if (!args.json) {
    console.log(`engine bench: c2f2, batch ${args.batch}, ${args.threads} thread(s), ${device}, median of ${args.iters} × ${args.rounds} alternating rounds`);
    console.log(`  rankshield on libtorch ${torchVersion()}; PyTorch ${pytorch.version} (${pytorch.python})`);
    for (const c of cases)
      console.log(
        `  ${c.name.padEnd(12)} rankshield ${c.rankshield_ms.toFixed(1).padStart(7)} ms   pytorch ${c.pytorch_ms.toFixed(1).padStart(7)} ms   ratio ${c.ratio.toFixed(3)}`,
      );
    console.log(`  op call overhead: rankshield ${result.op_call_overhead_us.rankshield} us, pytorch ${result.op_call_overhead_us.pytorch} us`);
  }
  console.log(JSON.stringify(result));
  return 0;
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

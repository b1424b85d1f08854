// Layer: cli. `rankshield bench <name>`: side-by-side benchmarks against PyTorch.
import { UsageError, type Command } from './command.js';

type BenchRunner = (argv: string[]) => Promise<number>;

const BENCHES: Record<string, [string, () => Promise<BenchRunner>]> = {
  engine: ['c2f2 forward / train step / input gradient vs PyTorch, plus per-op overhead', async () => (await import('../../bench/engine.js')).runEngineBench],
  train: [
    'c2f2 SPC-2 triplet training on Fashion-MNIST (ms per batch, epoch estimate); --nproc N: c10d ranks vs PyTorch DDP',
    async () => (await import('../../bench/train.js')).runTrainBench,
  ],
  swipe: ['batched rob28 attack queries/s vs an equivalent PyTorch implementation', async () => (await import('../../bench/swipe.js')).runSwipeBench],
  defense: [
    'HM[S,g_LGA] η=8 adversarial training vs PyTorch, and the exact skip-satisfied speed-up (--eta N)',
    async () => (await import('../../bench/defense.js')).runDefenseBench,
  ],
  data: ['224×224 input pipeline images/s with 1 and 2 decode workers', async () => (await import('../../bench/data.js')).runDataBench],
  serve: [
    'searches by id against `rankshield serve` from N keep-alive clients: throughput, p50/p95/p99 latency (no PyTorch side)',
    async () => (await import('../../bench/serve.js')).runServeBench,
  ],
  robrank: [
    "parity: rob28 by rankshield and by RobRank's own attack code (a checkout: --robrank DIR) on one c2f2 checkpoint, with the sampling noise",
    async () => (await import('../../bench/robrank-parity.js')).runRobrankParityBench,
  ],
  scripted: [
    'a TorchScript c2f2 (traced by PyTorch) vs the native c2f2: forward, input gradient, train step',
    async () => (await import('../../bench/scripted.js')).runScriptedBench,
  ],
};

export const benchCommand: Command = {
  name: 'bench',
  summary: 'side-by-side benchmarks against PyTorch',
  get usage(): string {
    return [
      'usage: rankshield bench <name> [--threads N] [--json] [bench options]',
      '',
      'Runs the same work in rankshield and in PyTorch (/usr/bin/python3, Debian python3-torch; or',
      "--python PATH / RANKSHIELD_BENCH_PYTHON, e.g. a venv with pip's torch 2.x), one after the other",
      'in one command, and prints medians and the ratio rankshield/PyTorch. `engine` and `swipe` take',
      '--device cpu|cuda|cuda:N (both sides on that device; a GPU and a CUDA build of the addon).',
      'The last line of output is one JSON object. Benchmarks run from a clone of the repository',
      '(the npm package does not ship them).',
      '',
      'benches:',
      ...Object.entries(BENCHES).map(([n, [s]]) => `  ${n.padEnd(8)} ${s}`),
    ].join('\n');
  },
  async run(argv) {
    const [name, ...rest] = argv;
    const entry = name === undefined ? undefined : BENCHES[name];
    if (entry === undefined) throw new UsageError(`unknown bench '${name ?? ''}' (known: ${Object.keys(BENCHES).join(', ')})`);
    let runner: BenchRunner;
    try {
      runner = await entry[1]();
    } catch (e) {
      // The npm package ships the library and the CLI, not the benchmarks.
      if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && /Cannot find module '[^']*[/\\]bench[/\\]/.test((e as Error).message))
        throw new Error('the benchmarks run from a clone of the repository (bench/ is not in the npm package), with python3-torch installed');
      throw e;
    }
    return runner(rest);
  },
};

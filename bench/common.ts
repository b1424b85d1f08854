// Shared helpers of the side-by-side benchmarks.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { flagBool, flagNumber, flagString, parseOptions, type OptionTable } from '../src/util/options.js';
import { parseDevice, type Device } from '../src/tensor/index.js';

export interface BenchCase {
  name: string;
  rankshield_ms: number;
  pytorch_ms: number;
  ratio: number;
}

export interface BenchArgs {
  threads: number;
  batch: number;
  warmup: number;
  iters: number;
  rounds: number;
  /** Data-parallel ranks (bench train: rankshield's c10d ranks against PyTorch DDP). */
  nproc: number;
  /** Where both sides compute (bench engine and swipe; the others run on the CPU). */
  device: Device;
  json: boolean;
}

/** The libtorch threads a bench uses unless --threads says: RANKSHIELD_THREADS, else every core. */
export function defaultThreads(): number {
  return Number(process.env.RANKSHIELD_THREADS) || os.availableParallelism();
}

/** The Python whose PyTorch the benches compare against: --python, else RANKSHIELD_BENCH_PYTHON, else Debian's. */
export const DEFAULT_PYTHON = '/usr/bin/python3';
const PYTHON_OPTION = {
  kind: 'string',
  value: 'PATH',
  help: `the python whose PyTorch runs the other side (RANKSHIELD_BENCH_PYTHON; default ${DEFAULT_PYTHON}, Debian's python3-torch), e.g. a venv's bin/python with pip's torch 2.x`,
} as const satisfies OptionTable[string];
let python = process.env.RANKSHIELD_BENCH_PYTHON || DEFAULT_PYTHON;

/** Chooses the bench's Python (from a --python flag); undefined keeps the default. */
export function useBenchPython(p: string | undefined): void {
  if (p !== undefined && p !== '') python = p;
}

const positive = (help: string): OptionTable[string] => ({ kind: 'int', value: 'N', min: 1, help });

/** The flags every timing bench shares. */
export const BENCH_OPTIONS = {
  threads: positive('libtorch intra-op threads (both sides)'),
  batch: positive('batch size'),
  warmup: { kind: 'int', value: 'N', min: 0, help: 'untimed iterations first' },
  iters: positive('timed iterations per round'),
  rounds: positive('rounds (the median round is reported)'),
  nproc: positive('data-parallel ranks (bench train: c10d ranks against PyTorch DDP)'),
  python: PYTHON_OPTION,
  json: { kind: 'boolean', help: 'print only the JSON line' },
} as const satisfies OptionTable;

/** --device for the benches that take it (engine, swipe). */
export const DEVICE_OPTION = {
  kind: 'string',
  value: 'D',
  help: 'cpu | cuda | cuda:N: where both sides compute (PyTorch gets the same device)',
} as const satisfies OptionTable[string];

/** Parses the shared bench flags (Node's util.parseArgs underneath) over a bench's defaults; `extra` adds a bench's own flags. */
export function parseBenchArgs(
  argv: string[],
  defaults: { batch: number; warmup: number; iters: number; rounds: number },
  extra: OptionTable = {},
): BenchArgs & { extra: Map<string, string | number | boolean> } {
  const p = parseOptions(argv, { ...BENCH_OPTIONS, ...extra });
  useBenchPython(flagString(p, 'python'));
  const n = (name: keyof typeof defaults): number => flagNumber(p, name) ?? defaults[name];
  return {
    threads: flagNumber(p, 'threads') ?? defaultThreads(),
    batch: n('batch'),
    warmup: n('warmup'),
    iters: n('iters'),
    rounds: n('rounds'),
    nproc: flagNumber(p, 'nproc') ?? 1,
    device: parseDevice(flagString(p, 'device') ?? 'cpu'),
    json: flagBool(p, 'json'),
    extra: p.flags,
  };
}

export function medianMs(fn: () => void, warmup: number, iters: number): number {
  for (let i = 0; i < warmup; i++) fn();
  const ts: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    ts.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)]!;
}

/** The PyTorch the benches run: its python and `torch.__version__`. */
export function benchPytorch(): { python: string; version: string } {
  const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${python} cannot import torch (${(r.stderr || String(r.error ?? '')).trim().split('\n').pop()})`);
  return { python, version: r.stdout.trim() };
}

/** Runs a PyTorch reference script and parses the JSON object on its last stdout line. */
export function pythonTorch(script: string, args: (string | number)[]): Record<string, number> {
  if (python.includes('/') && !existsSync(python)) {
    throw new Error(
      python === DEFAULT_PYTHON
        ? `${python} not found: install Debian's python3-torch (npm run setup -- --bench), or pass --python PATH`
        : `--python ${python}: no such file`,
    );
  }
  const r = spawnSync(python, [script, ...args.map(String)], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    throw new Error(`PyTorch reference ${script} failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as Record<string, number>;
}

/** Per-key median over rounds of measurements. */
export function medianOfRounds(rounds: readonly Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(rounds[0] ?? {})) {
    const v = rounds.map((r) => r[k]!).sort((a, b) => a - b);
    out[k] = v[Math.floor(v.length / 2)]!;
  }
  return out;
}

/** Fashion-MNIST's training split as raw uint8 files for the PyTorch scripts (bench/fashion_reference.py). */
export function exportFashionTrain(train: { pixels: Uint8Array; labels: Int32Array }, tag: string): { dir: string; imagesFile: string; labelsFile: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), `rankshield-bench-${tag}-`));
  const imagesFile = path.join(dir, 'images.u8');
  const labelsFile = path.join(dir, 'labels.u8');
  writeFileSync(imagesFile, train.pixels);
  writeFileSync(labelsFile, Uint8Array.from(train.labels));
  return { dir, imagesFile, labelsFile };
}

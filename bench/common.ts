// Shared helpers of the side-by-side benchmarks.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { flagBool, flagNumber, parseOptions, type OptionTable } from '../src/util/options.js';

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
  json: boolean;
}

/** The libtorch threads a bench uses unless --threads says: RANKSHIELD_THREADS, else every core. */
export function defaultThreads(): number {
  return Number(process.env.RANKSHIELD_THREADS) || os.availableParallelism();
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
  json: { kind: 'boolean', help: 'print only the JSON line' },
} as const satisfies OptionTable;

/** Parses the shared bench flags (Node's util.parseArgs underneath) over a bench's defaults; `extra` adds a bench's own flags. */
export function parseBenchArgs(argv: string[], defaults: { batch: number; warmup: number; iters: number; rounds: number }, extra: OptionTable = {}): BenchArgs & { extra: Map<string, string | number | boolean> } {
  const p = parseOptions(argv, { ...BENCH_OPTIONS, ...extra });
  const n = (name: keyof typeof defaults): number => flagNumber(p, name) ?? defaults[name];
  return {
    threads: flagNumber(p, 'threads') ?? defaultThreads(),
    batch: n('batch'),
    warmup: n('warmup'),
    iters: n('iters'),
    rounds: n('rounds'),
    nproc: flagNumber(p, 'nproc') ?? 1,
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

const PYTHON = '/usr/bin/python3';

/** Runs a PyTorch reference script and parses the JSON object on its last stdout line. */
export function pythonTorch(script: string, args: (string | number)[]): Record<string, number> {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} not found: install Debian's python3-torch (npm run setup -- --bench)`);
  const r = spawnSync(PYTHON, [script, ...args.map(String)], { encoding: 'utf8', maxBuffer: 64 << 20 });
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

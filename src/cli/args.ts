// Layer: cli. The helpers that read the option groups several commands share
// (common-options.ts declares them), re-exported with the option parser.
import { CPU, cudaDevices, parseDevice, rendezvousFromEnv, setNumThreads, type Device } from '../tensor/index.js';
import { UsageError } from './command.js';
import { flagBool, flagNumber, flagString, type ParsedArgs } from '../util/options.js';

export * from '../util/options.js';
export * from './common-options.js';

/** Progress bars (stderr) unless --quiet or --json: a script reading the JSON wants a quiet terminal. */
export function showProgress(p: ParsedArgs): boolean {
  return !flagBool(p, 'quiet') && !flagBool(p, 'json');
}

/** Applies --threads (when given) to libtorch. */
export function applyThreads(p: ParsedArgs): void {
  const threads = flagNumber(p, 'threads');
  if (threads !== undefined) setNumThreads(threads);
}

/**
 * --device parsed and checked against this machine (a usage error names what is missing). A rank
 * of a data-parallel run given plain `cuda` takes the GPU of its LOCAL_RANK (modulo the GPUs there),
 * as torchrun scripts do, so NCCL sees one GPU per rank.
 */
export function deviceFlag(p: ParsedArgs): Device {
  const raw = flagString(p, 'device');
  if (raw === undefined) return CPU;
  try {
    const device = parseDevice(raw);
    const rank = raw.trim() === 'cuda' ? rendezvousFromEnv() : null;
    return rank !== null && rank.worldSize > 1 ? `cuda:${rank.localRank % cudaDevices().length}` : device;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** --resamples and --bootstrap-seed as the bootstrap's settings (absent flags keep the defaults). */
export function bootstrapFlags(p: ParsedArgs): { resamples?: number; seed?: number } {
  return { resamples: flagNumber(p, 'resamples'), seed: flagNumber(p, 'bootstrap-seed') };
}

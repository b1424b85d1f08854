// Layer: tensor. Loads the C++ bridge (native/) and gives it a typed face.
// Nothing above src/tensor talks to the addon directly.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** A value the generic op call accepts for one schema argument. Tensors travel as integer handles. */
export type NativeArg = number | boolean | string | null | undefined | NativeArg[];
/** What an op call returns: a handle, a number, a boolean, null, or an array of those. */
export type NativeResult = number | boolean | string | null | NativeResult[];

export interface NativeBridge {
  opLookup(name: string, overload: string): number;
  opSchema(op: number): string;
  call(op: number, args: NativeArg[]): NativeResult;
  dispose(handle: number): void;
  liveCount(): number;
  fromData(data: ArrayBufferView, shape: number[], dtype: number): number;
  toData(handle: number): Float32Array | Float64Array | Int32Array | BigInt64Array | Int16Array | Int8Array | Uint8Array | Uint16Array;
  meta(handle: number): [number[], number, string, boolean];
  item(handle: number): number;
  setRequiresGrad(handle: number, on: boolean): void;
  gradOf(handle: number): number | null;
  setGrad(handle: number, grad: number | null): void;
  backward(outputs: number[], gradOutputs: (number | null)[] | null, retainGraph: boolean | null, createGraph: boolean): void;
  grad(
    outputs: number[],
    inputs: number[],
    gradOutputs: (number | null)[] | null,
    retainGraph: boolean | null,
    createGraph: boolean,
    allowUnused: boolean,
  ): (number | null)[];
  setGradEnabled(on: boolean): boolean;
  isGradEnabled(): boolean;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  manualSeed(seed: number): void;
  /** A default generator's state: the CPU's, or a CUDA device's ('cuda:N'). */
  rngState(device?: string): Uint8Array;
  setRngState(state: Uint8Array, device?: string): void;
  /** Waits for the work queued on a CUDA device (a no-op for 'cpu'; an error without a CUDA build). */
  synchronize(device: string): void;
  /**
   * TorchScript modules through one entry: 'load' (archive bytes → id), 'call' (id, method, args → result),
   * 'parameters' | 'buffers' (id → [name, handle][], aliases of the module's own tensors),
   * 'train' (id, on), 'training' (id), 'save' (id → archive bytes), 'free' (id).
   */
  scripted(action: 'load', archive: Uint8Array): number;
  scripted(action: 'call', id: number, method: string, args: NativeArg[]): NativeResult;
  scripted(action: 'parameters' | 'buffers', id: number): [string, number][];
  scripted(action: 'train', id: number, on: boolean): void;
  scripted(action: 'training', id: number): boolean;
  scripted(action: 'save', id: number): Uint8Array;
  scripted(action: 'free', id: number): void;
  /** Optional parts of this build: 'gloo' (c10d process groups), 'cuda', 'nccl' (ProcessGroupNCCL for CUDA tensors). */
  features(): string[];
  /** c10d (present when features() has 'gloo'): a TCPStore rendezvous + ProcessGroupGloo, and ProcessGroupNCCL for CUDA tensors when 'nccl'. */
  pgCreate?(
    masterAddr: string,
    masterPort: number,
    rank: number,
    worldSize: number,
    timeoutMs: number,
    deviceKind: string,
    deviceValue: string,
    storeHost?: 'rank0' | 'external',
    storePrefix?: string,
  ): number;
  pgRun?(group: number, collective: 'allreduce-sum' | 'broadcast' | 'barrier', tensors: number[], root?: number): void;
  pgDestroy?(group: number): void;
  /** `target` takes `source`'s data (possibly on another device), keeping its identity. */
  setData(target: number, source: number): void;
  /** Names of the CUDA devices libtorch sees (empty on CPU-only builds). */
  cudaDevices(): string[];
  /** libtorch's build description (`at::show_config`) and threading (`at::get_parallel_info`). */
  buildInfo(): { config: string; parallel: string };
  cudaAvailable(): boolean;
  version(): string;
  /** Frees the blocks held by the caching CPU allocator; returns the bytes released. */
  emptyCache(): number;
  /** Bytes currently held in the allocator's free lists. */
  cachedBytes(): number;
}

function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'native', 'binding.gyp'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('rankshield: cannot find the package root (native/binding.gyp)');
    dir = up;
  }
}

/** Where the compiled addon lives. */
/**
 * The addon this process loads: native/build's (scripts/setup.sh), or RANKSHIELD_ADDON's, a build
 * made elsewhere by scripts/build-addon.sh (e.g. against PyTorch 2.x by scripts/torch2-check.sh).
 */
export function addonPath(): string {
  const chosen = process.env.RANKSHIELD_ADDON;
  if (chosen !== undefined && chosen !== '') return path.resolve(chosen);
  return path.join(packageRoot(), 'native', 'build', 'Release', 'rankshield_native.node');
}

function load(): NativeBridge {
  const addon = addonPath();
  if (!existsSync(addon)) {
    throw new Error(
      process.env.RANKSHIELD_ADDON
        ? `rankshield: RANKSHIELD_ADDON names ${addon}, which does not exist (build it with scripts/build-addon.sh)`
        : `rankshield: native addon not built (${addon} is missing); run \`npm run setup\``,
    );
  }
  const require = createRequire(import.meta.url);
  return require(addon) as NativeBridge;
}

export const native: NativeBridge = load();

// Test runners and benchmarks pin the intra-op thread count through the environment.
const envThreads = Number(process.env.RANKSHIELD_THREADS ?? '');
if (Number.isInteger(envThreads) && envThreads > 0) native.setNumThreads(envThreads);

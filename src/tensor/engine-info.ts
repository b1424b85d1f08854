// Layer: tensor. What this process computes with: the libtorch the addon was
// built against (version, where it came from), CUDA devices, BLAS, threads and
// the optional parts of the build (c10d Gloo, NCCL). For `rankshield info` and bug reports.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { addonPath, native } from './native.js';

export interface EngineInfo {
  libtorch: { version: string; root: string | null; include: string | null; libDir: string | null; cxx11Abi: boolean | null };
  cuda: { built: boolean; available: boolean; devices: string[] };
  distributed: { gloo: boolean; nccl: boolean };
  blas: string;
  cpuCapability: string;
  threads: number;
  addon: string;
}

export function engineInfo(): EngineInfo {
  const addon = addonPath();
  // Written by scripts/setup.sh beside the build (native/libtorch.js's description of the libtorch used).
  const stampFile = path.join(path.dirname(path.dirname(addon)), 'libtorch.json');
  const stamp = existsSync(stampFile)
    ? (JSON.parse(readFileSync(stampFile, 'utf8')) as { root: string | null; include: string; libDir: string; abi: number })
    : null;
  const { config } = native.buildInfo();
  const line = (re: RegExp): string => re.exec(config)?.[1]?.trim() ?? 'unknown';
  const features = native.features();
  const devices = native.cudaDevices();
  return {
    libtorch: {
      version: native.version(),
      root: stamp?.root ?? null,
      include: stamp?.include ?? null,
      libDir: stamp?.libDir ?? null,
      cxx11Abi: stamp === null ? null : stamp.abi === 1,
    },
    cuda: { built: features.includes('cuda'), available: devices.length > 0, devices },
    distributed: { gloo: features.includes('gloo'), nccl: features.includes('nccl') },
    blas: line(/BLAS_INFO=([^,\n]+)/),
    cpuCapability: line(/CPU capability usage: ([^\n]+)/),
    threads: native.getNumThreads(),
    addon,
  };
}

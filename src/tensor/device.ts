// Layer: tensor. Where tensors live. A device is a value ('cpu', 'cuda:0', …)
// decided once at the top (--device) and carried by the model; code below
// never asks "is this CUDA?" except where data crosses the host boundary
// (images uploaded per batch, results read back).
import { native } from './native.js';
import type { Tensor } from './tensor.js';

/** 'cpu' or 'cuda:N' (normalised: plain 'cuda' means 'cuda:0'). */
export type Device = 'cpu' | `cuda:${number}`;

export const CPU: Device = 'cpu';

/** The CUDA devices libtorch can use here, by name ([] without a CUDA build or GPU). */
export function cudaDevices(): string[] {
  return native.cudaDevices();
}

/**
 * Parses `cpu`, `cuda` or `cuda:N` and checks the device exists, so a run that
 * cannot use it stops before loading anything, saying why.
 */
export function parseDevice(s: string): Device {
  const m = /^(cpu|cuda)(?::(\d+))?$/.exec(s.trim());
  if (m === null || (m[1] === 'cpu' && m[2] !== undefined)) throw new Error(`unknown device '${s}' (expected cpu, cuda or cuda:N)`);
  if (m[1] === 'cpu') return CPU;
  const index = Number(m[2] ?? 0);
  const devices = cudaDevices();
  if (devices.length === 0) {
    if (native.features().includes('cuda')) {
      throw new Error(
        `--device ${s}: this addon is built with CUDA (libtorch ${native.version()}), but no CUDA device is visible (no GPU, no driver, or CUDA_VISIBLE_DEVICES hides it)`,
      );
    }
    throw new Error(
      `--device ${s}: this build of the addon uses a libtorch without CUDA; build against a CUDA libtorch with RANKSHIELD_LIBTORCH=python (or =DIR) and npm run setup`,
    );
  }
  if (index >= devices.length) throw new Error(`--device ${s}: only ${devices.length} CUDA device(s) here (cuda:0 … cuda:${devices.length - 1})`);
  return `cuda:${index}`;
}

/**
 * `t` on `device` (the same tensor when it is there already; otherwise a copy the caller owns).
 * Host → CUDA uploads (a batch of images) go through pinned memory and a non-blocking copy, as a
 * PyTorch DataLoader with pin_memory=True does: the copy overlaps the host work that follows, and
 * is ordered before every later op on the device's stream. The staging block may be freed at once:
 * libtorch's pinned-memory cache does not reuse it until the copy has run.
 */
export function onDevice(t: Tensor, device: Device): Tensor {
  if (t.device === device || (device === CPU && t.device === 'cpu')) return t;
  if (t.device === 'cpu' && device !== CPU) {
    const pinned = t.pinMemory();
    try {
      return pinned.to(device, { nonBlocking: true });
    } finally {
      pinned.dispose();
    }
  }
  return t.to(device);
}

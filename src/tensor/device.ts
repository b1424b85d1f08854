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
    const why = native.features().includes('cuda') ? 'no CUDA device is visible (driver, CUDA_VISIBLE_DEVICES?)' : 'this build of the addon uses a libtorch without CUDA';
    throw new Error(`--device ${s}: ${why}; build against a CUDA libtorch with RANKSHIELD_LIBTORCH=python (or =DIR) and npm run setup`);
  }
  if (index >= devices.length) throw new Error(`--device ${s}: only ${devices.length} CUDA device(s) here (cuda:0 … cuda:${devices.length - 1})`);
  return `cuda:${index}`;
}

/** `t` on `device` (the same tensor when it is there already; otherwise a copy the caller owns). */
export function onDevice(t: Tensor, device: Device): Tensor {
  return t.device === device || (device === CPU && t.device === 'cpu') ? t : t.to(device);
}

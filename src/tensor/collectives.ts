// Layer: tensor. Collectives of plain values over a process group, beside the
// group's tensor collectives (distributed.ts): numbers summed, JSON broadcast.
// With one process both are the identity, so callers need no `if distributed`.
import type { ProcessGroup } from './distributed.js';
import { Tensor } from './tensor.js';

/**
 * Sums a vector of numbers over the group (each rank fills the entries it owns,
 * the others are 0, so every sum has one non-zero term and is exact).
 */
export function allreduceNumbers(values: Float64Array, group: ProcessGroup): Float64Array {
  if (group.worldSize === 1) return values;
  const t = Tensor.fromTypedArray(values, [values.length], 'float64');
  try {
    group.allreduceSum([t]);
    return Float64Array.from(t.toArray());
  } finally {
    t.dispose();
  }
}

/** Rank `root`'s JSON value on every rank. */
export function broadcastJson<T>(value: T | undefined, group: ProcessGroup, root = 0): T {
  if (group.worldSize === 1) return value as T;
  const bytes = group.rank === root ? new TextEncoder().encode(JSON.stringify(value)) : new Uint8Array(0);
  const length = Tensor.fromTypedArray(new Float64Array([bytes.length]), [1], 'float64');
  try {
    group.broadcast([length], root);
    const n = length.toArray()[0]!;
    const body = Tensor.fromTypedArray(group.rank === root ? bytes : new Uint8Array(n), [n], 'uint8');
    try {
      group.broadcast([body], root);
      return JSON.parse(new TextDecoder().decode(Uint8Array.from(body.toArray()))) as T;
    } finally {
      body.dispose();
    }
  } finally {
    length.dispose();
  }
}

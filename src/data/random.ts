// Layer: data. The seeded PRNG of the input pipeline (shuffles, SPC-2 partners,
// crop offsets, flips).
//
// Why our own generator instead of libtorch's: the data pipeline must not load
// libtorch in worker threads, and its random stream must not depend on what
// other layers draw from torch's global generator in between. So batches are a
// pure function of (seed, epoch).
//
// Generator: xoshiro128** 1.1 (Blackman & Vigna, 2018; 128-bit state, period
// 2^128 − 1), seeded by expanding the 32-bit seed with splitmix32 so that
// nearby seeds give unrelated streams and the state is never all zero.

/** One splitmix32 step: returns [output, next state]. Used only to expand seeds. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  z ^= z >>> 15;
  return [z >>> 0, next];
}

/** Mixes several integers (a seed and e.g. an epoch number) into one 32-bit seed. */
export function mixSeed(...parts: number[]): number {
  let h = 0x6a09e667;
  for (const p of parts) {
    if (!Number.isSafeInteger(p)) throw new Error(`seed part must be an integer, got ${p}`);
    // Fold both 32-bit halves so seeds above 2^32 stay distinct.
    for (const word of [p >>> 0, Math.floor(p / 0x100000000) >>> 0]) {
      const [z] = splitmix32((h ^ word) | 0);
      h = z;
    }
  }
  return h >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A deterministic pseudo-random stream (xoshiro128**). Not cryptographic. */
export class Rng {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`seed must be a non-negative integer, got ${seed}`);
    let st = mixSeed(seed) | 0;
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [z, next] = splitmix32(st);
      words.push(z | 0);
      st = next;
    }
    [this.#s0, this.#s1, this.#s2, this.#s3] = words as [number, number, number, number];
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1; // all-zero state is a fixed point
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.#s1, 5), 7), 9);
    const t = this.#s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return result >>> 0;
  }

  /** Uniform float in [0, 1) with 32 bits of resolution. */
  nextFloat(): number {
    return this.nextUint32() / 0x100000000;
  }

  /** Uniform integer in [0, n), without modulo bias (rejection sampling). n ≤ 2^32. */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 0x100000000) throw new Error(`nextInt: bound must be an integer in [1, 2^32], got ${n}`);
    // Reject the top partial block of 2^32 so every residue is equally likely.
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** A fair coin with probability p of true. */
  nextBool(p = 0.5): boolean {
    return this.nextFloat() < p;
  }

  /** Fisher–Yates shuffle in place; returns the same array. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }

  /** A permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}

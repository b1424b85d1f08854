// Layer: eval. The per-query bootstrap behind every interval rankshield reports
// (docs/attacks-and-metrics.md §9). Queries are the unit: one replicate draws n
// queries with replacement ONCE and recomputes every column's mean from those
// queries' values; scores built from several columns (ERS, ARS, a paired
// difference) are then computed from that replicate's column means, so their
// interval is of the score, with the columns' correlation kept. The interval is
// the percentile interval of the replicates.
//
// Reported point estimates stay what they were (RobRank's mean of batch means);
// the replicates are plain means over the resampled queries. The two differ only
// through a shorter last batch, and the JSON says which estimator the point is.
//
// Randomness is rankshield's own, not Math.random: mulberry32 (a 32-bit state
// advanced by the odd constant 0x6D2B79F5, output through two xor-shift-multiply
// rounds), so a seed gives the same replicates on every machine and Node version.

/** The point estimate's estimator, as the JSON states it beside the intervals. */
export const POINT_ESTIMATOR = 'mean of batch means';

/** A two-sided interval in the value's own unit. */
export interface Interval {
  lo: number;
  hi: number;
}

/** How intervals were made, as every result JSON records it (`bootstrap`). */
export interface BootstrapInfo {
  /** Replicates B. */
  resamples: number;
  /** Seed of the resampling generator. */
  seed: number;
  /** Coverage of the percentile interval, e.g. 0.95. */
  confidence: number;
  /** What is resampled. */
  unit: 'query';
}

/** The defaults: B = 1000, seed 0, 95 %. */
export const BOOTSTRAP_DEFAULTS: Readonly<Omit<BootstrapInfo, 'unit'>> = { resamples: 1000, seed: 0, confidence: 0.95 };

/** A full `BootstrapInfo` from partial settings, checked. */
export function bootstrapInfo(o: Partial<Omit<BootstrapInfo, 'unit'>> = {}): BootstrapInfo {
  const resamples = o.resamples ?? BOOTSTRAP_DEFAULTS.resamples;
  const seed = o.seed ?? BOOTSTRAP_DEFAULTS.seed;
  const confidence = o.confidence ?? BOOTSTRAP_DEFAULTS.confidence;
  if (!Number.isInteger(resamples) || resamples < 1) throw new Error(`bootstrap: resamples must be a positive integer, got ${resamples}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`bootstrap: seed must be an integer in [0, 2^32), got ${seed}`);
  if (!(confidence > 0 && confidence < 1)) throw new Error(`bootstrap: confidence must be in (0, 1), got ${confidence}`);
  return { resamples, seed, confidence, unit: 'query' };
}

/**
 * mulberry32: a generator of uint32 values from a 32-bit seed. Public so tests can
 * replay the exact draws (mulberry32(0) starts 1144304738, 1416247, 958946056; divided by 2^32
 * the first is 0.26642920868471265, the value other implementations print).
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** n indices in [0, n) drawn with replacement: floor(u · n / 2^32) of each draw u (bias below n / 2^32). */
export function resampleIndices(n: number, next: () => number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor((next() * n) / 0x100000000);
  return out;
}

/**
 * The percentile interval of replicate values: the (1−c)/2 and (1+c)/2 quantiles,
 * linearly interpolated between order statistics (position q·(B−1), numpy's default).
 */
export function percentileInterval(replicates: ArrayLike<number>, confidence: number): Interval {
  const sorted = Float64Array.from(replicates).sort();
  if (sorted.length === 0) throw new Error('percentileInterval: no replicates');
  const at = (q: number): number => {
    const position = q * (sorted.length - 1);
    const below = Math.floor(position);
    const above = Math.min(below + 1, sorted.length - 1);
    return sorted[below]! + (position - below) * (sorted[above]! - sorted[below]!);
  };
  return { lo: at((1 - confidence) / 2), hi: at((1 + confidence) / 2) };
}

/** Per-query values keyed by column; every vector holds the same queries in the same order. */
export type PerQuery = Readonly<Record<string, ArrayLike<number>>>;

/**
 * Derived numbers of one replicate from its column means (keyed as `perQuery`): ERS, ARS,
 * paired differences… A null leaves that key without an interval (e.g. ARS with R@1 = 0).
 */
export type Derive = (means: Readonly<Record<string, number>>) => Record<string, number | null>;

/** A statistic that is not a function of column means (NMI): computed from the replicate's query indices. */
export type DirectStatistic = (indices: Uint32Array) => number | null;

/**
 * The bootstrap: `resamples` replicates, each ONE draw of n queries shared by every column;
 * an interval for every column of `perQuery` (its mean), every key `derive` returns, and every
 * `direct` statistic (given the same draw). A key that is null or not finite in any replicate gets no interval.
 */
export function bootstrapIntervals(
  perQuery: PerQuery,
  derive: Derive | null,
  info: BootstrapInfo,
  direct: Readonly<Record<string, DirectStatistic>> = {},
  queries?: number,
): Record<string, Interval> {
  const columns = Object.keys(perQuery);
  if (columns.length === 0 && queries === undefined) return {};
  const n = queries ?? perQuery[columns[0]!]!.length;
  for (const c of columns)
    if (perQuery[c]!.length !== n) throw new Error(`bootstrap: column '${c}' has ${perQuery[c]!.length} queries, '${columns[0]}' has ${n}`);
  if (n === 0) throw new Error('bootstrap: no queries');
  const values = columns.map((c) => Float64Array.from(perQuery[c]!));
  const replicates = new Map<string, Float64Array>();
  const invalid = new Set<string>();
  const record = (key: string, b: number, v: number | null): void => {
    if (v === null || !Number.isFinite(v)) {
      invalid.add(key);
      return;
    }
    let r = replicates.get(key);
    if (r === undefined) replicates.set(key, (r = new Float64Array(info.resamples)));
    r[b] = v;
  };
  const next = mulberry32(info.seed);
  const means: Record<string, number> = {};
  for (let b = 0; b < info.resamples; b++) {
    const idx = resampleIndices(n, next);
    columns.forEach((c, j) => {
      const v = values[j]!;
      let sum = 0;
      for (let i = 0; i < n; i++) sum += v[idx[i]!]!;
      means[c] = sum / n;
      record(c, b, means[c]);
    });
    if (derive !== null) for (const [key, v] of Object.entries(derive(means))) record(key, b, v);
    for (const [key, statistic] of Object.entries(direct)) record(key, b, statistic(idx));
  }
  const out: Record<string, Interval> = {};
  for (const [key, r] of replicates) if (!invalid.has(key)) out[key] = percentileInterval(r, info.confidence);
  return out;
}

/** Whether an interval lies wholly on one side of 0 (a difference the bootstrap calls significant). */
export function excludesZero(i: Interval): boolean {
  return i.lo > 0 || i.hi < 0;
}

/** `[lo, hi]` with `digits` decimals, as the tables print an interval. */
export function formatInterval(i: Interval | undefined, digits: number): string {
  return i === undefined ? '' : `[${i.lo.toFixed(digits)}, ${i.hi.toFixed(digits)}]`;
}

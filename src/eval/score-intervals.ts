// Layer: eval. Intervals of a swipe's numbers: every attack column, benign R@1, and ERS/ARS
// bootstrapped THROUGH their formulas (robustness.ts) from each replicate's column means,
// plus what a result was made on, so two results can be paired (`rankshield compare`).
import { createHash } from 'node:crypto';
import type { DmlDataset } from '../data/index.js';
import { labelsAsBytes, listingSha256, pixelsAndLabelsSha256 } from '../data/fingerprint.js';
import { bootstrapIntervals, type BootstrapInfo, type Derive, type Interval, type PerQuery } from './bootstrap.js';
import { adjustedRobustnessScore, ATTACK_NAMES, empiricalRobustnessScore, type AttackResults } from './robustness.js';

/** The per-query key of benign R@1 (%, drop-first), the same as the result's field. */
export const BENIGN_R1_KEY = 'benignRecallAt1';

/** What a swipe was made on: two results pair query by query only when all of this agrees. */
export interface SwipeProvenance {
  dataset: string;
  split: string;
  /** SHA-256 of the split's content (pixels and labels; for file-backed sets its listing and labels). */
  splitSha256: string;
  /** Queries attacked, and the SHA-256 of their split indices (int32, little-endian, in order). */
  queries: number;
  queryIndicesSha256: string;
  profile: string;
  /** The attacks' seed. */
  seed: number;
  /** Search method ('pgd' unless given) and whether the images were crafted on a surrogate. */
  method: string;
  transfer: boolean;
  /** Non-reference attack options (GTM's target), sorted JSON; '{}' for the reference's. */
  attackOptions: string;
  /** The benign R@1 (%) given for ARS, or null when measured. */
  benignRecallAt1Given: number | null;
}

/** The SHA-256 of a split's content (cached per dataset object: the test split is hashed once per process). */
const splitHashes = new WeakMap<DmlDataset, string>();
export function splitSha256(ds: DmlDataset): string {
  let h = splitHashes.get(ds);
  if (h === undefined) {
    h = ds.kind === 'memory' ? pixelsAndLabelsSha256(ds.pixels, labelsAsBytes(ds.labels, ds.name)) : listingSha256(ds.files, ds.labels);
    splitHashes.set(ds, h);
  }
  return h;
}

/** SHA-256 of the query indices (int32 little-endian). */
export function queryIndicesSha256(indices: ArrayLike<number>): string {
  const bytes = Buffer.alloc(4 * indices.length);
  for (let i = 0; i < indices.length; i++) bytes.writeInt32LE(indices[i]!, 4 * i);
  return createHash('sha256').update(bytes).digest('hex');
}

/** ERS and ARS of one set of column means (null where a column is missing or R@1 is 0). */
export function scoresOf(means: Readonly<Record<string, number>>, benignGiven: number | null): { ERS: number | null; ARS: number | null } {
  const table: Partial<AttackResults> = {};
  for (const name of ATTACK_NAMES) {
    if (means[name] === undefined) return { ERS: null, ARS: null };
    table[name] = means[name];
  }
  const full = table as AttackResults; // every column checked above
  const r1 = benignGiven ?? means[BENIGN_R1_KEY];
  return { ERS: empiricalRobustnessScore(full), ARS: r1 === undefined || !(r1 > 0) ? null : adjustedRobustnessScore(full, r1).score };
}

/** The derive step of a swipe's bootstrap: ERS and ARS from the replicate's column means. */
export function scoreDerive(benignGiven: number | null): Derive {
  return (means) => scoresOf(means, benignGiven);
}

/** Intervals of every per-query column and of ERS/ARS (through their formulas). */
export function swipeIntervals(perQuery: PerQuery, benignGiven: number | null, info: BootstrapInfo): Record<string, Interval> {
  return bootstrapIntervals(perQuery, scoreDerive(benignGiven), info);
}

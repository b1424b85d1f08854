// Layer: metric. The SPC-2 miners (one file each under miners/) and the name registry.
//
// Names: ours ('random', 'semihard', 'softhard', 'distance', 'hardest',
// 'gradual-semihard'), RobRank's one-letter codes of HM model names
// (r, m, s, d, h; docs/methods.md §9) and the reference code ids (spc2-random,
// spc2-semihard, spc2-softhard, spc2-distance, spc2-hard, spc2-ghard), so
// configs can move over unchanged.
import type { Miner } from './miners/batch.js';
import { randomMiner } from './miners/random.js';
import { gradualSemihardMiner, semihardMiner } from './miners/semihard.js';
import { softhardMiner } from './miners/softhard.js';
import { distanceWeightedMiner } from './miners/distance-weighted.js';
import { hardestMiner } from './miners/hardest.js';

export * from './miners/batch.js';
export { randomMiner, randomNegatives } from './miners/random.js';
export { semihardMiner, semihardNegatives, gradualSemihardMiner, gradualSemihardMargin } from './miners/semihard.js';
export { softhardMiner, softhardSelection } from './miners/softhard.js';
export { distanceWeightedMiner, distanceWeightedNegatives, distanceWeightedProbabilities } from './miners/distance-weighted.js';
export { hardestMiner, hardestNegatives } from './miners/hardest.js';

/** One miner of the catalogue: its names in our code, in RobRank's loss names and HM model names, and the miner. */
export interface MinerEntry {
  readonly name: string;
  readonly summary: string;
  /** The letters between `p` and the loss in RobRank's loss names: `p` + code + `triplet` (`pmtriplet` = semihard). */
  readonly lossCode: string;
  /** The lower-case letter of HM model names (`hmetsm`: source softhard, destination semihard); HM samplers only. */
  readonly hmLetter?: string;
  /** The reference code's id (spc2-semihard …). */
  readonly codeId: string;
  readonly miner: Miner;
}

/** Every miner. The one list: names, RobRank letters, HM samplers and help texts derive from it. */
export const MINERS = [
  { name: 'random', summary: 'a random negative of another class', lossCode: '', hmLetter: 'r', codeId: 'spc2-random', miner: randomMiner },
  {
    name: 'semihard',
    summary: 'the closest negative farther than the positive (FaceNet)',
    lossCode: 'm',
    hmLetter: 'm',
    codeId: 'spc2-semihard',
    miner: semihardMiner,
  },
  {
    name: 'softhard',
    summary: 'a harder-than-positive negative, else the hardest (RobRank)',
    lossCode: 's',
    hmLetter: 's',
    codeId: 'spc2-softhard',
    miner: softhardMiner,
  },
  { name: 'distance', summary: 'distance-weighted sampling (Wu et al.)', lossCode: 'd', hmLetter: 'd', codeId: 'spc2-distance', miner: distanceWeightedMiner },
  { name: 'hardest', summary: 'the closest negative', lossCode: 'h', hmLetter: 'h', codeId: 'spc2-hard', miner: hardestMiner },
  {
    name: 'gradual-semihard',
    summary: "semihard with a margin growing over the epochs (CA-TRIDE's miner)",
    lossCode: 'g',
    codeId: 'spc2-ghard',
    miner: gradualSemihardMiner,
  },
] as const satisfies readonly MinerEntry[];

/** The miners by name (`pmtriplet` = semihard, `pstriplet` = softhard, …), from the catalogue. */
export type MinerName = (typeof MINERS)[number]['name'];

/** The catalogue as entries of the common shape (each with its name typed as a MinerName). */
const ENTRIES: readonly (MinerEntry & { readonly name: MinerName })[] = MINERS;

/** Every miner name. */
export const MINER_NAMES: readonly MinerName[] = MINERS.map((m) => m.name);

/** The miners HM may name as source or destination (those with a letter), in catalogue order. */
export const HM_SAMPLERS: readonly MinerName[] = ENTRIES.filter((m) => m.hmLetter !== undefined).map((m) => m.name);

/** Our name for any accepted miner name (ours, a RobRank letter, a code id); throws on an unknown one. */
export function parseMinerName(name: string): MinerName {
  // Letter codes are case-sensitive in RobRank's grammar; code ids are lower case.
  const m = ENTRIES.find((e) => e.name === name || e.hmLetter === name || e.codeId === name);
  if (m !== undefined) return m.name;
  throw new Error(
    `unknown miner '${name}' (expected one of ${MINER_NAMES.join(', ')}, a RobRank letter ${HM_SAMPLERS.map((n) => minerEntry(n).hmLetter).join('/')}, or a code id like spc2-semihard)`,
  );
}

/** The catalogue entry of a miner name. */
export function minerEntry(name: MinerName): MinerEntry & { readonly name: MinerName } {
  return ENTRIES.find((e) => e.name === name)!;
}

/** A miner by name or RobRank letter/code id; throws with the known names otherwise. */
export function minerByName(name: string): Miner {
  return minerEntry(parseMinerName(name)).miner;
}

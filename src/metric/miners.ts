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

/** The miners by name (`pmtriplet` = semihard, `pstriplet` = softhard, …). */
export type MinerName = 'random' | 'semihard' | 'softhard' | 'distance' | 'hardest' | 'gradual-semihard';

/** Every miner name. */
export const MINER_NAMES: readonly MinerName[] = ['random', 'semihard', 'softhard', 'distance', 'hardest', 'gradual-semihard'];

const MINERS: Readonly<Record<MinerName, Miner>> = {
  random: randomMiner,
  semihard: semihardMiner,
  softhard: softhardMiner,
  distance: distanceWeightedMiner,
  hardest: hardestMiner,
  'gradual-semihard': gradualSemihardMiner,
};

const ALIASES: Readonly<Record<string, MinerName>> = {
  r: 'random',
  m: 'semihard',
  s: 'softhard',
  d: 'distance',
  h: 'hardest',
  'spc2-random': 'random',
  'spc2-semihard': 'semihard',
  'spc2-softhard': 'softhard',
  'spc2-distance': 'distance',
  'spc2-hard': 'hardest',
  'spc2-ghard': 'gradual-semihard',
};

/** Our name for any accepted miner name; throws on an unknown one. */
export function parseMinerName(name: string): MinerName {
  if ((MINER_NAMES as readonly string[]).includes(name)) return name as MinerName;
  // Letter codes are case-sensitive in RobRank's grammar; code ids are lower case.
  const alias = ALIASES[name];
  if (alias !== undefined) return alias;
  throw new Error(
    `unknown miner '${name}' (expected one of ${MINER_NAMES.join(', ')}, a RobRank letter r/m/s/d/h, or a code id like spc2-semihard)`,
  );
}

/** A miner by name or RobRank letter/code id; throws with the known names otherwise. */
export function minerByName(name: string): Miner {
  return MINERS[parseMinerName(name)];
}

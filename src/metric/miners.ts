// Layer: metric. The SPC-2 miners as one catalogue: each miner lives in its own
// file under miners/ and exports its entry (miners/entry.ts says what one
// holds); names, RobRank letters, HM samplers and help texts derive from this
// list. Adding a miner: its file, one line here.
//
// Names: ours ('random', 'semihard', 'softhard', 'distance', 'hardest',
// 'gradual-semihard'), RobRank's one-letter codes of HM model names
// (r, m, s, d, h; docs/methods.md §9) and the reference code ids (spc2-random,
// spc2-semihard, spc2-softhard, spc2-distance, spc2-hard, spc2-ghard), so
// configs can move over unchanged.
import { entryByName, namesOf } from '../util/catalogue.js';
import type { Miner } from './miners/batch.js';
import type { MinerEntry } from './miners/entry.js';
import { randomEntry } from './miners/random.js';
import { semihardEntry } from './miners/semihard.js';
import { softhardEntry } from './miners/softhard.js';
import { distanceEntry } from './miners/distance-weighted.js';
import { hardestEntry } from './miners/hardest.js';
import { gradualSemihardEntry } from './miners/gradual-semihard.js';

export * from './miners/batch.js';
export * from './miners/entry.js';
export { randomMiner, randomNegatives } from './miners/random.js';
export { semihardMiner, semihardNegatives } from './miners/semihard.js';
export { gradualSemihardMiner, gradualSemihardMargin } from './miners/gradual-semihard.js';
export { softhardMiner, softhardSelection } from './miners/softhard.js';
export { distanceWeightedMiner, distanceWeightedNegatives, distanceWeightedProbabilities } from './miners/distance-weighted.js';
export { hardestMiner, hardestNegatives } from './miners/hardest.js';

/** Every miner, the default (random) first. */
export const MINERS = [randomEntry, semihardEntry, softhardEntry, distanceEntry, hardestEntry, gradualSemihardEntry] as const;

/** The miners by name (`pmtriplet` = semihard, `pstriplet` = softhard, …), from the catalogue. */
export type MinerName = (typeof MINERS)[number]['name'];

/** The catalogue as entries of the common shape (each with its name typed as a MinerName). */
const ENTRIES: readonly MinerEntry<MinerName>[] = MINERS;

/** Every miner name. */
export const MINER_NAMES: readonly MinerName[] = namesOf(ENTRIES);

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

/** The catalogue entry of a miner name; throws listing the known names. */
export function minerEntry(name: string): MinerEntry<MinerName> {
  return entryByName(ENTRIES, name, 'miner');
}

/** A miner by name or RobRank letter/code id; throws with the known names otherwise. */
export function minerByName(name: string): Miner {
  return minerEntry(parseMinerName(name)).miner;
}

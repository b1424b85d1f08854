// Layer: metric. What a miner's catalogue entry holds. Each miner's file
// exports its entry (`defineMiner` keeps its name as a literal type, so the
// list in miners.ts yields the `MinerName` union).
import type { Miner } from './batch.js';

/** One miner of the catalogue: its names in our code, in RobRank's loss names and HM model names, and the miner. */
export interface MinerEntry<N extends string = string> {
  readonly name: N;
  readonly summary: string;
  /** The letters between `p` and the loss in RobRank's loss names: `p` + code + `triplet` (`pmtriplet` = semihard). */
  readonly lossCode: string;
  /** The lower-case letter of HM model names (`hmetsm`: source softhard, destination semihard); HM samplers only. */
  readonly hmLetter?: string;
  /** The reference code's id (spc2-semihard …). */
  readonly codeId: string;
  readonly miner: Miner;
}

/** A miner entry with its name kept as a literal type. */
export function defineMiner<const N extends string>(entry: MinerEntry<N>): MinerEntry<N> {
  return entry;
}

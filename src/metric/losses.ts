// Layer: metric. The training losses on mined pairs as one catalogue: names in
// our configs and in RobRank's loss names, and each loss's default margin.
import { CONTRASTIVE_MARGIN } from './contrastive.js';
import { metricByName, type MetricName } from './metric.js';

/** The training loss on mined triplets. */
export type LossKind = 'triplet' | 'contrastive';

export interface LossEntry {
  readonly name: LossKind;
  /** The word in RobRank's loss names: `p` + miner code + word + metric (`pdcontrastN`). */
  readonly robrankWord: string;
  readonly summary: string;
  /** The margin RobRank uses with a metric. */
  readonly defaultMargin: (metric: MetricName) => number;
}

/** Every loss. The one list the config schema, the CLI and the shorthand parser derive from. */
export const LOSSES: readonly LossEntry[] = [
  { name: 'triplet', robrankWord: 'triplet', summary: 'triplet loss max(0, d(a,p) − d(a,n) + γ)', defaultMargin: (metric) => metricByName(metric).defaultMargin },
  { name: 'contrastive', robrankWord: 'contrast', summary: 'contrastive loss on the SPC-2 pairs', defaultMargin: () => CONTRASTIVE_MARGIN },
];

export const LOSS_NAMES: readonly LossKind[] = LOSSES.map((l) => l.name);

/** A loss entry by name; throws listing the known names. */
export function lossEntry(name: string): LossEntry {
  const l = LOSSES.find((e) => e.name === name);
  if (l === undefined) throw new Error(`unknown loss '${name}' (known: ${LOSS_NAMES.join(', ')})`);
  return l;
}

// Layer: eval. Benign retrieval quality of a model on a test split, the way
// RobRank reports it (docs/attacks-and-metrics.md §1–2): the whole split is both
// query set and gallery, embeddings in metric space, per-batch means averaged.
import { dispose, onDevice, tidy, Tensor, type ProcessGroup } from '../tensor/index.js';
import type { Metric } from '../metric/metric.js';
import type { EmbeddingModel } from '../models/model.js';
import { defaultBatchSizes, type DmlDataset } from '../data/index.js';
import { embedDataset } from './embed.js';
import { retrievalMetrics, type RetrievalReport } from './retrieval.js';
import { embeddingNmi, normalizedMutualInformation } from './nmi.js';
import { bootstrapIntervals, type BootstrapInfo, type Interval } from './bootstrap.js';
import { entanglement, type Entanglement } from './entanglement.js';

/** Fractions in [0, 1], except r@M (a mean 0-based rank). */
export interface BenignMetrics {
  /** Recall@1: share of queries whose nearest other item has their label. */
  'R@1': number;
  /** Recall@2. */
  'R@2': number;
  /** Mean average precision over the whole ranked gallery. */
  mAP: number;
  /** RobRank's "mAP@R" with R fixed to 10 (the column of RobRank's tables). */
  'mAP@10': number;
  /** Standard mAP@R (pytorch-metric-learning): R = the query's number of relevant items. */
  'mAP@R': number;
  /** Normalised mutual information of k-means clusters (k = classes) and labels. */
  NMI: number;
  /** Mean 0-based rank of the first relevant item. */
  'r@M': number;
}

/** The columns every table, report and JSON line shows, in this order. */
export const BENIGN_COLUMNS = ['R@1', 'R@2', 'mAP', 'mAP@10', 'mAP@R', 'NMI'] as const satisfies readonly (keyof BenignMetrics)[];

/**
 * Benign metrics as stored by any version of rankshield (checkpoint sidecars,
 * log.jsonl, report.json). Runs written before mAP@10 existed stored RobRank's
 * R = 10 variant under 'mAP@R' and had no standard mAP@R: that value is read
 * back as mAP@10 and mAP@R is left out.
 */
export function readBenignMetrics(stored: Readonly<Record<string, number>> | Readonly<Partial<BenignMetrics>>): Partial<BenignMetrics> {
  const { 'mAP@R': mapAtR, 'mAP@10': mapAt10, ...rest }: Readonly<Record<string, number | undefined>> = stored;
  const legacy = mapAt10 === undefined && mapAtR !== undefined;
  const out: Partial<BenignMetrics> = {};
  for (const key of ['R@1', 'R@2', 'mAP', 'NMI', 'r@M'] as const) if (rest[key] !== undefined) out[key] = rest[key];
  if (legacy) out['mAP@10'] = mapAtR;
  else {
    if (mapAt10 !== undefined) out['mAP@10'] = mapAt10;
    if (mapAtR !== undefined) out['mAP@R'] = mapAtR;
  }
  return out;
}

/** The benign columns of a per-metric record (values, or their intervals) as one JSON-ready object; absent ones are left out. */
export function benignJson<T>(m: Partial<Record<keyof BenignMetrics, T>>): Partial<Record<(typeof BENIGN_COLUMNS)[number], T>> {
  return Object.fromEntries(BENIGN_COLUMNS.filter((k) => m[k] !== undefined).map((k) => [k, m[k]!]));
}

/**
 * The same numbers under the keys of RobRank's own validation output
 * (`r@M`, `r@1`, `r@2`, `mAP`, `mAP@R` — its mAP@R being R = 10), for
 * comparisons with RobRank logs and tables.
 */
export function robrankBenignKeys(m: Partial<BenignMetrics>): Record<string, number> {
  const pairs: [string, number | undefined][] = [
    ['r@M', m['r@M']],
    ['r@1', m['R@1']],
    ['r@2', m['R@2']],
    ['mAP', m.mAP],
    ['mAP@R', m['mAP@10']],
  ];
  return Object.fromEntries(pairs.filter((p): p is [string, number] => p[1] !== undefined));
}

/** One line of benign metrics ×100, e.g. `R@1 87.8  R@2 93.0  …`; absent values print as '–'. */
export function formatBenign(m: Partial<BenignMetrics>, separator = '  '): string {
  return BENIGN_COLUMNS.map((k) => `${k} ${m[k] === undefined ? '–' : (100 * m[k]).toFixed(1)}`).join(separator);
}

/** Options of `evaluateBenign`. */
export interface BenignOptions {
  batchSize?: number;
  /** Also measure the class entanglement of the test embeddings (CA-TRIDE's λ rule). */
  entanglement?: boolean;
  /** Progress bars with ETA on stderr for embedding, ranking and k-means (default off). */
  progress?: boolean;
  /** Embed the split across a process group (every rank gets the same metrics). */
  group?: ProcessGroup;
  /** Also the per-query bootstrap's interval of every metric (`intervals`, same keys and units). */
  bootstrap?: BootstrapInfo;
}

/** What `evaluateBenign` returns. */
export type BenignEvaluation = BenignMetrics & { entanglement?: Entanglement; intervals?: Partial<Record<keyof BenignMetrics, Interval>> };

/**
 * R@1, R@2, mAP, mAP@10, mAP@R, NMI and r@M of `model` on `ds`, which is both
 * query set and gallery (each query's own copy is dropped from its ranking).
 */
export async function evaluateBenign(model: EmbeddingModel, ds: DmlDataset, metric: Metric, o: BenignOptions = {}): Promise<BenignEvaluation> {
  const batchSize = o.batchSize ?? defaultBatchSizes(ds.height).test;
  const raw = await embedDataset(model, ds, { batchSize, progress: o.progress, group: o.group });
  const emb = tidy(() => metric.embed(raw));
  const labels = tidy(() => onDevice(Tensor.fromTypedArray(ds.labels, [ds.length]).long(), model.device));
  try {
    const report = retrievalMetrics(emb, emb, labels, labels, metric, {
      batchSize,
      recallAt: [1, 2],
      withMapAtR: true,
      progress: o.progress,
      perQuery: o.bootstrap !== undefined,
    });
    const r = report.batchMean;
    const clustered = embeddingNmi(emb, labels, { progress: o.progress });
    const nmi = clustered.nmi;
    const metrics: BenignMetrics = {
      'R@1': r.recallAt[1]!,
      'R@2': r.recallAt[2]!,
      mAP: r.mAP,
      'mAP@10': r.mAPAt10,
      'mAP@R': r.mAPAtR!,
      NMI: nmi,
      'r@M': r.meanRank,
    };
    const out: BenignEvaluation = o.entanglement === true ? { ...metrics, entanglement: entanglement(emb, labels, metric) } : metrics;
    if (o.bootstrap !== undefined) out.intervals = benignIntervals(report.perQuery!, clustered, o.bootstrap);
    return out;
  } finally {
    dispose([raw, emb, labels]);
  }
}

/**
 * The intervals of the benign metrics: one draw of queries per replicate for every metric; NMI
 * recomputed from the drawn queries' (label, k-means cluster) pairs (the clustering held fixed).
 */
function benignIntervals(
  q: NonNullable<RetrievalReport['perQuery']>,
  clustered: { labels: number[]; assignments: number[] },
  info: BootstrapInfo,
): Partial<Record<keyof BenignMetrics, Interval>> {
  const perQuery: Record<string, number[]> = { 'R@1': q.recallAt[1]!, 'R@2': q.recallAt[2]!, mAP: q.mAP, 'mAP@10': q.mAPAt10, 'r@M': q.meanRank };
  if (q.mAPAtR !== undefined) perQuery['mAP@R'] = q.mAPAtR;
  const nmi = (idx: Uint32Array): number =>
    normalizedMutualInformation(
      Array.from(idx, (i) => clustered.labels[i]!),
      Array.from(idx, (i) => clustered.assignments[i]!),
    );
  return bootstrapIntervals(perQuery, null, info, { NMI: nmi });
}

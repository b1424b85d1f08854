// Layer: eval. Benign retrieval quality of a model on a test split, the way
// RobRank reports it (attacks_and_metrics.md §1–2): the whole split is both
// query set and gallery, embeddings in metric space, per-batch means averaged.
import { dispose, tidy, Tensor } from '../tensor/index.js';
import { embedForMetric, type MetricName } from '../metric/distance.js';
import type { EmbeddingModel } from '../models/model.js';
import type { DmlDataset } from '../data/index.js';
import { embedDataset } from './embed.js';
import { retrievalMetrics } from './retrieval.js';
import { embeddingNmi } from './nmi.js';
import { entanglement, type Entanglement } from './entanglement.js';

/** Fractions in [0, 1], except r@M (a mean 0-based rank). */
export interface BenignMetrics {
  'R@1': number;
  'R@2': number;
  mAP: number;
  'mAP@R': number;
  NMI: number;
  'r@M': number;
}

export interface BenignOptions {
  batchSize?: number;
  /** Also measure the class entanglement of the test embeddings (CA-TRIDE's λ rule). */
  entanglement?: boolean;
}

export async function evaluateBenign(model: EmbeddingModel, ds: DmlDataset, metric: MetricName, o: BenignOptions = {}): Promise<BenignMetrics & { entanglement?: Entanglement }> {
  const batchSize = o.batchSize ?? (ds.height > 64 ? 112 : 128);
  const raw = await embedDataset(model, ds, batchSize);
  const emb = tidy(() => embedForMetric(raw, metric));
  const labels = tidy(() => Tensor.fromTypedArray(ds.labels, [ds.length]).long());
  try {
    const r = retrievalMetrics(emb, emb, labels, labels, metric, { batchSize, recallAt: [1, 2] }).batchMean;
    const { nmi } = embeddingNmi(emb, labels);
    const metrics: BenignMetrics = { 'R@1': r.recallAt[1]!, 'R@2': r.recallAt[2]!, mAP: r.mAP, 'mAP@R': r.mAPAt10, NMI: nmi, 'r@M': r.meanRank };
    return o.entanglement === true ? { ...metrics, entanglement: entanglement(emb, labels, metric) } : metrics;
  } finally {
    dispose([raw, emb, labels]);
  }
}

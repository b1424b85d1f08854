// Layer: serve. What the HTTP handlers share: the served gallery and model
// description (read once at start-up), the neighbour table, the job queue and
// the in-memory caches. Built by server.ts; nothing in it comes from a request.
import type { DmlDataset } from '../data/index.js';
import type { MetricName } from '../metric/metric.js';
import type { Lru } from './lru.js';
import type { NeighbourTable } from './protocol.js';
import type { JobQueue } from './queue.js';

/** The pictures of one attack result, PNG-encoded. */
export interface ResultImages {
  query: Buffer;
  perturbation: Buffer;
  adversarial: Buffer;
}

export interface ServeContext {
  version: string;
  /** performance.now() at start-up. */
  started: number;
  /** The gallery: the test split (maybe cut to its first images), in the server process. */
  ds: DmlDataset;
  /** [C, H, W] of the model's input and of every image served. */
  shape: [number, number, number];
  dataset: string;
  metric: MetricName;
  /** The served checkpoint's run name (or the model file's name), never a path. */
  checkpoint: string;
  /** The experiment config, with file paths cut to their names. */
  config: Record<string, unknown>;
  /** The checkpoint's stored benign metrics; null for a --model-file. */
  storedMetrics: Record<string, number> | null;
  table: NeighbourTable;
  /** Gallery ids of each label, and the label values present (ascending). */
  byLabel: Map<number, Int32Array>;
  classes: number[];
  queue: JobQueue;
  runsDir: string | null;
  token: string | null;
  results: Lru<string, ResultImages>;
  galleryPngs: Lru<number, Buffer>;
}

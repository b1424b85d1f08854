// Layer: serve. The messages between the server process and its worker
// processes (node IPC with structured-clone serialization, so typed arrays
// travel as they are). A worker loads the model once, then runs one job at a time.
import type { AttackKind, PgdBudget } from '../attack/index.js';
import type { MetricName } from '../metric/metric.js';
import type { SwipeResult } from '../eval/swipe.js';

/** What a worker opens: plain data, no objects (it crosses a process boundary). */
export interface WorkerSpec {
  /** A rankshield checkpoint (run directory, checkpoint.json or commit directory) … */
  checkpoint?: string;
  /** … or a TorchScript file with `dataset` and `metric`. */
  modelFile?: string;
  dataset: string;
  /** Dataset root (IDX directory for mnist/fashion, image root for cub/cars/sop). */
  root?: string;
  metric: MetricName;
  /** Serve only the first N images of the test split. */
  maxGallery?: number;
  /** cpu | cuda | cuda:N */
  device: string;
  /** Progress bars on stderr while embedding the gallery. */
  progress: boolean;
}

/** The gallery's embeddings in metric space, row-major [length, dim]. */
export interface GalleryEmbeddings {
  embeddings: Float32Array;
  dim: number;
}

/** The k nearest items of every gallery item (itself included), row-major [length, k], nearest first. */
export interface NeighbourTable {
  k: number;
  ids: Int32Array;
  distances: Float32Array;
}

/** The nearest gallery items of one query, nearest first. */
export interface Neighbours {
  ids: number[];
  distances: number[];
}

/** A query image: a gallery id, or pixels (float32 CHW in [0, 1], the model's shape). */
export type QueryInput = { id: number } | { pixels: Float32Array };

export interface AttackJob {
  kind: 'attack';
  attack: AttackKind;
  query: QueryInput;
  budget: PgdBudget;
  /** Gallery ids: QA±/SPQA± candidates (M), CA± queries (W); absent = drawn as the swipe draws them. */
  candidates?: number[];
  k: number;
  seed: number;
}

export interface SwipeJob {
  kind: 'swipe';
  profile: string;
  maxQueries?: number;
  seed: number;
  /** The robust evaluation (PGD, APGD, query-only, ε sweep; no transfer: the service has no surrogate) with its masking verdict. */
  robustEval?: boolean;
}

export interface SearchJob {
  kind: 'search';
  pixels: Float32Array;
  k: number;
}

export type JobRequest = AttackJob | SwipeJob | SearchJob;

/** One number an attack reports, before (clean) and after it. */
export interface MeasureValue {
  name: string;
  before: number;
  after: number;
}

/** What an attack job returns. */
export interface AttackOutcome {
  measures: MeasureValue[];
  /** Clean and adversarial images, float32 CHW in [0, 1]. */
  clean: Float32Array;
  adversarial: Float32Array;
  /** Largest |adversarial − clean| over the pixels. */
  linf: number;
  topkBefore: Neighbours;
  topkAfter: Neighbours;
  /** The chosen gallery ids and ranks (1-based): QA±/SPQA± the candidate in the query's ranking; CA± the image in that query's ranking. */
  candidates: { id: number; rankBefore: number; rankAfter: number }[];
  /** The label the attack assumed for the query (an upload's is its nearest gallery item's). */
  label: number;
}

export type JobResult = AttackOutcome | SwipeResult | Neighbours;

/** Progress of a running job in work units (a swipe: attack runs). */
export interface WorkerProgress {
  done: number;
  total: number;
  attack?: string;
}

export type ToWorker =
  | { type: 'init'; spec: WorkerSpec; gallery: GalleryEmbeddings | null }
  | { type: 'job'; id: string; job: JobRequest }
  | { type: 'cancel'; id: string };

export type FromWorker =
  /** `neighbours` only from the worker that embedded the gallery itself. */
  | { type: 'ready'; gallery: GalleryEmbeddings; neighbours: NeighbourTable | null }
  | { type: 'init-failed'; error: string }
  | { type: 'progress'; id: string; progress: WorkerProgress }
  | { type: 'done'; id: string; result: JobResult }
  | { type: 'failed'; id: string; error: string; cancelled: boolean };

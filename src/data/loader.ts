// Layer: data. Batch loaders: turn batch plans (spc2.ts) into tensors.
//   - in-memory datasets: one gather per batch on the main thread, no workers;
//   - file-backed datasets: images decoded by a DecodePool of worker threads,
//     `prefetch` batches ahead (a bounded window), assembled into one
//     Float32Array, wrapped into a tensor only when the batch is handed out (so
//     prefetched batches never hold libtorch memory).
// Augmentation choices are drawn up front on the main thread from the seeded
// stream, so batches do not depend on which worker finishes first.
//
// Ownership: each yielded batch's tensors belong to the caller (dispose them or
// use tidy). Leaving a `for await` early, or close(), stops the loader's own
// workers. Not safe for concurrent next() calls (for-await never makes them).
import os from 'node:os';
import { Tensor } from '../tensor/index.js';
import { CENTER_CROP, randomCropFlip, type CropFlip } from './augment.js';
import type { DmlDataset, FileDataset } from './dataset.js';
import { DecodePool } from './decode-pool.js';
import { IMAGE_FLOATS } from './image-transform.js';
import { gatherUnitFloat32, labelsTensor } from './memory-dataset.js';
import { defaultBatchSizes, epochRng, spc2EpochPlan, STREAM_AUGMENT, testOrderPlan, type BatchPlan } from './spc2.js';

/** One batch: images [n, C, H, W] float32 in [0,1], labels [n] int64, and the dataset index of each image. */
export interface Batch {
  readonly images: Tensor;
  readonly labels: Tensor;
  readonly indices: Int32Array;
}

/** A file that failed to decode and was left out (only with skipCorrupt). */
export interface SkippedFile {
  readonly index: number;
  readonly file: string;
  readonly error: string;
}

/** Options every loader takes. */
export interface LoaderOptions {
  /** Decode worker threads for file-backed datasets (default: cores − 1, at least 1, at most 4). 0 = main thread. */
  readonly workers?: number;
  /** A pool to share across loaders (e.g. epochs); it is not closed by the loader. Overrides `workers`. */
  readonly pool?: DecodePool;
  /** Batches decoded ahead of the consumer (default 2). */
  readonly prefetch?: number;
  /** Leave out images that fail to decode (and their pair partner) instead of failing; see `skipped`. */
  readonly skipCorrupt?: boolean;
}

/** Options of `spc2Loader`. */
export interface Spc2LoaderOptions extends LoaderOptions {
  /** Base seed: the epoch's batches are a pure function of (seed, epoch). */
  readonly seed: number;
  readonly epoch?: number;
  /** Pairs per batch (default 128 for 28×28, 56 for 224×224). */
  readonly batchPairs?: number;
  /** Random crop + flip for file-backed images (default true); false uses the test center crop. */
  readonly augment?: boolean;
  /**
   * Skip the epoch's first batches (a run resumed mid-epoch). The plans and
   * crops are drawn for the whole epoch first, so batch k is the same batch k.
   */
  readonly startBatch?: number;
}

/** Options of `testLoader`. */
export interface TestLoaderOptions extends LoaderOptions {
  /** Images per batch (default 128 for 28×28, 112 for 224×224). */
  readonly batchSize?: number;
  /** Only the batches with these indices (a rank's share of a split); batch k is the same k either way. */
  readonly onlyBatches?: (batch: number) => boolean;
}

/** Decode workers by default: the cores minus one, between 1 and 4. */
export function defaultWorkers(): number {
  return Math.min(4, Math.max(1, os.availableParallelism() - 1));
}

/** What a prefetched batch settles to; never a rejected promise, so nothing goes unhandled. */
type Assembled = { readonly ok: true; readonly images: Float32Array; readonly indices: Int32Array } | { readonly ok: false; readonly error: Error };

/**
 * An async iterator of batches (images [B, C, H, W] in [0, 1], int64 labels, split indices) with decoding in worker threads; the caller disposes each batch's tensors.
 */
export class BatchLoader implements AsyncIterableIterator<Batch> {
  readonly dataset: DmlDataset;
  readonly plans: readonly BatchPlan[];
  /** Number of batches this loader yields at most (fewer if skipCorrupt empties a batch). */
  readonly batches: number;
  readonly #crops: readonly (readonly CropFlip[])[] | null;
  readonly #skipCorrupt: boolean;
  readonly #prefetch: number;
  readonly #skipped = new Map<number, SkippedFile>();
  #pool: DecodePool | null = null;
  #ownsPool = false;
  #window: Promise<Assembled>[] = [];
  #scheduled = 0;
  #consumed = 0;
  #closed = false;

  /** `crops[b][k]`: crop of image k of batch b (file-backed datasets only). */
  constructor(dataset: DmlDataset, plans: readonly BatchPlan[], crops: readonly (readonly CropFlip[])[] | null, opts: LoaderOptions = {}) {
    this.dataset = dataset;
    this.plans = plans;
    this.batches = plans.length;
    this.#skipCorrupt = opts.skipCorrupt ?? false;
    this.#prefetch = opts.prefetch ?? 2;
    if (!Number.isInteger(this.#prefetch) || this.#prefetch < 1) throw new Error(`prefetch must be a positive integer, got ${opts.prefetch}`);
    this.#crops = crops;
    if (dataset.kind === 'files') {
      if (crops === null || crops.length !== plans.length) throw new Error('BatchLoader: file-backed datasets need one crop list per batch');
      if (opts.pool !== undefined) this.#pool = opts.pool;
      else {
        this.#pool = new DecodePool(opts.workers ?? defaultWorkers());
        this.#ownsPool = true;
      }
    }
  }

  /** Files left out so far (each once), with skipCorrupt. */
  get skipped(): readonly SkippedFile[] {
    return [...this.#skipped.values()];
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<Batch>> {
    while (!this.#closed && this.#consumed < this.plans.length) {
      const b = this.#consumed++;
      const a = this.dataset.kind === 'memory' ? this.#gatherMemory(b) : await this.#nextFromWindow();
      if (!a.ok) {
        await this.close();
        throw a.error;
      }
      if (a.indices.length === 0) continue; // every image of the batch was skipped
      return { done: false, value: this.#toBatch(a) };
    }
    await this.close();
    return { done: true, value: undefined };
  }

  async return(): Promise<IteratorResult<Batch>> {
    await this.close();
    return { done: true, value: undefined };
  }

  /** Stops prefetching and the loader's own workers. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#window = [];
    if (this.#ownsPool && this.#pool !== null) await this.#pool.close();
  }

  #toBatch(a: { images: Float32Array; indices: Int32Array }): Batch {
    const d = this.dataset;
    const images = Tensor.fromTypedArray(a.images, [a.indices.length, d.channels, d.height, d.width], 'float32');
    try {
      return { images, labels: labelsTensor(d.labels, a.indices), indices: a.indices };
    } catch (e) {
      images.dispose();
      throw e;
    }
  }

  #gatherMemory(b: number): Assembled {
    const d = this.dataset;
    if (d.kind !== 'memory') return { ok: false, error: new Error(`${d.name}: not an in-memory dataset`) };
    const indices = this.plans[b]!.indices;
    try {
      return { ok: true, images: gatherUnitFloat32(d, indices), indices };
    } catch (e) {
      return { ok: false, error: e instanceof Error ? e : new Error(String(e)) };
    }
  }

  async #nextFromWindow(): Promise<Assembled> {
    this.#fillWindow();
    const head = this.#window.shift()!;
    this.#fillWindow(); // keep decoding while the consumer trains on this batch
    return head;
  }

  #fillWindow(): void {
    while (this.#window.length < this.#prefetch && this.#scheduled < this.plans.length) {
      this.#window.push(this.#assembleFiles(this.#scheduled++));
    }
  }

  async #assembleFiles(b: number): Promise<Assembled> {
    const d = this.dataset as FileDataset;
    const plan = this.plans[b]!;
    const crops = this.#crops![b]!;
    const pool = this.#pool!;
    const results = await Promise.allSettled(Array.from(plan.indices, (idx, k) => pool.decode(d.files[idx]!, crops[k]!)));
    const keepGroup: boolean[] = [];
    for (let k = 0; k < results.length; k++) {
      const r = results[k]!;
      if (r.status === 'fulfilled') continue;
      const error = r.reason instanceof Error ? r.reason : new Error(String(r.reason));
      if (!this.#skipCorrupt || this.#closed) return { ok: false, error };
      const idx = plan.indices[k]!;
      this.#skipped.set(idx, { index: idx, file: d.files[idx]!, error: error.message });
      keepGroup[Math.floor(k / plan.groupSize)] = false;
    }
    const kept: number[] = [];
    for (let k = 0; k < results.length; k++) if (keepGroup[Math.floor(k / plan.groupSize)] !== false) kept.push(k);
    const images = new Float32Array(kept.length * IMAGE_FLOATS);
    kept.forEach((k, slot) => images.set((results[k] as PromiseFulfilledResult<Float32Array>).value, slot * IMAGE_FLOATS));
    return { ok: true, images, indices: Int32Array.from(kept, (k) => plan.indices[k]!) };
  }
}

/** Crops for every image of every plan: random from the epoch's augmentation stream, or the center crop. */
function cropsFor(plans: readonly BatchPlan[], augment: boolean, seed: number, epoch: number): CropFlip[][] {
  const rng = augment ? epochRng(seed, epoch, STREAM_AUGMENT) : null;
  return plans.map((p) => Array.from(p.indices, () => (rng === null ? CENTER_CROP : randomCropFlip(rng))));
}

/** SPC-2 training batches of one epoch (2B images interleaved x0, x0', x1, x1', …). */
export function spc2Loader(dataset: DmlDataset, opts: Spc2LoaderOptions): BatchLoader {
  const epoch = opts.epoch ?? 0;
  const plans = spc2EpochPlan(dataset.labels, opts.batchPairs ?? defaultBatchSizes(dataset.height).trainPairs, opts.seed, epoch);
  const crops = dataset.kind === 'files' ? cropsFor(plans, opts.augment ?? true, opts.seed, epoch) : null;
  const start = opts.startBatch ?? 0;
  if (!Number.isInteger(start) || start < 0 || start > plans.length) throw new Error(`startBatch must be in [0, ${plans.length}], got ${start}`);
  return new BatchLoader(dataset, plans.slice(start), crops?.slice(start) ?? null, opts);
}

/** Test-order batches: unshuffled single images, test transform. */
export function testLoader(dataset: DmlDataset, opts: TestLoaderOptions = {}): BatchLoader {
  const only = opts.onlyBatches;
  const plans = testOrderPlan(dataset.length, opts.batchSize ?? defaultBatchSizes(dataset.height).test).filter((_, b) => only === undefined || only(b));
  const crops = dataset.kind === 'files' ? cropsFor(plans, false, 0, 0) : null;
  return new BatchLoader(dataset, plans, crops, opts);
}

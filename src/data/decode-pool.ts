// Layer: data. A pool of decode worker threads running the 224 pipeline, so
// JPEG decoding overlaps training. Jobs queue without bound here; the loader
// bounds how many batches it asks for ahead (loader.ts). With 0 workers the
// pipeline runs on the main thread (libvips still works off the JS thread).
//
// Failures: a bad file rejects that job with an Error naming the file; a
// crashed worker rejects its in-flight jobs (naming their files) and is
// replaced; after close() every job rejects.
import { Worker } from 'node:worker_threads';
import type { CropFlip } from './augment.js';
import type { DecodeReply, DecodeRequest } from './decode-worker.js';
import { loadTransformed } from './image-transform.js';

interface Job {
  readonly id: number;
  readonly file: string;
  readonly crop: CropFlip;
  readonly resolve: (image: Float32Array) => void;
  readonly reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  readonly inFlight: Map<number, Job>;
}

/** Jobs each worker holds at once: one decoding, one ready to start when it finishes. */
const JOBS_PER_WORKER = 2;

/** Worker threads that decode and transform image files for the loaders (sharp off the main thread). */
export class DecodePool {
  readonly workers: number;
  #slots: Slot[] = [];
  #queue: Job[] = [];
  #nextId = 0;
  #closed = false;

  constructor(workers: number) {
    if (!Number.isInteger(workers) || workers < 0) throw new Error(`decode workers must be a non-negative integer, got ${workers}`);
    this.workers = workers;
    for (let i = 0; i < workers; i++) this.#slots.push(this.#spawn());
  }

  #spawn(): Slot {
    const worker = new Worker(new URL('./decode-worker.js', import.meta.url));
    const slot: Slot = { worker, inFlight: new Map() };
    worker.unref(); // an idle pool must not keep the process alive
    worker.on('message', (reply: DecodeReply) => this.#onReply(slot, reply));
    worker.on('error', (e) => this.#onCrash(slot, e instanceof Error ? e.message : String(e)));
    worker.on('exit', (code) => {
      if (!this.#closed) this.#onCrash(slot, `exited with code ${code}`);
    });
    return slot;
  }

  #onReply(slot: Slot, reply: DecodeReply): void {
    const job = slot.inFlight.get(reply.id);
    if (job === undefined) return;
    slot.inFlight.delete(reply.id);
    if (reply.ok) job.resolve(reply.image);
    else job.reject(new Error(reply.error));
    this.#pump();
  }

  #onCrash(slot: Slot, why: string): void {
    const idx = this.#slots.indexOf(slot);
    if (idx < 0) return; // already handled (error is followed by exit)
    for (const job of slot.inFlight.values()) job.reject(new Error(`${job.file}: decode worker failed (${why})`));
    slot.inFlight.clear();
    this.#slots.splice(idx, 1);
    void slot.worker.terminate();
    if (!this.#closed) {
      this.#slots.push(this.#spawn());
      this.#pump();
    }
  }

  /** Starts queued jobs on workers with free capacity; holds a ref on busy workers. */
  #pump(): void {
    for (const slot of this.#slots) {
      while (slot.inFlight.size < JOBS_PER_WORKER && this.#queue.length > 0) {
        const job = this.#queue.shift()!;
        slot.inFlight.set(job.id, job);
        slot.worker.postMessage({ id: job.id, file: job.file, crop: job.crop } satisfies DecodeRequest);
      }
      // A worker with jobs keeps the event loop alive until they finish.
      if (slot.inFlight.size > 0) slot.worker.ref();
      else slot.worker.unref();
    }
  }

  /** Decodes and transforms one image: float32 CHW [3, 224, 224] in [0,1]. */
  decode(file: string, crop: CropFlip): Promise<Float32Array> {
    if (this.#closed) return Promise.reject(new Error(`${file}: decode pool is closed`));
    if (this.workers === 0) return loadTransformed(file, crop);
    return new Promise<Float32Array>((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, file, crop, resolve, reject });
      this.#pump();
    });
  }

  /** Stops the workers; queued and in-flight jobs reject. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const job of this.#queue) job.reject(new Error(`${job.file}: decode pool closed`));
    this.#queue = [];
    const slots = this.#slots;
    this.#slots = [];
    for (const s of slots) {
      for (const job of s.inFlight.values()) job.reject(new Error(`${job.file}: decode pool closed`));
      s.inFlight.clear();
    }
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}

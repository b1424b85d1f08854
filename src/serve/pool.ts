// Layer: serve. The worker processes (worker.ts), one per job that may run at
// once. Heavy work never runs on the server's event loop, and libtorch runs in
// processes of its own (not worker threads). The first worker embeds the
// gallery and computes the neighbour table; the others, and every worker
// restarted after a crash, start from those embeddings. A worker that dies
// fails the job it was running with a message saying so, and a new one is
// started (with growing delays while new ones keep failing to start).
import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { FromWorker, GalleryEmbeddings, JobRequest, JobResult, NeighbourTable, ToWorker, WorkerProgress, WorkerSpec } from './protocol.js';

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));
const RESTART_DELAY_MS = 200;
const MAX_RESTART_DELAY_MS = 30_000;

/** A job the worker stopped because it was asked to. */
export class JobCancelled extends Error {
  override readonly name = 'JobCancelled';
}

/** A job handed to a worker, with where its outcome goes. */
export interface WorkerTask {
  id: string;
  job: JobRequest;
  onProgress(p: WorkerProgress): void;
  resolve(r: JobResult): void;
  reject(e: Error): void;
}

interface Slot {
  index: number;
  child: ChildProcess | null;
  ready: boolean;
  task: WorkerTask | null;
}

export class WorkerPool {
  readonly size: number;
  readonly #spec: WorkerSpec;
  readonly #slots: Slot[];
  readonly #onIdle: () => void;
  #gallery: GalleryEmbeddings | null = null;
  #started = false;
  #closed = false;
  #failures = 0;

  /** `onIdle` is called whenever a worker becomes free (ready after a start, or done with a job). */
  constructor(spec: WorkerSpec, size: number, onIdle: () => void) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`the worker pool needs at least one worker, got ${size}`);
    this.size = size;
    this.#spec = spec;
    this.#onIdle = onIdle;
    this.#slots = Array.from({ length: size }, (_, index) => ({ index, child: null, ready: false, task: null }));
  }

  /** Starts every worker; resolves with the gallery's embeddings and neighbour table once all are ready. */
  async start(): Promise<{ gallery: GalleryEmbeddings; neighbours: NeighbourTable }> {
    const first = await this.#spawn(this.#slots[0]!, null);
    if (first.neighbours === null) throw new Error('the first worker sent no neighbour table');
    this.#gallery = first.gallery;
    await Promise.all(this.#slots.slice(1).map((s) => this.#spawn(s, first.gallery)));
    this.#started = true;
    return { gallery: first.gallery, neighbours: first.neighbours };
  }

  /** A worker that is ready and free, if any. */
  idle(): number | undefined {
    return this.#slots.find((s) => s.ready && s.task === null)?.index;
  }

  /** Workers running a job. */
  get busy(): number {
    return this.#slots.filter((s) => s.task !== null).length;
  }

  /** Hands `task` to idle worker `index`. */
  run(index: number, task: WorkerTask): void {
    const slot = this.#slots[index]!;
    if (!slot.ready || slot.task !== null || slot.child === null) throw new Error(`worker ${index} is not free`);
    slot.task = task;
    this.#send(slot.child, { type: 'job', id: task.id, job: task.job });
  }

  /** Asks the worker running job `id` to stop it (a swipe stops before its next attack run; other jobs finish). */
  cancel(id: string): void {
    const slot = this.#slots.find((s) => s.task?.id === id);
    if (slot?.child) this.#send(slot.child, { type: 'cancel', id });
  }

  /** Stops every worker. */
  close(): void {
    this.#closed = true;
    for (const s of this.#slots) s.child?.kill('SIGTERM');
  }

  #send(child: ChildProcess, m: ToWorker): void {
    // A worker that just died: its exit handler fails the job.
    if (child.connected) child.send(m);
  }

  #spawn(slot: Slot, gallery: GalleryEmbeddings | null): Promise<Extract<FromWorker, { type: 'ready' }>> {
    return new Promise((resolve, reject) => {
      // Workers share the cores: each gets its part unless the environment pins the thread count.
      const threads = process.env.RANKSHIELD_THREADS ?? String(Math.max(1, Math.floor(os.availableParallelism() / this.size)));
      const child = fork(WORKER, [], {
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        execArgv: [],
        env: { ...process.env, RANKSHIELD_THREADS: threads },
      });
      slot.child = child;
      slot.ready = false;
      let starting = true;
      const failStart = (e: Error): void => {
        if (!starting) return;
        starting = false;
        reject(e);
      };
      child.on('message', (m: FromWorker) => {
        switch (m.type) {
          case 'ready':
            starting = false;
            slot.ready = true;
            this.#failures = 0;
            resolve(m);
            this.#onIdle();
            break;
          case 'init-failed':
            failStart(new Error(m.error));
            break;
          case 'progress':
            if (slot.task?.id === m.id) slot.task.onProgress(m.progress);
            break;
          case 'done':
          case 'failed': {
            const task = slot.task;
            if (task?.id !== m.id) break;
            slot.task = null;
            if (m.type === 'done') task.resolve(m.result);
            else task.reject(m.cancelled ? new JobCancelled(m.error) : new Error(m.error));
            this.#onIdle();
            break;
          }
        }
      });
      child.on('error', (e) => failStart(new Error(`cannot start a worker process: ${e.message}`)));
      child.on('exit', (code, signal) => {
        if (slot.child !== child) return;
        const why = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
        slot.child = null;
        slot.ready = false;
        failStart(new Error(`the worker process ${why} while starting`));
        const task = slot.task;
        slot.task = null;
        task?.reject(new Error(`the worker process ${why} while running this job; a new worker is being started`));
        if (this.#closed || !this.#started) return;
        const delay = Math.min(MAX_RESTART_DELAY_MS, RESTART_DELAY_MS * 2 ** this.#failures++);
        process.stderr.write(`rankshield serve: worker ${slot.index + 1} ${why}; starting a new one in ${(delay / 1000).toFixed(1)} s\n`);
        setTimeout(() => {
          if (this.#closed) return;
          this.#spawn(slot, this.#gallery).catch((e: Error) =>
            process.stderr.write(`rankshield serve: worker ${slot.index + 1} failed to start: ${e.message}\n`),
          );
        }, delay).unref();
      });
      this.#send(child, { type: 'init', spec: this.#spec, gallery });
    });
  }
}

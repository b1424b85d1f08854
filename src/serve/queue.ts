// Layer: serve. The one job queue of the service: every attack, swipe and
// upload search waits here for a worker (FIFO), at most `maxQueued` of them;
// one more is refused with 429 rather than left to pile up. A queued job can
// be cancelled at once, a running swipe before its next attack run. Swipe jobs
// stay readable after they end (the newest LIMITS.keptJobs of them); the jobs
// behind a request that waits for its answer are forgotten when they end.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { HttpError } from './errors.js';
import { LIMITS } from './limits.js';
import { JobCancelled, WorkerPool } from './pool.js';
import type { GalleryEmbeddings, JobRequest, JobResult, NeighbourTable, WorkerSpec } from './protocol.js';
import type { JobProgress, JobState } from './answers.js';

/** One job. `events` emits 'progress' (JobProgress) while it runs and 'end' once when it is done, failed or cancelled. */
export class Job {
  readonly id = randomUUID();
  readonly kind: JobRequest['kind'];
  readonly request: JobRequest;
  /** Readable through /api/jobs after it ends (swipes); otherwise forgotten then. */
  readonly listed: boolean;
  readonly events = new EventEmitter();
  state: JobState = 'queued';
  progress: JobProgress = { done: 0, total: 0 };
  error?: string;
  result?: JobResult;
  cancelRequested = false;
  startedAt?: number;
  /** Resolves with the result; rejects with the job's error (HttpError 409 when cancelled). */
  readonly outcome: Promise<JobResult>;
  #settle!: { resolve: (r: JobResult) => void; reject: (e: Error) => void };

  constructor(request: JobRequest, listed: boolean) {
    this.kind = request.kind;
    this.request = request;
    this.listed = listed;
    this.outcome = new Promise((resolve, reject) => (this.#settle = { resolve, reject }));
    this.outcome.catch(() => {}); // a job nobody waits for must not be an unhandled rejection
  }

  /** Ends the job (once). */
  end(state: 'done' | 'failed' | 'cancelled', result?: JobResult, error?: string): void {
    if (this.state !== 'queued' && this.state !== 'running') return;
    this.state = state;
    if (state === 'done') {
      this.result = result;
      if (this.progress.total > 0) this.progress = { done: this.progress.total, total: this.progress.total };
      this.#settle.resolve(result!);
    } else {
      this.error = error;
      this.#settle.reject(state === 'cancelled' ? new HttpError(409, `the job was cancelled: ${error}`) : new Error(error));
    }
    this.events.emit('end', this);
  }

  /** What GET /api/jobs/<id> shows. */
  snapshot(): { id: string; kind: string; state: JobState; progress: JobProgress; error?: string; result?: JobResult } {
    return {
      id: this.id,
      kind: this.kind,
      state: this.state,
      progress: this.progress,
      ...(this.error === undefined ? {} : { error: this.error }),
      ...(this.result === undefined ? {} : { result: this.result }),
    };
  }
}

export class JobQueue {
  readonly maxQueued: number;
  readonly #pool: WorkerPool;
  readonly #waiting: Job[] = [];
  readonly #jobs = new Map<string, Job>();
  readonly #ended: string[] = [];

  constructor(spec: WorkerSpec, concurrency: number, maxQueued: number) {
    if (!Number.isInteger(maxQueued) || maxQueued < 0) throw new Error(`maxQueued must be a non-negative integer, got ${maxQueued}`);
    this.maxQueued = maxQueued;
    this.#pool = new WorkerPool(spec, concurrency, () => this.#dispatch());
  }

  /** Starts the workers (the first embeds the gallery). */
  start(): Promise<{ gallery: GalleryEmbeddings; neighbours: NeighbourTable }> {
    return this.#pool.start();
  }

  close(): void {
    this.#pool.close();
    for (const job of [...this.#waiting]) job.end('cancelled', undefined, 'the server is shutting down');
    this.#waiting.length = 0;
  }

  /** Queues a job, or refuses it (429) when no worker is free and `maxQueued` jobs are waiting already. */
  submit(request: JobRequest, listed: boolean): Job {
    if (this.#pool.idle() === undefined && this.#waiting.length >= this.maxQueued) {
      throw new HttpError(
        429,
        `queue full: ${this.#pool.busy} job(s) running and ${this.#waiting.length} waiting (at most ${this.maxQueued}); try again later`,
      );
    }
    const job = new Job(request, listed);
    this.#jobs.set(job.id, job);
    job.events.once('end', () => this.#forget(job));
    this.#waiting.push(job);
    this.#dispatch();
    return job;
  }

  /** A job by id; only listed jobs are visible to clients. */
  get(id: string): Job | undefined {
    const job = this.#jobs.get(id);
    return job?.listed ? job : undefined;
  }

  /** Cancels a queued job now, or asks its worker to stop a running one; false when it has ended already. */
  cancel(id: string): boolean {
    const job = this.#jobs.get(id);
    if (job === undefined || (job.state !== 'queued' && job.state !== 'running')) return false;
    if (job.state === 'queued') {
      this.#waiting.splice(this.#waiting.indexOf(job), 1);
      job.end('cancelled', undefined, 'cancelled before it started');
    } else {
      job.cancelRequested = true;
      this.#pool.cancel(id);
    }
    return true;
  }

  stats(): { running: number; queued: number; concurrency: number; maxQueued: number } {
    return { running: this.#pool.busy, queued: this.#waiting.length, concurrency: this.#pool.size, maxQueued: this.maxQueued };
  }

  #dispatch(): void {
    for (let slot = this.#pool.idle(); slot !== undefined && this.#waiting.length > 0; slot = this.#pool.idle()) {
      const job = this.#waiting.shift()!;
      job.state = 'running';
      job.startedAt = performance.now();
      this.#pool.run(slot, {
        id: job.id,
        job: job.request,
        onProgress: (p) => {
          const seconds = (performance.now() - job.startedAt!) / 1000;
          job.progress = { ...p, ...(p.done > 0 ? { etaSeconds: (seconds / p.done) * (p.total - p.done) } : {}) };
          job.events.emit('progress', job.progress);
        },
        resolve: (r) => job.end('done', r),
        reject: (e) =>
          job.end(e instanceof JobCancelled ? 'cancelled' : 'failed', undefined, e instanceof JobCancelled ? 'cancelled while running' : e.message),
      });
    }
  }

  /** An ended job: forgotten now, or (listed) kept until LIMITS.keptJobs newer ones have ended. */
  #forget(job: Job): void {
    if (!job.listed) {
      this.#jobs.delete(job.id);
      return;
    }
    this.#ended.push(job.id);
    while (this.#ended.length > LIMITS.keptJobs) this.#jobs.delete(this.#ended.shift()!);
  }
}

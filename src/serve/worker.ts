// Layer: serve. A worker process of `rankshield serve` (forked by pool.ts):
// loads the model and the gallery once, then runs one job at a time —
// attacks, swipes and the forward pass of uploaded images — so libtorch never
// runs on the server's event loop. The first worker embeds the gallery and
// computes the neighbour table; workers started later (or restarted after a
// crash) get the embeddings from the server. A swipe stops before its next
// attack run when the server sends `cancel`. The worker exits when the server goes.
import { CPU, noGrad, onDevice, tidy, Tensor } from '../tensor/index.js';
import { assertImageBatch, embedImages, getProfile, makeGallery, ersProfile, type Gallery } from '../attack/index.js';
import { embedGallery, runSwipe } from '../eval/swipe.js';
import { asSwipeResult, runRobustEval } from '../eval/robust-eval.js';
import { metricByName } from '../metric/metric.js';
import { LIMITS } from './limits.js';
import { attackOne, type Served } from './attack-one.js';
import { embeddingsTensor, neighboursOf, neighbourTable } from './neighbours.js';
import { openGallery, openModel } from './source.js';
import type { FromWorker, GalleryEmbeddings, JobRequest, JobResult, SwipeJob, ToWorker, WorkerProgress, WorkerSpec } from './protocol.js';

const send = (m: FromWorker): void => void process.send?.(m);
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

let served: Served | null = null;
let running: { id: string; abort: AbortController } | null = null;

async function init(spec: WorkerSpec, given: GalleryEmbeddings | null): Promise<void> {
  const ds = await openGallery(spec);
  const model = openModel(spec, [ds.channels, ds.height, ds.width]);
  let gallery: Gallery;
  if (given === null) {
    gallery = await embedGallery(model, ds, metricByName(spec.metric), ersProfile(ds.height).batchSize, spec.progress);
  } else {
    const embeddings = tidy(() => onDevice(embeddingsTensor(given), model.device));
    const labels = tidy(() => onDevice(Tensor.fromTypedArray(ds.labels, [ds.length]).long(), model.device));
    gallery = makeGallery(embeddings, labels, metricByName(spec.metric));
  }
  served = { model, gallery, ds };
  const table = given === null ? neighbourTable(gallery.embeddings, gallery.metric, LIMITS.maxK, spec.progress) : null;
  const mine = given ?? { embeddings: tidy(() => onDevice(gallery.embeddings, CPU).toFloat32Array()), dim: gallery.embeddings.shape[1]! };
  send({ type: 'ready', gallery: mine, neighbours: table });
}

/** The swipe of a request: the profile's batches, or fewer queries (one smaller batch below the profile's batch size). */
async function swipe(s: Served, job: SwipeJob, signal: AbortSignal, progress: (p: WorkerProgress) => void): Promise<JobResult> {
  const base = getProfile(job.profile);
  const small = job.maxQueries !== undefined && job.maxQueries < base.batchSize;
  const profile = small ? { ...base, batchSize: job.maxQueries! } : base;
  const maxIter = job.maxQueries === undefined ? undefined : Math.max(1, Math.floor(job.maxQueries / profile.batchSize));
  if (job.robustEval === true) {
    const r = await runRobustEval(s.model, s.ds, s.gallery.metric, {
      profile,
      maxIter,
      seed: job.seed,
      surrogate: null,
      signal,
      onAttack: (p) => progress({ done: p.done, total: p.total, attack: p.attack }),
    });
    return asSwipeResult(r);
  }
  return runSwipe(s.model, s.ds, s.gallery.metric, {
    profile,
    maxIter,
    seed: job.seed,
    signal,
    onAttack: (p) => progress({ done: p.done, total: p.total, attack: p.attack }),
  });
}

async function execute(job: JobRequest, signal: AbortSignal, progress: (p: WorkerProgress) => void): Promise<JobResult> {
  const s = served;
  if (s === null) throw new Error('the worker is not initialised');
  switch (job.kind) {
    case 'search': {
      const [c, h, w] = s.model.inputShape;
      s.model.eval();
      return tidy(() => {
        const images = onDevice(Tensor.fromTypedArray(job.pixels, [1, c, h, w], 'float32'), s.model.device);
        assertImageBatch(s.model, images);
        const query = noGrad(() => embedImages(s.model, images, s.gallery.metric));
        return neighboursOf(query, s.gallery.embeddings, s.gallery.metric, job.k);
      });
    }
    case 'attack':
      return attackOne(s, job);
    case 'swipe':
      return swipe(s, job, signal, progress);
  }
}

async function runJob(id: string, job: JobRequest): Promise<void> {
  const abort = new AbortController();
  running = { id, abort };
  try {
    const result = await execute(job, abort.signal, (progress) => send({ type: 'progress', id, progress }));
    send({ type: 'done', id, result });
  } catch (e) {
    send({ type: 'failed', id, error: abort.signal.aborted ? 'cancelled' : message(e), cancelled: abort.signal.aborted });
  } finally {
    running = null;
  }
}

process.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'init':
      init(m.spec, m.gallery).catch((e: unknown) => {
        // Exit once the message is out: the server reports it and decides whether to try again.
        const failed: FromWorker = { type: 'init-failed', error: message(e) };
        if (process.send === undefined) process.exit(1);
        process.send(failed, () => process.exit(1));
      });
      break;
    case 'job':
      void runJob(m.id, m.job);
      break;
    case 'cancel':
      if (running?.id === m.id) running.abort.abort(new Error('cancelled'));
      break;
  }
});
// The server went away (exit, crash, kill): nothing is left to work for.
process.on('disconnect', () => process.exit(0));

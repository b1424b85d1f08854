// Layer: serve. The read-only routes and the ones that wait for their answer:
// health, model, gallery pages and images, search (by id: the neighbour table,
// no worker; by upload: a forward pass in a worker) and attack (a worker job).
// docs/service.md describes each request and answer.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { parseAttackKind, ersProfile, PROFILES } from '../attack/index.js';
import { className } from '../data/index.js';
import { attackColumn } from '../eval/columns.js';
import { benignJson, readBenignMetrics } from '../eval/benign.js';
import { badRequest, HttpError, notFound } from './errors.js';
import { LIMITS } from './limits.js';
import { attackPngs, decodeUpload, galleryPng } from './images.js';
import { choosesFor, defaultBudget, describeAttacks } from './attacks.js';
import { galleryQuery, parse, requestSchemas } from './schemas.js';
import type { ServeContext } from './context.js';
import type { AttackOutcome, JobRequest, JobResult, Neighbours, QueryInput } from './protocol.js';
import type { Job } from './queue.js';
import type { AttackAnswer, GalleryPage, Hit, ModelInfo, SearchAnswer } from './answers.js';

const RESULT_IMAGES = ['query', 'perturbation', 'adversarial'] as const;

/** The URL of one picture of an attack result. */
const resultImage = (resultId: string, which: (typeof RESULT_IMAGES)[number]): string => `/api/images/results/${resultId}/${which}.png`;

/** A checkpoint's stored benign metrics as the report columns (fractions), or null when it has none. */
function benignOf(stored: Record<string, number> | null): Record<string, number> | null {
  const b = stored === null ? {} : benignJson(readBenignMetrics(stored));
  return Object.keys(b).length === 0 ? null : b;
}

/** Neighbour lists as the API shows them: 1-based rank, gallery id, label, distance. */
function ranked(ctx: ServeContext, n: Neighbours): Hit[] {
  return n.ids.map((id, i) => ({ rank: i + 1, id, label: ctx.ds.labels[id]!, distance: n.distances[i]! }));
}

/** Queues a job for a request that waits for it; a client that hangs up first takes its queued job away. */
async function runFor(ctx: ServeContext, request: JobRequest, reply: FastifyReply): Promise<JobResult> {
  const job: Job = ctx.queue.submit(request, false);
  reply.raw.on('close', () => {
    if (!reply.raw.writableEnded) ctx.queue.cancel(job.id);
  });
  try {
    return await job.outcome;
  } catch (e) {
    if (e instanceof HttpError) throw e;
    const message = e instanceof Error ? e.message : String(e);
    // A worker that died is the server's trouble (503); any other failure is the request's (422).
    throw new HttpError(message.startsWith('the worker process') ? 503 : 422, `the ${request.kind} failed: ${message}`);
  }
}

/** A gallery id from a path segment `<id>.png`; 404 unless it names an image. */
function galleryId(ctx: ServeContext, file: string): number {
  const m = /^(\d{1,9})\.png$/.exec(file);
  const id = m === null ? NaN : Number(m[1]);
  if (!(id < ctx.ds.length)) throw notFound(`no gallery image '${file}' (ids 0 to ${ctx.ds.length - 1}, as <id>.png)`);
  return id;
}

export function registerApi(app: FastifyInstance, ctx: ServeContext): void {
  const schemas = requestSchemas(ctx.ds.length);
  const [, height] = ctx.shape;

  app.get('/api/health', async () => ({
    ok: true,
    version: ctx.version,
    uptimeSeconds: Math.round((performance.now() - ctx.started) / 1000),
    queue: ctx.queue.stats(),
  }));

  app.get(
    '/api/model',
    async (): Promise<ModelInfo> => ({
      checkpoint: ctx.checkpoint,
      config: ctx.config,
      dataset: ctx.dataset,
      metric: ctx.metric,
      imageShape: ctx.shape,
      gallerySize: ctx.ds.length,
      classes: ctx.classes,
      classNames: ctx.classes.map((label) => className(ctx.ds, label)),
      benign: benignOf(ctx.storedMetrics),
      attacks: describeAttacks(height),
      profiles: Object.values(PROFILES).map((p) => ({ name: p.name, summary: p.usedFor, batchSize: p.batchSize, attacks: p.runs.length })),
      defaultProfile: ersProfile(height).name,
    }),
  );

  app.get('/api/gallery', async (req): Promise<GalleryPage> => {
    const q = parse(galleryQuery, req.query, 'query string');
    const offset = q.offset ?? 0;
    const limit = q.limit ?? LIMITS.defaultPageSize;
    let ids: ArrayLike<number> | null = null;
    if (q.label !== undefined) {
      ids = ctx.byLabel.get(q.label) ?? null;
      if (ids === null) throw badRequest(`label: no gallery image has label ${q.label} (GET /api/model lists the classes)`);
    }
    const total = ids === null ? ctx.ds.length : ids.length;
    const items: { id: number; label: number }[] = [];
    for (let i = offset; i < Math.min(total, offset + limit); i++) {
      const id = ids === null ? i : ids[i]!;
      items.push({ id, label: ctx.ds.labels[id]! });
    }
    return { total, offset, items };
  });

  app.get<{ Params: { file: string } }>('/api/images/gallery/:file', async (req, reply) => {
    const id = galleryId(ctx, req.params.file);
    let png = ctx.galleryPngs.get(id);
    if (png === undefined) {
      png = await galleryPng(ctx.ds, id);
      ctx.galleryPngs.set(id, png);
    }
    return reply.type('image/png').header('cache-control', 'private, max-age=3600').send(png);
  });

  app.get<{ Params: { resultId: string; file: string } }>('/api/images/results/:resultId/:file', async (req, reply) => {
    const { resultId, file } = req.params;
    const which = RESULT_IMAGES.find((w) => `${w}.png` === file);
    const images = ctx.results.get(resultId);
    if (images === undefined) throw notFound(`no attack result '${resultId}' (results are kept in memory, the newest ${LIMITS.keptResults})`);
    if (which === undefined) throw notFound(`an attack result has no '${file}' (only ${RESULT_IMAGES.map((w) => `${w}.png`).join(', ')})`);
    return reply.type('image/png').header('cache-control', 'private, max-age=3600').send(images[which]);
  });

  app.post('/api/search', async (req, reply): Promise<SearchAnswer> => {
    const started = performance.now();
    const body = parse(schemas.search, req.body);
    const k = body.k ?? LIMITS.defaultK;
    const id = body.query.id;
    let found: Neighbours;
    if (id !== undefined) {
      const { k: width, ids, distances } = ctx.table;
      const n = Math.min(k, width);
      found = { ids: Array.from(ids.subarray(id * width, id * width + n)), distances: Array.from(distances.subarray(id * width, id * width + n)) };
    } else {
      const pixels = await decodeUpload('query.image', body.query.image!, ctx.shape);
      found = (await runFor(ctx, { kind: 'search', pixels, k }, reply)) as Neighbours;
    }
    return {
      query: id === undefined ? {} : { id, label: ctx.ds.labels[id]! },
      results: ranked(ctx, found),
      seconds: (performance.now() - started) / 1000,
    };
  });

  app.post('/api/attack', async (req, reply): Promise<AttackAnswer> => {
    const started = performance.now();
    const body = parse(schemas.attack, req.body);
    let attack: ReturnType<typeof parseAttackKind>;
    try {
      attack = parseAttackKind(body.attack);
    } catch (e) {
      throw badRequest(`attack: ${(e as Error).message}`);
    }
    const chooses = choosesFor(attack);
    if (body.candidates !== undefined) {
      if (chooses === null) throw badRequest(`candidates: ${attack} chooses no gallery items (only CA±, QA± and SPQA± take candidates)`);
      if (new Set(body.candidates).size !== body.candidates.length) throw badRequest('candidates: the ids must be distinct');
    }
    const d = defaultBudget(height);
    const budget = { epsilon: body.epsilon ?? d.epsilon, alpha: body.alpha ?? d.alpha, steps: body.steps ?? d.steps };
    const query: QueryInput = body.query.id !== undefined ? { id: body.query.id } : { pixels: await decodeUpload('query.image', body.query.image!, ctx.shape) };
    const k = body.k ?? LIMITS.defaultK;
    const outcome = (await runFor(
      ctx,
      { kind: 'attack', attack, query, budget, candidates: body.candidates, k, seed: body.seed ?? 0 },
      reply,
    )) as AttackOutcome;
    const pictures = await attackPngs(outcome.clean, outcome.adversarial, outcome.linf, ctx.shape);
    const resultId = randomUUID();
    ctx.results.set(resultId, pictures);
    const measures = outcome.measures.map((m) => {
      const column = attackColumn(m.name);
      return { ...m, unit: column.unit, robust: column.robust, what: column.what };
    });
    return {
      resultId,
      attack,
      budget,
      measure: measures[0],
      measures,
      query: body.query.id !== undefined ? { id: body.query.id, label: outcome.label } : { label: outcome.label, labelFrom: 'nearest gallery image' },
      images: { query: resultImage(resultId, 'query'), perturbation: resultImage(resultId, 'perturbation'), adversarial: resultImage(resultId, 'adversarial') },
      perturbationScale: pictures.scale,
      linf: outcome.linf,
      topkBefore: ranked(ctx, outcome.topkBefore),
      topkAfter: ranked(ctx, outcome.topkAfter),
      candidates: outcome.candidates.map((c) => ({ id: c.id, label: ctx.ds.labels[c.id]!, rankBefore: c.rankBefore, rankAfter: c.rankAfter })),
      chooses,
      seconds: (performance.now() - started) / 1000,
    };
  });
}

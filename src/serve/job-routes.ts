// Layer: serve. Swipes run as background jobs: POST /api/swipe answers 202
// with a job id at once; the job is read (GET), followed (server-sent events),
// cancelled (DELETE) and, once done, its reports are fetched as `swipe --out`
// writes them. Job ids are random UUIDs; unknown ones are 404.
import type { FastifyInstance } from 'fastify';
import { readFile } from 'node:fs/promises';
import { ersProfile } from '../attack/index.js';
import { withStoredBenign, type SwipeResult } from '../eval/swipe.js';
import { swipeReports } from '../eval/report-svg.js';
import { robustEvalMarkdown } from '../eval/robust-report.js';
import type { RobustSwipeResult } from '../eval/robust-eval.js';
import { HttpError, notFound } from './errors.js';
import { LIMITS } from './limits.js';
import { parse, requestSchemas } from './schemas.js';
import { listRuns, runPlotPath } from './runs.js';
import type { ServeContext } from './context.js';
import type { Job } from './queue.js';
import type { JobEvents, JobProgress, JobView, RunsAnswer, SwipeStarted } from './answers.js';

/** Seconds between comment lines on an idle event stream (keeps proxies from closing it). */
const PING_SECONDS = 15;

/** A served SVG is an image, never a document that may run script. */
const SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'";

const REPORTS = { 'report.json': 'application/json; charset=utf-8', 'report.md': 'text/markdown; charset=utf-8', 'report.svg': 'image/svg+xml' } as const;

function jobOf(ctx: ServeContext, id: string): Job {
  const job = ctx.queue.get(id);
  if (job === undefined) throw notFound(`no job '${id}' (jobs live in memory; an ended one is kept until ${LIMITS.keptJobs} newer ones have ended)`);
  return job;
}

/** A swipe's result as `swipe --json` prints it: with the checkpoint's benign metrics when it has some. */
function resultOf(ctx: ServeContext, job: Job): SwipeResult | undefined {
  return job.result === undefined ? undefined : withStoredBenign(job.result as SwipeResult, ctx.storedMetrics);
}

function view(ctx: ServeContext, job: Job): JobView {
  const { result: _raw, ...s } = job.snapshot(); // a swipe's result is shown as resultOf gives it
  const result = resultOf(ctx, job);
  return { ...s, ...(result === undefined ? {} : { result }), ...(job.cancelRequested && job.state === 'running' ? { cancelRequested: true } : {}) };
}

export function registerJobRoutes(app: FastifyInstance, ctx: ServeContext): void {
  const schemas = requestSchemas(ctx.ds.length);

  app.post('/api/swipe', async (req, reply) => {
    // No body at all (curl -X POST) means every default.
    const body = parse(schemas.swipe, req.body ?? {});
    if (body.robustEval === true && body.profile !== undefined && !['rob28', 'rob224'].includes(body.profile))
      throw new HttpError(400, 'robustEval needs an ERS profile (rob28 or rob224)');
    const job = ctx.queue.submit(
      {
        kind: 'swipe',
        profile: body.profile ?? ersProfile(ctx.shape[1]).name,
        maxQueries: body.maxQueries,
        seed: body.seed ?? 0,
        ...(body.robustEval === true ? { robustEval: true } : {}),
      },
      true,
    );
    const started: SwipeStarted = { jobId: job.id };
    return reply.code(202).send(started);
  });

  app.get<{ Params: { id: string } }>('/api/jobs/:id', async (req) => view(ctx, jobOf(ctx, req.params.id)));

  app.delete<{ Params: { id: string } }>('/api/jobs/:id', async (req, reply) => {
    const job = jobOf(ctx, req.params.id);
    if (!ctx.queue.cancel(job.id)) throw new HttpError(409, `the job has already ended (${job.state})`);
    // A queued job is cancelled now; a running one stops before its next attack run.
    return reply.code(job.state === 'cancelled' ? 200 : 202).send(view(ctx, job));
  });

  app.get<{ Params: { id: string } }>('/api/jobs/:id/events', (req, reply) => {
    const job = jobOf(ctx, req.params.id);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      connection: 'keep-alive',
    });
    const send = <E extends keyof JobEvents>(event: E, data: JobEvents[E]): void => void res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    const onProgress = (p: JobProgress): void => send('progress', { state: job.state, ...p });
    const onEnd = (): void => {
      if (job.state === 'done') send('done', { result: resultOf(ctx, job) });
      else send(job.state === 'cancelled' ? 'cancelled' : 'failed', { error: job.error });
      stop();
      res.end();
    };
    const ping = setInterval(() => res.write(': ping\n\n'), PING_SECONDS * 1000);
    const stop = (): void => {
      clearInterval(ping);
      job.events.off('progress', onProgress);
      job.events.off('end', onEnd);
    };
    res.on('close', stop);
    if (job.state !== 'queued' && job.state !== 'running') return onEnd();
    onProgress(job.progress);
    job.events.on('progress', onProgress);
    job.events.on('end', onEnd);
  });

  app.get<{ Params: { id: string; file: string } }>('/api/jobs/:id/:file', async (req, reply) => {
    const job = jobOf(ctx, req.params.id);
    const file = req.params.file;
    if (!(file in REPORTS)) throw notFound(`a job has no '${file}' (only ${Object.keys(REPORTS).join(', ')}, and /events)`);
    const result = resultOf(ctx, job);
    if (job.state !== 'done' || result === undefined) throw new HttpError(409, `the job is ${job.state}; its reports exist once it is done`);
    const { json, markdown: plain, svg } = swipeReports(result);
    const robust = (result as Partial<RobustSwipeResult>).robustEval;
    const markdown = robust === undefined ? plain : robustEvalMarkdown(robust);
    if (file === 'report.svg' && svg === null)
      throw notFound(`profile ${result.profile} lacks the ten ERS columns, so there is no chart (report.md has the numbers)`);
    if (file === 'report.svg') reply.header('content-security-policy', SVG_POLICY);
    return reply.type(REPORTS[file as keyof typeof REPORTS]).send(file === 'report.json' ? json : file === 'report.md' ? markdown : svg);
  });

  app.get('/api/runs', async (): Promise<RunsAnswer> => ({ runs: listRuns(ctx.runsDir) }));

  app.get<{ Params: { name: string; file: string } }>('/api/runs/:name/:file', async (req, reply) => {
    const file = runPlotPath(ctx.runsDir, req.params.name, req.params.file);
    return reply
      .type('image/svg+xml')
      .header('content-security-policy', SVG_POLICY)
      .send(await readFile(file));
  });
}

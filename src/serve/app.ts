// Layer: serve. The HTTP side: fastify with the service's security rules.
//   - a bearer token, when set, is required on every /api request (compared in
//     constant time, checked before the body is read);
//   - request bodies: JSON only, at most LIMITS.bodyBytes, validated by
//     schemas.ts; every error is `{ error, statusCode }` naming the problem;
//   - no CORS headers (a page of another origin cannot read the API), no
//     caching of API answers, nosniff, no framing;
//   - the explorer page: index.html and style.css from <package>/src/web, its
//     modules as the build compiled them into <package>/dist/src/web (or a placeholder).
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import { HttpError } from './errors.js';
import { LIMITS } from './limits.js';
import type { ServeContext } from './context.js';
import { registerApi } from './api.js';
import { registerJobRoutes } from './job-routes.js';

/** Where the explorer page's files are: its page and style sheet, and its compiled modules. */
export interface WebRoots {
  /** index.html and style.css (src/web/). */
  pages: string;
  /** app.js and the modules it imports, compiled from src/web/*.ts (dist/src/web/). */
  modules: string;
}

/** A page for when the explorer is missing: src/web/index.html absent, or its modules not built. */
const placeholder = (why: string): string => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>rankshield serve</title></head>
<body><h1>rankshield serve</h1><p>The explorer page is not installed (${why}). The API is at <code>/api/</code>;
see docs/service.md, e.g. <code>curl http://127.0.0.1:8080/api/health</code>.</p></body></html>\n`;

/** Constant-time comparison of the Authorization header with `Bearer <token>` (hashes make the lengths equal). */
export function tokenMatches(header: string | undefined, token: string): boolean {
  const given = header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(token));
}

/** Whether a request is for the API (by its route, or by its decoded path when no route matched). */
function isApi(req: FastifyRequest): boolean {
  if (req.routeOptions.url?.startsWith('/api')) return true;
  const raw = req.url.split('?')[0]!;
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // a malformed escape: judge the raw path
  }
  return /^\/+api(\/|$)/i.test(decoded);
}

/** A fastify or handler error as the API's `{ statusCode, error }`. */
function describe(e: FastifyError | HttpError | Error, req: FastifyRequest): { statusCode: number; error: string } {
  if (e instanceof HttpError) return { statusCode: e.statusCode, error: e.message };
  const code = (e as FastifyError).code;
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { statusCode: 413, error: `the request body is larger than ${LIMITS.bodyBytes} bytes (${LIMITS.bodyBytes / 1024 / 1024} MiB)` };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { statusCode: 415, error: `content-type must be application/json, got '${req.headers['content-type'] ?? ''}'` };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { statusCode: 400, error: 'the body is empty: send a JSON object' };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { statusCode: 400, error: `the body is not valid JSON (${e.message})` };
  }
  const status = (e as FastifyError).statusCode;
  if (e instanceof SyntaxError && status === 400) return { statusCode: 400, error: `the body is not valid JSON (${e.message})` };
  if (status !== undefined && status >= 400 && status < 500) return { statusCode: status, error: e.message };
  return { statusCode: 500, error: `internal error: ${e.message}` };
}

/**
 * Reads and drops the rest of a body refused for its size (at most LIMITS.drainBytes, for at
 * most DRAIN_MS) before the answer goes out: a server that closes a connection with unread
 * bytes resets it, and the client then sees a broken connection instead of the 413.
 */
function drain(raw: IncomingMessage): Promise<void> {
  if (raw.complete || raw.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const done = (): void => {
      clearTimeout(timer);
      raw.off('data', onData);
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      seen += chunk.length;
      if (seen > LIMITS.drainBytes) done();
    };
    const timer = setTimeout(done, DRAIN_MS);
    raw.on('data', onData);
    raw.once('end', done);
    raw.once('close', done);
    raw.resume();
  });
}

const DRAIN_MS = 5000;

/** The fastify instance with every route; `web` says where the explorer page's files are. */
export async function buildApp(ctx: ServeContext, web: WebRoots): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: LIMITS.bodyBytes, logger: false, routerOptions: { maxParamLength: 200 }, return503OnClosing: true });
  // JSON is the only body type the API reads.
  app.removeContentTypeParser('text/plain');

  app.addHook('onRequest', async (req, reply) => {
    if (ctx.token === null || !isApi(req)) return;
    if (!tokenMatches(req.headers.authorization, ctx.token)) {
      reply.header('www-authenticate', 'Bearer');
      throw new HttpError(
        401,
        req.headers.authorization === undefined ? 'this server needs a bearer token: send Authorization: Bearer <token>' : 'wrong bearer token',
      );
    }
  });
  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    if (isApi(req) && !reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });
  app.setErrorHandler(async (e: FastifyError | Error, req, reply) => {
    const { statusCode, error } = describe(e, req);
    if (statusCode >= 500) process.stderr.write(`rankshield serve: ${req.method} ${req.url.slice(0, 200)}: ${e.stack ?? e.message}\n`);
    if (statusCode === 413) await drain(req.raw);
    return reply.code(statusCode).type('application/json').send({ error, statusCode });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}`, statusCode: 404 });
  });

  registerApi(app, ctx);
  registerJobRoutes(app, ctx);

  const missing = !existsSync(path.join(web.pages, 'index.html'))
    ? 'src/web/index.html is missing'
    : !existsSync(path.join(web.modules, 'app.js'))
      ? 'its modules are not built: npm run build'
      : null;
  if (missing === null) {
    await app.register(fastifyStatic, { root: [web.pages, web.modules], prefix: '/', index: ['index.html'], dotfiles: 'deny', list: false });
  } else {
    app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(placeholder(missing)));
  }
  return app;
}

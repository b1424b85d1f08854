// `rankshield serve` over real loopback HTTP: a real server process (bin/rankshield.js)
// with its real worker process, on a c2f2 trained here for a few steps (test/helpers/tiny-run.ts)
// and the first 1000 Fashion-MNIST test images. Searches, all eleven attacks, a swipe followed by
// server-sent events (equal to the library's swipe of the same queries), cancellation,
// a full queue, a killed worker, the bearer token, and many kinds of bad request — each
// refused with its status and a message naming the problem, the server serving on and
// nothing written to disk.
import { test, before, after } from 'node:test';
import { metricByName } from '../src/metric/metric.js';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { openDataset, type DmlDataset } from '../src/data/index.js';
import { loadCheckpoint } from '../src/run/model-factory.js';
import { runSwipe, withStoredBenign } from '../src/eval/swipe.js';
import { getProfile, ATTACK_KINDS } from '../src/attack/index.js';
import type { EmbeddingModel } from '../src/models/model.js';
import { firstImages } from '../src/serve/source.js';
import { ROOT } from './helpers/consumer.js';
import { trainTinyRun } from './helpers/tiny-run.js';
import { trailTable, writeTrail, type EpochSwipe } from '../src/eval/trail.js';

const GALLERY = 1000;
const TOKEN = 'test-token-0123456789abcdef';
const RUN = 'tiny-c2f2';
const tmp = (what: string): string => mkdtempSync(path.join(os.tmpdir(), `rankshield-serve-${what}-`));

let runs: string;
let cwd: string;
let gallery: DmlDataset;
let model: EmbeddingModel;
let metrics: Record<string, number>;
let server: { url: string; proc: ChildProcess; output: string[] };

/** `rankshield serve …` as a child process; resolves with its URL once it listens. */
function serve(args: string[], dir: string): Promise<{ url: string; proc: ChildProcess; output: string[] }> {
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin', 'rankshield.js'), 'serve', ...args], {
    cwd: dir,
    env: { ...process.env, RANKSHIELD_THREADS: '1' },
  });
  const output: string[] = [];
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      output.push(d.toString());
      const m = /listening on (http:\/\/\S+)/.exec(output.join(''));
      if (m !== null) resolve({ url: m[1]!, proc, output });
    });
    proc.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
    proc.on('exit', (code) => reject(new Error(`serve exited with ${code} before listening:\n${output.join('')}`)));
  });
}

/** The exit code and output of a `serve` that must refuse to start. */
function refusal(args: string[]): Promise<{ code: number | null; output: string }> {
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin', 'rankshield.js'), 'serve', ...args], { cwd: tmp('refuse') });
  let output = '';
  proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((resolve) => proc.on('exit', (code) => resolve({ code, output })));
}

interface Call {
  method?: string;
  body?: unknown;
  /** Sent as is (no JSON encoding). */
  raw?: string;
  token?: string | null;
  headers?: Record<string, string>;
}

async function call(p: string, o: Call = {}): Promise<{ status: number; json: Record<string, unknown>; res: Response; bytes: Buffer }> {
  const headers: Record<string, string> = { ...(o.token === null ? {} : { authorization: `Bearer ${o.token ?? TOKEN}` }), ...o.headers };
  let body: string | undefined = o.raw;
  if (o.body !== undefined) {
    body = JSON.stringify(o.body);
    headers['content-type'] ??= 'application/json';
  }
  const method = o.method ?? (body === undefined ? 'GET' : 'POST');
  let res: Response;
  try {
    res = await fetch(server.url + p, { method, headers, body });
  } catch (e) {
    // Under heavy load a pooled keep-alive socket can be one the server is just closing at its idle
    // timeout ("fetch failed"); a GET is idempotent, so it is retried once on a fresh connection.
    if (method !== 'GET' || !(e instanceof TypeError)) throw e;
    res = await fetch(server.url + p, { method, headers, body });
  }
  const bytes = Buffer.from(await res.arrayBuffer());
  let json: Record<string, unknown> = {};
  if ((res.headers.get('content-type') ?? '').startsWith('application/json')) json = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  return { status: res.status, json, res, bytes };
}

type Ranked = { rank: number; id: number; label: number; distance: number }[];
type SseEvent = { event: string; data: Record<string, unknown> };

/** Reads a job's event stream until it ends, or until `stop` says so. */
async function events(jobId: string, stop: (e: SseEvent) => boolean = () => false): Promise<SseEvent[]> {
  const controller = new AbortController();
  const res = await fetch(`${server.url}/api/jobs/${jobId}/events`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: controller.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const seen: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = res.body!.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return seen;
      buffer += decoder.decode(value, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = /^event: (.+)$/m.exec(block)?.[1];
        const data = /^data: (.+)$/m.exec(block)?.[1];
        if (event === undefined || data === undefined) continue; // a comment (ping)
        const e = { event, data: JSON.parse(data) as Record<string, unknown> };
        seen.push(e);
        if (stop(e)) return seen;
      }
    }
  } finally {
    controller.abort();
  }
}

/** Every file under `dir` with its size and modification time. */
function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .map((e) => {
      const p = path.join(e.parentPath, e.name);
      const s = statSync(p);
      return `${path.relative(dir, p)} ${s.size} ${s.mtimeMs}`;
    })
    .sort();
}

before(async () => {
  runs = tmp('runs');
  cwd = tmp('cwd');
  const run = await trainTinyRun(runs, { name: RUN, gallery: GALLERY, steps: 20 });
  metrics = run.metrics;
  gallery = firstImages((await openDataset('fashion')).test, GALLERY);
  model = loadCheckpoint(run.dir).model;
  server = await serve(
    [path.join(runs, RUN), '--port', '0', '--max-gallery', String(GALLERY), '--concurrency', '1', '--max-queued', '1', '--token', TOKEN, '--quiet'],
    cwd,
  );
});

after(() => {
  server?.proc.kill('SIGTERM');
  model?.dispose();
});

test('a server that would be reachable from elsewhere needs a token; bad flags are refused before anything loads', async () => {
  const ckpt = path.join(runs, RUN);
  const [open, short, unknown] = await Promise.all([refusal([ckpt, '--host', '0.0.0.0']), refusal([ckpt, '--token', 'short']), refusal([ckpt, '--bogus'])]);
  assert.equal(open.code, 2, open.output);
  assert.match(open.output, /refusing to listen on 0\.0\.0\.0 without a token/);
  assert.equal(short.code, 2, short.output);
  assert.match(short.output, /at least 16 characters/);
  assert.equal(unknown.code, 2, unknown.output);
  assert.match(unknown.output, /unknown option '--bogus'/);
});

test('health, model, gallery pages and images', async () => {
  const health = await call('/api/health');
  assert.equal(health.status, 200);
  assert.deepEqual(
    { ...health.json, uptimeSeconds: 0 },
    { ok: true, version: '0.1.0', uptimeSeconds: 0, queue: { running: 0, queued: 0, concurrency: 1, maxQueued: 1 } },
  );
  assert.equal(health.res.headers.get('cache-control'), 'no-store');

  const m = (await call('/api/model')).json as {
    checkpoint: string;
    config: { model: string };
    imageShape: number[];
    gallerySize: number;
    classes: number[];
    classNames: string[];
    benign: Record<string, number>;
    attacks: { kind: string; target: string; measure: string; defaults: { steps: number } }[];
    profiles: { name: string }[];
  };
  assert.equal(m.checkpoint, RUN, 'the run name, never a path');
  assert.ok(!JSON.stringify(m).includes(runs), 'no server path in the model description');
  assert.equal(m.config.model, 'c2f2');
  assert.deepEqual(m.imageShape, [1, 28, 28]);
  assert.equal(m.gallerySize, GALLERY);
  assert.deepEqual(m.classes, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(m.classNames, ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);
  assert.equal(m.benign['R@1'], metrics['R@1']);
  assert.deepEqual(
    m.attacks.map((a) => a.kind),
    ATTACK_KINDS,
  );
  assert.deepEqual(
    m.attacks.filter((a) => a.target === 'candidate').map((a) => a.kind),
    ['CA+', 'CA-'],
  );
  assert.equal(m.attacks.find((a) => a.kind === 'ES')!.measure, 'ES:D');
  assert.equal(m.attacks[0]!.defaults.steps, 32);
  assert.ok(m.profiles.some((p) => p.name === 'rob28'));

  const page = (await call('/api/gallery?offset=5&limit=7')).json as { total: number; offset: number; items: { id: number; label: number }[] };
  assert.equal(page.total, GALLERY);
  assert.deepEqual(
    page.items.map((i) => i.id),
    [5, 6, 7, 8, 9, 10, 11],
  );
  assert.deepEqual(
    page.items.map((i) => i.label),
    [5, 6, 7, 8, 9, 10, 11].map((i) => gallery.labels[i]),
  );
  const threes = (await call('/api/gallery?label=3&limit=500')).json as typeof page;
  const expected = [...gallery.labels.keys()].filter((i) => gallery.labels[i] === 3);
  assert.equal(threes.total, expected.length);
  assert.deepEqual(
    threes.items.map((i) => i.id),
    expected,
  );
  const last = (await call(`/api/gallery?label=3&offset=${expected.length - 2}`)).json as typeof page;
  assert.deepEqual(
    last.items.map((i) => i.id),
    expected.slice(-2),
  );

  const png = await call('/api/images/gallery/17.png');
  assert.equal(png.status, 200);
  assert.equal(png.res.headers.get('content-type'), 'image/png');
  const meta = await sharp(png.bytes).metadata();
  assert.deepEqual([meta.width, meta.height, meta.channels], [28, 28, 1], 'a grey PNG at the model’s size');
  const decoded = await sharp(png.bytes).grayscale().raw().toBuffer({ resolveWithObject: true });
  assert.ok(gallery.kind === 'memory');
  assert.deepEqual([...decoded.data], [...gallery.pixels.subarray(17 * 784, 18 * 784)], 'the PNG holds the image the model sees, exactly');

  const runsList = (await call('/api/runs')).json as { runs: { name: string; hasTraining: boolean; hasSwipe: boolean; model: string; epochs: number }[] };
  assert.deepEqual(
    runsList.runs.map((r) => [r.name, r.model, r.epochs, r.hasTraining, r.hasSwipe]),
    [[RUN, 'c2f2', 1, true, false]],
  );
  const svg = await call(`/api/runs/${RUN}/training.svg`);
  assert.equal(svg.status, 200);
  assert.equal(svg.res.headers.get('content-type'), 'image/svg+xml');
  assert.match(svg.res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
});

test("the Runs listing carries a run's robustness over training (swipe RUN --epochs): the table, and its chart by name", async () => {
  // A second run beside the served one, with the table `swipe --epochs` writes (numbers made up; the listing reads them back).
  const dir = path.join(runs, 'with-trail');
  mkdirSync(dir, { recursive: true });
  copyFileSync(path.join(runs, RUN, 'checkpoint.json'), path.join(dir, 'checkpoint.json'));
  const entry = (epoch: number, ers: number): EpochSwipe => ({
    format: 'rankshield-swipe-epoch/1',
    epoch,
    checkpoint: { path: `epochs/000${epoch}`, sha256: 'a'.repeat(64) },
    savedAt: '',
    settings: { profile: 'rob28', maxIter: 1, seed: null, benignRecallAt1: null, gtmTarget: null, method: null, methodSettings: {}, transferFrom: null },
    result: {
      profile: 'rob28',
      metric: 'N',
      queries: 128,
      batches: 1,
      budgets: [{ epsilon: 77 / 255, alpha: 3 / 255, steps: 32 }],
      benignRecallAt1: 70,
      ERS: ers,
      ARS: ers - 5,
      attacks: { 'CA+': 2, 'CA-': 90, 'QA+': 1, 'QA-': 80, TMA: 0.99, 'ES:D': 0.05, 'ES:R': 15, LTM: 6, GTM: 12, GTT: 0 },
      lowBenignRecall: false,
      seconds: 80,
      gallerySeconds: 1,
    },
  });
  writeTrail(dir, trailTable([entry(2, 17), entry(4, 21)]), 'with-trail');
  const listed = (await call('/api/runs')).json as {
    runs: {
      name: string;
      trail: { profile: string; columns: string[]; rows: { epoch: number; ERS: number; attacks: Record<string, number> }[]; plot: string }[];
    }[];
  };
  const run = listed.runs.find((r) => r.name === 'with-trail')!;
  assert.deepEqual(
    run.trail.map((t) => [t.profile, t.plot, t.rows.map((r) => [r.epoch, r.ERS, r.attacks['CA+']])]),
    [
      [
        'rob28',
        'trail-rob28.svg',
        [
          [2, 17, 2],
          [4, 21, 2],
        ],
      ],
    ],
  );
  assert.equal(run.trail[0]!.columns.length, 10);
  assert.deepEqual(listed.runs.find((r) => r.name === RUN)!.trail, [], 'a run without one lists none');
  const svg = await call('/api/runs/with-trail/trail-rob28.svg');
  assert.equal(svg.status, 200);
  assert.equal(svg.res.headers.get('content-type'), 'image/svg+xml');
  assert.match(svg.bytes.toString('utf8'), /Robustness scores per kept epoch/);
  assert.equal((await call('/api/runs/with-trail/trail-rob224.svg')).status, 404);
});

test('search by id: the image itself first at distance 0; an uploaded PNG of it finds the same neighbours', async () => {
  const byId = await call('/api/search', { body: { query: { id: 42 }, k: 20 } });
  assert.equal(byId.status, 200);
  const results = byId.json.results as Ranked;
  assert.deepEqual(byId.json.query, { id: 42, label: gallery.labels[42] });
  assert.equal(results.length, 20);
  assert.deepEqual(results[0], { rank: 1, id: 42, label: gallery.labels[42], distance: 0 });
  for (const [i, r] of results.entries()) {
    assert.equal(r.rank, i + 1);
    assert.equal(r.label, gallery.labels[r.id]);
    if (i > 0) assert.ok(r.distance >= results[i - 1]!.distance, 'nearest first');
  }
  assert.equal(((await call('/api/search', { body: { query: { id: 42 } } })).json.results as Ranked).length, 10, 'k defaults to 10');

  const png = (await call('/api/images/gallery/42.png')).bytes.toString('base64');
  for (const image of [png, `data:image/png;base64,${png}`]) {
    const byImage = await call('/api/search', { body: { query: { image }, k: 20 } });
    assert.equal(byImage.status, 200, JSON.stringify(byImage.json));
    const found = byImage.json.results as Ranked;
    assert.deepEqual(
      found.map((r) => r.id),
      results.map((r) => r.id),
      'same neighbours in the same order',
    );
    found.forEach((r, i) => assert.ok(Math.abs(r.distance - results[i]!.distance) < 1e-4, `distance ${i}: ${r.distance} vs ${results[i]!.distance}`));
  }
});

/** An attack request (token, JSON) that must succeed. */
async function attack(body: Record<string, unknown>): Promise<
  Record<string, unknown> & {
    measure: { name: string; before: number; after: number; unit: string };
    candidates: { id: number; rankBefore: number; rankAfter: number }[];
    topkBefore: Ranked;
    topkAfter: Ranked;
    linf: number;
    images: Record<string, string>;
    budget: { epsilon: number };
  }
> {
  const r = await call('/api/attack', { body });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json as Awaited<ReturnType<typeof attack>>;
}

test('attacks: QA+ pulls a far candidate up the query’s ranking, QA− pushes a near one down, CA+ lifts the image in a far query’s ranking', async () => {
  const query = 42;
  const ranking = (await call('/api/search', { body: { query: { id: query }, k: 100 } })).json.results as Ranked;
  // A gallery image of another class, far from the query: its rank is large before any attack.
  const far = [...Array(GALLERY).keys()].reverse().find((i) => gallery.labels[i] !== gallery.labels[query] && !ranking.some((r) => r.id === i))!;

  const qaPlus = await attack({ query: { id: query }, attack: 'QA+', candidates: [far], steps: 16, seed: 1 });
  assert.equal(qaPlus.measure.name, 'QA+');
  assert.equal(qaPlus.measure.unit, '%');
  const [c] = qaPlus.candidates;
  assert.equal(c!.id, far);
  assert.ok(c!.rankBefore > 100, `the candidate starts far down (${c!.rankBefore})`);
  assert.ok(c!.rankAfter < c!.rankBefore / 2, `QA+ moves it up: rank ${c!.rankBefore} → ${c!.rankAfter}`);
  assert.ok(qaPlus.measure.after < qaPlus.measure.before, 'its rank percentile falls (the undefended model is not robust)');
  assert.ok(qaPlus.linf <= qaPlus.budget.epsilon + 1e-6 && qaPlus.linf > 0, `L∞ ${qaPlus.linf} within ε`);
  assert.deepEqual(qaPlus.topkBefore, ranking.slice(0, 10), 'the top-k before is the search by id');
  for (const which of ['query', 'perturbation', 'adversarial']) {
    const img = await call(qaPlus.images[which]!);
    assert.equal(img.status, 200);
    assert.deepEqual(((await sharp(img.bytes).metadata()) as { width: number }).width, 28);
  }

  const near = ranking[2]!.id;
  const qaMinus = await attack({ query: { id: query }, attack: 'qa-', candidates: [near], steps: 16, seed: 1 });
  assert.equal(qaMinus.attack, 'QA-');
  assert.ok(qaMinus.candidates[0]!.rankAfter > qaMinus.candidates[0]!.rankBefore + 10, `QA− pushes a neighbour down: ${JSON.stringify(qaMinus.candidates)}`);

  const caPlus = await attack({ query: { id: query }, attack: 'CA+', candidates: [far], seed: 1 }); // the default budget: rob28's
  assert.equal(caPlus.measure.name, 'CA+');
  const lifted = caPlus.candidates[0]!;
  assert.ok(lifted.rankAfter < lifted.rankBefore / 2, `CA+ lifts the image in query ${far}'s ranking: ${lifted.rankBefore} → ${lifted.rankAfter}`);
  assert.ok(caPlus.measure.after < caPlus.measure.before);

  // Without candidates the attack draws them, as the swipe does, from the seed: the same seed, the same draw.
  const drawn = await attack({ query: { id: query }, attack: 'QA+', steps: 1, seed: 7 });
  assert.deepEqual((await attack({ query: { id: query }, attack: 'QA+', steps: 1, seed: 7 })).candidates, drawn.candidates);
});

test('every attack kind runs from the API with its own measure; GTM and ES change the ranking', async () => {
  const measures: Record<string, string> = {
    'CA+': 'CA+',
    'CA-': 'CA-',
    'QA+': 'QA+',
    'QA-': 'QA-',
    TMA: 'TMA',
    ES: 'ES:D',
    LTM: 'LTM',
    GTM: 'GTM',
    GTT: 'GTT',
    'SPQA+': 'SPQA+',
    'SPQA-': 'SPQA-',
  };
  for (const kind of ATTACK_KINDS) {
    const r = await attack({ query: { id: 3 }, attack: kind, steps: kind === 'GTM' || kind === 'ES' ? 16 : 2, k: 5 });
    assert.equal(r.measure.name, measures[kind], kind);
    assert.ok(Number.isFinite(r.measure.before) && Number.isFinite(r.measure.after), `${kind}: ${JSON.stringify(r.measure)}`);
    assert.equal(r.topkAfter.length, 5);
    const chooses = kind.startsWith('CA') || kind.startsWith('QA') || kind.startsWith('SPQA');
    assert.equal(r.candidates.length, chooses ? 1 : 0, kind);
    if (kind === 'ES') {
      assert.equal(r.measure.before, 0, 'ES:D before the attack');
      assert.ok(r.measure.after > 0.05, `ES moved the embedding by ${r.measure.after}`);
      assert.equal((r.measures as { name: string }[])[1]!.name, 'ES:R');
    }
    if (kind === 'GTM')
      assert.notDeepEqual(
        r.topkAfter.map((x) => x.id),
        r.topkBefore.map((x) => x.id),
        'GTM changed the top-5',
      );
  }
  // An upload is attacked too; its label is its nearest gallery image's.
  const png = (await call('/api/images/gallery/3.png')).bytes.toString('base64');
  const up = await attack({ query: { image: png }, attack: 'GTT', steps: 2 });
  assert.deepEqual(up.query, { label: gallery.labels[3], labelFrom: 'nearest gallery image' });
});

test('a robust-eval swipe job: the worst case on top (named, PGD beside it), the components, worst case and both findings under robustEval, in its reports', async () => {
  const start = await call('/api/swipe', { body: { maxQueries: 4, seed: 1, robustEval: true } });
  assert.equal(start.status, 202);
  const seen = await events(start.json.jobId as string);
  const end = seen.at(-1)!;
  assert.equal(end.event, 'done', JSON.stringify(end));
  const result = end.data.result as {
    attacks: Record<string, number>;
    ERS: number;
    headline: string;
    pgd: { ERS: number };
    robustEval: {
      components: Record<string, { ERS: number }>;
      worstCase: { attacks: Record<string, number>; ERS: number; name: string };
      verdict: { flagged: boolean; evidence: unknown[]; rule: string; pgdUnreliable: boolean };
    };
  };
  assert.equal(result.ERS, result.robustEval.worstCase.ERS);
  assert.deepEqual(result.attacks, result.robustEval.worstCase.attacks);
  assert.equal(result.pgd.ERS, result.robustEval.components.pgd!.ERS);
  assert.match(result.headline, /^worst case over PGD \(η 32\), APGD \(η 32 × 1 random start\), Square \(100 queries\) — cheap$/);
  assert.equal(typeof result.robustEval.verdict.pgdUnreliable, 'boolean');
  assert.deepEqual(Object.keys(result.robustEval.components), ['pgd', 'apgd', 'query'], 'no transfer component: the service has no surrogate');
  assert.equal(result.robustEval.verdict.evidence.length, 9);
  assert.equal(typeof result.robustEval.verdict.flagged, 'boolean');
  assert.deepEqual(Object.keys(result.robustEval.worstCase.attacks).sort(), Object.keys(result.attacks).sort());
  assert.match(
    (await call(`/api/jobs/${start.json.jobId as string}/report.md`)).bytes.toString(),
    /^# Robust evaluation — profile rob28, metric N\n\n\*\*ERS [-\d.]+, ARS [-\d.]+ — worst case over PGD[\s\S]*Gradient-masking verdict[\s\S]*Is the profile's PGD reliable\?/,
  );
  const bad = await call('/api/swipe', { body: { robustEval: 'yes' } });
  assert.equal(bad.status, 400);
  assert.match(bad.bytes.toString(), /robustEval/);
});

test('a swipe job: progress events, then the result the library gives for the same queries, and its reports', async () => {
  const start = await call('/api/swipe', { body: { maxQueries: 4, seed: 1 } });
  assert.equal(start.status, 202);
  const jobId = start.json.jobId as string;
  const seen = await events(jobId);
  // One event before each attack run (the stream opens with the job's state: it may have started already).
  const progress = seen.filter((e) => e.event === 'progress' && e.data.attack !== undefined);
  const runs = getProfile('rob28').runs.map((r) => r.attack);
  const from = runs.length - progress.length;
  assert.ok(progress.length >= 3, `progress events: ${JSON.stringify(seen)}`);
  assert.deepEqual(
    progress.map((e) => e.data.attack),
    runs.slice(from),
  );
  assert.ok(progress.every((e, i) => e.data.done === from + i && e.data.total === 9 && e.data.state === 'running'));
  const end = seen.at(-1)!;
  assert.equal(end.event, 'done');
  const result = end.data.result as Record<string, unknown> & { attacks: Record<string, number> };

  // The same swipe in this process: rob28 on the gallery's first 4 queries, as one batch, same seed.
  const rob28 = getProfile('rob28');
  const mine = withStoredBenign(await runSwipe(model, gallery, metricByName('N'), { profile: { ...rob28, batchSize: 4 }, maxIter: 1, seed: 1 }), metrics);
  assert.deepEqual(Object.keys(result).sort(), Object.keys(mine).sort(), 'the shape of swipe --json');
  assert.deepEqual(Object.keys(result.attacks), Object.keys(mine.attacks));
  for (const [k, v] of Object.entries(mine.attacks))
    assert.ok(Math.abs(result.attacks[k]! - v) <= 1e-6 * Math.max(1, Math.abs(v)), `${k}: served ${result.attacks[k]} vs library ${v}`);
  assert.equal(result.queries, 4);
  assert.equal(typeof result.ERS, 'number');
  assert.deepEqual(result.benign, mine.benign);

  const job = (await call(`/api/jobs/${jobId}`)).json;
  assert.equal(job.state, 'done');
  assert.deepEqual(job.progress, { done: 9, total: 9 });
  const json = await call(`/api/jobs/${jobId}/report.json`);
  assert.deepEqual(JSON.parse(json.bytes.toString()), result);
  assert.match((await call(`/api/jobs/${jobId}/report.md`)).bytes.toString(), /^# Robustness swipe — profile rob28/);
  assert.match((await call(`/api/jobs/${jobId}/report.svg`)).bytes.toString(), /^<svg /);
});

test('the queue: a second job waits, a third is refused with 429; DELETE cancels a queued job at once and a running swipe before its next attack', async () => {
  const a = (await call('/api/swipe', { body: { maxQueries: 2 } })).json.jobId as string;
  await events(a, (e) => e.data.attack !== undefined); // running
  const b = await call('/api/swipe', { body: {} });
  assert.equal(b.status, 202);
  for (const refused of [
    await call('/api/swipe', { body: {} }),
    await call('/api/attack', { body: { query: { id: 1 }, attack: 'ES' } }),
    await call('/api/search', { body: { query: { image: (await call('/api/images/gallery/1.png')).bytes.toString('base64') } } }),
  ]) {
    assert.equal(refused.status, 429);
    assert.match(refused.json.error as string, /queue full: 1 job\(s\) running and 1 waiting \(at most 1\)/);
  }
  assert.deepEqual((await call('/api/health')).json.queue, { running: 1, queued: 1, concurrency: 1, maxQueued: 1 });
  const bId = b.json.jobId as string;
  assert.equal((await call(`/api/jobs/${bId}/report.json`)).status, 409, 'no report before the job is done');
  const cancelB = await call(`/api/jobs/${bId}`, { method: 'DELETE' });
  assert.equal(cancelB.status, 200);
  assert.equal(cancelB.json.state, 'cancelled');
  const cancelA = await call(`/api/jobs/${a}`, { method: 'DELETE' });
  assert.equal(cancelA.status, 202);
  assert.equal(cancelA.json.cancelRequested, true);
  const tail = await events(a);
  assert.equal(tail.at(-1)!.event, 'cancelled');
  const stopped = (await call(`/api/jobs/${a}`)).json as { state: string; progress: { done: number; total: number } };
  assert.equal(stopped.state, 'cancelled');
  assert.ok(stopped.progress.done < stopped.progress.total, `stopped early: ${JSON.stringify(stopped.progress)}`);
  const again = await call(`/api/jobs/${a}`, { method: 'DELETE' });
  assert.equal(again.status, 409);
  assert.match(again.json.error as string, /already ended \(cancelled\)/);
  assert.deepEqual((await call('/api/health')).json.queue, { running: 0, queued: 0, concurrency: 1, maxQueued: 1 });
});

test('a worker that dies fails its job with a message; a new worker takes the next one', async () => {
  const id = (await call('/api/swipe', { body: { maxQueries: 2 } })).json.jobId as string;
  await events(id, (e) => e.data.attack !== undefined);
  const workers = execFileSync('ps', ['-o', 'pid=', '--ppid', String(server.proc.pid)], { encoding: 'utf8' })
    .trim()
    .split(/\s+/)
    .map(Number);
  assert.equal(workers.length, 1, 'one worker (--concurrency 1)');
  process.kill(workers[0]!, 'SIGKILL');
  const end = (await events(id)).at(-1)!;
  assert.equal(end.event, 'failed');
  assert.match(end.data.error as string, /worker process was killed by SIGKILL while running this job/);
  const r = await attack({ query: { id: 9 }, attack: 'ES', steps: 2 });
  assert.equal(r.measure.name, 'ES:D');
  assert.equal(server.proc.exitCode, null, 'the server lives on');
});

test('the bearer token guards every /api call (not the page); no CORS headers', async () => {
  const none = await call('/api/health', { token: null });
  assert.equal(none.status, 401);
  assert.match(none.json.error as string, /needs a bearer token/);
  assert.equal(none.res.headers.get('www-authenticate'), 'Bearer');
  const wrong = await call('/api/model', { token: 'x'.repeat(TOKEN.length) });
  assert.equal(wrong.status, 401);
  assert.match(wrong.json.error as string, /wrong bearer token/);
  assert.equal((await call('/api/search', { token: null, body: { query: { id: 1 } } })).status, 401);
  assert.equal((await call('/%61pi/health', { token: null })).status, 401, 'an escaped path is still the API');
  const page = await call('/', { token: null });
  assert.equal(page.status, 200);
  assert.match(page.res.headers.get('content-type') ?? '', /^text\/html/);
  const cors = await call('/api/health', { headers: { origin: 'http://evil.example' } });
  assert.equal(cors.status, 200);
  const preflight = await call('/api/search', { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
  for (const r of [cors, preflight])
    assert.deepEqual(
      [...r.res.headers.keys()].filter((h) => h.startsWith('access-control-')),
      [],
      'no CORS headers',
    );
});

test('bad requests are refused with a 4xx naming the problem; the server serves on and writes nothing', async () => {
  const disk = [snapshot(cwd), snapshot(runs)];
  const png = (await call('/api/images/gallery/1.png')).bytes.toString('base64');
  const huge = (
    await sharp({ create: { width: 4097, height: 4097, channels: 3, background: '#808080' } })
      .png()
      .toBuffer()
  ).toString('base64');
  const q = { query: { id: 1 } };
  const cases: [string, string, Call, number, RegExp][] = [
    // The server reads and drops the rest of the body before answering, so the client gets the 413 (not a reset connection).
    [
      'oversize body',
      '/api/search',
      { raw: JSON.stringify({ query: { image: 'A'.repeat(5 * 1024 * 1024) } }), headers: { 'content-type': 'application/json' } },
      413,
      /^the request body is larger than 4194304 bytes \(4 MiB\)$/,
    ],
    [
      'wrong content-type',
      '/api/search',
      { raw: JSON.stringify(q), headers: { 'content-type': 'text/plain' } },
      415,
      /content-type must be application\/json, got 'text\/plain'/,
    ],
    ['invalid JSON', '/api/search', { raw: '{"query": {"id": 1}', headers: { 'content-type': 'application/json' } }, 400, /not valid JSON/],
    [
      'NaN is not JSON',
      '/api/attack',
      { raw: '{"query": {"id": 1}, "attack": "ES", "epsilon": NaN}', headers: { 'content-type': 'application/json' } },
      400,
      /not valid JSON/,
    ],
    ['empty body', '/api/search', { raw: '', headers: { 'content-type': 'application/json' } }, 400, /body is empty/],
    ['not an object', '/api/search', { body: [1, 2] }, 400, /body: .*expected object/],
    ['unknown field', '/api/search', { body: { ...q, limit: 5 } }, 400, /body: unknown field 'limit'/],
    ['unknown nested field', '/api/search', { body: { query: { id: 1, path: '/etc/passwd' } } }, 400, /query: unknown field 'path'/],
    ['negative k', '/api/search', { body: { ...q, k: -1 } }, 400, /^k: must be an integer in \[1, 100\] \(got -1\)/],
    ['k too large', '/api/search', { body: { ...q, k: 101 } }, 400, /^k: must be an integer in \[1, 100\] \(got 101\)/],
    ['k not an integer', '/api/search', { body: { ...q, k: 2.5 } }, 400, /^k: .*int/],
    ['k a string', '/api/search', { body: { ...q, k: '10' } }, 400, /^k: .*expected number, received string/],
    ['epsilon out of range', '/api/attack', { body: { ...q, attack: 'ES', epsilon: 2 } }, 400, /^epsilon: must be in \(0, 1\]/],
    ['epsilon zero', '/api/attack', { body: { ...q, attack: 'ES', epsilon: 0 } }, 400, /^epsilon: must be in \(0, 1\]/],
    ['epsilon "NaN"', '/api/attack', { body: { ...q, attack: 'ES', epsilon: 'NaN' } }, 400, /^epsilon: .*expected number/],
    ['steps 0', '/api/attack', { body: { ...q, attack: 'ES', steps: 0 } }, 400, /^steps: must be an integer in \[1, 200\]/],
    ['steps too many', '/api/attack', { body: { ...q, attack: 'ES', steps: 1000 } }, 400, /^steps: must be an integer in \[1, 200\]/],
    ['unknown attack', '/api/attack', { body: { ...q, attack: 'XX+' } }, 400, /^attack: unknown attack 'XX\+'/],
    [
      'candidates for an attack that chooses none',
      '/api/attack',
      { body: { ...q, attack: 'TMA', candidates: [3] } },
      400,
      /^candidates: TMA chooses no gallery items/,
    ],
    ['repeated candidates', '/api/attack', { body: { ...q, attack: 'QA+', candidates: [3, 3] } }, 400, /^candidates: the ids must be distinct/],
    ['id out of range', '/api/search', { body: { query: { id: GALLERY } } }, 400, /^query\.id: must be a gallery id in \[0, 999\] \(got 1000\)/],
    ['candidate out of range', '/api/attack', { body: { ...q, attack: 'QA+', candidates: [5000] } }, 400, /^candidates\.0: must be a gallery id in \[0, 999\]/],
    ['non-integer id', '/api/search', { body: { query: { id: 1.5 } } }, 400, /^query\.id: .*int/],
    ['id and image both', '/api/search', { body: { query: { id: 1, image: png } } }, 400, /^query: give exactly one of id/],
    ['corrupt base64', '/api/search', { body: { query: { image: 'iVBORw0KGgo@@@' } } }, 400, /^query\.image: not valid base64/],
    [
      'not an image',
      '/api/search',
      { body: { query: { image: Buffer.from('hello, world').toString('base64') } } },
      400,
      /^query\.image: not a PNG or JPEG file/,
    ],
    ['a truncated PNG', '/api/search', { body: { query: { image: png.slice(0, 64) } } }, 400, /^query\.image: cannot decode the image/],
    [
      'data: URL of another type',
      '/api/search',
      { body: { query: { image: `data:text/html;base64,${png}` } } },
      400,
      /^query\.image: only PNG and JPEG images are accepted/,
    ],
    [
      'too many pixels',
      '/api/attack',
      { body: { query: { image: huge }, attack: 'ES' } },
      400,
      /^query\.image: the image is 4097×4097 = 16785409 pixels, more than the limit of 16777216/,
    ],
    ['unknown profile', '/api/swipe', { body: { profile: 'rob1000' } }, 400, /^profile: /],
    ['maxQueries 0', '/api/swipe', { body: { maxQueries: 0 } }, 400, /^maxQueries: must be an integer in \[1, 1000\]/],
    ['gallery label absent', '/api/gallery?label=42', {}, 400, /^label: no gallery image has label 42/],
    ['gallery limit too large', '/api/gallery?limit=501', {}, 400, /^limit: must be in \[1, 500\]/],
    ['gallery offset negative', '/api/gallery?offset=-1', {}, 400, /^offset: must be a non-negative integer/],
    ['gallery unknown parameter', '/api/gallery?sort=id', {}, 400, /^query string: unknown field 'sort'/],
    ['traversal in a run name', '/api/runs/..%2F..%2Fetc/training.svg', {}, 404, /^no run named '\.\.\/\.\.\/etc'/],
    ['dot-dot run name', '/api/runs/../training.svg', {}, 404, /no route|no run named/],
    [
      'traversal in a run file',
      `/api/runs/${RUN}/..%2Fcheckpoint.json`,
      {},
      404,
      /a run has no file '\.\.\/checkpoint\.json' \(only training\.svg, swipe\.svg\)/,
    ],
    ['unknown job', '/api/jobs/00000000-0000-0000-0000-000000000000', {}, 404, /^no job '00000000-0000-0000-0000-000000000000'/],
    ['unknown job events', '/api/jobs/nope/events', {}, 404, /^no job 'nope'/],
    ['unknown attack result', '/api/images/results/nope/query.png', {}, 404, /^no attack result 'nope'/],
    ['gallery image out of range', `/api/images/gallery/${GALLERY}.png`, {}, 404, /^no gallery image '1000\.png' \(ids 0 to 999/],
    ['gallery image not an id', '/api/images/gallery/..%2F..%2Fetc%2Fpasswd', {}, 404, /^no gallery image/],
    ['unknown route', '/api/nope', {}, 404, /^no route GET \/api\/nope/],
    ['wrong method', '/api/health', { method: 'POST', body: {} }, 404, /^no route POST \/api\/health/],
    ['missing token', '/api/gallery', { token: null }, 401, /needs a bearer token/],
    ['wrong token', '/api/gallery', { token: 'not-the-token-at-all' }, 401, /wrong bearer token/],
  ];
  for (const [what, p, o, status, message] of cases) {
    const r = await call(p, o);
    assert.equal(r.status, status, `${what}: ${r.status} ${JSON.stringify(r.json)}`);
    assert.equal(r.json.statusCode, status, `${what}: the body repeats the status`);
    assert.match(r.json.error as string, message, what);
  }
  assert.ok(cases.length >= 15);
  const health = await call('/api/health');
  assert.equal(health.status, 200, 'still serving');
  assert.deepEqual(health.json.queue, { running: 0, queued: 0, concurrency: 1, maxQueued: 1 });
  assert.equal((await call('/api/search', { body: q })).status, 200);
  assert.equal(server.proc.exitCode, null);
  assert.deepEqual([snapshot(cwd), snapshot(runs)], disk, 'nothing was written to disk');
});

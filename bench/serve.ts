// `rankshield bench serve`: searches by gallery id against `rankshield serve`
// from N concurrent keep-alive clients for S seconds, on this machine (server
// and clients share its cores). Prints throughput, p50/p95/p99 latency and the
// error count. The server runs as its own process on a free loopback port,
// serving --checkpoint, or a c2f2 trained for a few steps here (search speed
// does not depend on the weights). Unlike the other benches there is no
// PyTorch side: this measures the service alone.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { flagBool, flagNumber, flagString, parseOptions } from '../src/util/options.js';

const BIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'rankshield.js');

interface ServeBenchArgs {
  clients: number;
  seconds: number;
  warmup: number;
  k: number;
  checkpoint?: string;
  gallery?: number;
  attacks: number;
  json: boolean;
}

function parse(argv: string[]): ServeBenchArgs {
  // No --threads: the server gives its worker the cores (RANKSHIELD_THREADS pins them).
  const p = parseOptions(argv, {
    clients: { kind: 'int', value: 'N', min: 1, help: 'concurrent keep-alive clients' },
    seconds: { kind: 'int', value: 'S', min: 1, help: 'measured seconds' },
    warmup: { kind: 'int', value: 'S', min: 0, help: 'unmeasured seconds first' },
    k: { kind: 'int', value: 'K', min: 1, help: 'neighbours per search' },
    checkpoint: { kind: 'string', value: 'DIR', help: 'serve this run (default: train a tiny c2f2 one)' },
    gallery: { kind: 'int', value: 'N', min: 2, help: 'serve only the first N test images' },
    attacks: { kind: 'int', value: 'N', min: 0, help: 'after the load: time N single-query attacks of each kind at the profile budget (0 = none)' },
    json: { kind: 'boolean', help: 'print only the JSON line' },
  });
  const checkpoint = flagString(p, 'checkpoint');
  const gallery = flagNumber(p, 'gallery');
  return {
    clients: flagNumber(p, 'clients') ?? 50,
    seconds: flagNumber(p, 'seconds') ?? 60,
    warmup: flagNumber(p, 'warmup') ?? 3,
    k: flagNumber(p, 'k') ?? 10,
    ...(checkpoint !== undefined ? { checkpoint } : {}),
    ...(gallery !== undefined ? { gallery } : {}),
    attacks: flagNumber(p, 'attacks') ?? 1,
    json: flagBool(p, 'json'),
  };
}

/** A c2f2 checkpoint trained for a few steps with the real `rankshield train`, in a fresh temporary directory. */
function tinyCheckpoint(): string {
  const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'rankshield-bench-serve-')), 'run');
  process.stderr.write(`bench serve: training a tiny c2f2 checkpoint in ${out} (give --checkpoint to skip)\n`);
  const r = spawnSync(
    process.execPath,
    [BIN, 'train', 'fashion:rc2f2:ptripletN', '--epochs', '1', '--batch', '32', '--max-batches', '6', '--quiet', '--json', '--out', out],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  if (r.status !== 0) throw new Error(`rankshield train exited with ${r.status}`);
  return out;
}

/** `rankshield serve` on a free loopback port; resolves with its URL once it listens. */
function startServer(checkpoint: string, gallery: number | undefined): Promise<{ url: string; proc: ChildProcess }> {
  const args = [BIN, 'serve', checkpoint, '--port', '0', ...(gallery === undefined ? [] : ['--max-gallery', String(gallery)])];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m !== null) resolve({ url: m[1]!, proc });
    });
    proc.on('exit', (code) => reject(new Error(`rankshield serve exited with ${code} before listening`)));
  });
}

/** One request on the keep-alive agent: status and body. */
function request(agent: http.Agent, url: URL, method: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { agent, method, headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** Median ms of `n` single-query attacks of every kind the server offers, at its default budget (sequential: one at a time). */
async function timeAttacks(agent: http.Agent, base: URL, gallerySize: number, n: number): Promise<Record<string, number>> {
  if (n === 0) return {};
  const { attacks } = JSON.parse((await request(agent, new URL('/api/model', base), 'GET')).body) as { attacks: { kind: string }[] };
  const out: Record<string, number> = {};
  for (const { kind } of attacks) {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const r = await request(agent, new URL('/api/attack', base), 'POST', JSON.stringify({ query: { id: (i * 7919) % gallerySize }, attack: kind }));
      if (r.status !== 200) throw new Error(`attack ${kind}: HTTP ${r.status}: ${r.body.slice(0, 200)}`);
      times.push(performance.now() - t0);
    }
    out[kind] = percentile(
      times.sort((a, b) => a - b),
      50,
    );
  }
  return out;
}

export async function runServeBench(argv: string[]): Promise<number> {
  const args = parse(argv);
  const checkpoint = args.checkpoint ?? tinyCheckpoint();
  const server = await startServer(checkpoint, args.gallery);
  const agent = new http.Agent({ keepAlive: true, maxSockets: args.clients });
  try {
    const base = new URL(server.url);
    const model = JSON.parse((await request(agent, new URL('/api/model', base), 'GET')).body) as { gallerySize: number; dataset: string };
    const search = new URL('/api/search', base);
    const latencies: number[] = [];
    let errors = 0;
    let firstError = '';
    const started = performance.now();
    const measureFrom = started + args.warmup * 1000;
    const end = measureFrom + args.seconds * 1000;
    // Each client sends its next search as soon as the last one is answered (a closed loop).
    const client = async (c: number): Promise<void> => {
      let n = c;
      while (performance.now() < end) {
        const id = (n++ * 7919 + c * 104729) % model.gallerySize;
        const t0 = performance.now();
        try {
          const r = await request(agent, search, 'POST', JSON.stringify({ query: { id }, k: args.k }));
          if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${r.body.slice(0, 200)}`);
        } catch (e) {
          if (t0 >= measureFrom) errors++;
          firstError ||= (e as Error).message;
          continue;
        }
        if (t0 >= measureFrom) latencies.push(performance.now() - t0);
      }
    };
    process.stderr.write(
      `bench serve: ${args.clients} clients, ${args.warmup} s warm-up + ${args.seconds} s of searches by id (k = ${args.k}) on a ${model.gallerySize}-image ${model.dataset} gallery\n`,
    );
    await Promise.all(Array.from({ length: args.clients }, (_, c) => client(c)));
    const sorted = latencies.sort((a, b) => a - b);
    const attackMs = await timeAttacks(agent, base, model.gallerySize, args.attacks);
    const result = {
      bench: 'serve',
      clients: args.clients,
      seconds: args.seconds,
      gallery: model.gallerySize,
      k: args.k,
      cores: os.availableParallelism(),
      requests: sorted.length,
      throughput_rps: sorted.length / args.seconds,
      p50_ms: percentile(sorted, 50),
      p95_ms: percentile(sorted, 95),
      p99_ms: percentile(sorted, 99),
      max_ms: sorted.at(-1) ?? NaN,
      errors,
      // Median wall time of POST /api/attack per kind (one query, the server's default budget: the dataset's ERS profile), idle server.
      attack_ms: attackMs,
    };
    if (!args.json) {
      console.log(
        `searches/s  ${result.throughput_rps.toFixed(0)}   (${result.requests} in ${args.seconds} s, ${errors} errors${firstError === '' ? '' : `; first: ${firstError}`})`,
      );
      console.log(
        `latency ms  p50 ${result.p50_ms.toFixed(1)}  p95 ${result.p95_ms.toFixed(1)}  p99 ${result.p99_ms.toFixed(1)}  max ${result.max_ms.toFixed(1)}`,
      );
      for (const [kind, ms] of Object.entries(attackMs)) console.log(`attack ${kind.padEnd(6)} ${(ms / 1000).toFixed(2)} s`);
    }
    console.log(JSON.stringify(result));
    return errors === 0 ? 0 : 1;
  } finally {
    agent.destroy();
    server.proc.kill('SIGTERM');
  }
}

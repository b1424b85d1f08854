// Data parallelism on real c10d process groups (Gloo over loopback TCP), with
// real child processes: two ranks train exactly the weights one process trains
// with the same shards (bit for bit: with two shards the only cross-rank sum is
// g0 + g1, which IEEE addition makes order-free, and every shard is seeded by
// its own index), a run resumes under another world size, a 2-rank swipe equals
// the 1-rank swipe, and a rank that dies ends the run with an error, not a hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { distributedAvailable } from '../src/tensor/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.join(here, '..', '..', 'bin', 'rankshield.js');
const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'rankshield-dist-'));

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: NodeJS.ProcessEnv = {}, script = cli): { exit: Promise<Exit>; kill: (s: NodeJS.Signals) => void; pid: number } {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  return { exit: new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr }))), kill: (s) => child.kill(s), pid: child.pid! };
}

/** The pid of the child of `parent` started with RANK=`rank` (from /proc). */
function rankPid(parent: number, rank: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent && readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(`RANK=${rank}`)) return Number(entry);
    } catch {
      // the process ended while we looked
    }
  }
  return undefined;
}

const lastJson = (e: Exit): Record<string, unknown> => JSON.parse(e.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
const modelHash = (dir: string): string =>
  (JSON.parse(readFileSync(path.join(dir, 'checkpoint.json'), 'utf8')) as { files: { model: { sha256: string } } }).files.model.sha256;
const train = (out: string, epochs: number, extra: string[]): string[] => [
  'train',
  '--dataset',
  'fashion',
  '--epochs',
  String(epochs),
  '--batch',
  '32',
  '--max-batches',
  '5',
  '--eval-every',
  '100',
  '--quiet',
  '--json',
  '--out',
  out,
  ...extra,
];

test('this build has c10d Gloo (libgloo-dev headers at build time)', () => {
  assert.ok(distributedAvailable());
});

test('2 Gloo ranks train bit-identical weights to 1 process with the same 2 shards, and resume under 1 process', async () => {
  const one = tmp();
  const two = tmp();
  // one process, two shards, two epochs — beside two ranks, one epoch
  const [a, b] = await Promise.all([run(train(one, 2, ['--shards', '2'])).exit, run(train(two, 1, ['--nproc', '2'])).exit]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  // the 2-rank run's second epoch in one process
  const c = await run(train(two, 2, ['--resume'])).exit;
  assert.equal(c.code, 0, c.stderr);
  assert.equal(modelHash(two), modelHash(one), 'weights after 2 ranks + 1 process ≠ 1 process throughout');
  assert.equal(lastJson(c)['R@1'], lastJson(a)['R@1']);
  const sidecar = JSON.parse(readFileSync(path.join(two, 'checkpoint.json'), 'utf8')) as { config: { shards: number } };
  assert.equal(sidecar.config.shards, 2, 'the shard count is part of the experiment');
  const log = readFileSync(path.join(two, 'log.jsonl'), 'utf8');
  assert.match(log, /"event":"start".*"worldSize":2/);
  assert.match(log, /"event":"resume".*"worldSize":1/);
});

test('a 2-rank swipe gives the 1-rank swipe JSON exactly', async () => {
  const ckpt = tmp();
  const t = await run(train(ckpt, 1, [])).exit;
  assert.equal(t.code, 0, t.stderr);
  const script = path.join(here, 'helpers', 'swipe-rank.js');
  const single = await run([ckpt], {}, script).exit;
  assert.equal(single.code, 0, single.stderr);
  const port = String(29_600 + (process.pid % 300));
  const ranks = [0, 1].map((rank) => run([ckpt], { RANK: String(rank), WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: port }, script).exit);
  const [r0, r1] = await Promise.all(ranks);
  assert.equal(r0.code, 0, r0.stderr);
  assert.equal(r1.code, 0, r1.stderr);
  const s = lastJson(single);
  assert.equal(s.queries, 96);
  assert.ok((s.attacks as Record<string, number>)['CA+']! >= 0);
  assert.deepEqual(lastJson(r0), s);
});

test('a rank that dies ends the run with an error naming it, not a hang', async () => {
  const out = tmp();
  const launcher = run(['train', '--dataset', 'fashion', '--epochs', '1', '--batch', '32', '--max-batches', '400', '--quiet', '--out', out, '--nproc', '2']);
  // wait until both ranks train (rank 0 logs steps), then kill rank 1
  while (!(existsSync(path.join(out, 'log.jsonl')) && readFileSync(path.join(out, 'log.jsonl'), 'utf8').includes('"event":"step"'))) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const rank1 = rankPid(launcher.pid, 1);
  assert.ok(rank1 !== undefined, 'rank 1 should run under the launcher');
  process.kill(rank1, 'SIGKILL');
  const e = await launcher.exit;
  assert.notEqual(e.code, 0);
  assert.match(e.stderr, /failed after [\d.]+ s: lost rank 1 \(127\.0\.0\.1, host [^,]+, pid \d+\)|rank 1 failed/);
});

test('--nproc must divide --shards; a rank without its rendezvous variables is told which are missing', async () => {
  const bad = await run(['train', '--dataset', 'fashion', '--nproc', '2', '--shards', '3', '--out', tmp()]).exit;
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--nproc 2 must divide --shards 3/);
  const noRank = await run(['train', '--dataset', 'fashion', '--out', tmp()], { WORLD_SIZE: '2' }).exit;
  assert.equal(noRank.code, 1);
  assert.match(noRank.stderr, /RANK is not set/);
});

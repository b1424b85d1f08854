// Training survives being killed. Real child processes of the CLI train on real
// Fashion-MNIST and are killed with SIGKILL at seeded random points (inside
// steps, inside checkpoint commits, during the final evaluation) and stopped
// once with SIGINT; every restart resumes from a checkpoint that verifies, loses
// at most one checkpoint interval, and the final weights are bit-identical to
// an uninterrupted run's. RANKSHIELD_KILLS sets the number of kills (CI: 4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { latestGoodCheckpoint } from '../src/run/checkpoint.js';

const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'rankshield.js');
const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'rankshield-kill-'));
const EVERY = 3;
const EPOCHS = 2;
const KILLS = Number(process.env.RANKSHIELD_KILLS ?? 4);
// A process makes ~2 steps of committed progress between kills on average: size the run so that
// every kill lands in training (both epochs); one more kill then lands in the final evaluation.
const STEPS = Math.max(12, 2 * KILLS);
const trainArgs = (out: string): string[] => [
  'train',
  '--dataset',
  'fashion',
  '--epochs',
  String(EPOCHS),
  '--batch',
  '32',
  '--max-batches',
  String(STEPS),
  '--eval-every',
  '100',
  '--checkpoint-every',
  String(EVERY),
  '--quiet',
  '--json',
  '--out',
  out,
];

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function start(args: string[]): { child: ChildProcess; exit: Promise<Exit> } {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const exit = new Promise<Exit>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, exit };
}

const stepLines = (out: string): number => {
  const f = path.join(out, 'log.jsonl');
  return existsSync(f)
    ? readFileSync(f, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"event":"step"')).length
    : 0;
};
/** Whether process `pid` has logged its start (fresh or resumed): its signal handlers are in place. */
const startedBy = (out: string, pid: number): boolean => {
  const f = path.join(out, 'log.jsonl');
  return (
    existsSync(f) &&
    readFileSync(f, 'utf8')
      .split('\n')
      .some((l) => /"event":"(start|resume)"/.test(l) && l.includes(`"pid":${pid}`))
  );
};
/** Whether the committed checkpoint says the final evaluation is running (the sidecar only: polled often). */
const pendingEval = (out: string): boolean => {
  try {
    return (JSON.parse(readFileSync(path.join(out, 'checkpoint.json'), 'utf8')) as { pendingEval: boolean }).pendingEval;
  } catch {
    return false;
  }
};
/** How to restart: resume a checkpoint; a run killed before its first one holds nothing to keep. */
const restartFlags = (out: string): string[] =>
  existsSync(path.join(out, 'checkpoint.json')) ? ['--resume'] : existsSync(path.join(out, 'log.jsonl')) ? ['--overwrite'] : [];

/** Resolves when `cond` holds (polled every 2 ms) or the child has exited. */
async function until(cond: () => boolean, exited: Promise<Exit>): Promise<boolean> {
  let done = false;
  void exited.then(() => (done = true));
  while (!done) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 2));
  }
  return false;
}

/** A seeded stream (mulberry32), so the kill points are the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const committedModel = (out: string): string => latestGoodCheckpoint(out).info.files.model.sha256;

test('kill -9 at random points, then resume: no torn checkpoint, at most one interval lost, final weights identical', async (t) => {
  const kills = KILLS;
  const reference = tmp();
  const ref = await start(trainArgs(reference)).exit;
  assert.equal(ref.code, 0, ref.stderr);

  const out = tmp();
  const total = EPOCHS * STEPS;
  const random = rng(20261130);
  let sigintDone = false;
  const outcomes: string[] = [];
  // `kills` SIGKILLs, plus one SIGINT half-way.
  for (let i = 0; i <= kills; i++) {
    const useSigint = !sigintDone && i === Math.floor(kills / 2);
    // Each process is killed after a seeded random number of its own steps in
    // [1, 2·EVERY + 1] (so kills land before, inside and after commits), or
    // during the final evaluation if it gets there first.
    const ownSteps = 1 + Math.floor(random() * (2 * EVERY + 1));
    const run = start([...trainArgs(out), ...restartFlags(out)]);
    let base = -1;
    const reached = await until(() => {
      if (base < 0 && startedBy(out, run.child.pid!)) base = stepLines(out);
      return base >= 0 && (stepLines(out) >= base + ownSteps || pendingEval(out));
    }, run.exit);
    if (!reached) {
      // It finished (or died) before the point: only a clean finish is acceptable.
      const e = await run.exit;
      assert.equal(e.code, 0, `attempt ${i} ended by itself: ${e.stderr}`);
      break;
    }
    const logged = stepLines(out);
    const inEval = pendingEval(out);
    run.child.kill(useSigint ? 'SIGINT' : 'SIGKILL');
    const e = await run.exit;
    if (!existsSync(path.join(out, 'checkpoint.json'))) {
      assert.ok(logged <= EVERY && !useSigint, `attempt ${i}: no checkpoint after ${logged} steps`);
      outcomes.push(`${logged}:before-first-checkpoint`);
      continue;
    }
    const ck = latestGoodCheckpoint(out);
    outcomes.push(`${inEval ? 'eval' : logged}:${useSigint ? 'SIGINT' : 'SIGKILL'}:lost${Math.max(0, logged - ck.info.optimizerStep)}`);
    assert.equal(ck.problem, undefined, `attempt ${i}: checkpoint.json must verify after a kill (${ck.problem})`);
    if (useSigint) {
      sigintDone = true;
      // during the final evaluation there is nothing left to interrupt: it finishes (exit 0)
      assert.equal(e.code, inEval ? 0 : 130, `SIGINT exit: ${e.stderr}`);
      if (!inEval) assert.match(e.stderr, /resume with: rankshield train .*--resume/);
      assert.ok(ck.info.optimizerStep >= logged, 'SIGINT loses no finished step');
      if (inEval) break;
    } else {
      assert.equal(e.signal, 'SIGKILL');
      assert.ok(logged - ck.info.optimizerStep <= EVERY, `attempt ${i}: lost ${logged - ck.info.optimizerStep} steps, more than one interval (${EVERY})`);
      if (inEval) break; // a kill during the final evaluation: the restart only evaluates
    }
  }
  if (!outcomes.some((o) => o.startsWith('eval'))) {
    // One more kill, during the final evaluation (its epoch is committed before it starts).
    const run = start([...trainArgs(out), ...restartFlags(out)]);
    assert.ok(await until(() => pendingEval(out), run.exit), 'the run should reach its final evaluation');
    run.child.kill('SIGKILL');
    await run.exit;
    const ck = latestGoodCheckpoint(out);
    assert.equal(ck.problem, undefined);
    assert.equal(ck.info.optimizerStep, total, 'the trained epoch is committed before its evaluation');
    outcomes.push('eval:SIGKILL:lost0');
  }
  t.diagnostic(`kills (logged steps:signal:steps lost): ${outcomes.join(' ')}`);
  const last = await start([...trainArgs(out), ...restartFlags(out)]).exit;
  assert.equal(last.code, 0, last.stderr);
  assert.equal(committedModel(out), committedModel(reference), 'final weights differ from the uninterrupted run');
  assert.deepEqual(JSON.parse(last.stdout.trim().split('\n').pop()!)['R@1'], JSON.parse(ref.stdout.trim().split('\n').pop()!)['R@1']);
  // The log describes exactly the training that counts: each step once.
  const steps = readFileSync(path.join(out, 'log.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"event":"step"'));
  assert.deepEqual(
    steps.map((l) => (JSON.parse(l) as { step: number }).step),
    Array.from({ length: total }, (_, k) => k),
  );
});

test('two trainings on one directory: the second is refused while the first holds it; SIGTERM stops the first with 143', async () => {
  const out = tmp();
  const first = start(['train', '--dataset', 'fashion', '--epochs', '1', '--batch', '32', '--max-batches', '400', '--quiet', '--out', out]);
  assert.ok(await until(() => stepLines(out) >= 1, first.exit), 'the first training should start');
  const second = await start(['train', '--dataset', 'fashion', '--epochs', '1', '--batch', '32', '--resume', '--out', out]).exit;
  assert.equal(second.code, 1);
  assert.match(second.stderr, new RegExp(`in use by another training \\(pid ${first.child.pid}`));
  first.child.kill('SIGTERM');
  const e = await first.exit;
  assert.equal(e.code, 143, e.stderr);
  const ck = latestGoodCheckpoint(out);
  assert.equal(ck.info.optimizerStep, stepLines(out), 'the checkpoint written on SIGTERM holds every logged step');
});

test('swipe checks its options and output place before any work', async () => {
  const bad = await start(['swipe', '/nonexistent', '--benign-r1', '150']).exit;
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--benign-r1 must be in \[0, 100\], got 150/);
  // (a place mkdir cannot create; Node's own recursive mkdir would spin forever on it)
  const unwritable = await start(['swipe', '/nonexistent', '--out', '/proc/rankshield-swipe']).exit;
  assert.equal(unwritable.code, 1);
  assert.match(unwritable.stderr, /cannot write to \/proc\/rankshield-swipe/);
  const underFile = await start(['swipe', '/nonexistent', '--out', `${cli}/reports`]).exit;
  assert.match(underFile.stderr, /cannot write to .*ENOTDIR/);
});

// Ranks started by the launchers users run, for real: Debian's torchrun
// (python3-torch; scripts/setup.sh --test installs it) restarting a group after
// one rank is SIGKILLed mid-epoch (--auto-resume continues from the last
// checkpoint and ends on an uninterrupted run's exact weights) and mid-swipe
// (the rerun's result equals one process's); and two ranks that know each
// other only by srun's SLURM_* variables, set here by hand.
//
// Debian 12's torchrun (PyTorch 1.13 on Python 3.11) crashes with its default
// --redirects/--tee (its Std flag enum drops 0); any non-zero value works, and
// it spells its flags with underscores (newer torchrun takes both).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { fashionSlice } from './helpers/fashion-slice.js';
import { CLI, lastJson, loggedSteps, modelSha, pidsWithEnv, rankshield, start, waitUntil, type Exit } from './helpers/processes.js';
import { readCheckpoint } from '../src/run/checkpoint.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'rankshield-launch-'));
const torchrunFound = spawnSync('torchrun', ['--help'], { stdio: 'ignore' }).status === 0;
const NO_TORCHRUN = torchrunFound ? false : 'torchrun not found (Debian: apt-get install python3-torch, or scripts/setup.sh --test)';
/**
 * The threads of every process here. torchrun sets OMP_NUM_THREADS=1 for its ranks, which OpenBLAS also
 * reads: a process compared bit for bit with them needs the same, or its matrix products sum in another order.
 */
const THREADS = { RANKSHIELD_THREADS: '1', OMP_NUM_THREADS: '1' };
/** Seconds a rank may wait for another (--dist-timeout): a lost rank is noticed at once (its sockets close), this only bounds mistakes. */
const TIMEOUT_S = 60;

/** A small experiment: 8 SPC-2 batches of 32 pairs in two shards, checkpointed every 2 steps, on a slice of Fashion-MNIST. */
const experiment = (root: string, out: string): string[] => [
  'train',
  '--dataset',
  'fashion',
  '--root',
  root,
  '--epochs',
  '1',
  '--batch',
  '32',
  '--max-batches',
  '8',
  '--shards',
  '2',
  '--eval-every',
  '100',
  '--checkpoint-every',
  '2',
  '--quiet',
  '--json',
  '--out',
  out,
];

/** torchrun for 2 local ranks of `argv`, restarting the group at most `restarts` times; every rank gets TEST_TAG=tag. */
function torchrun(argv: readonly string[], restarts: number, tag: string, logDir: string): ReturnType<typeof start> {
  return start(
    'torchrun',
    [
      '--nnodes',
      '1',
      '--nproc_per_node',
      '2',
      '--max_restarts',
      String(restarts),
      '--monitor_interval',
      '1',
      '--redirects',
      '2',
      '--tee',
      '2',
      '--log_dir',
      logDir,
      '--no_python',
      ...argv,
    ],
    { TEST_TAG: tag, ...THREADS },
  );
}

/** Waits until rank `rank` of the torchrun run tagged `tag` exists, then SIGKILLs it. */
async function killRank(tag: string, rank: number): Promise<number> {
  let pid: number | undefined;
  await waitUntil(
    `rank ${rank} of the torchrun group`,
    () => (pid = pidsWithEnv([`TEST_TAG=${tag}`, `RANK=${rank}`, 'TORCHELASTIC_RESTART_COUNT=0'])[0]) !== undefined,
    60,
  );
  process.kill(pid!, 'SIGKILL');
  return pid!;
}

/** What rank `rank` wrote to stderr in torchrun's attempt `attempt` (--log_dir DIR: DIR/<run id>/attempt_N/<rank>/stderr.log). */
function attemptLog(logDir: string, attempt: number, rank: number): string {
  const [run] = readdirSync(logDir);
  return readFileSync(path.join(logDir, run!, `attempt_${attempt}`, String(rank), 'stderr.log'), 'utf8');
}

const check = (e: Exit, what: string): void => assert.equal(e.code, 0, `${what} failed (exit ${e.code}):\n${e.stdout}\n${e.stderr}`);

test('torchrun restarts a group whose rank 1 was SIGKILLed mid-epoch; --auto-resume ends on the uninterrupted weights', { skip: NO_TORCHRUN }, async () => {
  const root = await fashionSlice(path.join(tmp(), 'fashion'), { train: 1000, test: 128 });
  const reference = tmp();
  const elastic = tmp();
  const tag = randomUUID();
  const uninterrupted = rankshield(experiment(root, reference), THREADS);
  const logDir = tmp();
  const group = torchrun([process.execPath, CLI, ...experiment(root, elastic), '--auto-resume', '--dist-timeout', String(TIMEOUT_S)], 1, tag, logDir);
  // Mid-epoch, after the step-4 checkpoint: the restart resumes from it, not from the start.
  await waitUntil('step 5 of the first attempt', () => loggedSteps(elastic) >= 5, 600, [group]);
  await killRank(tag, 1);
  const [u, g] = await Promise.all([uninterrupted.exit, group.exit]);
  check(u, 'the uninterrupted run');
  check(g, 'torchrun');
  const log = readFileSync(path.join(elastic, 'log.jsonl'), 'utf8');
  assert.match(log, /"event":"start".*"launch":\{"launcher":"torchrun","rank":0,"worldSize":2,"restart":0,"maxRestarts":1,"groupRank":0/);
  assert.match(log, /"event":"resume","epoch":0,"step":(2|4),.*"launch":\{"launcher":"torchrun","rank":0,"worldSize":2,"restart":1,"maxRestarts":1/);
  assert.match(g.stderr, /\[default0\]:rankshield train: no checkpoint in .* yet: starting the run/);
  // The first attempt's rank 0 stopped on its own (its next collective lost rank 1) or on torchrun's SIGTERM, whichever came first.
  const first = attemptLog(logDir, 0, 0);
  assert.match(
    first,
    /rank 0: (allreduce-sum|broadcast) failed after [\d.]+ s: lost rank 1 \(127\.0\.0\.1, host [^,]+, pid \d+\)|SIGTERM — finishing the current step/,
  );
  console.log(`# the first attempt's rank 0: ${first.trim().split('\n').pop()}`);
  assert.match(g.stderr, /\[default0\]:rankshield train: torchrun restart 1 of at most 1: resuming .* at epoch 1, step (2|4)/);
  assert.equal(modelSha(elastic), modelSha(reference), 'the restarted run ends on other weights than the uninterrupted one');
  console.log(`# model SHA-256 after the kill and torchrun's restart = uninterrupted: ${modelSha(elastic)}`);
  assert.equal(lastJson(g.stdout)['R@1'], lastJson(u.stdout)['R@1']);
  assert.ok(readCheckpoint(elastic).verified);

  // The same directory under another experiment is refused, naming what differs.
  const other = rankshield([...experiment(root, elastic), '--auto-resume', '--lr', '0.002']);
  const o = await other.exit;
  assert.equal(o.code, 1);
  assert.match(o.stderr, /--auto-resume: the checkpoint in .* was trained with a different config \(lr: 0\.001 → 0\.002\); use another --out, or --overwrite/);
});

test("a swipe whose rank 1 is SIGKILLed stops cleanly; the restarted group finishes with one process's result", { skip: NO_TORCHRUN }, async () => {
  const root = await fashionSlice(path.join(tmp(), 'fashion'), { train: 1000, test: 128 }); // CA− needs a gallery of 100 or more
  const run = tmp();
  check(
    await rankshield([...experiment(root, run).filter((a, i, all) => all[i - 1] !== '--max-batches' && a !== '--max-batches'), '--max-batches', '3'], THREADS)
      .exit,
    'training the model',
  );
  const helper = path.join(here, 'helpers', 'swipe-rank.js');
  const single = start(process.execPath, [helper, run], THREADS);
  // Ranks started by hand: rank 1 killed mid-swipe, rank 0 stops at its next collective with an error naming it, and prints no result.
  const port = String(29_700 + (process.pid % 200));
  const byHand = [0, 1].map((rank) =>
    start(process.execPath, [helper, run, String(TIMEOUT_S)], { ...THREADS, RANK: String(rank), WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: port }),
  );
  await waitUntil('rank 1 (by hand) to start swiping', () => /ready/.test(byHand[1]!.output()), 600, byHand);
  await new Promise((r) => setTimeout(r, 1000));
  byHand[1]!.kill('SIGKILL');
  const lone = await byHand[0]!.exit;
  assert.equal(lone.code, 1, lone.stderr);
  assert.match(
    lone.stderr,
    /rank 0: (allreduce-sum|broadcast) failed after [\d.]+ s: lost rank 1 \(127\.0\.0\.1, host [^,]+, pid \d+\): it stopped, or the network to it failed/,
  );
  assert.equal(lone.stdout, '', 'no result from a swipe that lost a rank');
  console.log(
    `# rank 0 of the swipe that lost rank 1: ${lone.stderr
      .trim()
      .split('\n')
      .find((l) => l.includes('lost rank'))}`,
  );
  // Under torchrun, the group is restarted and the swipe done again from its first batch.
  const tag = randomUUID();
  const logDir = tmp();
  const group = torchrun([process.execPath, helper, run, String(TIMEOUT_S)], 1, tag, logDir);
  // Once rank 1 has joined and loaded the model (it prints "ready"), it is swiping: kill it.
  await waitUntil('rank 1 to start swiping', () => /\[default1\]:ready/.test(group.output()), 600, [group]);
  await new Promise((r) => setTimeout(r, 1000));
  await killRank(tag, 1);
  const [s, g] = await Promise.all([single.exit, group.exit]);
  check(s, 'the one-process swipe');
  check(g, 'torchrun');
  // The first attempt's rank 0 stopped with an error naming the lost rank and printed no result; the restart did.
  // The first attempt's rank 0 saw the loss at its next collective, or torchrun ended it first (after "ready", nothing).
  const first = attemptLog(logDir, 0, 0);
  assert.match(first, /rank 0: (allreduce-sum|broadcast) failed after [\d.]+ s: lost rank 1 \(127\.0\.0\.1, host [^,]+, pid \d+\)|^ready\n$/);
  assert.equal(
    g.stdout
      .trim()
      .split('\n')
      .filter((l) => l.includes('"ERS"')).length,
    1,
    'one result, from the restarted group',
  );
  assert.deepEqual(lastJson(g.stdout.replace(/^\[default0\]:/gm, '')), lastJson(s.stdout));
});

test("two ranks started with srun's variables only (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, the job's host list and id)", async () => {
  const root = await fashionSlice(path.join(tmp(), 'fashion'), { train: 1000, test: 128 });
  const reference = tmp();
  const slurm = tmp();
  const job = String(100_000 + Math.floor(Math.random() * 900_000));
  const uninterrupted = rankshield(experiment(root, reference), THREADS);
  const ranks = [0, 1].map((rank) =>
    rankshield([...experiment(root, slurm), '--dist-timeout', String(TIMEOUT_S)], {
      ...THREADS,
      SLURM_PROCID: String(rank),
      SLURM_NTASKS: '2',
      SLURM_LOCALID: String(rank),
      SLURM_JOB_ID: job,
      SLURM_JOB_NODELIST: 'localhost',
    }),
  );
  const [u, r0, r1] = await Promise.all([uninterrupted.exit, ...ranks.map((r) => r.exit)]);
  check(u, 'the one-process run');
  check(r0!, 'Slurm rank 0');
  check(r1!, 'Slurm rank 1');
  assert.match(readFileSync(path.join(slurm, 'log.jsonl'), 'utf8'), /"event":"start".*"launch":\{"launcher":"slurm","rank":0,"worldSize":2\}/);
  assert.equal(modelSha(slurm), modelSha(reference));
  assert.ok(existsSync(path.join(slurm, 'report.json')));
});

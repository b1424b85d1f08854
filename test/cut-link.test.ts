// Two hosts, one link: two network namespaces joined by a veth pair, one rank
// in each (Gloo on the veth via GLOO_SOCKET_IFNAME, the store on rank 0's
// address). The link is cut mid-epoch (`ip link set … down`): no socket closes,
// so only the timeout (--dist-timeout) can end the wait; every rank must stop
// within it, naming the peer it lost, leaving checkpoints that verify; with the
// link back, --resume ends on the uninterrupted run's exact weights. A rank
// whose peer is unreachable from the start fails the rendezvous within the
// timeout. Needs root and iproute2 (scripts/setup.sh --test); the namespaces
// (unique names) are removed whatever happens. Traffic stays inside them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fashionSlice } from './helpers/fashion-slice.js';
import { CLI, lastJson, loggedSteps, modelSha, rankshield, start, waitUntil, type Child, type Exit } from './helpers/processes.js';
import { latestGoodCheckpoint, readCheckpoint } from '../src/run/checkpoint.js';

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'rankshield-cut-'));
const ipFound = spawnSync('ip', ['-V'], { stdio: 'ignore' }).status === 0;
const SKIP = process.getuid?.() !== 0 ? 'needs root (it creates network namespaces)' : !ipFound ? 'needs ip (Debian: apt-get install iproute2)' : false;
if (SKIP) console.log(`# cut-link: skipped: ${SKIP}`);

/** --dist-timeout of the ranks here, and the slack allowed on top of it for the step in progress and the exit on a loaded machine. */
const TIMEOUT_S = 10;
const SLACK_S = 20;

/** One thread everywhere (OMP_NUM_THREADS also sets OpenBLAS's): the runs compared bit for bit sum in the same order. */
const THREADS = { RANKSHIELD_THREADS: '1', OMP_NUM_THREADS: '1' };

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr.trim()}`);
}

/** Two namespaces ("hosts") a and b, 10.99.0.1 and 10.99.0.2 on the two ends of a veth pair. */
class Link {
  readonly hosts: { ns: string; dev: string; addr: string }[];
  constructor() {
    const id = `${process.pid % 100000}${Math.floor(Math.random() * 1000)}`;
    this.hosts = ['a', 'b'].map((h, i) => ({ ns: `rsnet-${id}-${h}`, dev: `rsv${id}${h}`, addr: `10.99.0.${i + 1}` }));
  }

  create(): void {
    const [a, b] = this.hosts as [Link['hosts'][0], Link['hosts'][0]];
    ip('netns', 'add', a.ns);
    ip('netns', 'add', b.ns);
    ip('link', 'add', a.dev, 'type', 'veth', 'peer', 'name', b.dev);
    for (const h of this.hosts) {
      ip('link', 'set', h.dev, 'netns', h.ns);
      ip('-n', h.ns, 'addr', 'add', `${h.addr}/24`, 'dev', h.dev);
      ip('-n', h.ns, 'link', 'set', 'lo', 'up');
      ip('-n', h.ns, 'link', 'set', h.dev, 'up');
    }
  }

  /** Takes host a's end down: packets stop, no connection is closed. */
  cut(): void {
    ip('-n', this.hosts[0]!.ns, 'link', 'set', this.hosts[0]!.dev, 'down');
  }

  restore(): void {
    ip('-n', this.hosts[0]!.ns, 'link', 'set', this.hosts[0]!.dev, 'up');
  }

  /** Deletes both namespaces (the veth pair goes with them); never throws. */
  remove(): void {
    for (const h of this.hosts) spawnSync('ip', ['netns', 'del', h.ns], { stdio: 'ignore' });
  }

  /** Rank `rank` of 2 on host `rank`, rendezvous at host a. */
  rank(rank: number, args: readonly string[]): Child {
    const h = this.hosts[rank]!;
    return start('ip', ['netns', 'exec', h.ns, process.execPath, CLI, ...args], {
      RANK: String(rank),
      WORLD_SIZE: '2',
      MASTER_ADDR: this.hosts[0]!.addr,
      MASTER_PORT: '29500',
      GLOO_SOCKET_IFNAME: h.dev,
      ...THREADS,
    });
  }
}

/** The namespaces of this process's Links still present (none after a test). */
const leftover = (): string[] => (existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(`rsnet-${process.pid % 100000}`)) : []);

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
  '10',
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

const check = (e: Exit, what: string): void => assert.equal(e.code, 0, `${what} failed (exit ${e.code}):\n${e.stdout}\n${e.stderr}`);

test('the link cut mid-epoch: both ranks stop within the timeout naming the lost peer, checkpoints verify, --resume ends on the uninterrupted weights', {
  skip: SKIP,
}, async () => {
  const root = await fashionSlice(path.join(tmp(), 'fashion'), { train: 1000, test: 128 });
  const reference = tmp();
  const cut = tmp();
  const link = new Link();
  try {
    link.create();
    const uninterrupted = rankshield(experiment(root, reference), THREADS);
    const ranks = [0, 1].map((r) => link.rank(r, [...experiment(root, cut), '--dist-timeout', String(TIMEOUT_S)]));
    await waitUntil('step 3 over the link', () => loggedSteps(cut) >= 3, 600, ranks);
    link.cut();
    const cutAt = Date.now();
    const stopped = await Promise.all(ranks.map(async (r) => ({ exit: await r.exit, afterCut: (Date.now() - cutAt) / 1000 })));
    for (const [rank, { exit, afterCut }] of stopped.entries()) {
      const peer = 1 - rank;
      assert.notEqual(exit.code, 0, `rank ${rank} should fail once the link is cut:\n${exit.stderr}`);
      assert.ok(afterCut <= TIMEOUT_S + SLACK_S, `rank ${rank} stopped ${afterCut.toFixed(1)} s after the cut (timeout ${TIMEOUT_S} s)`);
      assert.match(
        exit.stderr,
        new RegExp(
          `rank ${rank}: (allreduce-sum|broadcast) failed after [\\d.]+ s: lost rank ${peer} \\(10\\.99\\.0\\.${peer + 1}, host [^,]+, pid \\d+\\): it stopped, or the network to it failed`,
        ),
      );
      console.log(`# rank ${rank} stopped ${afterCut.toFixed(1)} s after the cut: ${exit.stderr.trim().split('\n').pop()}`);
    }
    // Nothing torn: the newest checkpoint verifies (sizes and SHA-256 of every file), the lock is released.
    const newest = latestGoodCheckpoint(cut);
    assert.equal(newest.problem, undefined);
    assert.ok(readCheckpoint(cut).verified);
    assert.ok(newest.info.position.step >= 2 && newest.info.position.step < 10, `a checkpoint inside the epoch, got step ${newest.info.position.step}`);
    assert.ok(!existsSync(path.join(cut, '.lock')));

    link.restore();
    const resumed = await Promise.all([0, 1].map((r) => link.rank(r, [...experiment(root, cut), '--resume', '--dist-timeout', String(TIMEOUT_S)]).exit));
    const u = await uninterrupted.exit;
    check(u, 'the uninterrupted run');
    check(resumed[0]!, 'resumed rank 0');
    check(resumed[1]!, 'resumed rank 1');
    assert.match(resumed[0]!.stderr, new RegExp(`resuming .* at epoch 1, step ${newest.info.position.step}`));
    assert.equal(modelSha(cut), modelSha(reference), 'the resumed run ends on other weights than the uninterrupted one');
    assert.equal(lastJson(resumed[0]!.stdout)['R@1'], lastJson(u.stdout)['R@1']);
    console.log(`# model SHA-256 after cut + resume = uninterrupted: ${modelSha(cut)}`);
  } finally {
    link.remove();
  }
  assert.deepEqual(leftover(), []);
});

test('a peer unreachable from the start: both ranks fail the rendezvous within the timeout, saying where they waited', { skip: SKIP }, async () => {
  const link = new Link();
  try {
    link.create();
    link.cut();
    const args = ['train', '--dataset', 'fashion', '--epochs', '1', '--max-batches', '1', '--quiet', '--out', tmp(), '--dist-timeout', String(TIMEOUT_S)];
    const exits = await Promise.all([0, 1].map((r) => link.rank(r, args).exit));
    for (const [rank, e] of exits.entries()) {
      assert.equal(e.code, 1, `rank ${rank}:\n${e.stderr}`);
      // Rank 0 serves the store and waits for rank 1, which cannot reach it.
      const why = rank === 0 ? 'only 1 of 2 ranks reached the store within 10000 ms' : 'No route to host|timed out';
      const m = new RegExp(
        `rank ${rank}: cannot join the process group at 10\\.99\\.0\\.1:29500 \\(waited ([\\d.]+) s; --dist-timeout ${TIMEOUT_S}\\): .*(${why})`,
      ).exec(e.stderr);
      assert.ok(m !== null, `rank ${rank} should say why it could not join:\n${e.stderr}`);
      // The time from joining to giving up, as the rank measured it (starting Node and libtorch on a loaded machine is not part of it).
      assert.ok(Number(m[1]) <= TIMEOUT_S + 2, `rank ${rank} waited ${m[1]} s (timeout ${TIMEOUT_S} s)`);
      console.log(
        `# rank ${rank} (${e.seconds.toFixed(1)} s in all): ${e.stderr
          .trim()
          .split('\n')
          .find((l) => l.includes('cannot join'))!
          .slice(0, 300)}`,
      );
    }
  } finally {
    link.remove();
  }
  assert.deepEqual(leftover(), []);
});

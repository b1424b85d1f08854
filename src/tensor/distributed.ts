// Layer: tensor. Process groups: libtorch's c10d (ProcessGroupGloo over a
// TCPStore rendezvous), set up the way torchrun sets up torch.distributed:
// RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT in the environment
// (or srun's SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID). Collectives work in
// place on tensors and block until done; a peer that died makes them throw at
// once (Gloo sees its connections close), a peer that stops answering (its host
// or the link to it gone) makes them throw when the group's timeout runs out.
import net from 'node:net';
import os from 'node:os';
import { native } from './native.js';
import { Tensor } from './tensor.js';
import { DEFAULT_DISTRIBUTED_TIMEOUT_S, type RendezvousEnv } from './rendezvous.js';

export function distributedAvailable(): boolean {
  return native.features().includes('gloo') && native.pgCreate !== undefined;
}

/** A group of processes that run collectives together. */
export interface ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  /** Element-wise sum over ranks, in place on every rank. */
  allreduceSum(tensors: readonly Tensor[]): void;
  /** Every rank's tensors become `root`'s (same shapes and dtypes on every rank). */
  broadcast(tensors: readonly Tensor[], root: number): void;
  barrier(): void;
  destroy(): void;
}

/** One process alone: collectives are the identity (so code paths need no `if distributed`). */
export const SINGLE_PROCESS: ProcessGroup = {
  rank: 0,
  worldSize: 1,
  allreduceSum: () => {},
  broadcast: () => {},
  barrier: () => {},
  destroy: () => {},
};

/**
 * Joins the rendezvous (rank 0 serves the TCPStore, or torchrun's agent does)
 * and creates a Gloo group. Gloo binds to GLOO_SOCKET_IFNAME if set, to
 * loopback when the master is on loopback, else to this host's address (as
 * PyTorch does). The ranks then tell each other who they are (host, address,
 * pid), so that a collective that fails can name the peer it lost. `timeoutS`
 * bounds the rendezvous and every collective: a peer that stops answering (its
 * host or the link to it gone) makes the waiting collective fail after it.
 */
export function initProcessGroup(r: RendezvousEnv, timeoutS = DEFAULT_DISTRIBUTED_TIMEOUT_S): ProcessGroup {
  if (r.worldSize === 1) return SINGLE_PROCESS;
  if (!distributedAvailable()) {
    throw new Error('this build of the native addon has no c10d Gloo (install libgloo-dev and rebuild: npm run setup)');
  }
  const loopback = isLoopback(r.masterAddr);
  const ifname = process.env.GLOO_SOCKET_IFNAME;
  const [kind, value] = ifname ? ['interface', ifname] : loopback ? ['hostname', '127.0.0.1'] : ['default', ''];
  const store = r.agentStore ? `torchrun's agent at ${r.masterAddr}:${r.masterPort}` : `${r.masterAddr}:${r.masterPort}`;
  const started = Date.now();
  let id: number;
  try {
    // torchelastic's agent store holds each restart's keys under its own prefix (torch.distributed's _create_c10d_store).
    const prefix = r.agentStore ? `/worker/attempt_${r.elastic?.restart ?? 0}` : '';
    id = native.pgCreate!(
      r.masterAddr,
      r.masterPort,
      r.rank,
      r.worldSize,
      Math.round(timeoutS * 1000),
      kind,
      value,
      r.agentStore ? 'external' : 'rank0',
      prefix,
    );
  } catch (e) {
    throw new Error(
      `rank ${r.rank}: cannot join the process group at ${store} (waited ${secondsSince(started)} s; --dist-timeout ${timeoutS}): ${(e as Error).message}`,
    );
  }
  let alive = true;
  let peers: string[] = [];
  const run = (what: 'allreduce-sum' | 'broadcast' | 'barrier', tensors: readonly Tensor[], root?: number): void => {
    if (!alive) throw new Error('the process group was destroyed');
    const t0 = Date.now();
    try {
      native.pgRun!(
        id,
        what,
        tensors.map((t) => t.handle),
        root,
      );
    } catch (e) {
      const message = (e as Error).message;
      throw new Error(
        `rank ${r.rank}: ${what} failed after ${secondsSince(t0)} s: lost ${lostPeers(r.rank, peers, message)}: it stopped, or the network to it failed (${message})`,
      );
    }
  };
  try {
    peers = exchangeIdentities(r.rank, r.worldSize, identity(r.masterAddr, ifname), (t) => run('allreduce-sum', [t]));
  } catch (e) {
    native.pgDestroy!(id);
    throw new Error(`rank ${r.rank}: joined ${store} but the first collective failed: ${(e as Error).message}`);
  }
  return {
    rank: r.rank,
    worldSize: r.worldSize,
    allreduceSum: (tensors) => run('allreduce-sum', tensors),
    broadcast: (tensors, root) => run('broadcast', tensors, root),
    barrier: () => run('barrier', []),
    destroy: () => {
      if (alive) native.pgDestroy!(id);
      alive = false;
    },
  };
}

const isLoopback = (addr: string): boolean => /^(127\.|localhost$|::1$)/.test(addr);
const secondsSince = (t0: number): string => ((Date.now() - t0) / 1000).toFixed(1);

/** "host address pid N": the address Gloo uses (GLOO_SOCKET_IFNAME's, loopback's, or the host's first). */
function identity(masterAddr: string, ifname: string | undefined): string {
  const nets = os.networkInterfaces();
  const v4 = (list: os.NetworkInterfaceInfo[] | undefined): string | undefined => list?.find((a) => a.family === 'IPv4')?.address;
  const address =
    ifname !== undefined && ifname !== ''
      ? (v4(nets[ifname]) ?? ifname)
      : isLoopback(masterAddr)
        ? '127.0.0.1'
        : (v4(Object.values(nets).flatMap((l) => (l ?? []).filter((a) => !a.internal))) ?? '?');
  return `${address}, host ${os.hostname()}, pid ${process.pid}`;
}

/** Characters of one rank's identity in the exchange (longer ones are cut). */
const IDENTITY_CHARS = 96;

/** Every rank's identity, in rank order: each fills its own slot of a zero vector, and a sum gives all of them. */
function exchangeIdentities(rank: number, world: number, mine: string, allreduce: (t: Tensor) => void): string[] {
  const codes = new Float64Array(world * IDENTITY_CHARS);
  for (let i = 0; i < Math.min(mine.length, IDENTITY_CHARS); i++) codes[rank * IDENTITY_CHARS + i] = mine.charCodeAt(i);
  const t = Tensor.fromTypedArray(codes, [codes.length], 'float64');
  try {
    allreduce(t);
    const all = t.toArray();
    return Array.from({ length: world }, (_, k) => String.fromCharCode(...all.slice(k * IDENTITY_CHARS, (k + 1) * IDENTITY_CHARS).filter((c) => c !== 0)));
  } finally {
    t.dispose();
  }
}

/**
 * The peer(s) a failed collective lost: with two ranks the other one; with more,
 * those whose address Gloo's message names, else all others (Gloo's timeouts do not say).
 */
function lostPeers(rank: number, peers: readonly string[], message: string): string {
  const others = peers.map((p, k) => ({ k, p })).filter((x) => x.k !== rank);
  if (others.length === 0) return 'the other ranks (before they said who they are)';
  const named = others.filter((x) => message.includes(`[${x.p.split(',')[0]}]`) || message.includes(`${x.p.split(',')[0]}:`));
  const pick = others.length === 1 ? others : named.length > 0 ? named : others;
  const list = pick.map((x) => `rank ${x.k} (${x.p})`).join(', ');
  return pick.length === 1 ? list : `one of ${list}`;
}

/** A TCP port free on loopback right now, for a local rendezvous (MASTER_PORT). */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

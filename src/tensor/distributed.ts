// Layer: tensor. Process groups: libtorch's c10d (ProcessGroupGloo over a
// TCPStore rendezvous), set up the way torchrun sets up torch.distributed:
// RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT in the environment.
// Collectives work in place on tensors and block until done; a peer that died
// makes them throw (Gloo sees its connections close), never hang.
import net from 'node:net';
import { native } from './native.js';
import { Tensor } from './tensor.js';

/** torchrun's rendezvous variables for one rank. */
export interface RendezvousEnv {
  rank: number;
  worldSize: number;
  localRank: number;
  masterAddr: string;
  masterPort: number;
}

/** Seconds a collective (and the rendezvous) may wait; PyTorch's default is also 30 min. */
export const DEFAULT_DISTRIBUTED_TIMEOUT_S = 1800;

export function distributedAvailable(): boolean {
  return native.features().includes('gloo') && native.pgCreate !== undefined;
}

/** The rendezvous of this process from the environment, or null when it is not started as a rank. */
export function rendezvousFromEnv(env: NodeJS.ProcessEnv = process.env): RendezvousEnv | null {
  if (env.WORLD_SIZE === undefined && env.RANK === undefined) return null;
  const int = (name: string, min: number, fallback?: number): number => {
    const raw = env[name];
    if (raw === undefined) {
      if (fallback !== undefined) return fallback;
      throw new Error(`${name} is not set (a distributed rank needs RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT)`);
    }
    const v = Number(raw);
    if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer >= ${min}, got '${raw}'`);
    return v;
  };
  const worldSize = int('WORLD_SIZE', 1);
  const rank = int('RANK', 0);
  if (rank >= worldSize) throw new Error(`RANK ${rank} is not below WORLD_SIZE ${worldSize}`);
  const masterPort = int('MASTER_PORT', 1, 29500);
  if (masterPort > 65535) throw new Error(`MASTER_PORT must be at most 65535, got ${masterPort}`);
  return { rank, worldSize, localRank: int('LOCAL_RANK', 0, rank), masterAddr: env.MASTER_ADDR ?? '127.0.0.1', masterPort };
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
 * Joins the rendezvous (rank 0 serves the TCPStore) and creates a Gloo group.
 * Gloo binds to GLOO_SOCKET_IFNAME if set, to loopback when the master is on
 * loopback, else to this host's address (as PyTorch does).
 */
export function initProcessGroup(r: RendezvousEnv, timeoutS = DEFAULT_DISTRIBUTED_TIMEOUT_S): ProcessGroup {
  if (r.worldSize === 1) return SINGLE_PROCESS;
  if (!distributedAvailable()) {
    throw new Error('this build of the native addon has no c10d Gloo (install libgloo-dev and rebuild: npm run setup)');
  }
  const loopback = /^(127\.|localhost$|::1$)/.test(r.masterAddr);
  const [kind, value] = process.env.GLOO_SOCKET_IFNAME ? ['interface', process.env.GLOO_SOCKET_IFNAME] : loopback ? ['hostname', '127.0.0.1'] : ['default', ''];
  let id: number;
  try {
    id = native.pgCreate!(r.masterAddr, r.masterPort, r.rank, r.worldSize, Math.round(timeoutS * 1000), kind, value);
  } catch (e) {
    throw new Error(`rank ${r.rank}: cannot join the process group at ${r.masterAddr}:${r.masterPort} (${(e as Error).message})`);
  }
  let alive = true;
  const run = (what: 'allreduce-sum' | 'broadcast' | 'barrier', tensors: readonly Tensor[], root?: number): void => {
    if (!alive) throw new Error('the process group was destroyed');
    try {
      native.pgRun!(id, what, tensors.map((t) => t.handle), root);
    } catch (e) {
      throw new Error(`rank ${r.rank}: ${what} failed — another rank has probably stopped (${(e as Error).message})`);
    }
  };
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

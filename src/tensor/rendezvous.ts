// Layer: tensor. Where a rank finds the others: the variables its launcher set
// (torchrun's RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT and
// TORCHELASTIC_*; srun's SLURM_*; or the same set by hand), read and checked
// here. Plain data: reading them does not start libtorch.

/** Who started a rank, read from the variables it set. */
export type RankLauncher = 'env' | 'torchrun' | 'slurm';

/** torchelastic's view of the worker group (torchrun's TORCHELASTIC_* and GROUP_RANK). */
export interface ElasticRun {
  /** Restarts of the worker group so far (TORCHELASTIC_RESTART_COUNT); 0 on the first start. */
  restart: number;
  /** torchrun --max-restarts (TORCHELASTIC_MAX_RESTARTS). */
  maxRestarts: number;
  /** This node's worker group among the nodes (GROUP_RANK). */
  groupRank: number;
  /** The rendezvous id (TORCHELASTIC_RUN_ID). */
  runId: string;
}

/** The rendezvous of one rank. */
export interface RendezvousEnv {
  rank: number;
  worldSize: number;
  localRank: number;
  masterAddr: string;
  masterPort: number;
  launcher: RankLauncher;
  /**
   * Under torchrun's static rendezvous its agent already serves the TCPStore at
   * MASTER_ADDR:MASTER_PORT (TORCHELASTIC_USE_AGENT_STORE=True): every rank joins
   * it as a client, under a key prefix per restart, as torch.distributed does.
   */
  agentStore: boolean;
  elastic?: ElasticRun;
}

/** Seconds a collective (and the rendezvous) may wait; PyTorch's default is also 30 min. */
export const DEFAULT_DISTRIBUTED_TIMEOUT_S = 1800;

/** Slurm ranks without MASTER_PORT use SLURM_PORT_BASE + (SLURM_JOB_ID mod SLURM_PORT_SPAN): below Linux's ephemeral ports. */
export const SLURM_PORT_BASE = 20000;
export const SLURM_PORT_SPAN = 10000;

/**
 * The rendezvous of this process from the environment, or null when it is not
 * started as a rank. RANK/WORLD_SIZE (torchrun, --nproc, or set by hand) win;
 * else srun's SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID make a rank when the step
 * has more than one task, with MASTER_ADDR defaulting to the step's first host
 * and MASTER_PORT to one derived from the job id.
 */
export function rendezvousFromEnv(env: NodeJS.ProcessEnv = process.env): RendezvousEnv | null {
  if (env.WORLD_SIZE !== undefined || env.RANK !== undefined) return torchrunRendezvous(env);
  if (env.SLURM_PROCID !== undefined && env.SLURM_NTASKS !== undefined && env.SLURM_NTASKS !== '1') return slurmRendezvous(env);
  return null;
}

/** An integer variable of `env`, at least `min`; `fallback` when unset (else an error naming what a rank needs). */
function intVar(env: NodeJS.ProcessEnv, name: string, min: number, needs: string, fallback?: number): number {
  const raw = env[name];
  if (raw === undefined) {
    if (fallback !== undefined) return fallback;
    throw new Error(`${name} is not set (${needs})`);
  }
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer >= ${min}, got '${raw}'`);
  return v;
}

function checkedPort(name: string, port: number): number {
  if (port > 65535) throw new Error(`${name} must be at most 65535, got ${port}`);
  return port;
}

function torchrunRendezvous(env: NodeJS.ProcessEnv): RendezvousEnv {
  const needs = 'a distributed rank needs RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT';
  const worldSize = intVar(env, 'WORLD_SIZE', 1, needs);
  const rank = intVar(env, 'RANK', 0, needs);
  if (rank >= worldSize) throw new Error(`RANK ${rank} is not below WORLD_SIZE ${worldSize}`);
  const masterPort = checkedPort('MASTER_PORT', intVar(env, 'MASTER_PORT', 1, needs, 29500));
  const base = { rank, worldSize, localRank: intVar(env, 'LOCAL_RANK', 0, needs, rank), masterAddr: env.MASTER_ADDR ?? '127.0.0.1', masterPort };
  if (env.TORCHELASTIC_RUN_ID === undefined && env.TORCHELASTIC_RESTART_COUNT === undefined) return { ...base, launcher: 'env', agentStore: false };
  const elastic: ElasticRun = {
    restart: intVar(env, 'TORCHELASTIC_RESTART_COUNT', 0, needs, 0),
    maxRestarts: intVar(env, 'TORCHELASTIC_MAX_RESTARTS', 0, needs, 0),
    groupRank: intVar(env, 'GROUP_RANK', 0, needs, 0),
    runId: env.TORCHELASTIC_RUN_ID ?? '',
  };
  return { ...base, launcher: 'torchrun', agentStore: env.TORCHELASTIC_USE_AGENT_STORE === 'True', elastic };
}

function slurmRendezvous(env: NodeJS.ProcessEnv): RendezvousEnv {
  const needs = 'a Slurm rank needs SLURM_PROCID and SLURM_NTASKS (start it with srun)';
  const worldSize = intVar(env, 'SLURM_NTASKS', 1, needs);
  const rank = intVar(env, 'SLURM_PROCID', 0, needs);
  if (rank >= worldSize) throw new Error(`SLURM_PROCID ${rank} is not below SLURM_NTASKS ${worldSize}`);
  const nodes = env.SLURM_STEP_NODELIST ?? env.SLURM_JOB_NODELIST;
  let masterAddr = env.MASTER_ADDR;
  if (masterAddr === undefined) {
    if (nodes === undefined) throw new Error('MASTER_ADDR is not set, and neither is SLURM_STEP_NODELIST or SLURM_JOB_NODELIST to take the first host from');
    masterAddr = firstSlurmHost(nodes);
  }
  let masterPort: number;
  if (env.MASTER_PORT !== undefined) masterPort = checkedPort('MASTER_PORT', intVar(env, 'MASTER_PORT', 1, needs));
  else masterPort = SLURM_PORT_BASE + (intVar(env, 'SLURM_JOB_ID', 0, 'without MASTER_PORT the port is derived from the job id') % SLURM_PORT_SPAN);
  return { rank, worldSize, localRank: intVar(env, 'SLURM_LOCALID', 0, needs, 0), masterAddr, masterPort, launcher: 'slurm', agentStore: false };
}

/**
 * The first host of a Slurm host list ("node[003-006,9],gpu1" → "node003"), as
 * `scontrol show hostnames | head -1` prints it: the first entry, each bracket
 * replaced by its first number (zero padding kept).
 */
export function firstSlurmHost(list: string): string {
  let depth = 0;
  let end = list.length;
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    if (c === '[') depth++;
    else if (c === ']') depth--;
    else if (c === ',' && depth === 0) {
      end = i;
      break;
    }
  }
  const host = list
    .slice(0, end)
    .trim()
    .replace(/\[([^\]]*)\]/g, (_, inner: string) => inner.split(',')[0]!.split('-')[0]!.trim());
  if (host === '' || /[[\],\s]/.test(host)) throw new Error(`cannot read the first host of the Slurm host list '${list}'; set MASTER_ADDR`);
  return host;
}

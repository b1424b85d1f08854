// Layer: cli. Several processes for one command, the way torchrun runs them.
//
// `--nproc N` makes this process a launcher: it starts N copies of the same
// command (without --nproc) with RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and
// MASTER_PORT set, shows rank 0's output, prefixes the others' errors, forwards
// SIGINT/SIGTERM once, and ends all ranks when one fails. Across machines each
// rank is started by the scheduler with those variables instead (no --nproc),
// exactly as torchrun's ranks are.
import { spawn, type ChildProcess } from 'node:child_process';
import { freeLoopbackPort, initProcessGroup, rendezvousFromEnv, SINGLE_PROCESS, type ProcessGroup } from '../tensor/index.js';
import { UsageError } from './command.js';

/** Seconds the other ranks get to stop on their own after one failed, before they are killed. */
export const RANK_GRACE_S = 20;

/** `argv` without its `--nproc N` / `--nproc=N` (what each rank runs). */
export function withoutNproc(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--nproc') i++;
    else if (!argv[i]!.startsWith('--nproc=')) out.push(argv[i]!);
  }
  return out;
}

/** Runs `argv` (which must not contain --nproc) as N local ranks; resolves to the exit code to use. */
export async function launchRanks(nproc: number, command: string, argv: readonly string[]): Promise<number> {
  if (rendezvousFromEnv() !== null) throw new UsageError('--nproc inside a rank (RANK/WORLD_SIZE are already set): give one or the other');
  const port = await freeLoopbackPort();
  const children: ChildProcess[] = [];
  const codes: (number | null)[] = new Array(nproc).fill(null);
  let firstFailure = -1;
  const forward = (sig: NodeJS.Signals): void => {
    for (const c of children) if (c.exitCode === null) c.kill(sig);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  try {
    await new Promise<void>((resolve) => {
      let running = nproc;
      for (let rank = 0; rank < nproc; rank++) {
        const child = spawn(process.execPath, [process.argv[1]!, command, ...argv], {
          env: { ...process.env, RANK: String(rank), LOCAL_RANK: String(rank), WORLD_SIZE: String(nproc), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) },
          // Own process group: a terminal's Ctrl-C reaches the launcher only, which forwards it once.
          detached: true,
          stdio: ['ignore', rank === 0 ? 'inherit' : 'ignore', 'pipe', 'ipc'],
        });
        child.stderr!.on('data', (d: Buffer) => process.stderr.write(rank === 0 ? d : prefixLines(`[rank ${rank}] `, d.toString())));
        child.on('exit', (code, signal) => {
          codes[rank] = code ?? (signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 1);
          if (codes[rank] !== 0 && firstFailure < 0) {
            firstFailure = rank;
            // The others notice a dead peer at their next collective; stop them if they do not.
            setTimeout(() => forwardKill(children), RANK_GRACE_S * 1000).unref();
          }
          if (--running === 0) resolve();
        });
        children.push(child);
      }
    });
  } finally {
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
  }
  if (firstFailure >= 0 && firstFailure !== 0)
    process.stderr.write(`rankshield: rank ${firstFailure} failed (exit ${codes[firstFailure]}); the run was stopped\n`);
  return codes[0] !== 0 ? codes[0]! : firstFailure >= 0 ? codes[firstFailure]! : 0;
}

function forwardKill(children: readonly ChildProcess[]): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

function prefixLines(prefix: string, text: string): string {
  return text.replace(/^(?=.)/gm, prefix);
}

/**
 * The process group of this process: from its launcher's variables (--nproc,
 * torchrun, srun, or set by hand) when it was started as a rank, else this
 * process alone. `timeoutS` (--dist-timeout) bounds the rendezvous and each
 * collective. A rank whose --nproc launcher goes away (its IPC channel closes)
 * stops itself.
 */
export function processGroupFromEnv(timeoutS: number | undefined): ProcessGroup {
  const r = rendezvousFromEnv();
  if (r === null) return SINGLE_PROCESS;
  if (process.connected) {
    process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
    process.channel?.unref(); // the channel alone must not keep a finished rank alive
  }
  return initProcessGroup(r, timeoutS);
}

/** How this rank was started, for the run's log (null: one process, no launcher). */
export function launchRecord(): {
  launcher: string;
  rank: number;
  worldSize: number;
  restart?: number;
  maxRestarts?: number;
  groupRank?: number;
  runId?: string;
} | null {
  const r = rendezvousFromEnv();
  if (r === null) return null;
  return { launcher: r.launcher, rank: r.rank, worldSize: r.worldSize, ...(r.elastic ?? {}) };
}

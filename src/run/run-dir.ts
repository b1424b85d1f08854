// Layer: run. A run directory is owned by one training process at a time.
//
// - A lock file (`.lock`, created with O_EXCL) names the owner; a second
//   training on the same directory is refused with the owner's pid. A lock left
//   by a process that died (kill -9, power loss) on this host is taken over.
// - An existing run is never overwritten by accident: without --resume or
//   --overwrite, training into it is refused; --resume needs a checkpoint;
//   --auto-resume resumes one when there is one, else starts over (what the
//   run wrote before its first checkpoint is redone).
// - log.jsonl is append-only; a torn last line (a crash mid-append) is cut on
//   open, and on resume the lines written after the checkpoint (work that was
//   lost) are cut too, so the log describes exactly the training that counts.
import { appendFileSync, closeSync, existsSync, ftruncateSync, openSync, readFileSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeDirs } from '../io/atomic.js';
import { COMMITS_DIR, hasCheckpoint, SIDECAR } from './checkpoint.js';
import { KEPT_DIR } from './kept-epochs.js';
import { removeStaleTemporaries } from './commit.js';

export const LOCK_FILE = '.lock';
export const LOG_FILE = 'log.jsonl';
/** Where `swipe RUN --epochs` keeps its per-epoch results and its robustness-over-training table (eval/trail.ts). */
export const SWIPE_EPOCHS_DIR = 'swipe-epochs';
/** Everything a training run writes into its directory, and the swipes of its kept epochs (what --overwrite removes; nothing else is touched). */
export const RUN_FILES = [
  SIDECAR,
  COMMITS_DIR,
  KEPT_DIR,
  SWIPE_EPOCHS_DIR,
  'model.safetensors',
  'optimizer.safetensors',
  LOG_FILE,
  'report.json',
  'report.md',
  'training.svg',
] as const;

export type RunMode = 'new' | 'resume' | 'overwrite' | 'auto';

interface LockOwner {
  pid: number;
  host: string;
  startedAt: string;
}

export class RunDirectory {
  readonly dir: string;
  readonly logFile: string;
  /** Whether the run continues from a checkpoint (mode 'resume', or 'auto' finding one). */
  readonly resuming: boolean;
  #locked = true;

  private constructor(dir: string, resuming: boolean) {
    this.dir = dir;
    this.logFile = path.join(dir, LOG_FILE);
    this.resuming = resuming;
  }

  /** Takes the directory for a training run in `mode`; throws (naming why) when that would clobber or race another run. */
  static open(dir: string, mode: RunMode): RunDirectory {
    try {
      makeDirs(dir);
    } catch (e) {
      throw new Error(`cannot create the run directory ${dir}: ${(e as Error).message}`);
    }
    acquireLock(dir);
    const checkpointed = hasCheckpoint(dir);
    if (mode === 'auto') mode = checkpointed ? 'resume' : 'overwrite';
    const run = new RunDirectory(dir, mode === 'resume');
    try {
      const existing = checkpointed || existsSync(run.logFile);
      if (mode === 'new' && existing) {
        throw new Error(`${dir} already holds a run; pass --resume to continue it or --overwrite to replace it`);
      }
      if (mode === 'resume' && !checkpointed) {
        throw new Error(
          `--resume: ${dir} holds no checkpoint${existsSync(run.logFile) ? ' (the run stopped before its first one)' : ''}; start it with --overwrite`,
        );
      }
      if (mode === 'overwrite') for (const f of RUN_FILES) rmSync(path.join(dir, f), { recursive: true, force: true });
      removeStaleTemporaries(dir);
      repairTornTail(run.logFile);
      return run;
    } catch (e) {
      run.close();
      throw e;
    }
  }

  /** Appends one JSON line (synchronously: a line is either whole or cut on the next open). */
  log(record: object): void {
    appendFileSync(this.logFile, `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
  }

  logBytes(): number {
    return existsSync(this.logFile) ? statSync(this.logFile).size : 0;
  }

  /** Cuts the log back to `bytes` (the length it had at the checkpoint being resumed). */
  truncateLog(bytes: number): void {
    if (existsSync(this.logFile) && statSync(this.logFile).size > bytes) {
      const fd = openSync(this.logFile, 'r+');
      try {
        ftruncateSync(fd, bytes);
      } finally {
        closeSync(fd);
      }
    }
  }

  /** Releases the lock (idempotent). */
  close(): void {
    if (!this.#locked) return;
    this.#locked = false;
    const owner = readOwner(path.join(this.dir, LOCK_FILE));
    if (owner?.pid === process.pid && owner.host === os.hostname()) rmSync(path.join(this.dir, LOCK_FILE), { force: true });
  }
}

function acquireLock(dir: string): void {
  const file = path.join(dir, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      try {
        writeSync(fd, `${JSON.stringify(me)}\n`);
      } finally {
        closeSync(fd);
      }
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot lock ${dir}: ${(e as Error).message}`);
    }
    const owner = readOwner(file);
    if (owner !== null && (owner.host !== me.host || isAlive(owner.pid))) {
      throw new Error(
        `${dir} is in use by another training (pid ${owner.pid} on ${owner.host}, since ${owner.startedAt}); if that process is gone, remove ${file}`,
      );
    }
    // The owner died without releasing (or the file is unreadable): take over.
    // Known gap: two processes taking over the same dead owner's lock within
    // microseconds of each other can both succeed (Node has no flock); it needs
    // a crashed previous owner and two restarts racing on the same directory.
    rmSync(file, { force: true });
  }
  throw new Error(`cannot lock ${dir}: another process took the lock at the same time`);
}

function readOwner(file: string): LockOwner | null {
  try {
    const o = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockOwner>;
    return typeof o.pid === 'number' && typeof o.host === 'string' ? { pid: o.pid, host: o.host, startedAt: String(o.startedAt) } : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A crash in the middle of an append leaves a last line without its newline: cut it. */
function repairTornTail(file: string): void {
  if (!existsSync(file)) return;
  const size = statSync(file).size;
  if (size === 0) return;
  const fd = openSync(file, 'r+');
  try {
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    if (last[0] === 0x0a) return;
    // Find the last newline, reading backwards in chunks.
    const chunk = Buffer.alloc(64 * 1024);
    let end = size;
    while (end > 0) {
      const start = Math.max(0, end - chunk.length);
      const n = readSync(fd, chunk, 0, end - start, start);
      const i = chunk.subarray(0, n).lastIndexOf(0x0a);
      if (i >= 0) {
        ftruncateSync(fd, start + i + 1);
        return;
      }
      end = start;
    }
    ftruncateSync(fd, 0);
  } finally {
    closeSync(fd);
  }
}

// Layer: run. The epochs a run keeps: a run trained with --keep-every N keeps
// the end-of-epoch commit of every N-th epoch (and of the last) as
// `epochs/<epoch>` (hard links to the commit's files, so pruning checkpoints/
// never touches it), and lists each in checkpoint.json under `keep` with its
// model's SHA-256.
import { existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fsyncDir, makeDirs, writeFileAtomicSync } from '../io/atomic.js';
import {
  confinedPath,
  MODEL_FILE,
  OPTIM_FILE,
  readCheckpoint,
  readCheckpointInfo,
  SIDECAR,
  type KeepPolicy,
  type KeptEpoch,
  type VerifiedCheckpoint,
} from './checkpoint.js';

/** Where a run trained with --keep-every keeps its epochs (`epochs/0004` = the commit after epoch 4). */
export const KEPT_DIR = 'epochs';

/** The directory name of a kept epoch (1-based), relative to the run: `epochs/0004`. */
export const keptPath = (epoch: number): string => path.posix.join(KEPT_DIR, String(epoch).padStart(4, '0'));

/** `policy` with epoch `epoch` added (replacing an entry of the same epoch: a resumed run redoing it). */
export function keptPolicy(policy: KeepPolicy | undefined, epoch: number | undefined, modelSha256: string): KeepPolicy | undefined {
  if (epoch === undefined) return policy;
  if (policy === undefined) throw new Error(`keeping epoch ${epoch} needs a keep policy in the state`);
  const epochs = [...policy.epochs.filter((e) => e.epoch !== epoch), { epoch, path: keptPath(epoch), sha256: modelSha256 }].sort((a, b) => a.epoch - b.epoch);
  return { every: policy.every, epochs };
}

/**
 * Keeps the committed `commit` as epoch `epoch`: its files hard-linked (copied
 * where links are refused) into a temporary directory, which is then renamed
 * to epochs/<epoch> in one step. An older copy of the same epoch (a resumed run
 * redoing it) is replaced.
 */
export function keepCommit(runDir: string, commit: string, epoch: number): void {
  const root = path.join(runDir, KEPT_DIR);
  makeDirs(root);
  const final = path.join(runDir, keptPath(epoch));
  const tmp = path.join(root, `.tmp-${path.basename(final)}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  try {
    mkdirSync(tmp);
    for (const f of [MODEL_FILE, OPTIM_FILE, SIDECAR]) {
      try {
        linkSync(path.join(commit, f), path.join(tmp, f));
      } catch {
        writeFileAtomicSync(path.join(tmp, f), readFileSync(path.join(commit, f)));
      }
    }
    fsyncDir(tmp);
    rmSync(final, { recursive: true, force: true });
    renameSync(tmp, final);
    fsyncDir(root);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** A kept epoch as read back: its directory, and what is wrong with it (missing, altered) or null when it verifies. */
export interface KeptEpochStatus extends KeptEpoch {
  dir: string;
  problem: string | null;
}

/**
 * The epochs a run keeps (its checkpoint.json's `keep`), each verified: its
 * commit's checkpoint.json and every file hashed, and the model's SHA-256
 * equal to the one the run recorded. An empty list for a run without --keep-every.
 */
export function keptEpochs(runDir: string, o: { hash?: boolean } = {}): KeptEpochStatus[] {
  const info = readCheckpointInfo(runDir);
  return (info.keep?.epochs ?? []).map((e) => {
    const dir = confinedPath(runDir, e.path, path.join(runDir, SIDECAR));
    let problem: string | null = null;
    try {
      const ck = o.hash === false ? { info: readCheckpointInfo(dir) } : readCheckpoint(dir);
      if (ck.info.files.model.sha256 !== e.sha256) problem = `${dir}: its model's SHA-256 differs from the one ${SIDECAR} recorded for epoch ${e.epoch}`;
    } catch (err) {
      problem = existsSync(dir) ? (err as Error).message : `${dir} is missing`;
    }
    return { ...e, dir, problem };
  });
}

/**
 * After a resume from a commit directory (the run's checkpoint.json was torn):
 * the epoch that commit kept is linked again when its copy under epochs/ is
 * missing or does not verify, so the run keeps the same epochs.
 */
export function repairKeptEpoch(runDir: string, ck: VerifiedCheckpoint): void {
  if (path.resolve(ck.base) === path.resolve(runDir)) return;
  const own = ck.info.keep?.epochs.find((e) => e.sha256 === ck.info.files.model.sha256);
  if (own === undefined) return;
  const status = keptEpochs(runDir).find((e) => e.epoch === own.epoch);
  if (status === undefined || status.problem !== null) keepCommit(runDir, ck.base, own.epoch);
}

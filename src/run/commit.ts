// Layer: run. The commit protocol: a checkpoint that cannot tear.
//
// A checkpoint's files (the model's state dict as safetensors, the optimizer
// state, a manifest) are written into a fresh directory `checkpoints/.tmp-…`,
// fsynced, and renamed to `checkpoints/<seq>`; only then is the run's
// `checkpoint.json` replaced (one atomic rename). The last KEEP_COMMITS commits
// are kept as fallbacks for `--resume`. `model.safetensors` in the run
// directory is a hard link to the newest model, for PyTorch users.
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { encodeSafetensors } from '../io/safetensors.js';
import { fsyncDir, makeDirs, writeFileAtomicSync } from '../io/atomic.js';
import type { Tensor } from '../tensor/index.js';
import type { Optimizer } from '../optim/index.js';
import type { EmbeddingModel } from '../models/model.js';
import {
  COMMITS_DIR,
  commitDirs,
  DEFENSE_TENSOR_PREFIX,
  FORMAT,
  MODEL_FILE,
  OPTIM_FILE,
  SIDECAR,
  sha256,
  withDigest,
  type CheckpointInfo,
  type CheckpointState,
  type FileRecord,
} from './checkpoint.js';
import { KEPT_DIR, keepCommit, keptPolicy } from './kept-epochs.js';

/** The newest commit plus this many − 1 older ones stay on disk as fallbacks. */
export const KEEP_COMMITS = 2;

/** Points of the commit protocol, in order (tests inject failures at each). */
export const COMMIT_STAGES = ['model', 'optimizer', 'manifest', 'commit-rename', 'keep', 'sidecar', 'link', 'prune'] as const;
export type CommitStage = (typeof COMMIT_STAGES)[number];

/** Options of `saveCheckpoint`: what else it keeps, and fault injection for tests. */
export interface SaveOptions {
  /** Called as each stage completes; a throw there behaves like a failure at that point (tests). */
  onStage?: (stage: CommitStage) => void;
  /** Keep this commit as epoch `keepEpoch` (1-based) under epochs/ and list it in `state.keep` (which must be set). */
  keepEpoch?: number;
  /** The defense's tensor state (free AT's perturbation), stored in the optimizer file. */
  defenseTensors?: ReadonlyMap<string, Tensor>;
}

/** Commits a checkpoint of the run in `runDir` and returns what checkpoint.json now says. */
export function saveCheckpoint(runDir: string, model: EmbeddingModel, opt: Optimizer, state: CheckpointState, o: SaveOptions = {}): CheckpointInfo {
  const stage = (s: CommitStage): void => o.onStage?.(s);
  const root = path.join(runDir, COMMITS_DIR);
  makeDirs(root);
  const seq = String((commitDirs(runDir).map((d) => Number(path.basename(d)))[0] ?? 0) + 1).padStart(6, '0');
  const tmp = path.join(root, `.tmp-${seq}-${process.pid}`);
  const final = path.join(root, seq);
  rmSync(tmp, { recursive: true, force: true });
  try {
    mkdirSync(tmp);
    const modelBytes = encodeSafetensors(model.stateDict(), { format: 'pt', model: model.kind });
    writeFileAtomicSync(path.join(tmp, MODEL_FILE), modelBytes);
    stage('model');
    const o2 = opt.stateDict();
    const training = new Map(o2.tensors);
    for (const [k, t] of o.defenseTensors ?? []) training.set(DEFENSE_TENSOR_PREFIX + k, t);
    const optBytes = encodeSafetensors(training, { step: String(o2.step) });
    writeFileAtomicSync(path.join(tmp, OPTIM_FILE), optBytes);
    stage('optimizer');
    const record = (p: string, bytes: Uint8Array): FileRecord => ({ path: p, bytes: bytes.length, sha256: sha256(bytes) });
    const keep = keptPolicy(state.keep, o.keepEpoch, sha256(modelBytes));
    const body = { format: FORMAT, ...state, ...(keep !== undefined ? { keep } : {}), optimizerStep: o2.step, savedAt: new Date().toISOString() } as const;
    const manifest = withDigest({ ...body, files: { model: record(MODEL_FILE, modelBytes), optimizer: record(OPTIM_FILE, optBytes) } });
    writeFileAtomicSync(path.join(tmp, SIDECAR), `${JSON.stringify(manifest, null, 2)}\n`);
    fsyncDir(tmp);
    stage('manifest');
    renameSync(tmp, final);
    fsyncDir(root);
    stage('commit-rename');
    if (o.keepEpoch !== undefined) {
      keepCommit(runDir, final, o.keepEpoch);
      stage('keep');
    }
    const rel = (f: string): string => path.posix.join(COMMITS_DIR, seq, f);
    const sidecar = withDigest({ ...body, files: { model: record(rel(MODEL_FILE), modelBytes), optimizer: record(rel(OPTIM_FILE), optBytes) } });
    writeFileAtomicSync(path.join(runDir, SIDECAR), `${JSON.stringify(sidecar, null, 2)}\n`);
    fsyncDir(runDir);
    stage('sidecar');
    linkLatestModel(runDir, path.join(final, MODEL_FILE));
    stage('link');
    pruneCommits(runDir);
    stage('prune');
    return sidecar;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`cannot commit the checkpoint in ${runDir}: ${(e as Error).message} (the previous checkpoint is intact)`);
  }
}

/** `runDir/model.safetensors` → the newest model (hard link, replaced atomically; a copy where links are refused). */
function linkLatestModel(runDir: string, target: string): void {
  const tmp = path.join(runDir, `.${MODEL_FILE}.${process.pid}.link`);
  rmSync(tmp, { force: true });
  try {
    linkSync(target, tmp);
    renameSync(tmp, path.join(runDir, MODEL_FILE));
  } catch {
    rmSync(tmp, { force: true });
    writeFileAtomicSync(path.join(runDir, MODEL_FILE), readFileSync(target));
  }
}

/** Removes commits older than the newest KEEP_COMMITS, and temporaries left by a crashed process. */
function pruneCommits(runDir: string): void {
  for (const d of commitDirs(runDir).slice(KEEP_COMMITS)) rmSync(d, { recursive: true, force: true });
  removeStaleTemporaries(runDir);
}

/** Temporaries of a commit that never finished (the run directory is locked, so none is in use). */
export function removeStaleTemporaries(runDir: string): void {
  for (const root of [path.join(runDir, COMMITS_DIR), path.join(runDir, KEPT_DIR)]) {
    if (!existsSync(root)) continue;
    for (const n of readdirSync(root))
      if (n.startsWith('.tmp-') && !n.endsWith(`-${process.pid}`)) rmSync(path.join(root, n), { recursive: true, force: true });
  }
}

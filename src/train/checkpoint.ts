// Layer: train. Checkpoints that cannot tear.
//
// A checkpoint is committed as one unit. Its files (the model's state dict as
// safetensors, with PyTorch names; the optimizer state; a manifest) are written
// into a fresh directory `checkpoints/.tmp-…`, fsynced, and renamed to
// `checkpoints/<seq>`; only then is the run's `checkpoint.json` replaced (one
// atomic rename), and it records each file's size and SHA-256 and its own
// digest. Whatever instant a crash or a full disk hits, `checkpoint.json`
// names a complete commit; a file altered afterwards fails its hash and is
// named; `--resume` then falls back to the newest commit that still verifies.
// The last KEEP_COMMITS commits are kept for that. `model.safetensors` in the
// run directory is a hard link to the newest model, for PyTorch users.
// A run trained with --keep-every N also keeps the end-of-epoch commit of
// every N-th epoch (and of the last) as `epochs/<epoch>` (hard links to the
// commit's files, so pruning checkpoints/ never touches it), and lists each in
// checkpoint.json under `keep` with its model's SHA-256.
import { createHash } from 'node:crypto';
import {
  closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, realpathSync, renameSync, rmSync, statSync,
} from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { decodeSafetensors, encodeSafetensors } from '../io/safetensors.js';
import { makeDirs, writeFileAtomicSync } from '../io/atomic.js';
import { dispose, type Tensor } from '../tensor/index.js';
import type { Optimizer } from '../optim/index.js';
import type { EmbeddingModel } from '../models/model.js';
import { modelEntry } from '../models/catalogue.js';
import { DEFENSES } from '../defense/registry.js';
import { datasetOf, describeSchemaErrors, parseConfig, type ExperimentConfig } from './config.js';

export const SIDECAR = 'checkpoint.json';
export const COMMITS_DIR = 'checkpoints';
/** Where a run trained with --keep-every keeps its epochs (`epochs/0004` = the commit after epoch 4). */
export const KEPT_DIR = 'epochs';
/** The newest commit plus this many − 1 older ones stay on disk as fallbacks. */
export const KEEP_COMMITS = 2;
const MODEL_FILE = 'model.safetensors';
const OPTIM_FILE = 'optimizer.safetensors';
/** Names of a defense's tensor state (free AT's perturbation) in the optimizer file: beside the optimizer's `<param>.<name>` keys. */
const DEFENSE_TENSOR_PREFIX = 'defense:';
const FORMAT = 'rankshield-checkpoint/2';
const LEGACY_FORMAT = 'rankshield-checkpoint/1';

/** Where training continues: the next optimizer step to run is step `step` of epoch `epoch`. */
export interface TrainingPosition {
  epoch: number;
  step: number;
}

/** Running sums of an epoch that is not finished (or finished but not yet evaluated). */
export interface EpochProgress {
  epoch: number;
  steps: number;
  lossSum: number;
  seconds: number;
  statSums: Record<string, number>;
  statCount: number;
}

export interface FileRecord {
  /** Relative to the directory holding the JSON that names it. */
  path: string;
  bytes: number;
  sha256: string;
}

/** What `checkpoint.json` holds (format 2). */
export interface CheckpointInfo {
  format: typeof FORMAT;
  config: ExperimentConfig;
  /** Last fully trained epoch (0-based); −1 before the first epoch ends. */
  epoch: number;
  position: TrainingPosition;
  /** The epoch `epochProgress.epoch` is trained and its evaluation is still due. */
  pendingEval: boolean;
  optimizerStep: number;
  metrics: Record<string, number>;
  /** Scalar state a defense carries across steps (HM's previous loss), so resuming is exact. */
  defenseState: Record<string, number>;
  /** libtorch's generator state (base64) at `position`, when it is inside an epoch. */
  rngState: string | null;
  /** A run on CUDA: that device's generator state too (base64; random ops on CUDA tensors draw from it). Absent for CPU runs. */
  deviceRngState?: DeviceRngState;
  epochProgress: EpochProgress | null;
  /** A run trained with --keep-every: the policy and the epochs kept so far (absent otherwise). */
  keep?: KeepPolicy;
  /** Length of log.jsonl when the checkpoint was committed; later lines describe lost work. */
  logBytes: number;
  files: { model: FileRecord; optimizer: FileRecord };
  savedAt: string;
  /** SHA-256 of this JSON without the digest field. */
  digest: string;
}

/** An epoch a run keeps (--keep-every): where its commit is, and its model's SHA-256. */
export interface KeptEpoch {
  /** 1-based, as the progress lines and reports count epochs. */
  epoch: number;
  /** Relative to the run directory: `epochs/0004`. */
  path: string;
  /** SHA-256 of that commit's model file (its own checkpoint.json verifies every file besides). */
  sha256: string;
}

/** What a run keeps besides its newest commits: every `every`-th epoch (and the last), those kept so far. */
export interface KeepPolicy {
  every: number;
  epochs: KeptEpoch[];
}

/** One device's default-generator state at a checkpoint. */
export interface DeviceRngState {
  device: string;
  state: string;
}

/** What a run directory's state is saved as; the caller knows the rest. */
export type CheckpointState = Omit<CheckpointInfo, 'format' | 'files' | 'savedAt' | 'digest' | 'optimizerStep'>;

/** A checkpoint read back: its info, the directory its files are relative to, and whether hashes were checked. */
export interface VerifiedCheckpoint {
  info: CheckpointInfo;
  /** Directory the file paths in `info.files` are relative to. */
  base: string;
  /** False only for format-1 checkpoints, which carry no hashes. */
  verified: boolean;
}

/** A checkpoint that is torn, altered or malformed; the message names the file and the problem. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

// ------------------------------------------------------------------ schema

const int = (min: number): z.ZodNumber => z.number().int().min(min);
const fileRecordSchema = z.object({ path: z.string().min(1), bytes: int(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).strict();
const numberRecord = z.record(z.string(), z.number());
const checkpointSchema = z
  .object({
    format: z.literal(FORMAT),
    config: z.unknown(),
    epoch: int(-1),
    position: z.object({ epoch: int(0), step: int(0) }).strict(),
    pendingEval: z.boolean(),
    optimizerStep: int(0),
    metrics: numberRecord,
    defenseState: numberRecord,
    rngState: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/).nullable(),
    deviceRngState: z.object({ device: z.string().regex(/^cuda:\d+$/), state: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/) }).strict().optional(),
    epochProgress: z
      .object({ epoch: int(0), steps: int(0), lossSum: z.number(), seconds: z.number().min(0), statSums: numberRecord, statCount: int(0) })
      .strict()
      .nullable(),
    keep: z
      .object({
        every: int(1),
        epochs: z.array(z.object({ epoch: int(1), path: z.string().regex(/^epochs\/\d{4,}$/), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).strict()),
      })
      .strict()
      .optional(),
    logBytes: int(0),
    files: z.object({ model: fileRecordSchema, optimizer: fileRecordSchema }).strict(),
    savedAt: z.string(),
    digest: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict();
const legacySchema = z
  .object({
    format: z.literal(LEGACY_FORMAT),
    config: z.unknown(),
    epoch: int(0),
    optimizerStep: int(0),
    metrics: numberRecord,
    defenseState: numberRecord.optional(),
    model: z.string().min(1),
    optimizer: z.string().min(1),
    savedAt: z.string(),
  })
  .strict();

const sha256 = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');

/** The digest of an info: SHA-256 of its JSON without the digest field (key order as written). */
function digestOf(info: Omit<CheckpointInfo, 'digest'> & { digest?: string }): string {
  const { digest: _omit, ...rest } = info;
  return sha256(JSON.stringify(rest));
}

/** `rel` resolved inside `base`; a path that leaves it (`../`, absolute, a symlink out) is an error. */
export function confinedPath(base: string, rel: string, what: string): string {
  const p = path.resolve(base, rel);
  const root = path.resolve(base);
  const inside = (q: string, r: string): boolean => q.startsWith(r + path.sep);
  if (path.isAbsolute(rel) || !inside(p, root)) throw new CheckpointError(`${what}: file '${rel}' is outside the checkpoint directory`);
  if (existsSync(p) && !inside(realpathSync(p), realpathSync(root))) throw new CheckpointError(`${what}: file '${rel}' links outside the checkpoint directory`);
  return p;
}

/** Parses and checks one checkpoint JSON (format 2 or 1) found at `file`. */
function parseInfo(file: string, text: string): { info: CheckpointInfo; verified: boolean } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${file}: not valid JSON (${(e as Error).message}) — the checkpoint is torn or was edited`);
  }
  const format = (raw as { format?: unknown } | null)?.format;
  if (format === LEGACY_FORMAT) return { info: fromLegacy(file, raw), verified: false };
  if (format !== FORMAT) throw new CheckpointError(`${file}: unknown checkpoint format '${String(format)}'`);
  const r = checkpointSchema.safeParse(raw);
  if (!r.success) throw new CheckpointError(`${file}: ${describeSchemaErrors('', r.error)}`);
  const info = { ...r.data, config: parseConfigIn(file, r.data.config) } as CheckpointInfo;
  if (digestOf(raw as CheckpointInfo) !== info.digest) throw new CheckpointError(`${file}: digest mismatch — the file was altered after it was written`);
  if (info.position.epoch > info.config.epochs) throw new CheckpointError(`${file}: position epoch ${info.position.epoch} is beyond the run's ${info.config.epochs} epochs`);
  return { info, verified: true };
}

function parseConfigIn(file: string, raw: unknown): ExperimentConfig {
  try {
    return parseConfig(raw, 'config');
  } catch (e) {
    throw new CheckpointError(`${file}: ${(e as Error).message}`);
  }
}

/** Format 1 (wave 1): files named without hashes; epoch = last completed epoch. */
function fromLegacy(file: string, raw: unknown): CheckpointInfo {
  const r = legacySchema.safeParse(raw);
  if (!r.success) throw new CheckpointError(`${file}: ${describeSchemaErrors('', r.error)}`);
  const l = r.data;
  const unhashed = (p: string): FileRecord => ({ path: p, bytes: -1, sha256: '' });
  return {
    format: FORMAT, config: parseConfigIn(file, l.config), epoch: l.epoch, position: { epoch: l.epoch + 1, step: 0 }, pendingEval: false,
    optimizerStep: l.optimizerStep, metrics: l.metrics, defenseState: l.defenseState ?? {}, rngState: null, epochProgress: null,
    logBytes: Number.MAX_SAFE_INTEGER, files: { model: unhashed(l.model), optimizer: unhashed(l.optimizer) }, savedAt: l.savedAt, digest: '',
  };
}

// ------------------------------------------------------------------ reading

/** Accepts a run directory, its checkpoint.json, its model.safetensors, or one commit directory. */
export function resolveCheckpointDir(p: string): string {
  if (!existsSync(p)) throw new Error(`checkpoint '${p}' does not exist`);
  const dir = statSync(p).isDirectory() ? p : path.dirname(p);
  if (!existsSync(path.join(dir, SIDECAR))) throw new Error(`'${dir}' holds no ${SIDECAR} (not a rankshield checkpoint)`);
  return dir;
}

/**
 * Reads `dir/checkpoint.json`, checks that every file it names is there, and
 * hashes those in `hash` (size and SHA-256; default all). Files read later
 * through this checkpoint are verified again from the bytes read.
 */
export function readCheckpoint(dir: string, hash: readonly ('model' | 'optimizer')[] = ['model', 'optimizer']): VerifiedCheckpoint {
  const file = path.join(dir, SIDECAR);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CheckpointError(`${file}: cannot read (${(e as Error).message})`);
  }
  const { info, verified } = parseInfo(file, text);
  for (const [what, rec] of Object.entries(info.files) as ['model' | 'optimizer', FileRecord][]) {
    const p = confinedPath(dir, rec.path, file);
    if (!existsSync(p)) throw new CheckpointError(`${file}: its ${what} file ${rec.path} is missing — the checkpoint is torn`);
    if (verified && hash.includes(what)) checkRecord(p, rec, file, statSync(p).size, () => sha256File(p));
  }
  return { info, base: dir, verified };
}

/** A file against its record: size first (cheap), then SHA-256; each mismatch named. */
function checkRecord(p: string, rec: FileRecord, sidecar: string, size: number, digest: () => string): void {
  if (size !== rec.bytes) throw new CheckpointError(`${p}: ${size} bytes, the checkpoint recorded ${rec.bytes} — the file is torn or was replaced`);
  if (digest() !== rec.sha256) throw new CheckpointError(`${p}: SHA-256 differs from the one recorded in ${sidecar} — the file is corrupt or was altered`);
}

/** Reads the checkpoint's info only (config, epoch, metrics); the files are not hashed. */
export function readCheckpointInfo(dir: string): CheckpointInfo {
  const file = path.join(dir, SIDECAR);
  return parseInfo(file, readFileSync(file, 'utf8')).info;
}

/** Commit directories of a run, newest first (temporaries excluded). */
function commitDirs(runDir: string): string[] {
  const root = path.join(runDir, COMMITS_DIR);
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((n) => /^\d{6,}$/.test(n))
    .sort((a, b) => Number(b) - Number(a))
    .map((n) => path.join(root, n));
}

/**
 * The newest checkpoint of a run that verifies: its checkpoint.json if intact,
 * else the newest commit directory whose manifest and files check out. `problem`
 * says what was wrong with the newer one when it fell back. Throws when none is usable.
 */
export function latestGoodCheckpoint(runDir: string): VerifiedCheckpoint & { problem?: string } {
  const problems: string[] = [];
  try {
    return readCheckpoint(runDir);
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw e;
    problems.push(e.message);
  }
  for (const dir of commitDirs(runDir)) {
    try {
      return { ...readCheckpoint(dir), problem: problems[0] };
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw e;
      problems.push(e.message);
    }
  }
  throw new CheckpointError(`no complete checkpoint in ${runDir}:\n  ${problems.join('\n  ')}`);
}

/** Whether a run directory holds a committed checkpoint. */
export function hasCheckpoint(runDir: string): boolean {
  return existsSync(path.join(runDir, SIDECAR)) || commitDirs(runDir).length > 0;
}

function sha256File(file: string): string {
  const h = createHash('sha256');
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** One read of a checkpoint file, verified from the bytes read (so what is decoded is what was checked). */
function readTensors(ck: VerifiedCheckpoint, which: 'model' | 'optimizer'): Map<string, Tensor> {
  const rec = ck.info.files[which];
  const sidecar = path.join(ck.base, SIDECAR);
  const p = confinedPath(ck.base, rec.path, sidecar);
  const bytes = readFileSync(p);
  if (ck.verified) checkRecord(p, rec, sidecar, bytes.length, () => sha256(bytes));
  return decodeSafetensors(bytes, p).tensors;
}

// ------------------------------------------------------------------ writing

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
    writeFileAtomicSync(path.join(tmp, SIDECAR), JSON.stringify(manifest, null, 2) + '\n');
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
    writeFileAtomicSync(path.join(runDir, SIDECAR), JSON.stringify(sidecar, null, 2) + '\n');
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

/** The directory name of a kept epoch (1-based), relative to the run: `epochs/0004`. */
export const keptPath = (epoch: number): string => path.posix.join(KEPT_DIR, String(epoch).padStart(4, '0'));

/** `policy` with epoch `epoch` added (replacing an entry of the same epoch: a resumed run redoing it). */
function keptPolicy(policy: KeepPolicy | undefined, epoch: number | undefined, modelSha256: string): KeepPolicy | undefined {
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
function keepCommit(runDir: string, commit: string, epoch: number): void {
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

function withDigest(info: Omit<CheckpointInfo, 'digest'>): CheckpointInfo {
  return { ...info, digest: digestOf(info) };
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
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
    for (const n of readdirSync(root)) if (n.startsWith('.tmp-') && !n.endsWith(`-${process.pid}`)) rmSync(path.join(root, n), { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ models

/**
 * A fresh model for the config. `weights: 'initial'` loads the ImageNet
 * weights of `pretrained` (a new run); 'checkpoint' leaves them out because a
 * checkpoint's weights replace them, so a run never reads that file again.
 */
export function createModel(config: ExperimentConfig, weights: 'initial' | 'checkpoint' = 'initial'): EmbeddingModel {
  const { imageSide, channels } = datasetOf(config);
  return modelEntry(config.model).create({
    // The dataset's input shape: 28×28 grey for MNIST/Fashion, 224×224 RGB otherwise (docs/datasets.md).
    inputShape: [channels, imageSide, imageSide],
    // The defense entry says whether its models train BatchNorm (EST) or keep it frozen (docs/methods.md §3).
    frozenBatchNorm: !DEFENSES[config.defense.kind].trainsBatchNorm,
    ...(weights === 'initial' && config.pretrained !== undefined ? { pretrained: config.pretrained } : {}),
    ...(config.modelFile !== undefined ? { modelFile: config.modelFile } : {}),
  });
}

/** The copy of a TorchScript run's module file kept in its run directory. */
export const MODULE_COPY = 'torchscript-module.pt';

/** Keeps a copy of a TorchScript run's module in the run directory: the run never needs the user's file again. */
export function keepModuleFile(config: ExperimentConfig, runDir: string): void {
  if (config.modelFile === undefined) return;
  const copy = path.join(runDir, MODULE_COPY);
  writeFileAtomicSync(copy, readFileSync(config.modelFile));
}

/** A checkpoint's config as the run directory can rebuild it: its own copy of the module file when it has one. */
export function runConfig(config: ExperimentConfig, checkpointDir: string): ExperimentConfig {
  if (config.modelFile === undefined) return config;
  // A commit directory sits two levels below the run directory (run/checkpoints/NNNNNN).
  for (const dir of [checkpointDir, path.dirname(path.dirname(checkpointDir))]) {
    const copy = path.join(dir, MODULE_COPY);
    if (existsSync(copy)) return { ...config, modelFile: copy };
  }
  return config;
}

/** Rebuilds the model of a checkpoint (run directory, commit directory or file in one) with its verified weights. */
export function loadCheckpoint(p: string): { model: EmbeddingModel; info: CheckpointInfo; dir: string } {
  const dir = resolveCheckpointDir(p);
  const ck = readCheckpoint(dir, []); // the weights are verified as they are read; the optimizer is not needed
  const model = createModel(runConfig(ck.info.config, ck.base), 'checkpoint');
  try {
    loadModelWeights(ck, model);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, info: ck.info, dir };
}

/** Copies the checkpoint's weights into an existing model of the same kind. */
export function loadModelWeights(ck: VerifiedCheckpoint, model: EmbeddingModel): void {
  const tensors = readTensors(ck, 'model');
  try {
    model.loadStateDict(tensors);
  } finally {
    dispose([...tensors.values()]);
  }
}

/** Restores the optimizer state saved beside the model; returns the defense's tensor state saved with it (the caller owns it). */
export function loadOptimizerState(ck: VerifiedCheckpoint, opt: Optimizer): Map<string, Tensor> {
  const tensors = readTensors(ck, 'optimizer');
  const defense = new Map<string, Tensor>();
  const optimizer = new Map<string, Tensor>();
  for (const [k, t] of tensors) {
    if (k.startsWith(DEFENSE_TENSOR_PREFIX)) defense.set(k.slice(DEFENSE_TENSOR_PREFIX.length), t);
    else optimizer.set(k, t);
  }
  try {
    opt.loadStateDict({ step: ck.info.optimizerStep, tensors: optimizer });
  } catch (e) {
    dispose([...defense.values()]);
    throw e;
  } finally {
    dispose([...optimizer.values()]);
  }
  return defense;
}

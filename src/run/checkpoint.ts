// Layer: run. Checkpoint storage: the format of a committed checkpoint, and
// reading it back verified.
//
// A checkpoint is committed as one unit (run/commit.ts writes it): its files
// (the model's state dict as safetensors, with PyTorch names; the optimizer
// state; a manifest) sit in `checkpoints/<seq>`, and the run's
// `checkpoint.json` names the newest commit, recording each file's size and
// SHA-256 and its own digest. Whatever instant a crash or a full disk hits,
// `checkpoint.json` names a complete commit; a file altered afterwards fails
// its hash and is named; `--resume` then falls back to the newest commit that
// still verifies. A run trained with --keep-every also keeps epochs
// (run/kept-epochs.ts), listed in checkpoint.json under `keep`.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { decodeSafetensors } from '../io/safetensors.js';
import { dispose, type Tensor } from '../tensor/index.js';
import type { Optimizer } from '../optim/index.js';
import type { EmbeddingModel } from '../models/model.js';
import { describeSchemaErrors, parseRecordedConfig, type ExperimentConfig } from './config.js';

export const SIDECAR = 'checkpoint.json';
export const COMMITS_DIR = 'checkpoints';
export const MODEL_FILE = 'model.safetensors';
export const OPTIM_FILE = 'optimizer.safetensors';
/** Names of a defense's tensor state (free AT's perturbation) in the optimizer file: beside the optimizer's `<param>.<name>` keys. */
export const DEFENSE_TENSOR_PREFIX = 'defense:';
export const FORMAT = 'rankshield-checkpoint/2';
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
    rngState: z
      .string()
      .regex(/^[A-Za-z0-9+/]*={0,2}$/)
      .nullable(),
    deviceRngState: z
      .object({ device: z.string().regex(/^cuda:\d+$/), state: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/) })
      .strict()
      .optional(),
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

export const sha256 = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');

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
  if (info.position.epoch > info.config.epochs)
    throw new CheckpointError(`${file}: position epoch ${info.position.epoch} is beyond the run's ${info.config.epochs} epochs`);
  return { info, verified: true };
}

function parseConfigIn(file: string, raw: unknown): ExperimentConfig {
  try {
    return parseRecordedConfig(raw, 'config');
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
    format: FORMAT,
    config: parseConfigIn(file, l.config),
    epoch: l.epoch,
    position: { epoch: l.epoch + 1, step: 0 },
    pendingEval: false,
    optimizerStep: l.optimizerStep,
    metrics: l.metrics,
    defenseState: l.defenseState ?? {},
    rngState: null,
    epochProgress: null,
    logBytes: Number.MAX_SAFE_INTEGER,
    files: { model: unhashed(l.model), optimizer: unhashed(l.optimizer) },
    savedAt: l.savedAt,
    digest: '',
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
export function commitDirs(runDir: string): string[] {
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
    for (let n: number; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
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
/** An info with its digest field filled in. */
export function withDigest(info: Omit<CheckpointInfo, 'digest'>): CheckpointInfo {
  return { ...info, digest: digestOf(info) };
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

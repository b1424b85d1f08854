// Layer: io. Reads files written by `torch.save` (the zip format, PyTorch >= 1.6):
// `<archive>/data.pkl` is a pickle of the saved object whose tensors point, by
// persistent id, at raw little-endian storages in `<archive>/data/<key>`.
//
// Safety: the pickle may name only the globals Loader.global knows (OrderedDict,
// the tensor/parameter rebuild functions, storage types); anything else
// (os.system, builtins.eval, ...) is refused, so a file cannot run code.
// Hostile input: the zip and the pickle VM bound their own work (limits.ts);
// here every tensor view is checked against its storage and TORCH_FILE_LIMITS
// before anything is allocated, and the unpickled DAG is walked once per object.
import { readFileSync } from 'node:fs';
import { call1, dtypeSize, type DType, Tensor, tidy } from '../tensor/index.js';
import { PICKLE_LIMITS, resolveLimits, TORCH_FILE_LIMITS, type PickleLimits, type TorchFileLimits, type ZipLimits } from './limits.js';
import { unpickle, type PickleCallable, type PickleHooks } from './pickle.js';
import { tensorFromBytes } from './tensor-bytes.js';
import { ZipArchive } from './zip.js';

/** Per-call overrides of TORCH_FILE_LIMITS, and of the zip and pickle limits the file goes through. */
export interface TorchFileOptions extends Partial<TorchFileLimits> {
  readonly zip?: Partial<ZipLimits>;
  readonly pickle?: Partial<PickleLimits>;
}

/** What a torch file holds, in plain TypeScript terms (tuples become arrays, dicts Maps). */
export type TorchValue = Tensor | number | string | boolean | null | TorchValue[] | Map<string | number, TorchValue>;

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

/** dict subclasses that hold only data: read as dicts. */
const DATA_DICT_CLASSES = new Set([
  'pytorch_lightning.utilities.parsing.AttributeDict',
  'lightning_fabric.utilities.data.AttributeDict',
  'lightning.fabric.utilities.data.AttributeDict',
]);

/**
 * The first bytes of a legacy (non-zip) torch.save file: protocol-2 pickle of the magic number
 * 0x1950a86a20f9469cfc6c (PyTorch < 1.6, or _use_new_zipfile_serialization=False).
 */
const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/** `torch.FloatStorage` etc. as a pickle value: only says which dtype a storage holds (never called). */
class StorageType implements PickleCallable {
  constructor(
    readonly qualifiedName: string,
    readonly dtype: DType,
  ) {}

  call(): never {
    throw new Error(`calling ${this.qualifiedName} is not supported`);
  }
}

/** One storage of the archive, as a 1-D tensor of its elements; shared by every tensor viewing it. */
class Storage {
  constructor(
    readonly key: string,
    readonly tensor: Tensor,
  ) {}
}

/** Per-load state: the archive, storages read so far, tensors made so far (freed on failure). */
class Loader implements PickleHooks {
  readonly storages = new Map<string, Storage>();
  readonly made: Tensor[] = [];

  constructor(
    readonly zip: ZipArchive,
    readonly prefix: string,
    readonly limits: TorchFileLimits,
  ) {}

  global(module: string, name: string): PickleCallable {
    const qualifiedName = `${module}.${name}`;
    const fn = (call: (args: readonly unknown[]) => unknown): PickleCallable => ({ qualifiedName, call });
    // Data-only dict classes (PyTorch Lightning keeps hyper-parameters in an AttributeDict): built empty,
    // filled by SETITEMS; nothing of the class runs.
    if (qualifiedName === 'collections.OrderedDict' || DATA_DICT_CLASSES.has(qualifiedName)) {
      return fn((args) => {
        if (args.length !== 0) throw new Error('OrderedDict(...) with arguments is not supported');
        return new Map<unknown, unknown>();
      });
    }
    if (qualifiedName === 'torch._utils._rebuild_tensor_v2') return fn((args) => this.rebuildTensor(args));
    if (qualifiedName === 'torch._utils._rebuild_parameter') {
      // (data, requires_grad, backward_hooks): a loaded parameter is its data; gradients are the caller's business.
      return fn((args) => {
        if (!(args[0] instanceof Tensor)) throw new Error('_rebuild_parameter: data is not a tensor');
        return args[0];
      });
    }
    if (module === 'torch' && Object.hasOwn(STORAGE_DTYPES, name)) {
      return new StorageType(qualifiedName, STORAGE_DTYPES[name]!);
    }
    throw new Error(`unsupported pickle global ${qualifiedName}`);
  }

  /** Persistent id ('storage', storage_type, key, location, numel). */
  persistentLoad(pid: unknown): unknown {
    if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') throw new Error(`unsupported persistent id ${describe(pid)}`);
    const [, type, key, , numel] = pid as unknown[];
    if (!(type instanceof StorageType)) throw new Error('persistent id names no storage type');
    if (typeof key !== 'string' || typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) {
      throw new Error(`malformed storage reference ${describe(pid)}`);
    }
    const cached = this.storages.get(key);
    if (cached !== undefined) {
      if (cached.tensor.dtype !== type.dtype || cached.tensor.numel !== numel)
        throw new Error(`storage ${key} is referenced with two different types or sizes`);
      return cached;
    }
    const entry = `${this.prefix}data/${key}`;
    const declared = this.zip.entries.get(entry);
    if (declared === undefined) throw new Error(`storage ${key} is missing (no ${entry} in the archive)`);
    // Checked on the directory's size first, so a wrong storage is refused before it is inflated.
    const need = numel * dtypeSize(type.dtype);
    const mismatch = (found: number): Error => new Error(`storage ${key} has ${found} bytes, expected ${numel} × ${type.dtype} = ${need}`);
    if (declared.size !== need) throw mismatch(declared.size);
    const bytes = this.zip.read(entry);
    if (bytes.length !== need) throw mismatch(bytes.length);
    const storage = new Storage(key, tensorFromBytes(bytes, [numel], type.dtype));
    this.storages.set(key, storage);
    return storage;
  }

  /** _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]). */
  rebuildTensor(args: readonly unknown[]): Tensor {
    if (args.length < 6 || args.length > 7) throw new Error(`_rebuild_tensor_v2 takes 6 or 7 arguments, got ${args.length}`);
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof Storage)) throw new Error('_rebuild_tensor_v2: first argument is not a storage');
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0)
      throw new Error(`_rebuild_tensor_v2: bad storage offset ${describe(offset)} (storage ${storage.key})`);
    const dims = intList(size, 'size', storage.key);
    const steps = intList(stride, 'stride', storage.key);
    if (dims.length !== steps.length)
      throw new Error(`_rebuild_tensor_v2: size ${describe(size)} and stride ${describe(stride)} differ in length (storage ${storage.key})`);
    this.checkView(storage, offset, dims, steps);
    // clone(): the result owns its memory, so it neither aliases tensors sharing the storage nor keeps a big storage alive.
    const t = tidy(() => call1('aten::as_strided', [storage.tensor, dims, steps, offset]).contiguous().clone());
    this.made.push(t);
    return t;
  }

  /** Throws unless the view is small enough to materialise and stays inside its storage. */
  checkView(storage: Storage, offset: number, dims: readonly number[], steps: readonly number[]): void {
    const view = `tensor view (offset ${offset}, size [${dims}], stride [${steps}]) of storage ${storage.key}`;
    const { maxTensorDims, maxTensorElements } = this.limits;
    if (dims.length > maxTensorDims) throw new Error(`${view} has more than ${maxTensorDims} dimensions (limit torch.maxTensorDims)`);
    // Stride 0 lets a 1-element storage name any size, and rebuilding materialises it: bound the count.
    const elements = dims.reduce((acc, d) => acc * d, 1);
    if (elements > maxTensorElements) throw new Error(`${view} has ${elements} elements, more than ${maxTensorElements} (limit torch.maxTensorElements)`);
    const numel = storage.tensor.numel;
    if (elements === 0) {
      // Touches nothing, but an offset past the end is still not a place in this storage.
      if (offset > numel) throw new Error(`${view} starts past the end of its ${numel} elements`);
      return;
    }
    // Largest element index the view touches; as_strided must stay inside the storage.
    const last = offset + dims.reduce((acc, d, i) => acc + (d - 1) * steps[i]!, 0);
    if (last >= numel) throw new Error(`${view} reaches element ${last}, past the storage's ${numel} elements`);
  }

  build(obj: unknown, state: unknown): unknown {
    // OrderedDict attributes (a state dict's `_metadata` of module versions) are not items: drop them, as
    // load_state_dict would only use them for version upgrades.
    if (obj instanceof Map && (state === null || state instanceof Map)) return obj;
    throw new Error(`BUILD (setstate) on ${describe(obj)} is not supported`);
  }
}

function intList(v: unknown, what: string, key: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
    throw new Error(`_rebuild_tensor_v2: bad ${what} ${describe(v)} (storage ${key})`);
  }
  return v as number[];
}

/** How much of a value error messages show: values may be huge, or DAGs of exponential tree size. */
const DESCRIBE_ITEMS = 8;
const DESCRIBE_DEPTH = 3;
const DESCRIBE_CHARS = 80;

function describe(v: unknown, depth = 0): string {
  if (v instanceof Tensor) return `tensor [${v.shape}]`;
  if (v instanceof Map) return 'dict';
  if (v instanceof Storage) return `storage ${v.key}`;
  if (v instanceof StorageType) return `${v.dtype} storage type`;
  if (v instanceof Uint8Array) return `bytes(${v.length})`;
  if (Array.isArray(v)) {
    if (depth >= DESCRIBE_DEPTH) return '(…)';
    const shown = v.slice(0, DESCRIBE_ITEMS).map((x) => describe(x, depth + 1));
    if (v.length > DESCRIBE_ITEMS) shown.push(`… ${v.length - DESCRIBE_ITEMS} more`);
    return `(${shown.join(', ')})`;
  }
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'object' && v !== null && 'qualifiedName' in v) return String((v as PickleCallable).qualifiedName);
  const text = JSON.stringify(v) ?? String(v);
  return text.length > DESCRIBE_CHARS ? `${text.slice(0, DESCRIBE_CHARS)}…` : text;
}

/**
 * Turns the unpickled object into a TorchValue, converting each pickle object once: an object
 * reached twice (DUP, memo GET) gives the same TorchValue object, so a DAG of exponential tree
 * size costs time linear in its objects. Cycles and nesting past `maxDepth` are errors.
 */
class TorchValueBuilder {
  readonly #converted = new Map<object, TorchValue>();
  readonly #open = new Set<object>();

  constructor(readonly maxDepth: number) {}

  convert(v: unknown, depth = 0): TorchValue {
    if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string' || v instanceof Tensor) return v;
    // Ints past 2^53 (seeds, hashes) keep their nearest double, as JSON would.
    if (typeof v === 'bigint') return Number(v);
    if (!Array.isArray(v) && !(v instanceof Map)) throw new Error(`value ${describe(v)} has no TorchValue form`);
    const done = this.#converted.get(v);
    if (done !== undefined) return done;
    if (this.#open.has(v)) throw new Error('the pickled object contains itself (a cycle)');
    if (depth >= this.maxDepth) throw new Error(`pickle: nesting deeper than ${this.maxDepth} (limit pickle.maxDepth)`);
    this.#open.add(v);
    const out = Array.isArray(v) ? this.#list(v, depth) : this.#dict(v, depth);
    this.#open.delete(v);
    this.#converted.set(v, out);
    return out;
  }

  #list(v: readonly unknown[], depth: number): TorchValue[] {
    return v.map((x) => this.convert(x, depth + 1));
  }

  #dict(v: ReadonlyMap<unknown, unknown>, depth: number): Map<string | number, TorchValue> {
    const out = new Map<string | number, TorchValue>();
    for (const [k, x] of v) {
      if (typeof k !== 'string' && typeof k !== 'number' && typeof k !== 'bigint') throw new Error(`dict key ${describe(k)} is not a string or number`);
      out.set(typeof k === 'bigint' ? Number(k) : k, this.convert(x, depth + 1));
    }
    return out;
  }
}

/** Every tensor inside a value (each once, even when referenced twice; each shared container visited once). */
export function tensorsIn(value: TorchValue, out = new Set<Tensor>(), seen = new Set<object>()): Set<Tensor> {
  if (value instanceof Tensor) {
    out.add(value);
    return out;
  }
  if (!Array.isArray(value) && !(value instanceof Map)) return out;
  if (seen.has(value)) return out;
  seen.add(value);
  for (const x of value instanceof Map ? value.values() : value) tensorsIn(x, out, seen);
  return out;
}

/** Frees every tensor inside a loaded value. */
export function disposeTorchValue(value: TorchValue): void {
  for (const t of tensorsIn(value)) t.dispose();
}

/** The one folder holding data.pkl: torch names it after the file it saved to, so it varies. */
function archivePrefix(zip: ZipArchive, source: string): string {
  const pkls = zip.names.filter((n) => /^[^/]+\/data\.pkl$/.test(n) || n === 'data.pkl');
  if (pkls.length !== 1) {
    throw new Error(`${source}: not a torch.save archive: expected one <archive>/data.pkl, found ${pkls.length === 0 ? 'none' : pkls.join(', ')}`);
  }
  return pkls[0]!.slice(0, -'data.pkl'.length);
}

/**
 * A `torch.save` zip archive's object (bytes): tensors, numbers, strings, lists and dicts; only tensor-rebuilding pickle globals are accepted.
 */
export function decodeTorchFile(bytes: Uint8Array, source = '<buffer>', options: TorchFileOptions = {}): TorchValue {
  const { zip: zipLimits, pickle: pickleLimits, ...tensorLimits } = options;
  const limits = resolveLimits(TORCH_FILE_LIMITS, tensorLimits, 'torch');
  const maxDepth = resolveLimits(PICKLE_LIMITS, pickleLimits, 'pickle').maxDepth;
  if (bytes.length >= LEGACY_MAGIC.length && LEGACY_MAGIC.every((b, i) => bytes[i] === b)) {
    throw new Error(`${source}: legacy (non-zip) torch.save format, which is not read here — re-save it in PyTorch ≥ 1.6: torch.save(torch.load(OLD), NEW)`);
  }
  const zip = new ZipArchive(bytes, source, zipLimits);
  const prefix = archivePrefix(zip, source);
  // Newer torch.save records the writer's byte order; storages are read as little-endian.
  const order = zip.has(`${prefix}byteorder`)
    ? Buffer.from(zip.read(`${prefix}byteorder`))
        .toString('latin1')
        .trim()
    : 'little';
  if (order !== 'little') throw new Error(`${source}: storages are ${order}-endian; only little-endian files are supported`);
  const loader = new Loader(zip, prefix, limits);
  let value: TorchValue | undefined;
  try {
    const raw = unpickle(zip.read(`${prefix}data.pkl`), loader, `${source}: ${prefix}data.pkl`, pickleLimits);
    try {
      value = new TorchValueBuilder(maxDepth).convert(raw);
    } catch (e) {
      throw new Error(`${source}: ${(e as Error).message}`);
    }
    return value;
  } finally {
    // Storages are copied into each tensor; tensors not in the result (failure, or unreachable) are freed.
    const kept = value === undefined ? new Set<Tensor>() : tensorsIn(value);
    for (const s of loader.storages.values()) s.tensor.dispose();
    for (const t of loader.made) if (!kept.has(t)) t.dispose();
  }
}

/** Reads a `torch.save` file (see decodeTorchFile); `stateDictOf` turns a state dict into a Map. */
export function loadTorchFile(file: string, options: TorchFileOptions = {}): TorchValue {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as Error).message}`);
  }
  return decodeTorchFile(bytes, file, options);
}

function isTensorDict(v: TorchValue | undefined): v is Map<string | number, TorchValue> {
  return v instanceof Map && v.size > 0 && [...v.values()].some((x) => x instanceof Tensor);
}

/**
 * The state dict inside a loaded torch file: `value.state_dict`, `value.model`, or `value` itself when
 * it is a dict of tensors. Consumes `value`: every tensor not returned is disposed (on failure, all).
 * Non-tensor entries of the state dict (e.g. `_extra_state`) are left out.
 */
export function stateDictOf(value: TorchValue, source = '<value>'): Map<string, Tensor> {
  const candidates = value instanceof Map ? [value.get('state_dict'), value.get('model'), value] : [];
  const found = candidates.find(isTensorDict);
  if (found === undefined) {
    disposeTorchValue(value);
    const keys = value instanceof Map ? [...value.keys()].join(', ') : typeof value;
    throw new Error(`${source}: no state dict found (looked for state_dict, model, or a dict of tensors; top level: ${keys})`);
  }
  const out = new Map<string, Tensor>();
  for (const [k, v] of found) if (v instanceof Tensor) out.set(String(k), v);
  const keep = new Set(out.values());
  for (const t of tensorsIn(value)) if (!keep.has(t)) t.dispose();
  return out;
}

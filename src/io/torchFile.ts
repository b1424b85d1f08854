// Layer: io. Reads files written by `torch.save` (the zip format, PyTorch >= 1.6):
// `<archive>/data.pkl` is a pickle of the saved object whose tensors point, by
// persistent id, at raw little-endian storages in `<archive>/data/<key>`.
//
// Safety: the pickle may name only the globals Loader.global knows (OrderedDict,
// the tensor/parameter rebuild functions, storage types); anything else
// (os.system, builtins.eval, ...) is refused, so a file cannot run code.
import { readFileSync } from 'node:fs';
import { call1, dtypeSize, type DType, Tensor, tidy } from '../tensor/index.js';
import { unpickle, type PickleCallable, type PickleHooks } from './pickle.js';
import { tensorFromBytes } from './tensor-bytes.js';
import { ZipArchive } from './zip.js';

/** What a torch file holds, in plain TypeScript terms (tuples become arrays, dicts Maps). */
export type TorchValue = Tensor | number | string | boolean | null | TorchValue[] | Map<string | number, TorchValue>;

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32', DoubleStorage: 'float64', HalfStorage: 'float16', BFloat16Storage: 'bfloat16',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8', ByteStorage: 'uint8', BoolStorage: 'bool',
};

/** `torch.FloatStorage` etc. as a pickle value: only says which dtype a storage holds (never called). */
class StorageType implements PickleCallable {
  constructor(readonly qualifiedName: string, readonly dtype: DType) {}

  call(): never {
    throw new Error(`calling ${this.qualifiedName} is not supported`);
  }
}

/** One storage of the archive, as a 1-D tensor of its elements; shared by every tensor viewing it. */
class Storage {
  constructor(readonly key: string, readonly tensor: Tensor) {}
}

/** Per-load state: the archive, storages read so far, tensors made so far (freed on failure). */
class Loader implements PickleHooks {
  readonly storages = new Map<string, Storage>();
  readonly made: Tensor[] = [];

  constructor(readonly zip: ZipArchive, readonly prefix: string) {}

  global(module: string, name: string): PickleCallable {
    const qualifiedName = `${module}.${name}`;
    const fn = (call: (args: readonly unknown[]) => unknown): PickleCallable => ({ qualifiedName, call });
    if (qualifiedName === 'collections.OrderedDict') {
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
      if (cached.tensor.dtype !== type.dtype || cached.tensor.numel !== numel) throw new Error(`storage ${key} is referenced with two different types or sizes`);
      return cached;
    }
    const entry = `${this.prefix}data/${key}`;
    if (!this.zip.has(entry)) throw new Error(`storage ${key} is missing (no ${entry} in the archive)`);
    const bytes = this.zip.read(entry);
    const need = numel * dtypeSize(type.dtype);
    if (bytes.length !== need) throw new Error(`storage ${key} has ${bytes.length} bytes, expected ${numel} × ${type.dtype} = ${need}`);
    const storage = new Storage(key, tensorFromBytes(bytes, [numel], type.dtype));
    this.storages.set(key, storage);
    return storage;
  }

  /** _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]). */
  rebuildTensor(args: readonly unknown[]): Tensor {
    if (args.length < 6 || args.length > 7) throw new Error(`_rebuild_tensor_v2 takes 6 or 7 arguments, got ${args.length}`);
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof Storage)) throw new Error('_rebuild_tensor_v2: first argument is not a storage');
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) throw new Error(`_rebuild_tensor_v2: bad storage offset ${describe(offset)}`);
    const dims = intList(size, 'size');
    const steps = intList(stride, 'stride');
    if (dims.length !== steps.length) throw new Error(`_rebuild_tensor_v2: size ${describe(size)} and stride ${describe(stride)} differ in length`);
    const numel = storage.tensor.numel;
    // Largest element index the view touches; as_strided must stay inside the storage.
    if (!dims.includes(0)) {
      const last = offset + dims.reduce((acc, d, i) => acc + (d - 1) * steps[i]!, 0);
      if (last >= numel) throw new Error(`tensor view (offset ${offset}, size [${dims}], stride [${steps}]) reaches past storage ${storage.key} of ${numel} elements`);
    }
    // clone(): the result owns its memory, so it neither aliases tensors sharing the storage nor keeps a big storage alive.
    const t = tidy(() => call1('aten::as_strided', [storage.tensor, dims, steps, offset]).contiguous().clone());
    this.made.push(t);
    return t;
  }

  build(obj: unknown, state: unknown): unknown {
    // OrderedDict attributes (a state dict's `_metadata` of module versions) are not items: drop them, as
    // load_state_dict would only use them for version upgrades.
    if (obj instanceof Map && (state === null || state instanceof Map)) return obj;
    throw new Error(`BUILD (setstate) on ${describe(obj)} is not supported`);
  }
}

function intList(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
    throw new Error(`_rebuild_tensor_v2: bad ${what} ${describe(v)}`);
  }
  return v as number[];
}

function describe(v: unknown): string {
  if (v instanceof Tensor) return `tensor [${v.shape}]`;
  if (v instanceof Map) return 'dict';
  if (v instanceof Storage) return `storage ${v.key}`;
  if (v instanceof StorageType) return `${v.dtype} storage type`;
  if (v instanceof Uint8Array) return `bytes(${v.length})`;
  if (Array.isArray(v)) return `(${v.map(describe).join(', ')})`;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'object' && v !== null && 'qualifiedName' in v) return String((v as PickleCallable).qualifiedName);
  return JSON.stringify(v) ?? String(v);
}

/** Turns the unpickled object into a TorchValue; anything without a TorchValue form is an error. */
function toTorchValue(v: unknown, open: Set<object>): TorchValue {
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string' || v instanceof Tensor) return v;
  // Ints past 2^53 (seeds, hashes) keep their nearest double, as JSON would.
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v) || v instanceof Map) {
    if (open.has(v)) throw new Error('the pickled object contains itself (a cycle)');
    open.add(v);
    try {
      if (Array.isArray(v)) return v.map((x) => toTorchValue(x, open));
      const out = new Map<string | number, TorchValue>();
      for (const [k, x] of v) {
        if (typeof k !== 'string' && typeof k !== 'number' && typeof k !== 'bigint') throw new Error(`dict key ${describe(k)} is not a string or number`);
        out.set(typeof k === 'bigint' ? Number(k) : k, toTorchValue(x, open));
      }
      return out;
    } finally {
      open.delete(v);
    }
  }
  throw new Error(`value ${describe(v)} has no TorchValue form`);
}

/** Every tensor inside a value (each once, even when referenced twice). */
export function tensorsIn(value: TorchValue, out = new Set<Tensor>()): Set<Tensor> {
  if (value instanceof Tensor) out.add(value);
  else if (Array.isArray(value)) for (const x of value) tensorsIn(x, out);
  else if (value instanceof Map) for (const x of value.values()) tensorsIn(x, out);
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

export function decodeTorchFile(bytes: Uint8Array, source = '<buffer>'): TorchValue {
  const zip = new ZipArchive(bytes, source);
  const prefix = archivePrefix(zip, source);
  // Newer torch.save records the writer's byte order; storages are read as little-endian.
  const order = zip.has(`${prefix}byteorder`) ? Buffer.from(zip.read(`${prefix}byteorder`)).toString('latin1').trim() : 'little';
  if (order !== 'little') throw new Error(`${source}: storages are ${order}-endian; only little-endian files are supported`);
  const loader = new Loader(zip, prefix);
  let value: TorchValue | undefined;
  try {
    const raw = unpickle(zip.read(`${prefix}data.pkl`), loader, `${source}: ${prefix}data.pkl`);
    try {
      value = toTorchValue(raw, new Set());
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

export function loadTorchFile(file: string): TorchValue {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as Error).message}`);
  }
  return decodeTorchFile(bytes, file);
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

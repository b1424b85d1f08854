// Hostile inputs for every file parser (src/io/limits.ts): each must fail with
// an Error naming the limit or the broken part, in bounded time and memory —
// pickle bombs, zip bombs, oversize tensor views, lying safetensors headers,
// MAT/IDX element counts. Inputs are built here, byte by byte.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { constants as zlibConstants, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { parseIdx } from '../src/data/idx.js';
import { parseMat } from '../src/data/matlab.js';
import { decodeUtf8Strict, PICKLE_LIMITS, resolveLimits, ZIP_LIMITS } from '../src/io/limits.js';
import { unpickle, type PickleHooks } from '../src/io/pickle.js';
import { decodeSafetensors } from '../src/io/safetensors.js';
import { decodeTorchFile, disposeTorchValue, type TorchFileOptions, type TorchValue } from '../src/io/torchFile.js';
import { ZipArchive } from '../src/io/zip.js';
import { zipOf, type ZipInput } from './helpers/zip-builder.js';
import { dispose, liveTensors, Tensor } from '../src/tensor/index.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'rankshield-limits-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Asserts that `run` throws an Error whose message matches every pattern. */
function throwsMatching(run: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(run, (e: unknown) => {
    assert.ok(e instanceof Error, `threw a non-Error: ${String(e)}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

/**
 * Runs `code` (an ES module body; `dist` is the compiled dist/src URL) in a fresh Node with a hard
 * time bound, and returns the JSON it printed last plus the child's peak RSS in MiB.
 */
function inChild(code: string, timeoutMs = 20_000): { result: Record<string, unknown>; maxRssMiB: number } {
  const dist = new URL('../src/', import.meta.url).href;
  const body = `const dist = ${JSON.stringify(dist)};\n${code}\nconsole.log(JSON.stringify({ ...result, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', body], { encoding: 'utf8', timeout: timeoutMs });
  assert.equal(r.signal, null, `child killed by ${r.signal} (over ${timeoutMs} ms?): ${r.stderr}`);
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  const parsed = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
  return { result: parsed, maxRssMiB: parsed.maxRssMiB as number };
}

// ---------------------------------------------------------------- byte builders

const bytes = (...parts: (number | readonly number[] | string | Uint8Array)[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'number' ? [p] : typeof p === 'string' ? [...Buffer.from(p, 'latin1')] : [...p])));

const int32 = (v: number): number[] => [...new Uint8Array(Int32Array.of(v).buffer)];
const uint32 = (v: number): number[] => [...new Uint8Array(Uint32Array.of(v).buffer)];
const uint64 = (v: bigint): number[] => [...new Uint8Array(BigUint64Array.of(v).buffer)];

/** Pickle opcodes used below. */
const op = {
  PROTO2: [0x80, 2],
  STOP: 0x2e,
  MARK: 0x28,
  NONE: 0x4e,
  DUP: 0x32,
  POP: 0x30,
  TUPLE: 0x74,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  EMPTY_TUPLE: 0x29,
  EMPTY_LIST: 0x5d,
  APPEND: 0x61,
  APPENDS: 0x65,
  BINPUT: 0x71,
  BINGET: 0x68,
  BININT: 0x4a,
  NEWFALSE: 0x89,
  REDUCE: 0x52,
  BINPERSID: 0x51,
} as const;

/** BINUNICODE of a latin1/ASCII string. */
const str = (s: string): number[] => [0x58, ...uint32(s.length), ...Buffer.from(s, 'latin1')];
const global = (module: string, name: string): string => `c${module}\n${name}\n`;
const intTuple = (values: readonly number[]): number[] => [op.MARK, ...values.flatMap((v) => [op.BININT, ...int32(v)]), op.TUPLE];

/** The pickle torch.save writes for one float32 tensor view: _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()). */
function tensorPickle(view: { numel: number; offset: number; size: readonly number[]; stride: readonly number[]; key?: string }): Uint8Array {
  return bytes(
    op.PROTO2,
    global('torch._utils', '_rebuild_tensor_v2'),
    op.MARK,
    [
      op.MARK,
      ...str('storage'),
      ...Buffer.from(global('torch', 'FloatStorage'), 'latin1'),
      ...str(view.key ?? '0'),
      ...str('cpu'),
      op.BININT,
      ...int32(view.numel),
      op.TUPLE,
      op.BINPERSID,
    ],
    [op.BININT, ...int32(view.offset)],
    intTuple(view.size),
    intTuple(view.stride),
    op.NEWFALSE,
    global('collections', 'OrderedDict'),
    [op.EMPTY_TUPLE, op.REDUCE, op.TUPLE, op.REDUCE, op.STOP],
  );
}

/** A torch.save-style archive: archive/data.pkl plus one float32 storage per key. */
function torchZip(pkl: Uint8Array, storages: Record<string, readonly number[]> = {}): Uint8Array {
  const entries: ZipInput[] = [{ name: 'archive/data.pkl', data: pkl }];
  for (const [key, values] of Object.entries(storages)) entries.push({ name: `archive/data/${key}`, data: new Uint8Array(Float32Array.from(values).buffer) });
  return zipOf(entries);
}

/** DEFLATE data that inflates to `mib` MiB of zeros from about 1 KiB per MiB (sync-flushed blocks, repeated). */
function zerosBomb(mib: number): Uint8Array {
  const block = deflateRawSync(Buffer.alloc(1 << 20), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  return Buffer.concat([...Array<Buffer>(mib).fill(block), Buffer.from([0x03, 0x00])]); // 03 00: an empty final block
}

/** Loads a torch file and returns its value (disposing tensors is the caller's job). */
const loadTorch = (pkl: Uint8Array, storages?: Record<string, readonly number[]>, options?: TorchFileOptions): TorchValue =>
  decodeTorchFile(torchZip(pkl, storages), 'hostile.pt', options);

// ---------------------------------------------------------------- pickle

const refuseAll: PickleHooks = {
  global: (m, n) => {
    throw new Error(`unsupported pickle global ${m}.${n}`);
  },
  persistentLoad: () => {
    throw new Error('no persistent ids');
  },
  build: () => {
    throw new Error('no BUILD');
  },
};

describe('pickle limits', () => {
  const bomb = bytes(op.PROTO2, op.NONE, ...Array<number[]>(60).fill([op.DUP, op.TUPLE2]).flat(), op.STOP);

  test('DUP+TUPLE2 ×60 (a 2^60-leaf DAG) loads in a moment, each shared tuple converted once', () => {
    assert.equal(bomb.length, 124);
    const archive = path.join(tmp, 'bomb.pt');
    writeFileSync(archive, torchZip(bomb));
    // A child with a hard time bound: a re-walking loader would never finish.
    const { result } = inChild(`
      const { loadTorchFile, disposeTorchValue } = await import(dist + 'io/torchFile.js');
      const started = Date.now();
      const value = loadTorchFile(${JSON.stringify(archive)});
      let depth = 0, shared = true, node = value;
      while (Array.isArray(node)) { shared &&= node.length === 2 && node[0] === node[1]; node = node[0]; depth++; }
      disposeTorchValue(value);
      const result = { ms: Date.now() - started, depth, shared, leaf: node };`);
    assert.equal(result.depth, 60);
    assert.equal(result.shared, true, 'both slots of every tuple are the same converted array');
    assert.equal(result.leaf, null);
    assert.ok((result.ms as number) < 5000, `took ${String(result.ms)} ms`);
  });

  test('nesting past pickle.maxDepth is an error naming the limit (MARK, tuples, and a list grown later)', () => {
    throwsMatching(
      () => unpickle(bytes(op.PROTO2, Array<number>(1001).fill(op.MARK), op.STOP), refuseAll, 'marks.pkl'),
      /^marks\.pkl: pickle: nesting deeper than 1000 \(limit pickle\.maxDepth\)/,
    );
    throwsMatching(
      () => unpickle(bytes(op.PROTO2, op.NONE, Array<number>(1001).fill(op.TUPLE1), op.STOP), refuseAll, 't.pkl'),
      /nesting deeper than 1000 \(limit pickle\.maxDepth\)/,
    );
    // 1000 levels are fine.
    const deepest = unpickle(bytes(op.PROTO2, op.NONE, Array<number>(1000).fill(op.TUPLE1), op.STOP), refuseAll);
    assert.ok(Array.isArray(deepest));
    // A list put in a tuple, then deepened: the VM's depth of the tuple is stale, the loader's walk is exact.
    const chain = Array<number>(9).fill(op.TUPLE1);
    const grown = bytes(op.PROTO2, op.EMPTY_LIST, op.BINPUT, 0, op.TUPLE1, op.BINGET, 0, op.NONE, chain, op.APPEND, op.POP, op.STOP);
    const before = liveTensors();
    throwsMatching(() => loadTorch(grown, {}, { pickle: { maxDepth: 10 } }), /^hostile\.pt: pickle: nesting deeper than 10 \(limit pickle\.maxDepth\)/);
    assert.equal(liveTensors(), before);
  });

  test('memo, stack and container sizes are capped, each error naming its limit', () => {
    const memo = bytes(
      op.PROTO2,
      op.NONE,
      [0, 1, 2, 3, 4, 5].flatMap((k) => [op.BINPUT, k]),
      op.STOP,
    );
    throwsMatching(() => unpickle(memo, refuseAll, 'm', { maxMemoEntries: 5 }), /memo holds more than 5 entries \(limit pickle\.maxMemoEntries\)/);
    assert.equal(unpickle(memo, refuseAll, 'm', { maxMemoEntries: 6 }), null);
    const rewrites = bytes(op.PROTO2, op.NONE, Array<number[]>(7).fill([op.BINPUT, 0]).flat(), op.STOP);
    assert.equal(unpickle(rewrites, refuseAll, 'm', { maxMemoEntries: 1 }), null, 'rewriting a key does not count twice');
    const stack = bytes(op.PROTO2, Array<number>(6).fill(op.NONE), op.STOP);
    throwsMatching(() => unpickle(stack, refuseAll, 's', { maxStackItems: 5 }), /stack holds more than 5 items \(limit pickle\.maxStackItems\)/);
    // Items saved under a MARK count too.
    const marked = bytes(op.PROTO2, op.NONE, op.NONE, op.NONE, op.MARK, op.NONE, op.NONE, op.NONE, op.STOP);
    throwsMatching(() => unpickle(marked, refuseAll, 's', { maxStackItems: 5 }), /limit pickle\.maxStackItems/);
    const list = bytes(
      op.PROTO2,
      op.EMPTY_LIST,
      op.MARK,
      Array<number>(4).fill(op.NONE),
      op.APPENDS,
      op.MARK,
      Array<number>(4).fill(op.NONE),
      op.APPENDS,
      op.STOP,
    );
    throwsMatching(() => unpickle(list, refuseAll, 'l', { maxContainerItems: 7 }), /a container holds more than 7 items \(limit pickle\.maxContainerItems\)/);
    assert.deepEqual(unpickle(list, refuseAll, 'l', { maxContainerItems: 8 }), Array<null>(8).fill(null));
    const tuple = bytes(op.PROTO2, op.MARK, Array<number>(9).fill(op.NONE), op.TUPLE, op.STOP);
    throwsMatching(() => unpickle(tuple, refuseAll, 't', { maxContainerItems: 8 }), /limit pickle\.maxContainerItems/);
  });

  test('huge length claims fail on the data present; huge integers fail on pickle.maxIntBytes', () => {
    throwsMatching(
      () => unpickle(bytes(op.PROTO2, 0x8d, uint64(1n << 62n), 'abc', op.STOP), refuseAll, 'p'),
      /length 4611686018427387904 is larger than the data/,
    );
    throwsMatching(() => unpickle(bytes(op.PROTO2, 0x58, uint32(0xffffffff), 'abc', op.STOP), refuseAll, 'p'), /needs 4294967295 more bytes/);
    throwsMatching(() => unpickle(bytes(op.PROTO2, 0x8e, uint64(1n << 40n), op.STOP), refuseAll, 'p'), /is larger than the data/);
    const longInt = bytes(op.PROTO2, 0x8b, int32(2000), new Uint8Array(2000), op.STOP);
    throwsMatching(() => unpickle(longInt, refuseAll, 'p'), /an integer of 2000 bytes is longer than 1024 \(limit pickle\.maxIntBytes\)/);
    throwsMatching(() => unpickle(bytes(op.PROTO2, 'I', '9'.repeat(5000), '\n', op.STOP), refuseAll, 'p'), /limit pickle\.maxIntBytes/);
    // Within the limit, LONG4 still decodes two's complement exactly.
    const minus = bytes(op.PROTO2, 0x8b, int32(9), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], op.STOP);
    assert.equal(unpickle(minus, refuseAll), -1);
    const big = bytes(op.PROTO2, 0x8a, 9, [0, 0, 0, 0, 0, 0, 0, 0, 1], op.STOP);
    assert.equal(unpickle(big, refuseAll), 1n << 64n);
  });

  test('strings must be valid UTF-8; the error names the string and its offset', () => {
    const short = (b: number[]): Uint8Array => bytes(op.PROTO2, 0x8c, b.length, b, op.STOP);
    assert.equal(unpickle(short([0x68, 0xc3, 0xa9]), refuseAll), 'hé');
    assert.equal(unpickle(short([0xef, 0xbb, 0xbf, 0x61]), refuseAll), '\ufeffa', 'a BOM is kept, as Python keeps it');
    for (const bad of [
      [0xc3, 0x28],
      [0xc0, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xe2, 0x82],
    ]) {
      throwsMatching(() => unpickle(short(bad), refuseAll, 'u.pkl'), /^u\.pkl: pickle: string is not valid UTF-8 \(\d bytes\) \(opcode at byte 2\)/);
    }
    throwsMatching(() => unpickle(bytes(op.PROTO2, 0x58, uint32(1), [0xff], op.STOP), refuseAll, 'u.pkl'), /string is not valid UTF-8/);
  });
});

// ---------------------------------------------------------------- zip

describe('zip limits', () => {
  test('declared sizes beyond zip.maxEntryBytes / zip.maxInflatedBytes are refused before inflating', () => {
    const payload = new Uint8Array(16);
    throwsMatching(
      () => new ZipArchive(zipOf([{ name: 'big', data: payload, deflate: true, declaredSize: 2 ** 31 }]), 'z.zip'),
      /^z\.zip: invalid zip archive: entry 'big' declares 2147483648 bytes, more than 1073741824 \(limit zip\.maxEntryBytes\)/,
    );
    const twoHalves = zipOf([
      { name: 'a', data: payload, deflate: true, declaredSize: 2 ** 29 + 1 },
      { name: 'b', data: payload, deflate: true, declaredSize: 2 ** 29 },
    ]);
    throwsMatching(
      () => new ZipArchive(twoHalves, 'z.zip'),
      /entry 'b' brings the declared inflated size to 1073741825 bytes, more than 1073741824 \(limit zip\.maxInflatedBytes\)/,
    );
    // STORED entries are the file's own bytes: they do not count towards the inflated total.
    const stored = new ZipArchive(zipOf([{ name: 's', data: payload }]), 'z.zip', { maxInflatedBytes: 1 });
    assert.deepEqual(Buffer.from(stored.read('s')), Buffer.from(payload));
    throwsMatching(
      () => new ZipArchive(zipOf([{ name: 's', data: payload }]), 'z.zip', { maxEntryBytes: 8 }),
      /entry 's' declares 16 bytes, more than 8 \(limit zip\.maxEntryBytes\)/,
    );
  });

  test('a 3 GiB zip bomb is refused without being inflated, by the declared size and by maxOutputLength', () => {
    const bombFile = path.join(tmp, 'zip-bomb');
    const inflatesTo = 3 * 1024;
    writeFileSync(bombFile, zerosBomb(inflatesTo));
    // Honest header: caught by the cap. Lying header (1000 bytes): inflation stops at 1000.
    const { result, maxRssMiB } = inChild(`
      const { readFileSync } = await import('node:fs');
      const { ZipArchive } = await import(dist + 'io/zip.js');
      const compressed = readFileSync(${JSON.stringify(bombFile)});
      const messages = [];
      for (const declared of [${inflatesTo} * 2 ** 20, 1000]) {
        const zip = buildZip(compressed, declared);
        try { new ZipArchive(zip, 'bomb.zip').read('zeros'); messages.push('no error'); }
        catch (e) { messages.push(e.message); }
      }
      function buildZip(body, size) {
        const local = Buffer.alloc(30), central = Buffer.alloc(46), end = Buffer.alloc(22), name = Buffer.from('zeros');
        local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(8, 8); local.writeUInt32LE(body.length, 18); local.writeUInt32LE(size, 22); local.writeUInt16LE(5, 26);
        central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE(8, 10); central.writeUInt32LE(body.length, 20); central.writeUInt32LE(size, 24); central.writeUInt16LE(5, 28);
        end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(1, 8); end.writeUInt16LE(1, 10); end.writeUInt32LE(51, 12); end.writeUInt32LE(35 + body.length, 16);
        return Buffer.concat([local, name, body, central, name, end]);
      }
      const result = { messages };`);
    const [honest, lying] = result.messages as string[];
    assert.match(honest!, /^bomb\.zip: invalid zip archive: entry 'zeros' declares 3221225472 bytes, more than 1073741824 \(limit zip\.maxEntryBytes\)/);
    assert.match(lying!, /^bomb\.zip: invalid zip archive: entry 'zeros' inflates to more than the 1000 bytes its directory entry declares/);
    assert.ok(maxRssMiB < 400, `the child peaked at ${maxRssMiB.toFixed(0)} MiB: something was inflated`);
  });

  test('inflated entries are checked for length and CRC-32; names must be UTF-8', () => {
    const data = Buffer.from('hello hello hello hello');
    assert.deepEqual(Buffer.from(new ZipArchive(zipOf([{ name: 'ok', data, deflate: true }])).read('ok')), data);
    throwsMatching(
      () => new ZipArchive(zipOf([{ name: 'short', data, deflate: true, declaredSize: data.length + 5 }]), 'z').read('short'),
      /entry 'short' is 23 bytes, the directory says 28/,
    );
    const corrupt = zipOf([{ name: 'crc', data, deflate: true }]);
    corrupt[corrupt.length - 22 - 46 - 'crc'.length + 16]! ^= 0x01; // the central directory's CRC-32, the one checked
    throwsMatching(() => new ZipArchive(corrupt, 'z').read('crc'), /entry 'crc' fails its CRC-32 check/);
    throwsMatching(
      () =>
        new ZipArchive(
          zipOf([
            { name: 'ok', data },
            { name: Uint8Array.of(0x61, 0xff), data },
          ]),
          'n.zip',
        ),
      /^n\.zip: invalid zip archive: the name of central directory entry 1 is not valid UTF-8/,
    );
    assert.deepEqual(new ZipArchive(zipOf([{ name: 'dossier/café', data }])).names, ['dossier/café']);
  });

  test('limit overrides must be positive integers naming a known limit', () => {
    assert.throws(() => resolveLimits(ZIP_LIMITS, { maxEntryBytes: 0 }, 'zip'), /limit zip\.maxEntryBytes must be a positive integer, got 0/);
    assert.throws(() => resolveLimits(ZIP_LIMITS, { maxEntries: Number.NaN }, 'zip'), /must be a positive integer/);
    assert.throws(() => resolveLimits(PICKLE_LIMITS, { maxDepht: 3 } as Partial<typeof PICKLE_LIMITS>, 'pickle'), /unknown limit pickle\.maxDepht/);
    assert.equal(resolveLimits(PICKLE_LIMITS, { maxDepth: 7 }, 'pickle').maxDepth, 7);
    assert.equal(PICKLE_LIMITS.maxDepth, 1000, 'overrides do not change the defaults');
    assert.throws(() => decodeUtf8Strict(Uint8Array.of(0x80), 'the thing'), /^Error: the thing is not valid UTF-8$/);
  });
});

// ---------------------------------------------------------------- torch tensor views

describe('torch file tensor views', () => {
  test('a hand-made file loads: strided view, a legitimate stride-0 expand', () => {
    const before = liveTensors();
    const t = loadTorch(tensorPickle({ numel: 4, offset: 0, size: [2, 2], stride: [1, 2] }), { 0: [1, 2, 3, 4] });
    assert.ok(t instanceof Tensor);
    assert.deepEqual(t.toArray(), [1, 3, 2, 4]);
    const expanded = loadTorch(tensorPickle({ numel: 1, offset: 0, size: [3], stride: [0] }), { 0: [7] });
    assert.ok(expanded instanceof Tensor);
    assert.deepEqual(expanded.toArray(), [7, 7, 7]);
    dispose([t, expanded]);
    assert.equal(liveTensors(), before);
  });

  test('a stride-0 view asking for 40 GB is refused before anything is allocated', () => {
    const before = liveTensors();
    const huge = tensorPickle({ numel: 1, offset: 0, size: [100_000, 100_000], stride: [0, 0], key: 'w0' });
    throwsMatching(
      () => loadTorch(huge, { w0: [1] }),
      /tensor view \(offset 0, size \[100000,100000\], stride \[0,0\]\) of storage w0 has 10000000000 elements, more than 268435456 \(limit torch\.maxTensorElements\)/,
    );
    const deep = tensorPickle({ numel: 1, offset: 0, size: Array<number>(65).fill(1), stride: Array<number>(65).fill(0) });
    throwsMatching(() => loadTorch(deep, { 0: [1] }), /has more than 64 dimensions \(limit torch\.maxTensorDims\)/);
    throwsMatching(
      () => loadTorch(tensorPickle({ numel: 4, offset: 0, size: [4], stride: [1] }), { 0: [1, 2, 3, 4] }, { maxTensorElements: 3 }),
      /limit torch\.maxTensorElements/,
    );
    assert.equal(liveTensors(), before);
  });

  test('views must stay inside their storage; sizes, strides and offsets must be non-negative integers', () => {
    const before = liveTensors();
    const storage = { s: [1, 2, 3, 4] };
    const view = (offset: number, size: number[], stride: number[]): Uint8Array => tensorPickle({ numel: 4, offset, size, stride, key: 's' });
    throwsMatching(() => loadTorch(view(0, [5], [1]), storage), /of storage s reaches element 4, past the storage's 4 elements/);
    throwsMatching(() => loadTorch(view(3, [2], [1]), storage), /reaches element 4/);
    throwsMatching(() => loadTorch(view(0, [2, 2], [3, 1]), storage), /reaches element 4/);
    throwsMatching(() => loadTorch(view(9, [0], [1]), storage), /of storage s starts past the end of its 4 elements/);
    throwsMatching(() => loadTorch(view(0, [2], [-1]), storage), /_rebuild_tensor_v2: bad stride \(-1\) \(storage s\)/);
    throwsMatching(() => loadTorch(view(-1, [1], [1]), storage), /bad storage offset -1 \(storage s\)/);
    throwsMatching(() => loadTorch(view(0, [2, 1], [1]), storage), /differ in length \(storage s\)/);
    const empty = loadTorch(view(4, [0], [1]), storage);
    assert.ok(empty instanceof Tensor && empty.numel === 0, 'an empty view at the very end is fine');
    empty.dispose();
    assert.equal(liveTensors(), before);
  });

  test('a storage whose bytes differ from numel × dtype size is refused (checked on the directory first)', () => {
    const before = liveTensors();
    const pkl = tensorPickle({ numel: 8, offset: 0, size: [8], stride: [1], key: 'k' });
    throwsMatching(() => loadTorch(pkl, { k: [1, 2, 3, 4] }), /^hostile\.pt: archive\/data\.pkl: storage k has 16 bytes, expected 8 × float32 = 32/);
    throwsMatching(() => loadTorch(pkl, { k: Array<number>(9).fill(0) }), /storage k has 36 bytes, expected 8 × float32 = 32/);
    throwsMatching(() => loadTorch(pkl, {}), /storage k is missing \(no archive\/data\/k in the archive\)/);
    assert.equal(liveTensors(), before);
  });

  test('a tensor shared through the memo stays one tensor; a self-containing list is a cycle error', () => {
    const before = liveTensors();
    const tensorOps = tensorPickle({ numel: 2, offset: 0, size: [2], stride: [1] });
    const shared = bytes(tensorOps.subarray(0, tensorOps.length - 1), op.DUP, op.TUPLE2, op.STOP);
    const value = loadTorch(shared, { 0: [5, 6] });
    assert.ok(Array.isArray(value) && value[0] instanceof Tensor && value[0] === value[1]);
    disposeTorchValue(value);
    const cycle = bytes(op.PROTO2, op.EMPTY_LIST, op.DUP, op.APPEND, op.STOP);
    throwsMatching(() => loadTorch(cycle), /^hostile\.pt: the pickled object contains itself \(a cycle\)/);
    assert.equal(liveTensors(), before);
  });
});

// ---------------------------------------------------------------- safetensors

/** A safetensors file from a header (object or raw bytes) and `dataLength` zero bytes of data. */
function safetensorsFile(header: unknown, dataLength = 0): Uint8Array {
  const json = header instanceof Uint8Array ? header : Buffer.from(JSON.stringify(header), 'utf8');
  const out = new Uint8Array(8 + json.length + dataLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

describe('safetensors limits', () => {
  const decodeFails = (file: Uint8Array, pattern: RegExp, limits?: Parameters<typeof decodeSafetensors>[2]): void => {
    const before = liveTensors();
    throwsMatching(() => decodeSafetensors(file, 'h.safetensors', limits), /^h\.safetensors: invalid safetensors file: /, pattern);
    assert.equal(liveTensors(), before);
  };

  test('header size: the length is checked against safetensors.maxHeaderBytes before anything is read', () => {
    const claim = new Uint8Array(16);
    new DataView(claim.buffer).setBigUint64(0, 100_000_001n, true);
    decodeFails(claim, /header length 100000001 is more than 100000000 bytes \(limit safetensors\.maxHeaderBytes\)/);
    decodeFails(safetensorsFile({ __metadata__: { a: 'b'.repeat(40) } }), /more than 16 bytes \(limit safetensors\.maxHeaderBytes\)/, { maxHeaderBytes: 16 });
  });

  test('the header must be valid UTF-8, start with "{" and have no duplicate keys', () => {
    decodeFails(safetensorsFile(bytes('{"__metadata__":{"a":"', [0xff, 0xfe], '"}}')), /header is not valid UTF-8/);
    decodeFails(safetensorsFile(bytes(' {}')), /header does not start with '\{'/);
    decodeFails(
      safetensorsFile(bytes('{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}'), 1),
      /header has the key "x" twice/,
    );
    decodeFails(safetensorsFile(bytes('{"__metadata__":{"k":"1","k":"2"}}')), /header has the key "k" twice/);
    // The same key in different objects, and escaped quotes in keys, are fine.
    const ok = decodeSafetensors(safetensorsFile(bytes('{"__metadata__":{"x":"a\\"b","y\\"":"c"},"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}'), 1));
    assert.deepEqual(ok.metadata, { x: 'a"b', 'y"': 'c' });
    dispose([...ok.tensors.values()]);
  });

  test('dtype lies: offsets must match shape × dtype size exactly, and the tensors must tile the buffer', () => {
    decodeFails(safetensorsFile({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 2] } }, 2), /tensor 'w' has 2 bytes but shape \[2\] of float32 needs 8/);
    decodeFails(safetensorsFile({ w: { dtype: 'F64', shape: [1], data_offsets: [0, 4] } }, 4), /has 4 bytes but shape \[1\] of float64 needs 8/);
    decodeFails(safetensorsFile({ w: { dtype: 'I4', shape: [1], data_offsets: [0, 1] } }, 1), /tensor 'w' has unknown dtype "I4"/);
    decodeFails(safetensorsFile({ w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 4] } }, 4), /needs/);
    decodeFails(
      safetensorsFile({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, v: { dtype: 'F32', shape: [1], data_offsets: [2, 6] } }, 6),
      /tensors 'w' and 'v' overlap/,
    );
    decodeFails(safetensorsFile({ w: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, 4), /fall outside the 4-byte data buffer/);
    decodeFails(safetensorsFile({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 8), /4 trailing bytes that belong to no tensor/);
    decodeFails(
      safetensorsFile({ w: { dtype: 'U8', shape: Array<number>(65).fill(1), data_offsets: [0, 1] } }, 1),
      /tensor 'w' has 65 dimensions, more than 64 \(limit safetensors\.maxTensorDims\)/,
    );
    // A same-size lie (F32 declared as I32) is consistent, so it loads, as the declared dtype.
    const { tensors } = decodeSafetensors(safetensorsFile({ w: { dtype: 'I32', shape: [1], data_offsets: [0, 4] } }, 4));
    assert.equal(tensors.get('w')!.dtype, 'int32');
    dispose([...tensors.values()]);
  });

  test('__metadata__ maps strings to strings only; odd keys stay data', () => {
    decodeFails(safetensorsFile({ __metadata__: { epoch: 3 } }), /metadata value 'epoch' is not a string/);
    decodeFails(safetensorsFile({ __metadata__: { nested: { a: 'b' } } }), /metadata value 'nested' is not a string/);
    decodeFails(safetensorsFile({ __metadata__: { list: ['a'] } }), /metadata value 'list' is not a string/);
    decodeFails(safetensorsFile({ __metadata__: 'text' }), /__metadata__ is not an object/);
    const { metadata } = decodeSafetensors(safetensorsFile(bytes('{"__metadata__":{"__proto__":"x","constructor":"y"}}')));
    assert.equal(Object.getPrototypeOf(metadata), Object.prototype, 'the prototype is untouched');
    assert.deepEqual(Object.entries(metadata), [
      ['__proto__', 'x'],
      ['constructor', 'y'],
    ]);
  });
});

// ---------------------------------------------------------------- MAT and IDX

/** MAT v5 little-endian building blocks (as test/data-images.test.ts writes them). */
const mat = {
  element(type: number, payload: Uint8Array): Buffer {
    const tag = Buffer.alloc(8);
    tag.writeUInt32LE(type, 0);
    tag.writeUInt32LE(payload.length, 4);
    return Buffer.concat([tag, payload, Buffer.alloc((8 - (payload.length % 8)) % 8)]);
  },
  matrix(cls: number, dims: readonly number[], body: readonly Uint8Array[], name = ''): Buffer {
    const flags = Buffer.alloc(8);
    flags.writeUInt32LE(cls, 0);
    const d = Buffer.alloc(4 * dims.length);
    dims.forEach((v, i) => d.writeUInt32LE(v, 4 * i));
    return mat.element(14, Buffer.concat([mat.element(6, flags), mat.element(6, d), mat.element(1, Buffer.from(name, 'latin1')), ...body]));
  },
  file(...vars: readonly Uint8Array[]): Buffer {
    const header = Buffer.alloc(128, 0x20);
    header.write('MATLAB 5.0 MAT-file, hostile test', 0, 'latin1');
    header.writeUInt16LE(0x0100, 124);
    header.write('IM', 126, 'latin1');
    return Buffer.concat([header, ...vars]);
  },
  compressed(el: Uint8Array): Buffer {
    const z = deflateSync(el);
    const tag = Buffer.alloc(8);
    tag.writeUInt32LE(15, 0);
    tag.writeUInt32LE(z.length, 4);
    return Buffer.concat([tag, z]);
  },
};
const CELL = 1;
const STRUCT = 2;
const CHAR = 4;
const DOUBLE = 6;

describe('MAT and IDX limits', () => {
  const matFails = (file: Uint8Array, pattern: RegExp, limits?: Parameters<typeof parseMat>[2]): void =>
    throwsMatching(() => parseMat(file, 'h.mat', limits), /^h\.mat: /, pattern);

  test('MAT: element counts beyond the bytes present, or beyond mat.maxArrayElements', () => {
    matFails(mat.file(mat.matrix(CELL, [1, 1 << 20], [], 'c')), /array 'c': 1048576 elements need at least 8388608 bytes, only 0 left/);
    matFails(
      mat.file(mat.matrix(DOUBLE, [0xffffffff, 0xffffffff], [mat.element(9, new Uint8Array(8))], 'x')),
      /array 'x' \(dims \[4294967295, 4294967295\]\) has 18446744065119617000 elements, more than 16777216 \(limit mat\.maxArrayElements\)/,
    );
    matFails(mat.file(mat.matrix(DOUBLE, [1, 3], [mat.element(9, new Uint8Array(8))], 'x')), /array 'x': 1 values for dims \[1, 3\]/);
    const names = Buffer.alloc(8);
    names.write('f', 0, 'latin1');
    const struct = mat.matrix(STRUCT, [1, 1 << 20], [mat.element(5, Uint8Array.of(8, 0, 0, 0)), mat.element(1, names)], 's');
    matFails(mat.file(struct), /array 's': 1048576 elements need at least/);
    // A struct array without fields takes no bytes: its elements share one empty map.
    const fieldless = parseMat(
      mat.file(mat.matrix(STRUCT, [1, 1 << 20], [mat.element(5, Uint8Array.of(8, 0, 0, 0)), mat.element(1, new Uint8Array(0))], 'e')),
      'e.mat',
    ).get('e');
    assert.ok(fieldless?.kind === 'struct' && fieldless.elements.length === 1 << 20 && fieldless.elements[0] === fieldless.elements[12345]);
  });

  test('MAT: too many dims, nesting past mat.maxDepth, inflation past mat.maxInflatedBytes, nested compression', () => {
    matFails(
      mat.file(mat.matrix(DOUBLE, Array<number>(65).fill(1), [mat.element(9, new Uint8Array(8))])),
      /array has 65 dimensions, more than 64 \(limit mat\.maxDims\)/,
    );
    let nested = mat.matrix(DOUBLE, [0, 0], []);
    for (let i = 0; i < 101; i++) nested = mat.matrix(CELL, [1, 1], [nested]);
    matFails(mat.file(nested), /arrays nested deeper than 100 \(limit mat\.maxDepth\)/);
    const values = mat.matrix(DOUBLE, [1, 1 << 17], [mat.element(9, new Uint8Array(8 << 17))], 'z');
    matFails(mat.file(mat.compressed(values)), /compressed element at byte 128 inflates past 65536 bytes in all \(limit mat\.maxInflatedBytes\)/, {
      maxInflatedBytes: 1 << 16,
    });
    matFails(mat.file(mat.compressed(mat.compressed(values))), /compressed element at byte 0 inside compressed data/);
    const roundTrip = parseMat(mat.file(mat.compressed(values)), 'ok.mat').get('z');
    assert.ok(roundTrip?.kind === 'numeric' && roundTrip.data.length === 1 << 17);
  });

  test('MAT: char data must be valid UTF-8 / Unicode code points', () => {
    const utf8 = (b: number[]): Buffer => mat.file(mat.matrix(CHAR, [1, 1], [mat.element(16, Uint8Array.from(b))], 't'));
    const good = parseMat(utf8([0xc3, 0xa9]), 'ok.mat').get('t');
    assert.deepEqual(good, { kind: 'char', dims: [1, 1], text: 'é' });
    matFails(utf8([0xc3]), /array 't': text is not valid UTF-8/);
    matFails(
      mat.file(mat.matrix(CHAR, [1, 1], [mat.element(18, Uint8Array.of(0, 0, 0x11, 0))], 't')),
      /array 't': character code 1114112 is not a Unicode code point/,
    );
  });

  test('IDX: dims beyond the file length, too many dims, gzip past idx.maxInflatedBytes', () => {
    const header = Buffer.alloc(16);
    header.writeUInt32BE(0x803, 0);
    header.fill(0xff, 4);
    throwsMatching(() => parseIdx(header, 'i.idx', 3), /^i\.idx: truncated: dims \[4294967295, 4294967295, 4294967295\] need 7\.9\d+e\+28 data bytes, found 0/);
    const manyDims = Buffer.alloc(8);
    manyDims.writeUInt32BE(0x8c8, 0);
    throwsMatching(() => parseIdx(manyDims, 'i.idx', 3), /^i\.idx: IDX header declares 200 dimensions, more than 8 \(limit idx\.maxDims\)/);
    throwsMatching(() => parseIdx(manyDims, 'i.idx', 9), /cannot read IDX arrays of 9 dimensions \(1 to 8, limit idx\.maxDims\)/);
    const labels = Buffer.alloc(8 + (2 << 20));
    labels.writeUInt32BE(0x801, 0);
    labels.writeUInt32BE(2 << 20, 4);
    throwsMatching(
      () => parseIdx(gzipSync(labels), 'l.gz', 1, { maxInflatedBytes: 1 << 20 }),
      /^l\.gz: gzip data inflates past 1048576 bytes \(limit idx\.maxInflatedBytes\)/,
    );
    assert.equal(parseIdx(gzipSync(labels), 'l.gz', 1).dims[0], 2 << 20);
  });
});

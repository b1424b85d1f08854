// src/io: safetensors (exact round trips, every corruption case named, no leaks,
// atomic writes) and the torch.save reader (zip + pickle VM) against fixtures
// written by real PyTorch (test/fixtures/make_torch_fixtures.py).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic, writeFileAtomicSync } from '../src/io/atomic.js';
import { unpickle, type PickleHooks } from '../src/io/pickle.js';
import { decodeSafetensors, encodeSafetensors, loadSafetensors, saveSafetensors } from '../src/io/safetensors.js';
import { decodeTorchFile, disposeTorchValue, loadTorchFile, stateDictOf, type TorchValue } from '../src/io/torchFile.js';
import { crc32, ZipArchive } from '../src/io/zip.js';
import { dispose, liveTensors, Tensor, tensor, tidy, zeros, type DType } from '../src/tensor/index.js';
import { nearRelative } from './helpers/assert.js';

// Tests run from dist/test; fixtures stay in the source tree.
const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures');
const fixture = (name: string): string => path.join(FIXTURES, name);

const tmp = mkdtempSync(path.join(os.tmpdir(), 'rankshield-io-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function bytesOf(t: Tensor): Uint8Array {
  const d = t.data();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** A safetensors file from a literal header and a data buffer of `dataLength` bytes. */
function rawFile(header: unknown, dataLength = 0, headerText?: string): Uint8Array {
  const json = Buffer.from(headerText ?? JSON.stringify(header), 'utf8');
  const out = new Uint8Array(8 + json.length + dataLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

describe('safetensors', () => {
  test('round trip of every dtype, an empty tensor and shape []', () => {
    const before = liveTensors();
    tidy(() => {
      const dtypes: DType[] = ['float32', 'float64', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool', 'float16', 'bfloat16'];
      const src = new Map<string, Tensor>();
      for (const d of dtypes)
        src.set(d, tensor(d === 'bool' ? [1, 0, 1, 1, 0, 1] : [1, -2, 3, 0, 5, 6].map((v) => (d === 'uint8' ? Math.abs(v) : v)), [2, 3], d));
      src.set('big_int64', tensor([2 ** 40, -(2 ** 50)], [2], 'int64'));
      src.set('empty', zeros([2, 0]));
      src.set('scalar', tensor(3.25, []));
      src.set('transposed', tensor([1, 2, 3, 4, 5, 6], [2, 3]).t());
      const back = decodeSafetensors(encodeSafetensors(src));
      assert.deepEqual([...back.tensors.keys()].sort(), [...src.keys()].sort());
      for (const [k, t] of src) {
        const r = back.tensors.get(k)!;
        assert.equal(r.dtype, t.dtype, k);
        assert.deepEqual(r.shape, t.shape, k);
        assert.deepEqual(bytesOf(r), bytesOf(t.contiguous()), `${k} bytes`);
      }
      assert.deepEqual(back.tensors.get('transposed')!.toArray(), [1, 4, 2, 5, 3, 6]);
      assert.deepEqual(back.tensors.get('scalar')!.shape, []);
      assert.equal(back.tensors.get('scalar')!.item(), 3.25);
      assert.equal(back.tensors.get('empty')!.numel, 0);
      assert.deepEqual(back.metadata, {});
    });
    assert.equal(liveTensors(), before);
  });

  test('layout: sorted names, header padded with spaces to 8 bytes, contiguous offsets, metadata', () => {
    tidy(() => {
      const bytes = encodeSafetensors({ b: tensor([1, 2, 3]), a: tensor([7], [1], 'int16') }, { epoch: '3', note: 'héllo' });
      const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
      assert.equal(n % 8, 0);
      const text = Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8');
      assert.match(text, /^\{.*\} *$/);
      const header = JSON.parse(text) as Record<string, { data_offsets: number[]; dtype: string }>;
      assert.deepEqual(Object.keys(header), ['__metadata__', 'a', 'b']);
      assert.deepEqual(header.a!.data_offsets, [0, 2]);
      assert.equal(header.a!.dtype, 'I16');
      assert.deepEqual(header.b!.data_offsets, [2, 14]);
      assert.equal(bytes.length, 8 + n + 14);
      const back = decodeSafetensors(bytes);
      assert.deepEqual(back.metadata, { epoch: '3', note: 'héllo' });
      assert.deepEqual(back.tensors.get('b')!.toArray(), [1, 2, 3]);
      dispose([...back.tensors.values()]);
    });
  });

  const corrupt: [string, Uint8Array, RegExp][] = [
    ['fewer than 8 bytes', new Uint8Array(3), /only 3 bytes/],
    [
      'header length past EOF',
      (() => {
        const b = rawFile({});
        new DataView(b.buffer).setBigUint64(0, 1000n, true);
        return b;
      })(),
      /header length 1000 runs past the end/,
    ],
    ['header not JSON', rawFile(null, 0, '{"a": '), /not valid JSON/],
    ['header a JSON array', rawFile([1, 2]), /not a JSON object/],
    ['unknown dtype', rawFile({ x: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }, 1), /tensor 'x' has unknown dtype "F8"/],
    ['negative dimension', rawFile({ x: { dtype: 'U8', shape: [-1], data_offsets: [0, 0] } }), /tensor 'x' has a bad shape/],
    ['fractional dimension', rawFile({ x: { dtype: 'U8', shape: [1.5], data_offsets: [0, 1] } }, 1), /bad shape/],
    ['shape not a list', rawFile({ x: { dtype: 'U8', shape: 'big', data_offsets: [0, 1] } }, 1), /bad shape/],
    ['entry not an object', rawFile({ x: 5 }), /entry 'x' is not an object/],
    ['offsets past the buffer', rawFile({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 4), /\[0, 8\] fall outside the 4-byte data buffer/],
    ['offsets reversed', rawFile({ x: { dtype: 'U8', shape: [0], data_offsets: [3, 1] } }, 4), /fall outside/],
    ['offsets malformed', rawFile({ x: { dtype: 'U8', shape: [1], data_offsets: [0] } }, 4), /bad data_offsets/],
    ['length ≠ numel·itemsize', rawFile({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), /has 8 bytes but shape \[3\] of float32 needs 12/],
    [
      'overlapping tensors',
      rawFile(
        {
          x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
          y: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
        },
        12,
      ),
      /tensors 'x' and 'y' overlap/,
    ],
    ['metadata value not a string', rawFile({ __metadata__: { epoch: 3 } }), /metadata value 'epoch' is not a string/],
    ['metadata not an object', rawFile({ __metadata__: ['a'] }), /__metadata__ is not an object/],
  ];
  for (const [what, bytes, message] of corrupt) {
    test(`corrupt file: ${what}`, () => {
      const before = liveTensors();
      assert.throws(
        () => decodeSafetensors(bytes, 'bad.safetensors'),
        (e: Error) => {
          assert.match(e.message, /^bad\.safetensors: /);
          assert.match(e.message, message);
          return true;
        },
      );
      assert.equal(liveTensors(), before);
    });
  }

  test('a valid tensor before a bad one leaks nothing', () => {
    const before = liveTensors();
    const bytes = rawFile(
      {
        a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
        z: { dtype: 'F32', shape: [1], data_offsets: [4, 12] },
      },
      12,
    );
    assert.throws(() => decodeSafetensors(bytes, 'two.safetensors'), /two\.safetensors: .*tensor 'z' has 8 bytes/);
    assert.equal(liveTensors(), before);
  });

  test('empty tensors may share an offset with a real one', () => {
    const bytes = rawFile(
      {
        e: { dtype: 'F32', shape: [0], data_offsets: [0, 0] },
        x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
      },
      4,
    );
    const { tensors } = decodeSafetensors(bytes);
    assert.deepEqual(tensors.get('e')!.shape, [0]);
    dispose([...tensors.values()]);
  });

  test('save/load through a file: atomic, parent dirs created, no temp file left', () => {
    const before = liveTensors();
    const file = path.join(tmp, 'nested', 'deeper', 'ckpt.safetensors');
    tidy(() => saveSafetensors(file, { w: tensor([1, 2, 3, 4], [2, 2]), step: tensor([5], [1], 'int64') }, { run: 'x' }));
    const nine = tidy(() => tensor([9], [1]));
    saveSafetensors(file, new Map([['w', nine]]), { run: 'y' }); // overwrites the first file whole
    nine.dispose();
    const { tensors, metadata } = loadSafetensors(file);
    assert.deepEqual(metadata, { run: 'y' });
    assert.deepEqual([...tensors.keys()], ['w']);
    assert.deepEqual(tensors.get('w')!.toArray(), [9]);
    dispose([...tensors.values()]);
    assert.deepEqual(readdirSync(path.dirname(file)), ['ckpt.safetensors']);
    assert.equal(liveTensors(), before);
  });

  test('load errors name the file', () => {
    const missing = path.join(tmp, 'missing.safetensors');
    assert.throws(() => loadSafetensors(missing), new RegExp(`cannot read ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const junk = path.join(tmp, 'junk.safetensors');
    writeFileSync(junk, 'abc');
    assert.throws(() => loadSafetensors(junk), /junk\.safetensors: invalid safetensors file: only 3 bytes/);
  });
});

describe('atomic writes', () => {
  test('sync and async writes replace the file whole and leave no temp file', async () => {
    const dir = path.join(tmp, 'atomic', 'sub');
    const file = path.join(dir, 'out.txt');
    writeFileAtomicSync(file, 'first');
    assert.equal(readFileSync(file, 'utf8'), 'first');
    await writeFileAtomic(file, [Buffer.from('sec'), Buffer.from('ond')]);
    assert.equal(readFileSync(file, 'utf8'), 'second');
    writeFileAtomicSync(file, [Buffer.from('th'), Buffer.from('ird')]);
    assert.equal(readFileSync(file, 'utf8'), 'third');
    assert.deepEqual(readdirSync(dir), ['out.txt']);
  });

  test('a failed write throws naming the file and removes its temp file', async () => {
    const dir = path.join(tmp, 'atomic-fail');
    const target = path.join(dir, 'target');
    writeFileAtomicSync(path.join(target, 'inner'), 'x'); // `target` is now a directory: renaming a file over it fails
    assert.throws(() => writeFileAtomicSync(target, 'data'), /cannot write .*target/);
    await assert.rejects(writeFileAtomic(target, 'data'), /cannot write .*target/);
    assert.deepEqual(readdirSync(dir), ['target']);
  });
});

interface Expected {
  shape: number[];
  dtype: string;
  sum: number;
  first: number[];
}
const EXPECTED = JSON.parse(readFileSync(fixture('tiny_state_dict.json'), 'utf8')) as Record<string, Expected>;

function checkStateDict(sd: Map<string | number, TorchValue>, source: string): void {
  assert.deepEqual([...sd.keys()].sort(), Object.keys(EXPECTED).sort(), source);
  for (const [key, want] of Object.entries(EXPECTED)) {
    const t = sd.get(key);
    assert.ok(t instanceof Tensor, `${source} ${key} is a tensor`);
    assert.deepEqual(t.shape, want.shape, `${key} shape`);
    assert.equal(t.dtype, want.dtype, `${key} dtype`);
    const values = t.toArray();
    nearRelative(
      values.reduce((a, b) => a + b, 0),
      want.sum,
      1e-5,
      `${key} sum`,
    );
    want.first.forEach((v, i) => nearRelative(values[i]!, v, 1e-5, `${key}[${i}]`));
  }
}

/** A STORED zip written entirely in zip64 form (every 32-bit size/offset field 0xFFFFFFFF), to test that path. */
function zip64Of(entries: [string, Uint8Array][]): Uint8Array {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const n = Buffer.from(name, 'utf8');
    const local = Buffer.alloc(30 + n.length + 20);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(45, 4);
    local.writeUInt32LE(crc32(data), 14);
    local.writeUInt32LE(0xffffffff, 18);
    local.writeUInt32LE(0xffffffff, 22);
    local.writeUInt16LE(n.length, 26);
    local.writeUInt16LE(20, 28);
    n.copy(local, 30);
    local.writeUInt16LE(1, 30 + n.length);
    local.writeUInt16LE(16, 32 + n.length);
    local.writeBigUInt64LE(BigInt(data.length), 34 + n.length);
    local.writeBigUInt64LE(BigInt(data.length), 42 + n.length);
    const cd = Buffer.alloc(46 + n.length + 28);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(45, 4);
    cd.writeUInt16LE(45, 6);
    cd.writeUInt32LE(crc32(data), 16);
    cd.writeUInt32LE(0xffffffff, 20);
    cd.writeUInt32LE(0xffffffff, 24);
    cd.writeUInt16LE(n.length, 28);
    cd.writeUInt16LE(28, 30);
    cd.writeUInt32LE(0xffffffff, 42);
    n.copy(cd, 46);
    cd.writeUInt16LE(1, 46 + n.length);
    cd.writeUInt16LE(24, 48 + n.length);
    cd.writeBigUInt64LE(BigInt(data.length), 50 + n.length);
    cd.writeBigUInt64LE(BigInt(data.length), 58 + n.length);
    cd.writeBigUInt64LE(BigInt(offset), 66 + n.length);
    parts.push(local, Buffer.from(data));
    central.push(cd);
    offset += local.length + data.length;
  }
  const cdBytes = Buffer.concat(central);
  const end = Buffer.alloc(56 + 20 + 22);
  end.writeUInt32LE(0x06064b50, 0);
  end.writeBigUInt64LE(44n, 4);
  end.writeUInt16LE(45, 12);
  end.writeUInt16LE(45, 14);
  end.writeBigUInt64LE(BigInt(entries.length), 24);
  end.writeBigUInt64LE(BigInt(entries.length), 32);
  end.writeBigUInt64LE(BigInt(cdBytes.length), 40);
  end.writeBigUInt64LE(BigInt(offset), 48);
  end.writeUInt32LE(0x07064b50, 56);
  end.writeBigUInt64LE(BigInt(offset + cdBytes.length), 64);
  end.writeUInt32LE(1, 72);
  end.writeUInt32LE(0x06054b50, 76);
  end.writeUInt16LE(0xffff, 84);
  end.writeUInt16LE(0xffff, 86);
  end.writeUInt32LE(0xffffffff, 88);
  end.writeUInt32LE(0xffffffff, 92);
  return Buffer.concat([...parts, cdBytes, end]);
}

describe('torch.save files', () => {
  test('a state dict: keys, shapes, dtypes, sums and first values match PyTorch', () => {
    const before = liveTensors();
    const value = loadTorchFile(fixture('tiny_state_dict.pt'));
    assert.ok(value instanceof Map);
    checkStateDict(value, 'tiny_state_dict.pt');
    // Insertion order is the state dict's order.
    assert.deepEqual([...value.keys()].slice(0, 3), ['conv.weight', 'conv.bias', 'bn.weight']);
    disposeTorchValue(value);
    assert.equal(liveTensors(), before);
  });

  test('strided and shared-storage tensors are rebuilt as independent contiguous tensors', () => {
    const before = liveTensors();
    const sd = stateDictOf(loadTorchFile(fixture('tiny_state_dict.pt')));
    // arange(12).reshape(3, 4).t(): storage order is row-major of the 3×4, strides (1, 4).
    assert.deepEqual(sd.get('extra.transposed')!.toArray(), [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
    // base = arange(10) * 3; shared_a = base[:4]; shared_b = base[4:].view(2, 3) (storage offset 4).
    const a = sd.get('extra.shared_a')!;
    const b = sd.get('extra.shared_b')!;
    assert.deepEqual(a.toArray(), [0, 3, 6, 9]);
    assert.deepEqual(b.toArray(), [12, 15, 18, 21, 24, 27]);
    a.dispose();
    assert.deepEqual(b.toArray(), [12, 15, 18, 21, 24, 27], 'b survives a being freed');
    assert.equal(sd.get('bn.num_batches_tracked')!.item(), 7);
    assert.deepEqual(sd.get('extra.bool')!.toArray(), [1, 0, 1, 1]);
    dispose([...sd.values()]);
    assert.equal(liveTensors(), before);
  });

  test('a DEFLATE-compressed archive reads the same', () => {
    const before = liveTensors();
    const value = loadTorchFile(fixture('tiny_deflated.pt'));
    assert.ok(value instanceof Map);
    checkStateDict(value, 'tiny_deflated.pt');
    disposeTorchValue(value);
    assert.equal(liveTensors(), before);
  });

  test('a zip64 archive reads the same', () => {
    const before = liveTensors();
    const zip = new ZipArchive(readFileSync(fixture('tiny_state_dict.pt')));
    const rebuilt = zip64Of([...zip.entries.keys()].map((name): [string, Uint8Array] => [name, zip.read(name)]));
    const value = decodeTorchFile(rebuilt, 'zip64.pt');
    assert.ok(value instanceof Map);
    checkStateDict(value, 'zip64.pt');
    disposeTorchValue(value);
    assert.equal(liveTensors(), before);
  });

  test('a protocol-4 checkpoint: scalars, lists, tuples, a Parameter; stateDictOf picks model', () => {
    const before = liveTensors();
    const value = loadTorchFile(fixture('tiny_checkpoint.pt'));
    assert.ok(value instanceof Map);
    assert.equal(value.get('epoch'), 3);
    assert.equal(value.get('lr'), 0.125);
    assert.equal(value.get('big'), 2 ** 40);
    assert.equal(value.get('neg'), -5);
    assert.equal(value.get('name'), 'tiny');
    assert.equal(value.get('done'), true);
    assert.equal(value.get('best'), null);
    assert.deepEqual(value.get('milestones'), [10, 20]);
    assert.deepEqual(value.get('pair'), [1, 'a']);
    const param = value.get('param');
    assert.ok(param instanceof Tensor);
    assert.deepEqual(param.toArray(), [1.5, -2.5]);
    checkStateDict(value.get('model') as Map<string, TorchValue>, 'tiny_checkpoint.pt model');
    const sd = stateDictOf(value, 'tiny_checkpoint.pt');
    assert.equal(sd.size, Object.keys(EXPECTED).length);
    assert.ok(param.isDisposed, 'tensors outside the state dict are freed');
    dispose([...sd.values()]);
    assert.equal(liveTensors(), before);
  });

  test('stateDictOf: a {state_dict: ...} wrapper, and a clear error when there is none', () => {
    const before = liveTensors();
    const inner = tidy(() => new Map<string, TorchValue>([['w', tensor([1, 2])]]));
    const extra = tidy(() => tensor([3]));
    const sd = stateDictOf(
      new Map<string, TorchValue>([
        ['state_dict', inner],
        ['optimizer', extra],
        ['epoch', 1],
      ]),
    );
    assert.deepEqual([...sd.keys()], ['w']);
    assert.ok(extra.isDisposed);
    dispose([...sd.values()]);
    const lonely = tidy(() => tensor([1]));
    assert.throws(
      () =>
        stateDictOf(
          new Map<string, TorchValue>([
            ['epoch', 1],
            ['t', [lonely]],
          ]),
          'x.pt',
        ),
      /x\.pt: no state dict found .*top level: epoch, t/,
    );
    assert.ok(lonely.isDisposed);
    assert.throws(() => stateDictOf(3), /no state dict found/);
    assert.equal(liveTensors(), before);
  });

  test('a pickle calling os.system is refused, without running it', () => {
    const before = liveTensors();
    assert.throws(() => loadTorchFile(fixture('malicious.pt')), /malicious\.pt: .*unsupported pickle global os\.system/);
    assert.equal(liveTensors(), before);
  });

  test('truncated or corrupt archives give clear errors and leak nothing', () => {
    const before = liveTensors();
    const good = readFileSync(fixture('tiny_state_dict.pt'));
    for (const cut of [10, good.length >> 1, good.length - 30]) {
      assert.throws(() => decodeTorchFile(good.subarray(0, cut), 'cut.pt'), /^Error: cut\.pt: invalid zip archive: .*(truncated|not a zip)/);
    }
    assert.throws(() => decodeTorchFile(new Uint8Array(0), 'empty.pt'), /empty\.pt: invalid zip archive: only 0 bytes/);
    // Flip one byte inside a late storage: earlier tensors are already built when the CRC check fails.
    const zip = new ZipArchive(good);
    const entry = zip.entries.get('tiny_state_dict/data/9')!;
    const bad = Uint8Array.from(good);
    const dataStart =
      entry.localHeaderOffset + 30 + bad[entry.localHeaderOffset + 26]! + (bad[entry.localHeaderOffset + 28]! | (bad[entry.localHeaderOffset + 29]! << 8));
    bad[dataStart + 3]! ^= 0xff;
    assert.throws(() => decodeTorchFile(bad, 'flipped.pt'), /flipped\.pt: invalid zip archive: entry 'tiny_state_dict\/data\/9' fails its CRC-32 check/);
    // Not a zip at all (a safetensors file).
    const notZip = tidy(() => encodeSafetensors({ w: tensor([1, 2]) }));
    assert.throws(() => decodeTorchFile(notZip, 'weights.safetensors'), /weights\.safetensors: invalid zip archive: no end-of-central-directory record/);
    assert.equal(liveTensors(), before);
  });
});

describe('pickle VM', () => {
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
  const pickle = (...parts: (number[] | string)[]): Uint8Array =>
    Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...Buffer.from(p, 'latin1')] : p)));

  test('plain values, memo and containers', () => {
    // protocol 2: {'a': [1, 300, -2, True, None, 1.5], 'b': ('x', 'x')}
    const bytes = pickle(
      [0x80, 2, 0x7d, 0x71, 0, 0x28],
      [0x58, 1, 0, 0, 0],
      'a',
      [0x5d, 0x71, 1, 0x28, 0x4b, 1, 0x4d, 0x2c, 1, 0x4a, 0xfe, 0xff, 0xff, 0xff, 0x88, 0x4e],
      [0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0x65],
      [0x8c, 1],
      'b',
      [0x8c, 1],
      'x',
      [0x94, 0x68, 2, 0x86, 0x75, 0x2e],
    );
    const v = unpickle(bytes, refuseAll) as Map<string, unknown>;
    assert.deepEqual(v.get('a'), [1, 300, -2, true, null, 1.5]);
    assert.deepEqual(v.get('b'), ['x', 'x']);
  });

  test('GLOBAL os.system is refused with its offset', () => {
    assert.throws(
      () => unpickle(pickle("cos\nsystem\n(S'echo pwned'\ntR."), refuseAll, 'evil.pkl'),
      /evil\.pkl: unsupported pickle global os\.system \(pickle opcode at byte 0\)/,
    );
  });

  test('unknown opcodes and truncation name the byte and offset', () => {
    assert.throws(() => unpickle(pickle([0x80, 2, 0xff]), refuseAll, 'p'), /p: pickle: unknown or unsupported opcode 0xff \(opcode at byte 2\)/);
    assert.throws(() => unpickle(pickle([0x80, 2, 0x58, 9, 0, 0, 0, 0x61]), refuseAll, 'p'), /needs 9 more bytes/);
    assert.throws(() => unpickle(pickle([0x80, 2, 0x4e]), refuseAll, 'p'), /data ends before STOP/);
    assert.throws(() => unpickle(pickle([0x68, 5, 0x2e]), refuseAll, 'p'), /memo key 5 is not set/);
    assert.throws(() => unpickle(pickle([0x2e]), refuseAll, 'p'), /stack underflow/);
  });
});

test('safetensors: the data buffer must be tiled exactly, BOOL bytes are 0/1, odd names survive', () => {
  const live = liveTensors();
  const cases: [Uint8Array, RegExp][] = [
    [rawFile({ a: { dtype: 'U8', shape: [1], data_offsets: [1, 2] } }, 2), /bytes 0\.\.1 of the data buffer belong to no tensor/],
    [rawFile({ a: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }, 3), /2 trailing bytes that belong to no tensor/],
    [withData(rawFile({ b: { dtype: 'BOOL', shape: [2], data_offsets: [0, 2] } }, 2), [1, 7]), /tensor 'b' is BOOL but element 1 is 7/],
  ];
  for (const [bytes, re] of cases)
    assert.throws(
      () => decodeSafetensors(bytes, 'odd.safetensors'),
      (e: Error) => /odd\.safetensors/.test(e.message) && re.test(e.message),
    );
  tidy(() => {
    const { tensors } = decodeSafetensors(
      encodeSafetensors(
        new Map([
          ['__proto__', tensor([1, 2])],
          ['constructor', tensor([3])],
        ]),
      ),
    );
    assert.deepEqual([...tensors.keys()].sort(), ['__proto__', 'constructor']);
    assert.deepEqual(tensors.get('__proto__')!.toArray(), [1, 2]);
    dispose([...tensors.values()]);
  });
  assert.equal(liveTensors(), live);
});

/** Writes data bytes at the end of a raw file made by rawFile. */
function withData(file: Uint8Array, data: number[]): Uint8Array {
  file.set(data, file.length - data.length);
  return file;
}

// safetensors checkpoints: exact round trips for every dtype, a hand-built file,
// and clear errors (naming the file) for truncated or garbage input, without leaks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { arange, liveTensors, tensor, tidy, zeros } from '../src/tensor/index.js';
import { decodeSafetensors, encodeSafetensors, loadSafetensors, saveSafetensors } from '../src/io/safetensors.js';

test('round trip of every dtype, scalar and empty shapes, metadata', () => {
  const before = liveTensors();
  tidy(() => {
    const src = {
      f32: tensor([[1.5, -2], [3, 4]]),
      f64: tensor([1e-300, 2], [2], 'float64'),
      i64: tensor([2 ** 40, -3], [2], 'int64'),
      i32: tensor([7, -8], [2], 'int32'),
      u8: tensor([0, 255], [2], 'uint8'),
      b: tensor([1, 0, 1], [3], 'bool'),
      f16: tensor([0.5, 2], [2], 'float16'),
      scalar: tensor(3.25, []),
      empty: zeros([0, 4]),
      strided: arange(6, undefined, 1, { dtype: 'float32' }).view(2, 3).t(),
    };
    const bytes = encodeSafetensors(src, { epoch: '3', note: 'hello' });
    const back = decodeSafetensors(bytes);
    assert.deepEqual(back.metadata, { epoch: '3', note: 'hello' });
    for (const [k, t] of Object.entries(src)) {
      const r = back.tensors.get(k)!;
      assert.equal(r.dtype, t.dtype, k);
      assert.deepEqual(r.shape, t.shape, k);
      assert.deepEqual(r.toArray(), t.toArray(), k);
    }
    for (const t of back.tensors.values()) t.dispose();
    // header is 8-byte aligned and names are sorted
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(n % 8, 0);
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(header).filter((k) => k !== '__metadata__'), Object.keys(src).sort());
  });
  assert.equal(liveTensors(), before);
});

test('decodes a hand-built file', () => {
  const json = JSON.stringify({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, __metadata__: { format: 'pt' } });
  const head = Buffer.from(json);
  const buf = Buffer.alloc(8 + head.length + 8);
  buf.writeBigUInt64LE(BigInt(head.length), 0);
  head.copy(buf, 8);
  buf.writeFloatLE(1.5, 8 + head.length);
  buf.writeFloatLE(-4, 12 + head.length);
  const { tensors, metadata } = decodeSafetensors(buf, 'hand.safetensors');
  assert.deepEqual(tensors.get('w')!.toArray(), [1.5, -4]);
  assert.deepEqual(metadata, { format: 'pt' });
  tensors.get('w')!.dispose();
});

test('corrupt, truncated and garbage files give errors that name the file and the problem', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rankshield-st-'));
  const good = tidy(() => encodeSafetensors({ a: tensor([1, 2, 3]), b: tensor([4]) }));
  const before = liveTensors();
  const cases: [Uint8Array, RegExp][] = [
    [good.subarray(0, 5), /shorter than the 8-byte header length/],
    [good.subarray(0, 20), /header length \d+ runs past the end of the file/],
    [good.subarray(0, good.length - 4), /fall outside the \d+-byte data buffer/],
    [Buffer.concat([Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{x]')]), /header is not valid JSON/],
    [withHeader({ a: { dtype: 'F99', shape: [1], data_offsets: [0, 4] } }, 4), /unknown dtype "F99"/],
    [withHeader({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), /bad shape/],
    [withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, 4), /has 4 bytes but shape \[2\] of float32 needs 8/],
    [withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [2, 6] } }, 8), /overlap/],
    [withHeader({ __metadata__: { n: 1 } }, 0), /metadata value 'n' is not a string/],
    [withHeader([1, 2] as unknown as Record<string, unknown>, 0), /header is not a JSON object/],
  ];
  for (const [bytes, re] of cases) {
    const file = path.join(dir, 'bad.safetensors');
    writeFileSync(file, bytes);
    assert.throws(() => loadSafetensors(file), (e: Error) => e.message.includes(file) && re.test(e.message), `expected ${re}`);
  }
  assert.throws(() => loadSafetensors(path.join(dir, 'missing.safetensors')), /cannot read .*missing\.safetensors/);
  assert.equal(liveTensors(), before);
});

test('saves atomically: no temporary file is left and the content loads back', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rankshield-st-'));
  const file = path.join(dir, 'sub', 'x.safetensors');
  tidy(() => saveSafetensors(file, new Map([['x', tensor([1, 2])]]), { k: 'v' }));
  assert.deepEqual(readdirSync(path.dirname(file)), ['x.safetensors']);
  const { tensors, metadata } = loadSafetensors(file);
  assert.deepEqual(tensors.get('x')!.toArray(), [1, 2]);
  assert.deepEqual(metadata, { k: 'v' });
  tensors.get('x')!.dispose();
});

function withHeader(header: Record<string, unknown>, dataBytes: number): Uint8Array {
  const head = Buffer.from(JSON.stringify(header));
  const buf = Buffer.alloc(8 + head.length + dataBytes);
  buf.writeBigUInt64LE(BigInt(head.length), 0);
  head.copy(buf, 8);
  return buf;
}

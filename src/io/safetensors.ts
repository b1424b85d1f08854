// Layer: io. The safetensors format: an 8-byte little-endian header length N,
// N bytes of JSON ({name: {dtype, shape, data_offsets}, "__metadata__": {…}}),
// then one byte buffer holding every tensor row-major, little-endian, at the
// given [begin, end) offsets. Used for checkpoints because it is simple, safe
// (no code in the file) and readable by PyTorch users through `safetensors`.
//
// Reading is strict, as the format's spec asks: the header is at most
// SAFETENSORS_LIMITS.maxHeaderBytes of valid UTF-8 JSON starting with '{',
// with no duplicate keys; every tensor has a known dtype, a shape of
// non-negative integers and exactly shape × itemsize bytes; the tensors tile
// the data buffer with no gap or overlap; __metadata__ maps strings to strings.
import { readFileSync } from 'node:fs';
import { dispose, dtypeSize, type DType, type Tensor } from '../tensor/index.js';
import { writeFileAtomicSync } from './atomic.js';
import { decodeUtf8Strict, resolveLimits, SAFETENSORS_LIMITS, type SafetensorsLimits } from './limits.js';
import { tensorFromBytes, tensorToBytes } from './tensor-bytes.js';

const TO_FILE: Record<DType, string> = {
  float32: 'F32',
  float64: 'F64',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};
const FROM_FILE = new Map<string, DType>(Object.entries(TO_FILE).map(([k, v]) => [v, k as DType]));

/** A decoded safetensors file: tensors by name and the string metadata. */
export interface SafetensorsContent {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

type Named = ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>;

function entries(t: Named): [string, Tensor][] {
  return t instanceof Map ? [...t] : Object.entries(t as Record<string, Tensor>);
}

/** Tensors by name (plus string metadata) in the safetensors format, as bytes. */
export function encodeSafetensors(tensors: Named, metadata: Record<string, string> = {}): Uint8Array {
  const list = entries(tensors).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // A null-prototype object so a tensor named like an Object.prototype member ('__proto__') is an ordinary key.
  const header: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of list) {
    if (name === '__metadata__') throw new Error("a tensor cannot be named '__metadata__'");
    const bytes = tensorToBytes(t);
    header[name] = { dtype: TO_FILE[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    blobs.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // keeps the buffer 8-byte aligned
  const head = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const b of blobs) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

interface Entry {
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

/** JSON for an error message, cut short: header values can be megabytes long. */
function brief(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/** Reads the JSON header: size, UTF-8, syntax, a '{' first, no duplicate keys. Returns the parsed object. */
function readHeaderJson(bytes: Uint8Array, limits: SafetensorsLimits, fail: (why: string) => never): { header: Record<string, unknown>; dataStart: number } {
  if (bytes.length < 8) fail(`only ${bytes.length} bytes, shorter than the 8-byte header length`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
  if (n > BigInt(limits.maxHeaderBytes)) fail(`header length ${n} is more than ${limits.maxHeaderBytes} bytes (limit safetensors.maxHeaderBytes)`);
  if (n > BigInt(bytes.length - 8)) fail(`header length ${n} runs past the end of the file (${bytes.length} bytes)`);
  const dataStart = 8 + Number(n);
  let text = '';
  try {
    text = decodeUtf8Strict(bytes.subarray(8, dataStart), 'header');
  } catch (e) {
    fail((e as Error).message);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('header is not a JSON object');
  if (!text.startsWith('{')) fail("header does not start with '{'");
  const duplicate = firstDuplicateKey(text);
  if (duplicate !== undefined) fail(`header has the key ${brief(duplicate)} twice`);
  return { header: header as Record<string, unknown>, dataStart };
}

/**
 * The first key that appears twice in one object of `text` (valid JSON), which JSON.parse would
 * silently resolve to the last value. One linear scan, keeping the keys of each open object.
 */
function firstDuplicateKey(text: string): string | undefined {
  const open: Set<string>[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      const end = stringEnd(text, i);
      const after = skipSpace(text, end);
      if (text[after] === ':') {
        const key = JSON.parse(text.slice(i, end)) as string;
        const keys = open[open.length - 1]!;
        if (keys.has(key)) return key;
        keys.add(key);
      }
      i = end;
    } else {
      if (c === '{') open.push(new Set());
      else if (c === '}') open.pop();
      i++;
    }
  }
  return undefined;
}

/** Index just past the string literal opening at `start` (the text is valid JSON). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
  return i + 1;
}

function skipSpace(text: string, from: number): number {
  let i = from;
  while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  return i;
}

function parseHeader(
  bytes: Uint8Array,
  source: string,
  limits: SafetensorsLimits,
): { entries: Map<string, Entry>; metadata: Record<string, string>; dataStart: number } {
  const fail = (why: string): never => {
    throw new Error(`${source}: invalid safetensors file: ${why}`);
  };
  const { header, dataStart } = readHeaderJson(bytes, limits, fail);
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const out = new Map<string, Entry>();
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('__metadata__ is not an object');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`metadata value '${k}' is not a string`);
        // defineProperty: a key named '__proto__' is data, not the object's prototype.
        Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(`entry '${name}' is not an object`);
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = typeof e.dtype === 'string' ? FROM_FILE.get(e.dtype) : undefined;
    if (dtype === undefined) fail(`tensor '${name}' has unknown dtype ${brief(e.dtype)}`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor '${name}' has a bad shape ${brief(shape)}`);
    if ((shape as number[]).length > limits.maxTensorDims) {
      fail(`tensor '${name}' has ${(shape as number[]).length} dimensions, more than ${limits.maxTensorDims} (limit safetensors.maxTensorDims)`);
    }
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`tensor '${name}' has bad data_offsets ${brief(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    if (begin > end || end > dataLength) fail(`tensor '${name}' data_offsets [${begin}, ${end}] fall outside the ${dataLength}-byte data buffer`);
    const need = (shape as number[]).reduce((a, b) => a * b, 1) * dtypeSize(dtype!);
    if (end - begin !== need) fail(`tensor '${name}' has ${end - begin} bytes but shape [${shape}] of ${dtype} needs ${need}`);
    out.set(name, { dtype: dtype!, shape: shape as number[], begin, end });
  }
  // Sorted by (begin, end) so an empty tensor at a shared offset never reads as an overlap.
  const sorted = [...out.entries()].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  // Like the reference reader, the tensors must tile the data buffer exactly: no gap, no trailing bytes.
  let covered = 0;
  let previous = '';
  for (const [name, e] of sorted) {
    if (e.begin < covered) fail(`tensors '${previous}' and '${name}' overlap`);
    if (e.begin > covered) fail(`bytes ${covered}..${e.begin} of the data buffer belong to no tensor (before '${name}')`);
    covered = e.end;
    previous = name;
  }
  if (covered !== dataLength) fail(`the data buffer has ${dataLength - covered} trailing bytes that belong to no tensor`);
  return { entries: out, metadata, dataStart };
}

/** `limits` overrides SAFETENSORS_LIMITS for this call. */
export function decodeSafetensors(bytes: Uint8Array, source = '<buffer>', limits?: Partial<SafetensorsLimits>): SafetensorsContent {
  const { entries: list, metadata, dataStart } = parseHeader(bytes, source, resolveLimits(SAFETENSORS_LIMITS, limits, 'safetensors'));
  const tensors = new Map<string, Tensor>();
  try {
    for (const [name, e] of list) {
      if (e.dtype === 'bool') {
        const raw = bytes.subarray(dataStart + e.begin, dataStart + e.end);
        const bad = raw.findIndex((v) => v > 1);
        if (bad >= 0) throw new Error(`tensor '${name}' is BOOL but element ${bad} is ${raw[bad]} (must be 0 or 1)`);
      }
      tensors.set(name, tensorFromBytes(bytes.subarray(dataStart + e.begin, dataStart + e.end), e.shape, e.dtype));
    }
  } catch (err) {
    dispose([...tensors.values()]);
    throw new Error(`${source}: ${(err as Error).message}`);
  }
  return { tensors, metadata };
}

/** Writes atomically (tmp + fsync + rename). */
export function saveSafetensors(file: string, tensors: Named, metadata: Record<string, string> = {}): void {
  writeFileAtomicSync(file, encodeSafetensors(tensors, metadata));
}

/** Reads a safetensors file; the caller owns (disposes) the tensors. `limits` overrides SAFETENSORS_LIMITS. */
export function loadSafetensors(file: string, limits?: Partial<SafetensorsLimits>): SafetensorsContent {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as Error).message}`);
  }
  return decodeSafetensors(bytes, file, limits);
}

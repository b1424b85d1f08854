// Layer: data. A small reader for MATLAB Level 5 MAT-files (the format of
// Cars-196's cars_annos.mat). Supports what annotation files contain: numeric
// and logical arrays, char arrays, cell arrays and struct arrays, inside
// miMATRIX elements that may be zlib-compressed (miCOMPRESSED, MAT 7 default).
// Not supported (clear error): sparse arrays, objects, complex char data, HDF5
// based v7.3 files.
//
// Reference: "MAT-File Format", MathWorks, Level 5 chapter. Layout: a 128-byte
// header (116 text, 8 subsystem offset, version 0x0100, endian indicator "IM"
// when written little-endian), then data elements, each an 8-byte tag
// (type, byte count) or a "small element" 4-byte tag with ≤4 data bytes.
//
// Hostile input: inflation, nesting, dimensions and element counts are bounded
// by MAT_LIMITS (src/io/limits.ts), element counts are checked against the
// bytes present before anything is allocated, and UTF-8 text must be valid.
import { readFile } from 'node:fs/promises';
import { inflateSync } from 'node:zlib';
import { decodeUtf8Strict, MAT_LIMITS, resolveLimits, type MatLimits } from '../io/limits.js';

/** A decoded MATLAB array. Dimensions are MATLAB's (column-major element order). */
export type MatValue =
  | { readonly kind: 'numeric'; readonly dims: readonly number[]; readonly data: Float64Array }
  | { readonly kind: 'char'; readonly dims: readonly number[]; readonly text: string }
  | { readonly kind: 'cell'; readonly dims: readonly number[]; readonly cells: readonly MatValue[] }
  | {
      readonly kind: 'struct';
      readonly dims: readonly number[];
      readonly fieldNames: readonly string[];
      readonly elements: readonly ReadonlyMap<string, MatValue>[];
    };

// Data types (miXXX) and array classes (mxXXX) from the format document.
const mi = {
  INT8: 1,
  UINT8: 2,
  INT16: 3,
  UINT16: 4,
  INT32: 5,
  UINT32: 6,
  SINGLE: 7,
  DOUBLE: 9,
  INT64: 12,
  UINT64: 13,
  MATRIX: 14,
  COMPRESSED: 15,
  UTF8: 16,
  UTF16: 17,
  UTF32: 18,
} as const;
const mx = {
  CELL: 1,
  STRUCT: 2,
  OBJECT: 3,
  CHAR: 4,
  SPARSE: 5,
  DOUBLE: 6,
  SINGLE: 7,
  INT8: 8,
  UINT8: 9,
  INT16: 10,
  UINT16: 11,
  INT32: 12,
  UINT32: 13,
  INT64: 14,
  UINT64: 15,
} as const;
const COMPLEX_FLAG = 0x0800;
const HEADER_BYTES = 128;
/** Every element of a cell or struct array is a data element with at least an 8-byte tag. */
const MIN_ELEMENT_BYTES = 8;
/** The elements of a struct array without fields take no bytes: they share this one (read-only) map. */
const NO_FIELDS: ReadonlyMap<string, MatValue> = new Map();

/** One data element: its type and its payload bytes. */
interface Element {
  readonly type: number;
  readonly bytes: Uint8Array;
  /** Offset of the next element in the enclosing buffer. */
  readonly next: number;
}

class MatParser {
  /** Bytes inflated so far, the whole file together (bounded by limits.maxInflatedBytes). */
  #inflated = 0;

  constructor(
    readonly file: string,
    readonly littleEndian: boolean,
    readonly limits: MatLimits,
  ) {}

  fail(msg: string): never {
    throw new Error(`${this.file}: ${msg}`);
  }

  view(b: Uint8Array): DataView {
    return new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  /**
   * Reads the element at `offset` of `buf`, decompressing miCOMPRESSED. MATLAB compresses whole
   * variables only, so an miCOMPRESSED inside inflated data (`inflated`) is refused: it would only
   * serve to multiply a zip bomb.
   */
  element(buf: Uint8Array, offset: number, inflated = false): Element {
    if (offset + 8 > buf.length && !(offset + 4 <= buf.length && this.isSmall(buf, offset))) this.fail(`truncated data element tag at byte ${offset}`);
    const v = this.view(buf);
    const first = v.getUint32(offset, this.littleEndian);
    if (first >>> 16 !== 0) {
      // Small element: type in the low 16 bits, byte count in the high 16, data in the next 4 bytes.
      const n = first >>> 16;
      if (n > 4) this.fail(`small data element at byte ${offset} claims ${n} bytes`);
      if (offset + 8 > buf.length) this.fail(`truncated small data element at byte ${offset}`);
      return { type: first & 0xffff, bytes: buf.subarray(offset + 4, offset + 4 + n), next: offset + 8 };
    }
    const n = v.getUint32(offset + 4, this.littleEndian);
    const start = offset + 8;
    if (start + n > buf.length) this.fail(`data element at byte ${offset} (type ${first}) needs ${n} bytes, only ${buf.length - start} left`);
    const bytes = buf.subarray(start, start + n);
    if (first === mi.COMPRESSED) {
      if (inflated) this.fail(`compressed element at byte ${offset} inside compressed data`);
      const inner = this.element(this.inflate(bytes, offset), 0, true);
      return { type: inner.type, bytes: inner.bytes, next: start + n };
    }
    return { type: first, bytes, next: start + Math.ceil(n / 8) * 8 };
  }

  /** Inflates one miCOMPRESSED payload within what is left of limits.maxInflatedBytes. */
  inflate(bytes: Uint8Array, offset: number): Uint8Array {
    const max = this.limits.maxInflatedBytes;
    const tooMuch = (): never => this.fail(`compressed element at byte ${offset} inflates past ${max} bytes in all (limit mat.maxInflatedBytes)`);
    const left = max - this.#inflated;
    if (left < 1) tooMuch();
    let out: Uint8Array;
    try {
      out = inflateSync(bytes, { maxOutputLength: left });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') tooMuch();
      this.fail(`corrupt compressed element at byte ${offset} (${e instanceof Error ? e.message : String(e)})`);
    }
    this.#inflated += out.length;
    return out;
  }

  /** Throws unless an array of `count` elements is within limits.maxArrayElements. */
  checkCount(count: number, where: string): void {
    const max = this.limits.maxArrayElements;
    if (count > max) this.fail(`${where} has ${count} elements, more than ${max} (limit mat.maxArrayElements)`);
  }

  isSmall(buf: Uint8Array, offset: number): boolean {
    return this.view(buf).getUint32(offset, this.littleEndian) >>> 16 !== 0;
  }

  /** Numeric payload of any miXXX numeric type, widened to float64. */
  numbers(e: Element): Float64Array {
    const v = this.view(e.bytes);
    const le = this.littleEndian;
    const read = (size: number, get: (o: number) => number): Float64Array => {
      if (e.bytes.length % size !== 0) this.fail(`numeric element of type ${e.type} has ${e.bytes.length} bytes, not a multiple of ${size}`);
      // Widening to float64 multiplies the bytes by up to 8: bound the count before allocating.
      this.checkCount(e.bytes.length / size, `numeric element of type ${e.type}`);
      return Float64Array.from({ length: e.bytes.length / size }, (_, i) => get(i * size));
    };
    switch (e.type) {
      case mi.INT8:
        return read(1, (o) => v.getInt8(o));
      case mi.UINT8:
      case mi.UTF8:
        return read(1, (o) => v.getUint8(o));
      case mi.INT16:
        return read(2, (o) => v.getInt16(o, le));
      case mi.UINT16:
      case mi.UTF16:
        return read(2, (o) => v.getUint16(o, le));
      case mi.INT32:
        return read(4, (o) => v.getInt32(o, le));
      case mi.UINT32:
      case mi.UTF32:
        return read(4, (o) => v.getUint32(o, le));
      case mi.SINGLE:
        return read(4, (o) => v.getFloat32(o, le));
      case mi.DOUBLE:
        return read(8, (o) => v.getFloat64(o, le));
      case mi.INT64:
        return read(8, (o) => Number(v.getBigInt64(o, le)));
      case mi.UINT64:
        return read(8, (o) => Number(v.getBigUint64(o, le)));
      default:
        return this.fail(`element type ${e.type} is not numeric`);
    }
  }

  /** Array dimensions: 2 to limits.maxDims non-negative integers (numbers() bounds the allocation). */
  dims(e: Element): number[] {
    const dims = Array.from(this.numbers(e));
    const max = this.limits.maxDims;
    if (dims.length > max) this.fail(`array has ${dims.length} dimensions, more than ${max} (limit mat.maxDims)`);
    if (dims.length < 2 || dims.some((d) => !Number.isInteger(d) || d < 0)) this.fail(`bad array dimensions [${dims.join(', ')}]`);
    return dims;
  }

  /** Each of `elements` sub-arrays needs a tag: a count the remaining bytes cannot hold is a lie. */
  checkRoom(elements: number, bytesLeft: number, where: string): void {
    if (elements * MIN_ELEMENT_BYTES > bytesLeft) {
      this.fail(`${where}: ${elements} elements need at least ${elements * MIN_ELEMENT_BYTES} bytes, only ${bytesLeft} left`);
    }
  }

  utf8(bytes: Uint8Array, where: string): string {
    try {
      return decodeUtf8Strict(bytes, `${where}: text`);
    } catch (e) {
      return this.fail((e as Error).message);
    }
  }

  /** One character of a UTF-16/32 (or numeric) char array; String.fromCodePoint would throw a bare RangeError. */
  codePoint(code: number, where: string): string {
    if (!Number.isInteger(code) || code < 0 || code > 0x10ffff) this.fail(`${where}: character code ${code} is not a Unicode code point`);
    return String.fromCodePoint(code);
  }

  ascii(e: Element): string {
    let s = '';
    for (const b of e.bytes) {
      if (b === 0) break; // names are NUL-padded
      s += String.fromCharCode(b);
    }
    return s;
  }

  /** Parses the payload of one miMATRIX element, `depth` cells/structs down. Returns its name and value. */
  matrix(e: Element, depth = 0): { name: string; value: MatValue } {
    if (e.type !== mi.MATRIX) this.fail(`expected a matrix element (type 14), got type ${e.type}`);
    if (depth > this.limits.maxDepth) this.fail(`arrays nested deeper than ${this.limits.maxDepth} (limit mat.maxDepth)`);
    const b = e.bytes;
    // MATLAB writes empty cells/fields as a matrix element with no payload.
    if (b.length === 0) return { name: '', value: { kind: 'numeric', dims: [0, 0], data: new Float64Array(0) } };
    const flagsEl = this.element(b, 0);
    if (flagsEl.type !== mi.UINT32 || flagsEl.bytes.length < 8) this.fail('matrix element without array flags');
    const flags = this.view(flagsEl.bytes).getUint32(0, this.littleEndian);
    const cls = flags & 0xff;
    const dimsEl = this.element(b, flagsEl.next);
    const dims = this.dims(dimsEl);
    const count = dims.reduce((a, c) => a * c, 1);
    const nameEl = this.element(b, dimsEl.next);
    const name = this.ascii(nameEl);
    let off = nameEl.next;
    const where = name === '' ? 'unnamed array' : `array '${name}'`;
    this.checkCount(count, `${where} (dims [${dims.join(', ')}])`);

    switch (cls) {
      case mx.CHAR: {
        const real = this.element(b, off);
        const codes = real.type === mi.UTF8 ? Array.from(this.utf8(real.bytes, where)) : Array.from(this.numbers(real), (c) => this.codePoint(c, where));
        if (codes.length !== count) this.fail(`${where}: ${codes.length} characters for dims [${dims.join(', ')}]`);
        return { name, value: { kind: 'char', dims, text: charMatrixText(codes, dims[0]!) } };
      }
      case mx.CELL: {
        this.checkRoom(count, b.length - off, where);
        const cells: MatValue[] = [];
        for (let i = 0; i < count; i++) {
          const c = this.element(b, off);
          cells.push(this.matrix(c, depth + 1).value);
          off = c.next;
        }
        return { name, value: { kind: 'cell', dims, cells } };
      }
      case mx.STRUCT: {
        const lenEl = this.element(b, off);
        const fieldNameLength = this.numbers(lenEl)[0] ?? 0;
        const namesEl = this.element(b, lenEl.next);
        off = namesEl.next;
        if (!Number.isInteger(fieldNameLength) || fieldNameLength <= 0 || namesEl.bytes.length % fieldNameLength !== 0)
          this.fail(`${where}: bad struct field-name table`);
        const fieldNames: string[] = [];
        for (let k = 0; k < namesEl.bytes.length; k += fieldNameLength) {
          fieldNames.push(this.ascii({ type: mi.INT8, bytes: namesEl.bytes.subarray(k, k + fieldNameLength), next: 0 }));
        }
        this.checkRoom(count * fieldNames.length, b.length - off, where);
        const elements: ReadonlyMap<string, MatValue>[] = [];
        for (let i = 0; i < count && fieldNames.length === 0; i++) elements.push(NO_FIELDS);
        for (let i = 0; i < count && fieldNames.length > 0; i++) {
          const fields = new Map<string, MatValue>();
          for (const f of fieldNames) {
            const fe = this.element(b, off);
            fields.set(f, this.matrix(fe, depth + 1).value);
            off = fe.next;
          }
          elements.push(fields);
        }
        return { name, value: { kind: 'struct', dims, fieldNames, elements } };
      }
      case mx.DOUBLE:
      case mx.SINGLE:
      case mx.INT8:
      case mx.UINT8:
      case mx.INT16:
      case mx.UINT16:
      case mx.INT32:
      case mx.UINT32:
      case mx.INT64:
      case mx.UINT64: {
        if (flags & COMPLEX_FLAG) this.fail(`${where}: complex arrays are not supported`);
        const data = count === 0 && off >= b.length ? new Float64Array(0) : this.numbers(this.element(b, off));
        if (data.length !== count) this.fail(`${where}: ${data.length} values for dims [${dims.join(', ')}]`);
        return { name, value: { kind: 'numeric', dims, data } };
      }
      default:
        return this.fail(`${where}: MATLAB array class ${cls} (${cls === mx.SPARSE ? 'sparse' : cls === mx.OBJECT ? 'object' : 'unknown'}) is not supported`);
    }
  }
}

/** Char matrices are stored column-major: rebuild the rows, joined by newlines. */
function charMatrixText(chars: string[], rows: number): string {
  if (rows <= 1) return chars.join('');
  const cols = chars.length / rows;
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    let line = '';
    for (let c = 0; c < cols; c++) line += chars[c * rows + r];
    lines.push(line);
  }
  return lines.join('\n');
}

/** Parses MAT v5 bytes into its named variables. `limits` overrides MAT_LIMITS for this call. */
export function parseMat(bytes: Uint8Array, file: string, limits?: Partial<MatLimits>): Map<string, MatValue> {
  if (bytes.length < HEADER_BYTES) throw new Error(`${file}: not a MAT-file (only ${bytes.length} bytes)`);
  const header = String.fromCharCode(...bytes.subarray(0, 116));
  const hdf5At512 = bytes.length >= 516 && bytes[512] === 0x89 && bytes[513] === 0x48 && bytes[514] === 0x44 && bytes[515] === 0x46;
  if (header.startsWith('MATLAB 7.3') || hdf5At512) {
    throw new Error(`${file}: MAT v7.3 (HDF5) files are not supported; save with -v7 or convert to cars_annos.csv`);
  }
  if (!header.startsWith('MATLAB 5.0 MAT-file')) throw new Error(`${file}: not a MATLAB 5.0 MAT-file (header '${header.slice(0, 20)}')`);
  const endian = String.fromCharCode(bytes[126]!, bytes[127]!);
  if (endian !== 'IM' && endian !== 'MI') throw new Error(`${file}: bad endian indicator '${endian}'`);
  const p = new MatParser(file, endian === 'IM', resolveLimits(MAT_LIMITS, limits, 'mat'));
  const vars = new Map<string, MatValue>();
  let off = HEADER_BYTES;
  while (off < bytes.length) {
    const e = p.element(bytes, off);
    if (e.type === mi.MATRIX) {
      const { name, value } = p.matrix(e);
      vars.set(name, value);
    }
    off = e.next;
  }
  return vars;
}

export async function readMatFile(file: string, limits?: Partial<MatLimits>): Promise<Map<string, MatValue>> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new Error(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return parseMat(bytes, file, limits);
}

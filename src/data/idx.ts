// Layer: data. Reader for the IDX format of MNIST / Fashion-MNIST (raw or gzip):
// big-endian header (two zero bytes, type code, number of dims, one uint32 per
// dim) followed by the data. Only unsigned-byte IDX files exist for these
// datasets, so only type 0x08 is accepted. Every error names the file.
// Hostile input: gunzip output and dimension counts are bounded (IDX_LIMITS),
// and the dims must describe exactly the bytes present (no allocation: the
// data is a view).
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { IDX_LIMITS, resolveLimits, type IdxLimits } from '../io/limits.js';

const UBYTE = 0x08;

/** The decoded content of one unsigned-byte IDX file. */
export interface IdxArray {
  readonly file: string;
  readonly dims: readonly number[];
  readonly data: Uint8Array;
}

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Decompresses when the bytes start with the gzip magic (whatever the file name says), at most `maxBytes`. */
function maybeGunzip(bytes: Uint8Array, file: string, maxBytes: number): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return gunzipSync(bytes, { maxOutputLength: maxBytes });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new Error(`${file}: gzip data inflates past ${maxBytes} bytes (limit idx.maxInflatedBytes)`);
    }
    throw new Error(`${file}: corrupt gzip data (${e instanceof Error ? e.message : String(e)})`);
  }
}

/**
 * Parses IDX bytes (already decompressed or gzip). `expectedDims` is 1 for labels, 3 for images.
 * `limits` overrides IDX_LIMITS for this call.
 */
export function parseIdx(raw: Uint8Array, file: string, expectedDims: number, limits?: Partial<IdxLimits>): IdxArray {
  const limit = resolveLimits(IDX_LIMITS, limits, 'idx');
  if (!Number.isInteger(expectedDims) || expectedDims < 1 || expectedDims > limit.maxDims) {
    throw new Error(`${file}: cannot read IDX arrays of ${expectedDims} dimensions (1 to ${limit.maxDims}, limit idx.maxDims)`);
  }
  const bytes = maybeGunzip(raw, file, limit.maxInflatedBytes);
  if (bytes.length < 4) throw new Error(`${file}: not an IDX file (only ${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const declaredDims = magic & 0xff;
  if (magic >>> 8 === UBYTE && declaredDims > limit.maxDims) {
    throw new Error(`${file}: IDX header declares ${declaredDims} dimensions, more than ${limit.maxDims} (limit idx.maxDims)`);
  }
  const expectedMagic = (UBYTE << 8) | expectedDims;
  if (magic !== expectedMagic) {
    throw new Error(
      `${file}: bad IDX magic 0x${magic.toString(16).padStart(8, '0')}, expected 0x${expectedMagic.toString(16).padStart(8, '0')} ` +
        `(unsigned bytes, ${expectedDims} dimension${expectedDims === 1 ? '' : 's'})`,
    );
  }
  const headerBytes = 4 + 4 * expectedDims;
  if (bytes.length < headerBytes) throw new Error(`${file}: truncated IDX header (${bytes.length} of ${headerBytes} bytes)`);
  const dims: number[] = [];
  for (let d = 0; d < expectedDims; d++) dims.push(view.getUint32(4 + 4 * d, false));
  const payload = dims.reduce((a, b) => a * b, 1);
  const found = bytes.length - headerBytes;
  if (found < payload) throw new Error(`${file}: truncated: dims [${dims.join(', ')}] need ${payload} data bytes, found ${found}`);
  if (found > payload) throw new Error(`${file}: ${found - payload} unexpected trailing bytes after ${payload} data bytes (dims [${dims.join(', ')}])`);
  // A plain Uint8Array view (not a Buffer), whatever readFile/gunzip returned.
  return { file, dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + headerBytes, payload) };
}

async function readBytes(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${file}: cannot read IDX file (${code ?? (e instanceof Error ? e.message : String(e))})`);
  }
}

/** Images and their labels from one pair of IDX files. */
export interface IdxImages {
  readonly count: number;
  readonly rows: number;
  readonly cols: number;
  /** count·rows·cols bytes, row-major. */
  readonly pixels: Uint8Array;
  readonly labels: Uint8Array;
}

/** Reads an images file (magic 2051) and a labels file (magic 2049) and checks that they agree. */
export async function readIdxPair(imagesFile: string, labelsFile: string, limits?: Partial<IdxLimits>): Promise<IdxImages> {
  const [imgRaw, lblRaw] = await Promise.all([readBytes(imagesFile), readBytes(labelsFile)]);
  const images = parseIdx(imgRaw, imagesFile, 3, limits);
  const labels = parseIdx(lblRaw, labelsFile, 1, limits);
  const [count, rows, cols] = images.dims as [number, number, number];
  if (labels.dims[0] !== count) {
    throw new Error(`${labelsFile}: has ${labels.dims[0]} labels but ${imagesFile} has ${count} images`);
  }
  return { count, rows, cols, pixels: images.data, labels: labels.data };
}

// Zip archives built byte by byte for the tests and the fuzzer (scripts/fuzz.js
// loads the compiled copy): plain (non-zip64) archives whose headers may lie.
import { deflateRawSync } from 'node:zlib';
import { crc32 } from '../../src/io/zip.js';

export interface ZipInput {
  readonly name: string | Uint8Array;
  readonly data: Uint8Array;
  /** DEFLATE instead of STORED. */
  readonly deflate?: boolean;
  /** Compressed bytes to store as they are (with deflate), e.g. a hand-made bomb. */
  readonly compressed?: Uint8Array;
  /** The uncompressed size the headers declare (a lie when it differs from data.length). */
  readonly declaredSize?: number;
}

/** A plain (non-zip64) archive of `entries`. */
export function zipOf(entries: readonly ZipInput[]): Uint8Array {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = typeof e.name === 'string' ? Buffer.from(e.name, 'utf8') : Buffer.from(e.name);
    const body = e.compressed ?? (e.deflate ? deflateRawSync(e.data) : e.data);
    const fields = { method: e.deflate || e.compressed ? 8 : 0, crc: crc32(e.data), compressed: body.length, size: e.declaredSize ?? e.data.length };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(fields.method, 8);
    local.writeUInt32LE(fields.crc, 14);
    local.writeUInt32LE(fields.compressed, 18);
    local.writeUInt32LE(fields.size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(fields.method, 10);
    central.writeUInt32LE(fields.crc, 16);
    central.writeUInt32LE(fields.compressed, 20);
    central.writeUInt32LE(fields.size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, Buffer.from(body));
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

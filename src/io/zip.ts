// Layer: io. A read-only zip reader, enough for torch.save archives: the
// central directory (zip64 when present), STORED and DEFLATE entries, CRC-32
// checked. Every offset read from the file is bounds-checked, so a truncated or
// corrupt archive gives an Error naming the source, never a crash or a
// silent short read. Whole file in memory.
//
// Zip bombs: every declared size is checked against ZIP_LIMITS when the
// directory is read (before anything is inflated), and inflation stops at the
// declared size (zlib's maxOutputLength), so a header that lies cannot make
// it allocate more. Names must be valid UTF-8.
import { inflateRawSync } from 'node:zlib';
import { decodeUtf8Strict, resolveLimits, ZIP_LIMITS, type ZipLimits } from './limits.js';

export interface ZipEntry {
  readonly name: string;
  /** 0 = STORED, 8 = DEFLATE. */
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly crc32: number;
  readonly localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export class ZipArchive {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #entries = new Map<string, ZipEntry>();
  readonly #limits: ZipLimits;
  readonly source: string;

  /** `limits` overrides ZIP_LIMITS for this archive. */
  constructor(bytes: Uint8Array, source = '<buffer>', limits?: Partial<ZipLimits>) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.source = source;
    this.#limits = resolveLimits(ZIP_LIMITS, limits, 'zip');
    this.#readCentralDirectory();
    this.#checkDeclaredSizes();
  }

  /** Entries by name, in central-directory order. */
  get entries(): ReadonlyMap<string, ZipEntry> {
    return this.#entries;
  }

  get names(): string[] {
    return [...this.#entries.keys()];
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /** The uncompressed bytes of `name` (a view into the archive for STORED entries). */
  read(name: string): Uint8Array {
    const e = this.#entries.get(name);
    if (e === undefined) this.#fail(`no entry '${name}'`);
    const at = e.localHeaderOffset;
    this.#need(at, 30, `local header of '${name}'`);
    if (this.#u32(at) !== SIG_LOCAL) this.#fail(`bad local header signature for '${name}' at offset ${at}`);
    // The local header's name/extra lengths may differ from the central copy (torch pads the extra field).
    const start = at + 30 + this.#u16(at + 26) + this.#u16(at + 28);
    this.#need(start, e.compressedSize, `data of '${name}'`);
    const raw = this.#bytes.subarray(start, start + e.compressedSize);
    let out: Uint8Array;
    if (e.method === 0) {
      out = raw;
    } else if (e.method === 8) {
      out = this.#inflate(e, raw);
    } else {
      this.#fail(`entry '${name}' uses unsupported compression method ${e.method}`);
    }
    if (out.length !== e.size) this.#fail(`entry '${name}' is ${out.length} bytes, the directory says ${e.size}`);
    if (crc32(out) !== e.crc32) this.#fail(`entry '${name}' fails its CRC-32 check (corrupt)`);
    return out;
  }

  /** Inflates at most the declared size (already within the limits): more output is an error, not an allocation. */
  #inflate(e: ZipEntry, raw: Uint8Array): Uint8Array {
    try {
      // maxOutputLength must be ≥ 1; a 0-byte entry that inflates to 1 byte fails the length check below.
      return inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        this.#fail(`entry '${e.name}' inflates to more than the ${e.size} bytes its directory entry declares (limit: the declared size)`);
      }
      this.#fail(`cannot inflate '${e.name}': ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Refuses sizes beyond ZIP_LIMITS before any entry is read, so a bomb costs nothing. */
  #checkDeclaredSizes(): void {
    const { maxEntryBytes, maxInflatedBytes } = this.#limits;
    let inflated = 0;
    for (const e of this.#entries.values()) {
      if (e.size > maxEntryBytes) this.#fail(`entry '${e.name}' declares ${e.size} bytes, more than ${maxEntryBytes} (limit zip.maxEntryBytes)`);
      // STORED bytes are the file's own: only a size that disagrees with them needs catching (at read).
      if (e.method !== 8) continue;
      inflated += e.size;
      if (inflated > maxInflatedBytes) {
        this.#fail(`entry '${e.name}' brings the declared inflated size to ${inflated} bytes, more than ${maxInflatedBytes} (limit zip.maxInflatedBytes)`);
      }
    }
  }

  #fail(why: string): never {
    throw new Error(`${this.source}: invalid zip archive: ${why}`);
  }

  #need(at: number, length: number, what: string): void {
    if (at < 0 || length < 0 || at + length > this.#bytes.length) {
      this.#fail(`${what} (offset ${at}, ${length} bytes) runs past the end of the file (${this.#bytes.length} bytes); truncated?`);
    }
  }

  #u16(at: number): number {
    return this.#view.getUint16(at, true);
  }

  #u32(at: number): number {
    return this.#view.getUint32(at, true);
  }

  #u64(at: number, what: string): number {
    const v = this.#view.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.#fail(`${what} ${v} is too large`);
    return Number(v);
  }

  /** Entry names are UTF-8 (what torch and Python write); anything else is a corrupt or foreign archive. */
  #name(at: number, length: number, index: number): string {
    try {
      return decodeUtf8Strict(this.#bytes.subarray(at, at + length), `the name of central directory entry ${index}`);
    } catch (e) {
      return this.#fail((e as Error).message);
    }
  }

  /** The end-of-central-directory record sits in the last 22 + comment bytes. */
  #findEocd(): number {
    const last = this.#bytes.length - EOCD_SIZE;
    const first = Math.max(0, last - MAX_COMMENT);
    for (let at = last; at >= first; at--) {
      if (this.#u32(at) === SIG_EOCD && at + EOCD_SIZE + this.#u16(at + 20) === this.#bytes.length) return at;
    }
    this.#fail('no end-of-central-directory record (not a zip file, or truncated)');
  }

  #readCentralDirectory(): void {
    if (this.#bytes.length < EOCD_SIZE) this.#fail(`only ${this.#bytes.length} bytes (not a zip file, or truncated)`);
    const eocd = this.#findEocd();
    let count = this.#u16(eocd + 10);
    let cdSize = this.#u32(eocd + 12);
    let cdOffset = this.#u32(eocd + 16);
    if (this.#u16(eocd + 4) !== 0 || this.#u16(eocd + 6) !== 0) this.#fail('multi-disk archives are not supported');
    const locator = eocd - 20;
    if (locator >= 0 && this.#u32(locator) === SIG_ZIP64_LOCATOR) {
      const at = this.#u64(locator + 8, 'zip64 directory offset');
      this.#need(at, 56, 'zip64 end of central directory');
      if (this.#u32(at) !== SIG_ZIP64_EOCD) this.#fail(`bad zip64 end-of-central-directory signature at offset ${at}`);
      count = this.#u64(at + 32, 'zip64 entry count');
      cdSize = this.#u64(at + 40, 'zip64 directory size');
      cdOffset = this.#u64(at + 48, 'zip64 directory offset');
    }
    this.#need(cdOffset, cdSize, 'central directory');
    if (count > this.#limits.maxEntries) this.#fail(`${count} entries, more than ${this.#limits.maxEntries} (limit zip.maxEntries)`);
    let at = cdOffset;
    for (let i = 0; i < count; i++) {
      this.#need(at, 46, `central directory entry ${i}`);
      if (this.#u32(at) !== SIG_CENTRAL) this.#fail(`bad central directory signature at offset ${at}`);
      const flags = this.#u16(at + 8);
      const method = this.#u16(at + 10);
      const crc = this.#u32(at + 16);
      let compressedSize = this.#u32(at + 20);
      let size = this.#u32(at + 24);
      const nameLen = this.#u16(at + 28);
      const extraLen = this.#u16(at + 30);
      const commentLen = this.#u16(at + 32);
      let localHeaderOffset = this.#u32(at + 42);
      this.#need(at + 46, nameLen + extraLen + commentLen, `central directory entry ${i}`);
      const name = this.#name(at + 46, nameLen, i);
      if (flags & 1) this.#fail(`entry '${name}' is encrypted`);
      // Zip64 extended information: 64-bit values for whichever 32-bit fields are all ones, in this order.
      let x = at + 46 + nameLen;
      const xEnd = x + extraLen;
      while (x + 4 <= xEnd) {
        const id = this.#u16(x);
        const len = this.#u16(x + 2);
        if (x + 4 + len > xEnd) this.#fail(`entry '${name}' has a malformed extra field`);
        if (id === 0x0001) {
          let f = x + 4;
          const take = (what: string): number => {
            if (f + 8 > x + 4 + len) this.#fail(`entry '${name}' has a short zip64 extra field`);
            const v = this.#u64(f, what);
            f += 8;
            return v;
          };
          if (size === 0xffffffff) size = take('size');
          if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = take('offset');
        }
        x += 4 + len;
      }
      if (this.#entries.has(name)) this.#fail(`duplicate entry '${name}'`);
      this.#entries.set(name, { name, method, compressedSize, size, crc32: crc, localHeaderOffset });
      at = xEnd + commentLen;
    }
  }
}

// Layer: data. Binary cache of small uint8 datasets (MNIST, Fashion-MNIST), so
// that only the first run pays for JSON parsing / gunzip.
//
// File layout (little-endian), one file holding both splits:
//   8 bytes   magic "RSDSET01"
//   4 bytes   uint32 length H of the JSON header
//   H bytes   UTF-8 JSON CacheHeader
//   then for train, then test: count·rows·cols pixel bytes, count label bytes
// On read the magic, header, total size and both SHA-256 fingerprints are
// checked; any mismatch is a cache miss (with a warning), never a wrong dataset.
// Writes are atomic (temp file + rename).
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import type { Uint8Split } from './fashion-json.js';
import { pixelsAndLabelsSha256 } from './fingerprint.js';

const MAGIC = 'RSDSET01';
const FORMAT_VERSION = 1;

/** Both splits of a uint8 dataset plus their fingerprints. */
export interface Uint8Dataset {
  readonly rows: number;
  readonly cols: number;
  readonly train: Uint8Split;
  readonly test: Uint8Split;
  readonly trainSha256: string;
  readonly testSha256: string;
}

interface CacheHeader {
  format: typeof MAGIC;
  version: number;
  dataset: string;
  /** Identity of the source files (paths, sizes, mtimes): a changed source invalidates the cache. */
  source: string;
  rows: number;
  cols: number;
  train: { count: number; sha256: string };
  test: { count: number; sha256: string };
}

/** `$RANKSHIELD_CACHE`, else `$XDG_CACHE_HOME/rankshield`, else `~/.cache/rankshield`. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.RANKSHIELD_CACHE) return path.resolve(env.RANKSHIELD_CACHE);
  if (env.XDG_CACHE_HOME) return path.join(path.resolve(env.XDG_CACHE_HOME), 'rankshield');
  return path.join(os.homedir(), '.cache', 'rankshield');
}

/** A stable description of source files: absolute path, size and mtime of each. */
export async function describeSources(files: readonly string[]): Promise<string> {
  const parts: string[] = [];
  for (const f of files) {
    const abs = path.resolve(f);
    try {
      const s = await stat(abs);
      parts.push(`${abs}:${s.size}:${Math.trunc(s.mtimeMs)}`);
    } catch (e) {
      throw new Error(`${abs}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
  }
  return parts.join('|');
}

/** Cache file for a dataset built from `source`. */
export function cacheFile(dataset: string, source: string, dir = cacheDir()): string {
  const key = createHash('sha256').update(`${FORMAT_VERSION}\n${dataset}\n${source}`).digest('hex').slice(0, 16);
  return path.join(dir, `${dataset}-${key}.rsds`);
}

/** Adds the fingerprints to freshly built splits. */
export function withFingerprints(rows: number, cols: number, train: Uint8Split, test: Uint8Split): Uint8Dataset {
  return {
    rows,
    cols,
    train,
    test,
    trainSha256: pixelsAndLabelsSha256(train.pixels, train.labels),
    testSha256: pixelsAndLabelsSha256(test.pixels, test.labels),
  };
}

export async function writeCache(file: string, dataset: string, source: string, d: Uint8Dataset): Promise<void> {
  const header: CacheHeader = {
    format: MAGIC,
    version: FORMAT_VERSION,
    dataset,
    source,
    rows: d.rows,
    cols: d.cols,
    train: { count: d.train.count, sha256: d.trainSha256 },
    test: { count: d.test.count, sha256: d.testSha256 },
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(12);
  prefix.write(MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(json.length, 8);
  await writeFileAtomic(file, [prefix, json, d.train.pixels, d.train.labels, d.test.pixels, d.test.labels]);
}

/** Why a cache file was not usable. */
export class CacheMiss extends Error {
  override readonly name = 'CacheMiss';
}

function isHeader(h: unknown): h is CacheHeader {
  const x = h as Partial<CacheHeader> | null;
  const split = (s: unknown): boolean => {
    const v = s as { count?: unknown; sha256?: unknown } | null;
    return v !== null && typeof v === 'object' && Number.isInteger(v.count) && (v.count as number) >= 0 && typeof v.sha256 === 'string';
  };
  return (
    x !== null &&
    typeof x === 'object' &&
    x.format === MAGIC &&
    typeof x.dataset === 'string' &&
    typeof x.source === 'string' &&
    Number.isInteger(x.rows) &&
    Number.isInteger(x.cols) &&
    split(x.train) &&
    split(x.test)
  );
}

/**
 * Reads and validates a cache file. Throws CacheMiss (naming the file and the
 * problem) when it is absent, stale (other dataset/source/version) or corrupt.
 */
export async function readCache(file: string, dataset: string, source: string): Promise<Uint8Dataset> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (e) {
    throw new CacheMiss(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not cached yet' : `unreadable (${String(e)})`}`);
  }
  if (buf.length < 12 || buf.toString('latin1', 0, 8) !== MAGIC) throw new CacheMiss(`${file}: bad magic, not a rankshield dataset cache`);
  const headerLength = buf.readUInt32LE(8);
  if (12 + headerLength > buf.length) throw new CacheMiss(`${file}: truncated header`);
  let header: unknown;
  try {
    header = JSON.parse(buf.toString('utf8', 12, 12 + headerLength));
  } catch {
    throw new CacheMiss(`${file}: header is not valid JSON`);
  }
  if (!isHeader(header)) throw new CacheMiss(`${file}: header has missing or mistyped fields`);
  if (header.version !== FORMAT_VERSION) throw new CacheMiss(`${file}: cache format version ${header.version}, expected ${FORMAT_VERSION}`);
  if (header.dataset !== dataset || header.source !== source) throw new CacheMiss(`${file}: stale (built from other source files)`);
  const imageBytes = header.rows * header.cols;
  const trainBytes = header.train.count * (imageBytes + 1);
  const testBytes = header.test.count * (imageBytes + 1);
  const expected = 12 + headerLength + trainBytes + testBytes;
  if (buf.length !== expected) throw new CacheMiss(`${file}: size ${buf.length} bytes, header implies ${expected}`);

  const view = (offset: number, length: number): Uint8Array => new Uint8Array(buf.buffer, buf.byteOffset + offset, length);
  const splitAt = (offset: number, count: number): Uint8Split => ({
    count,
    pixels: view(offset, count * imageBytes),
    labels: view(offset + count * imageBytes, count),
  });
  const train = splitAt(12 + headerLength, header.train.count);
  const test = splitAt(12 + headerLength + trainBytes, header.test.count);
  const d = withFingerprints(header.rows, header.cols, train, test);
  if (d.trainSha256 !== header.train.sha256 || d.testSha256 !== header.test.sha256) {
    throw new CacheMiss(`${file}: content does not match its SHA-256 fingerprints (corrupt)`);
  }
  return d;
}

/** Where and whether the parsed-dataset cache is used. */
export interface CacheOptions {
  /** false: neither read nor write the cache. Default true. */
  readonly useCache?: boolean;
  /** Overrides cacheDir(). */
  readonly cacheDir?: string;
  /** Receives non-fatal problems (corrupt cache rebuilt, cache not writable). */
  readonly onWarning?: (message: string) => void;
}

/** How a dataset was obtained. */
export interface CacheOutcome {
  readonly data: Uint8Dataset;
  readonly fromCache: boolean;
  /** The cache file used or written; null when caching is off. */
  readonly cacheFile: string | null;
}

/**
 * Returns the cached dataset when a valid cache exists; otherwise builds it and
 * writes the cache. A cache that cannot be written only produces a warning.
 */
export async function cachedOrBuild(dataset: string, source: string, build: () => Promise<Uint8Dataset>, opts: CacheOptions = {}): Promise<CacheOutcome> {
  if (opts.useCache === false) return { data: await build(), fromCache: false, cacheFile: null };
  const file = cacheFile(dataset, source, opts.cacheDir ?? cacheDir());
  try {
    return { data: await readCache(file, dataset, source), fromCache: true, cacheFile: file };
  } catch (e) {
    if (!(e instanceof CacheMiss)) throw e;
    if (!e.message.endsWith('not cached yet')) opts.onWarning?.(`ignoring dataset cache: ${e.message}; rebuilding`);
  }
  const data = await build();
  try {
    await writeCache(file, dataset, source, data);
  } catch (e) {
    opts.onWarning?.(`${file}: cannot write dataset cache (${e instanceof Error ? e.message : String(e)})`);
  }
  return { data, fromCache: false, cacheFile: file };
}

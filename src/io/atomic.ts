// Layer: io. Atomic file writes: write a temporary file beside the target
// (same directory, so the rename never crosses filesystems), fsync it, then
// rename over the target. A crash leaves either the old file or the new one,
// never a half-written file; the temporary is removed on failure.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/** What can be written: text (UTF-8), one byte array, or several written back to back. */
export type AtomicContent = string | Uint8Array | readonly Uint8Array[];

let counter = 0;

function chunksOf(data: AtomicContent): readonly Uint8Array[] {
  if (typeof data === 'string') return [Buffer.from(data, 'utf8')];
  return data instanceof Uint8Array ? [data] : data;
}

/** A temp name unique within this process and across processes (pid). */
function tempNameFor(file: string): string {
  return `${file}.${process.pid}.${++counter}.tmp`;
}

/**
 * `mkdir -p`, one level at a time: Node's `mkdirSync(…, { recursive: true })`
 * spins forever on some paths it cannot create (measured: `/proc/x` on Node 20),
 * where a plain mkdir fails at once with a clear code.
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !existsSync(d); d = path.dirname(d)) {
    missing.push(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/**
 * Makes `dir` (with parents) and proves a file can be created in it, so a long
 * computation whose results go there fails at its start, not at its end.
 */
export function ensureWritableDir(dir: string): void {
  const probe = path.join(dir, `.rankshield-write-test.${process.pid}`);
  try {
    makeDirs(dir);
    closeSync(openSync(probe, 'w'));
    rmSync(probe, { force: true });
  } catch (e) {
    throw new Error(`cannot write to ${dir}: ${(e as Error).message}`);
  }
}

/** fsyncs a directory, so the renames and creations in it reach the disk (a crash cannot undo them). */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function writeFileAtomicSync(file: string, data: AtomicContent): void {
  const tmp = tempNameFor(file);
  let fd: number | null = null;
  try {
    makeDirs(path.dirname(file));
    fd = openSync(tmp, 'w');
    for (const bytes of chunksOf(data)) {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, file);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    rmSync(tmp, { force: true });
    throw new Error(`cannot write ${file}: ${(e as Error).message}`);
  }
}

export async function writeFileAtomic(file: string, data: AtomicContent): Promise<void> {
  const tmp = tempNameFor(file);
  try {
    makeDirs(path.dirname(file));
    const fh = await open(tmp, 'w');
    try {
      for (const bytes of chunksOf(data)) await fh.write(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new Error(`cannot write ${file}: ${(e as Error).message}`);
  }
}

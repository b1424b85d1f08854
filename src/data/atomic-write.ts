// Layer: data. Atomic file writes: write a sibling temp file, then rename over
// the target, so a reader never sees a half-written file (rename is atomic on
// one filesystem) and a crash leaves at worst a stray temp file.
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/** Writes `chunks` to `file` atomically, creating parent directories. */
export async function writeFileAtomic(file: string, chunks: readonly Uint8Array[]): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const fh = await open(tmp, 'w');
    try {
      for (const c of chunks) await fh.write(c);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

// A real slice of Fashion-MNIST as IDX files, for tests that train and
// evaluate through the CLI (`--root DIR`) in seconds: every k-th image of each
// split (the npm copy is ordered by class, so a stride keeps all ten classes).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openDataset } from '../../src/data/index.js';
import type { InMemoryImageDataset } from '../../src/data/memory-dataset.js';

function idx(magic: number, dims: number[], body: Uint8Array): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, body]);
}

function writeSplit(dir: string, prefix: string, ds: InMemoryImageDataset, count: number): void {
  const stride = Math.floor(ds.length / count);
  const bytes = ds.height * ds.width;
  const pixels = new Uint8Array(count * bytes);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const j = i * stride;
    pixels.set(ds.pixels.subarray(j * bytes, (j + 1) * bytes), i * bytes);
    labels[i] = ds.labels[j]!;
  }
  writeFileSync(path.join(dir, `${prefix}-images-idx3-ubyte`), idx(0x803, [count, ds.height, ds.width], pixels));
  writeFileSync(path.join(dir, `${prefix}-labels-idx1-ubyte`), idx(0x801, [count], labels));
}

/** Writes `train` training and `test` test images of Fashion-MNIST as IDX files into `dir`; returns `dir` (a --root). */
export async function fashionSlice(dir: string, o: { train?: number; test?: number } = {}): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const d = await openDataset('fashion');
  writeSplit(dir, 'train', d.train as InMemoryImageDataset, o.train ?? 2000);
  writeSplit(dir, 't10k', d.test as InMemoryImageDataset, o.test ?? 256);
  return dir;
}

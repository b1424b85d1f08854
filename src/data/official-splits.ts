// Layer: data. The published split of each built-in dataset: images and classes
// per split, as the papers and their standard deep-metric-learning splits give
// them (Oh Song et al. 2016 for CUB, Cars and SOP: the first half of the classes
// trains, the second half tests). `data stats` checks a copy against these; the
// reproduction planner counts batches from them.
import { isNameOf } from '../util/catalogue.js';
import { DATASETS, type DatasetName } from './registry.js';

export interface SplitCounts {
  readonly images: number;
  readonly classes: number;
  /** The class labels the split holds, as rankshield stores them (first and last). */
  readonly labels: readonly [first: number, last: number];
}

export interface OfficialSplit {
  readonly train: SplitCounts;
  readonly test: SplitCounts;
  /** Where the official files are published (docs/datasets.md gives the layouts). */
  readonly source: string;
}

/** The published split of every catalogue dataset but folder:PATH (a user's), by the catalogue's names. */
export const OFFICIAL_SPLITS: Readonly<Record<Exclude<DatasetName, 'folder'>, OfficialSplit>> = {
  mnist: {
    train: { images: 60_000, classes: 10, labels: [0, 9] },
    test: { images: 10_000, classes: 10, labels: [0, 9] },
    source: 'http://yann.lecun.com/exdb/mnist/',
  },
  fashion: {
    train: { images: 60_000, classes: 10, labels: [0, 9] },
    test: { images: 10_000, classes: 10, labels: [0, 9] },
    source: 'https://github.com/zalandoresearch/fashion-mnist',
  },
  cub: {
    train: { images: 5_864, classes: 100, labels: [0, 99] },
    test: { images: 5_924, classes: 100, labels: [100, 199] },
    source: 'https://www.vision.caltech.edu/datasets/cub_200_2011/',
  },
  cars: {
    train: { images: 8_054, classes: 98, labels: [1, 98] },
    test: { images: 8_131, classes: 98, labels: [99, 196] },
    source: 'https://ai.stanford.edu/~jkrause/cars/car_dataset.html',
  },
  sop: {
    train: { images: 59_551, classes: 11_318, labels: [1, 11_318] },
    test: { images: 60_502, classes: 11_316, labels: [11_319, 22_634] },
    source: 'https://cvgl.stanford.edu/projects/lifted_struct/',
  },
};

export function officialSplit(dataset: string): OfficialSplit | undefined {
  return isNameOf(DATASETS, dataset) && dataset !== 'folder' ? OFFICIAL_SPLITS[dataset] : undefined;
}

/** A split as the checker sees it: its labels and, for file-backed sets, the image files it lists. */
export interface ListedSplit {
  readonly labels: ArrayLike<number>;
  readonly files?: readonly string[];
}

export interface SplitCheck {
  /** True when every count, label and listed file agrees with the official split. */
  matches: boolean;
  /** One line per difference, exact (counts, missing or extra labels, listed files absent on disk). */
  differences: string[];
}

const n = (x: number): string => x.toLocaleString('en-US');

function labelRangeDifferences(split: 'train' | 'test', labels: ArrayLike<number>, expected: SplitCounts): string[] {
  const present = new Set<number>();
  for (let i = 0; i < labels.length; i++) present.add(labels[i]!);
  const [first, last] = expected.labels;
  const missing: number[] = [];
  for (let l = first; l <= last; l++) if (!present.has(l)) missing.push(l);
  const extra = [...present].filter((l) => l < first || l > last).sort((a, b) => a - b);
  const list = (xs: number[]): string => (xs.length <= 10 ? xs.join(', ') : `${xs.slice(0, 10).join(', ')}, … (${xs.length} in all)`);
  const out: string[] = [];
  if (missing.length > 0) out.push(`${split}: no image of label${missing.length > 1 ? 's' : ''} ${list(missing)} (official labels ${first}–${last})`);
  if (extra.length > 0) out.push(`${split}: label${extra.length > 1 ? 's' : ''} ${list(extra)} outside the official ${first}–${last}`);
  return out;
}

/**
 * Compares a copy's splits with the official ones: image and class counts, the label range of each
 * split, and (`exists` given) whether every listed image file is on disk.
 */
export function checkOfficialSplit(official: OfficialSplit, splits: { train: ListedSplit; test: ListedSplit }, exists?: (file: string) => boolean): SplitCheck {
  const differences: string[] = [];
  for (const split of ['train', 'test'] as const) {
    const s = splits[split];
    const e = official[split];
    const images = s.labels.length;
    if (images !== e.images)
      differences.push(`${split}: ${n(images)} images, official ${n(e.images)} (${n(Math.abs(images - e.images))} ${images < e.images ? 'fewer' : 'more'})`);
    const classes = new Set(Array.from(s.labels)).size;
    if (classes !== e.classes) differences.push(`${split}: ${n(classes)} classes, official ${n(e.classes)}`);
    differences.push(...labelRangeDifferences(split, s.labels, e));
    if (exists !== undefined && s.files !== undefined) {
      const absent = s.files.filter((f) => !exists(f));
      if (absent.length > 0)
        differences.push(
          `${split}: ${n(absent.length)} listed image${absent.length > 1 ? 's are' : ' is'} not on disk: ${absent.slice(0, 5).join(', ')}${absent.length > 5 ? ', …' : ''}`,
        );
    }
  }
  return { matches: differences.length === 0, differences };
}

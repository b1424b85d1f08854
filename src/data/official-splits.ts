// Layer: data. The published split of each built-in dataset: images and classes
// per split, as the papers and their standard deep-metric-learning splits give
// them (Oh Song et al. 2016 for CUB, Cars and SOP: the first half of the classes
// trains, the second half tests). `data stats` checks a copy against these; the
// reproduction planner counts batches from them.

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

export const OFFICIAL_SPLITS: Readonly<Record<'mnist' | 'fashion' | 'cub' | 'cars' | 'sop', OfficialSplit>> = {
  mnist: { train: { images: 60_000, classes: 10, labels: [0, 9] }, test: { images: 10_000, classes: 10, labels: [0, 9] }, source: 'http://yann.lecun.com/exdb/mnist/' },
  fashion: { train: { images: 60_000, classes: 10, labels: [0, 9] }, test: { images: 10_000, classes: 10, labels: [0, 9] }, source: 'https://github.com/zalandoresearch/fashion-mnist' },
  cub: { train: { images: 5_864, classes: 100, labels: [0, 99] }, test: { images: 5_924, classes: 100, labels: [100, 199] }, source: 'https://www.vision.caltech.edu/datasets/cub_200_2011/' },
  cars: { train: { images: 8_054, classes: 98, labels: [1, 98] }, test: { images: 8_131, classes: 98, labels: [99, 196] }, source: 'https://ai.stanford.edu/~jkrause/cars/car_dataset.html' },
  sop: { train: { images: 59_551, classes: 11_318, labels: [1, 11_318] }, test: { images: 60_502, classes: 11_316, labels: [11_319, 22_634] }, source: 'https://cvgl.stanford.edu/projects/lifted_struct/' },
};

export function officialSplit(dataset: string): OfficialSplit | undefined {
  return (OFFICIAL_SPLITS as Record<string, OfficialSplit>)[dataset];
}

// Layer: data. A generic image folder: one sub-folder per class, names sorted.
// Class-disjoint split like CUB/Cars: when <root>/train and <root>/test exist
// each holds its own class folders; otherwise the first ceil(C/2) classes (in
// sorted order) are train and the rest test. Label = position of the class name
// in the sorted list of all class names (0-based); files sorted by name.
import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { DatasetSplits } from './dataset.js';
import { compareStrings, FileImageDataset, pathExists } from './file-dataset.js';
import { defineDataset, fileBacked } from './entry.js';

/** File extensions decoded by the pipeline (libvips loaders bundled with sharp). */
export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.gif', '.avif']);

async function subdirectories(dir: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw new Error(`${dir}: cannot list image folder (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort(compareStrings);
}

async function imagesIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && !e.name.startsWith('.') && IMAGE_EXTENSIONS.has(path.extname(e.name).toLowerCase()))
    .map((e) => e.name)
    .sort(compareStrings);
}

/** Lists `<base>/<class>/<image>` for the given classes, labelled by `labelOf`. */
async function listClasses(
  root: string,
  base: string,
  classes: readonly string[],
  labelOf: Map<string, number>,
): Promise<{ paths: string[]; labels: Int32Array }> {
  const paths: string[] = [];
  const labels: number[] = [];
  for (const c of classes) {
    for (const f of await imagesIn(path.join(root, base, c))) {
      paths.push(path.join(base, c, f));
      labels.push(labelOf.get(c)!);
    }
  }
  return { paths, labels: Int32Array.from(labels) };
}

/**
 * Your own images: one sub-folder per class (the first half of the sorted class names train, the rest
 * test), or `train/` and `test/` sub-folders with their own classes (docs/datasets.md §2.5).
 */
export async function loadImageFolder(folder: string): Promise<DatasetSplits<FileImageDataset>> {
  const root = path.resolve(folder);
  if (!(await pathExists(root))) throw new Error(`${root}: image folder does not exist`);
  const hasOwnSplits = (await pathExists(path.join(root, 'train'))) && (await pathExists(path.join(root, 'test')));
  let trainBase = '';
  let testBase = '';
  let trainClasses: string[];
  let testClasses: string[];
  if (hasOwnSplits) {
    trainBase = 'train';
    testBase = 'test';
    trainClasses = await subdirectories(path.join(root, 'train'));
    testClasses = await subdirectories(path.join(root, 'test'));
  } else {
    const all = await subdirectories(root);
    const half = Math.ceil(all.length / 2);
    trainClasses = all.slice(0, half);
    testClasses = all.slice(half);
  }
  if (trainClasses.length === 0 || testClasses.length === 0) {
    throw new Error(
      `${root}: an image folder needs class sub-folders for both splits (found ${trainClasses.length} train, ${testClasses.length} test classes)`,
    );
  }
  const names = [...new Set([...trainClasses, ...testClasses])].sort(compareStrings);
  const labelOf = new Map(names.map((n, i) => [n, i]));
  // The sub-folders' names are the classes' names.
  const classNamesOf = new Map(names.map((n, i) => [i, n]));
  const make = async (split: 'train' | 'test'): Promise<FileImageDataset> => {
    const l = split === 'train' ? await listClasses(root, trainBase, trainClasses, labelOf) : await listClasses(root, testBase, testClasses, labelOf);
    if (l.paths.length === 0) throw new Error(`${root}: no images (${[...IMAGE_EXTENSIONS].join(', ')}) in the ${split} classes`);
    return new FileImageDataset({ name: 'folder', split, root, relativePaths: l.paths, labels: l.labels, classNames: classNamesOf });
  };
  return { train: await make('train'), test: await make('test') };
}

export const folderEntry = defineDataset({
  name: 'folder',
  aliases: [],
  summary: 'folder:PATH, one sub-folder per class (or PATH/train and PATH/test), 224×224',
  imageSide: 224,
  channels: 3,
  takesPath: true,
  paper: {},
  open: async (o, p) => {
    if (o.root !== undefined) throw new Error('folder:PATH takes its root from PATH; do not also pass a root');
    if (p === undefined) throw new Error('dataset folder needs a path: folder:PATH');
    return fileBacked('folder', await loadImageFolder(p));
  },
});

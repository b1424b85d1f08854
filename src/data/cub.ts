// Layer: data. CUB-200-2011 with RobRank's zero-shot split (docs/datasets.md §2.2):
// classes 1–100 train, 101–200 test (train_test_split.txt must exist but is
// ignored); label = class − 1; order = image_id.
import path from 'node:path';
import type { DatasetSplits } from './dataset.js';
import { readCubClassNames } from './class-names.js';
import { FileImageDataset, parseIntField, pathExists, readLines, resolveRoot } from './file-dataset.js';
import { defineDataset, fileBacked } from './entry.js';

/** Directory name of CUB-200-2011 under the default roots. */
export const CUB_DIR = 'CUB_200_2011';
/** Classes 1..TRAIN_CLASSES are train. */
const TRAIN_CLASSES = 100;

/** Reads "<image_id> <value>" lines into id → value. */
async function readIdTable(file: string): Promise<Map<number, { value: string; line: number }>> {
  const table = new Map<number, { value: string; line: number }>();
  for (const { line, text } of await readLines(file)) {
    const m = /^(\S+)\s+(.+)$/.exec(text);
    if (m === null) throw new Error(`${file}:${line}: expected '<image_id> <value>', got '${text}'`);
    const id = parseIntField(m[1], file, line, 'image_id');
    if (table.has(id)) throw new Error(`${file}:${line}: duplicate image_id ${id}`);
    table.set(id, { value: m[2]!, line });
  }
  return table;
}

/**
 * CUB-200-2011 with the zero-shot split (classes 1–100 train, 101–200 test; docs/datasets.md §2.2) from `root` or the default roots.
 */
export async function loadCub(opts: { root?: string } = {}): Promise<DatasetSplits<FileImageDataset>> {
  const root = await resolveRoot('cub', CUB_DIR, opts.root);
  const imagesFile = path.join(root, 'images.txt');
  const labelsFile = path.join(root, 'image_class_labels.txt');
  const splitFile = path.join(root, 'train_test_split.txt');
  // RobRank opens the official split file (then ignores it): a root without it is not a CUB root.
  if (!(await pathExists(splitFile))) throw new Error(`${splitFile}: missing (required in a CUB-200-2011 root)`);
  const images = await readIdTable(imagesFile);
  const classes = await readIdTable(labelsFile);

  const parts = { train: { paths: [] as string[], labels: [] as number[] }, test: { paths: [] as string[], labels: [] as number[] } };
  const ids = [...images.keys()].sort((a, b) => a - b);
  for (const id of ids) {
    const rel = images.get(id)!.value;
    const classEntry = classes.get(id);
    if (classEntry === undefined) throw new Error(`${labelsFile}: no class for image_id ${id} (${rel})`);
    const cls = parseIntField(classEntry.value, labelsFile, classEntry.line, `class of image_id ${id}`);
    if (cls < 1 || cls > 200) throw new Error(`${labelsFile}:${classEntry.line}: class ${cls} of image_id ${id} is outside 1..200`);
    // RobRank's label is the folder number − 1; it must agree with the class file.
    const folderNumber = /^(\d+)\./.exec(rel.split('/')[0] ?? '');
    if (folderNumber !== null && Number(folderNumber[1]) !== cls) {
      throw new Error(`${labelsFile}:${classEntry.line}: image_id ${id} has class ${cls} but its folder '${rel}' says ${Number(folderNumber[1])}`);
    }
    const part = cls <= TRAIN_CLASSES ? parts.train : parts.test;
    part.paths.push(path.join('images', rel));
    part.labels.push(cls - 1);
  }
  if (classes.size !== images.size) throw new Error(`${labelsFile}: ${classes.size} entries but ${imagesFile} has ${images.size} images`);
  const classNames = await readCubClassNames(root);
  const make = (split: 'train' | 'test'): FileImageDataset =>
    new FileImageDataset({
      name: 'cub',
      split,
      root,
      relativePaths: parts[split].paths,
      labels: Int32Array.from(parts[split].labels),
      ...(classNames === undefined ? {} : { classNames }),
    });
  return { train: make('train'), test: make('test') };
}

export const cubEntry = defineDataset({
  name: 'cub',
  aliases: ['cub200', 'cub-200-2011'],
  summary: 'CUB-200-2011 birds, 224×224 (from --root)',
  imageSide: 224,
  channels: 3,
  paper: { catrideLambda: 10, spqaXiRate: 4e4 },
  open: async (o) => fileBacked('cub', await loadCub(o)),
});

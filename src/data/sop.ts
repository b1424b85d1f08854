// Layer: data. Stanford Online Products (docs/datasets.md §2.4): Ebay_train.txt /
// Ebay_test.txt, header "image_id class_id super_class_id path", label =
// class_id, order = file order. RobRank maps dataset index i to image_id
// i + first_id, so ids must be contiguous: anything else is rejected rather
// than silently mis-indexed.
import path from 'node:path';
import type { DatasetSplits, Split } from './dataset.js';
import { sopClassNames } from './class-names.js';
import { FileImageDataset, parseIntField, readLines, resolveRoot } from './file-dataset.js';
import { defineDataset, fileBacked } from './entry.js';

/** Directory name of Stanford Online Products under the default roots. */
export const SOP_DIR = 'Stanford_Online_Products';
const HEADER = ['image_id', 'class_id', 'super_class_id', 'path'];

async function readEbayList(file: string): Promise<{ paths: string[]; labels: Int32Array }> {
  const lines = await readLines(file);
  const head = lines[0];
  if (head === undefined) throw new Error(`${file}: empty (expected the header '${HEADER.join(' ')}')`);
  if (head.text.split(/\s+/).join(' ') !== HEADER.join(' ')) throw new Error(`${file}:${head.line}: expected header '${HEADER.join(' ')}', got '${head.text}'`);
  const paths: string[] = [];
  const labels: number[] = [];
  let previousId: number | undefined;
  for (const { line, text } of lines.slice(1)) {
    const parts = text.split(/\s+/);
    if (parts.length !== 4) throw new Error(`${file}:${line}: expected 4 fields '${HEADER.join(' ')}', got '${text}'`);
    const id = parseIntField(parts[0], file, line, 'image_id');
    const cls = parseIntField(parts[1], file, line, 'class_id');
    parseIntField(parts[2], file, line, 'super_class_id');
    if (previousId !== undefined && id !== previousId + 1)
      throw new Error(`${file}:${line}: image_id ${id} does not follow ${previousId} (ids must be contiguous)`);
    previousId = id;
    paths.push(parts[3]!);
    labels.push(cls);
  }
  return { paths, labels: Int32Array.from(labels) };
}

/** Stanford Online Products from Ebay_train.txt / Ebay_test.txt (docs/datasets.md §2.4) under `root` or the default roots. */
export async function loadSop(opts: { root?: string } = {}): Promise<DatasetSplits<FileImageDataset>> {
  const root = await resolveRoot('sop', SOP_DIR, opts.root);
  const make = async (split: Split): Promise<FileImageDataset> => {
    const list = await readEbayList(path.join(root, split === 'train' ? 'Ebay_train.txt' : 'Ebay_test.txt'));
    return new FileImageDataset({
      name: 'sop',
      split,
      root,
      relativePaths: list.paths,
      labels: list.labels,
      classNames: sopClassNames(list.paths, list.labels),
    });
  };
  return { train: await make('train'), test: await make('test') };
}

export const sopEntry = defineDataset({
  name: 'sop',
  aliases: ['stanford-online-products'],
  summary: 'Stanford Online Products, 224×224 (from --root)',
  imageSide: 224,
  channels: 3,
  paper: { catrideLambda: 2, icsWeight: 0.05, spqaXiRate: 7e4 },
  open: async (o) => fileBacked('sop', await loadSop(o)),
});

// Layer: data. Cars-196 (the car_ims + cars_annos.mat release) with RobRank's
// zero-shot split (docs/datasets.md §2.3): classes 1–98 train, 99–196 test, labels
// kept 1-based, bounding boxes and the `test` flag ignored, order = sorted
// relative path.
//
// Annotation source: `cars_annos.csv` (`path,class`, optional header) when
// present — a one-time conversion the user made on purpose, and fast to read —
// otherwise `cars_annos.mat` (variable `annotations`, fields relative_im_path and class).
import path from 'node:path';
import type { DatasetSplits } from './dataset.js';
import { compareStrings, FileImageDataset, parseIntField, pathExists, readLines, resolveRoot } from './file-dataset.js';
import { defineDataset, fileBacked } from './entry.js';
import { readMatFile, type MatValue } from './matlab.js';
import { readCarsClassNames } from './class-names.js';

/** Directory name of Cars-196 under the default roots. */
export const CARS_DIR = 'cars';
const TRAIN_CLASSES = 98;
const ALL_CLASSES = 196;

/** One annotation: image path relative to the root and class 1..196. */
export interface CarAnnotation {
  readonly path: string;
  readonly cls: number;
}

/** Reads `path,class` lines; a first line whose class is not a number is a header. */
export async function readCarsCsv(file: string): Promise<CarAnnotation[]> {
  const out: CarAnnotation[] = [];
  const lines = await readLines(file);
  lines.forEach(({ line, text }, k) => {
    const comma = text.lastIndexOf(','); // paths may contain commas, classes do not
    const p = comma < 0 ? '' : text.slice(0, comma).trim();
    const c = comma < 0 ? '' : text.slice(comma + 1).trim();
    if (k === 0 && !/^\d+$/.test(c)) return; // header, e.g. "path,class"
    if (p === '') throw new Error(`${file}:${line}: expected 'path,class', got '${text}'`);
    out.push({ path: p, cls: parseIntField(c, file, line, 'class') });
  });
  return out;
}

function field(el: ReadonlyMap<string, MatValue>, name: string, file: string, i: number): MatValue {
  const v = el.get(name);
  if (v === undefined) throw new Error(`${file}: annotations(${i + 1}) has no field '${name}'`);
  return v;
}

/** Reads the `annotations` struct array of cars_annos.mat. */
export async function readCarsMat(file: string): Promise<CarAnnotation[]> {
  const vars = await readMatFile(file);
  const ann = vars.get('annotations');
  if (ann === undefined) throw new Error(`${file}: no variable 'annotations' (found: ${[...vars.keys()].join(', ') || 'none'})`);
  if (ann.kind !== 'struct') throw new Error(`${file}: 'annotations' is a ${ann.kind} array, expected a struct array`);
  return ann.elements.map((el, i) => {
    const p = field(el, 'relative_im_path', file, i);
    const c = field(el, 'class', file, i);
    if (p.kind !== 'char') throw new Error(`${file}: annotations(${i + 1}).relative_im_path is ${p.kind}, expected char`);
    if (c.kind !== 'numeric' || c.data.length !== 1) throw new Error(`${file}: annotations(${i + 1}).class is not a scalar number`);
    return { path: p.text, cls: c.data[0]! };
  });
}

/** The annotation file used for `root`: the CSV if present, else the MAT file. */
export async function carsAnnotationFile(root: string): Promise<string> {
  const csv = path.join(root, 'cars_annos.csv');
  if (await pathExists(csv)) return csv;
  const mat = path.join(root, 'cars_annos.mat');
  if (await pathExists(mat)) return mat;
  throw new Error(`${root}: neither cars_annos.csv nor cars_annos.mat found (Cars-196 root)`);
}

/**
 * Cars-196 with the zero-shot split (classes 1–98 train, 99–196 test; docs/datasets.md §2.3) from `root` or the default roots.
 */
export async function loadCars(opts: { root?: string } = {}): Promise<DatasetSplits<FileImageDataset>> {
  const root = await resolveRoot('cars', CARS_DIR, opts.root);
  const file = await carsAnnotationFile(root);
  const annotations = file.endsWith('.csv') ? await readCarsCsv(file) : await readCarsMat(file);
  for (const a of annotations) {
    if (!Number.isInteger(a.cls) || a.cls < 1 || a.cls > ALL_CLASSES) throw new Error(`${file}: class ${a.cls} of '${a.path}' is outside 1..${ALL_CLASSES}`);
  }
  const sorted = [...annotations].sort((a, b) => compareStrings(a.path, b.path));
  const classNames = await readCarsClassNames(root);
  const make = (split: 'train' | 'test'): FileImageDataset => {
    const part = sorted.filter((a) => a.cls <= TRAIN_CLASSES === (split === 'train'));
    return new FileImageDataset({
      name: 'cars',
      split,
      root,
      relativePaths: part.map((a) => a.path),
      labels: Int32Array.from(part, (a) => a.cls),
      source: `${root} (${path.basename(file)})`,
      ...(classNames === undefined ? {} : { classNames }),
    });
  };
  return { train: make('train'), test: make('test') };
}

export const carsEntry = defineDataset({
  name: 'cars',
  aliases: ['cars196', 'cars-196'],
  summary: 'Cars-196, 224×224 (from --root)',
  imageSide: 224,
  channels: 3,
  paper: { catrideLambda: 9.5, spqaXiRate: 7e4 },
  open: async (o) => fileBacked('cars', await loadCars(o)),
});

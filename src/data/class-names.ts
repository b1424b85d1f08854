// Layer: data. The names people know each class by, read from each dataset's own class files
// (CUB's classes.txt, Cars' class_names, SOP's super-class folders, an image folder's sub-folders)
// or fixed by the dataset's publication (Fashion-MNIST). Reports, attack pictures and the explorer
// show them beside the numeric label, which stays the identity everywhere else.
import path from 'node:path';
import type { DatasetBase } from './dataset.js';
import { pathExists, readLines } from './file-dataset.js';
import { readMatFile } from './matlab.js';

/** Label value → class name. */
export type ClassNames = ReadonlyMap<number, string>;

/** Fashion-MNIST's ten classes in label order (Xiao, Rasul & Vollgraf 2017, the dataset's README). */
export const FASHION_CLASS_NAMES: readonly string[] = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

/** MNIST's classes are the digits themselves. */
export const MNIST_CLASS_NAMES: readonly string[] = Array.from({ length: 10 }, (_, d) => String(d));

/** A name list indexed by label (label i ↔ names[i]). */
export function namesByIndex(names: readonly string[], first = 0): ClassNames {
  return new Map(names.map((n, i) => [first + i, n]));
}

/** The name of a label in a dataset, or the label itself when the dataset names no classes. */
export function className(ds: Pick<DatasetBase, 'classNames'>, label: number): string {
  return ds.classNames?.get(label) ?? String(label);
}

/** `001.Black_footed_Albatross` → `Black footed Albatross` (CUB's folder and classes.txt spelling). */
export function cubClassName(folder: string): string {
  return folder.replace(/^\d+\./, '').replace(/_/g, ' ');
}

/**
 * CUB's classes.txt (`<class_id> <folder>` per line) as label → name, label = class_id − 1 as the
 * loader's; absent file → undefined (the names are a courtesy, the split does not need them).
 */
export async function readCubClassNames(root: string): Promise<ClassNames | undefined> {
  const file = path.join(root, 'classes.txt');
  if (!(await pathExists(file))) return undefined;
  const names = new Map<number, string>();
  for (const { line, text } of await readLines(file)) {
    const m = /^(\d+)\s+(\S.*)$/.exec(text);
    if (m === null) throw new Error(`${file}:${line}: expected '<class_id> <name>', got '${text}'`);
    names.set(Number(m[1]) - 1, cubClassName(m[2]!.trim()));
  }
  return names;
}

/**
 * Cars-196's `class_names` (a 1×196 cell of char arrays, in cars_annos.mat and the devkit's
 * cars_meta.mat) as label → name, label = class 1..196 as the loader's; undefined when neither
 * file carries it.
 */
export async function readCarsClassNames(root: string): Promise<ClassNames | undefined> {
  for (const name of ['cars_annos.mat', 'cars_meta.mat', path.join('devkit', 'cars_meta.mat')]) {
    const file = path.join(root, name);
    if (!(await pathExists(file))) continue;
    const v = (await readMatFile(file)).get('class_names');
    if (v === undefined) continue;
    if (v.kind !== 'cell') throw new Error(`${file}: 'class_names' is a ${v.kind} array, expected a cell array of names`);
    const names = new Map<number, string>();
    v.cells.forEach((c, i) => {
      // MATLAB stores an empty string as an empty matrix: that class has no name.
      if (c.kind === 'numeric' && c.data.length === 0) return;
      if (c.kind !== 'char') throw new Error(`${file}: class_names{${i + 1}} is ${c.kind}, expected char`);
      names.set(i + 1, c.text.trim());
    });
    return names;
  }
  return undefined;
}

/**
 * SOP names products, not classes: a class is one product of a super-class (the first folder of
 * its image paths, `bicycle_final/…`), so its name is the super-class and the class id, e.g.
 * `bicycle 1`.
 */
export function sopClassNames(paths: readonly string[], labels: Int32Array): ClassNames {
  const names = new Map<number, string>();
  for (let i = 0; i < paths.length; i++) {
    const label = labels[i]!;
    if (names.has(label)) continue;
    const superClass = (paths[i]!.split('/')[0] ?? '').replace(/_final$/, '').replace(/_/g, ' ');
    names.set(label, superClass === '' ? String(label) : `${superClass} ${label}`);
  }
  return names;
}

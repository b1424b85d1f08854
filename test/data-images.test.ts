// File-backed datasets in their real on-disk layouts (CUB, Cars CSV + MAT v5,
// SOP, image folders), the 224 pipeline with sharp, the worker loader and
// corrupt-file handling. Every fixture is generated here, in a temp dir.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { dataCommand } from '../src/cli/data.js';
import { CENTER_CROP, CROP_SIZE } from '../src/data/augment.js';
import { loadCars } from '../src/data/cars.js';
import { className, cubClassName } from '../src/data/class-names.js';
import { loadCub } from '../src/data/cub.js';
import type { FileDataset } from '../src/data/dataset.js';
import { FileImageDataset } from '../src/data/file-dataset.js';
import { loadImageFolder } from '../src/data/image-folder.js';
import { cropFlipToChw, decodeResized, loadTransformed } from '../src/data/image-transform.js';
import { spc2Loader, testLoader, type BatchLoader } from '../src/data/loader.js';
import { parseMat } from '../src/data/matlab.js';
import { loadSop } from '../src/data/sop.js';
import { dispose, liveTensors } from '../src/tensor/index.js';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'rankshield-images-test-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A small JPEG whose colour encodes `tag` (so decoded images can be told apart). */
async function writeJpeg(file: string, tag: number, width = 40, height = 30): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const px = Buffer.alloc(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    px[3 * p] = (tag * 37) % 256;
    px[3 * p + 1] = (tag * 91 + p) % 256;
    px[3 * p + 2] = 128;
  }
  await sharp(px, { raw: { width, height, channels: 3 } })
    .jpeg()
    .toFile(file);
}

async function writeText(file: string, lines: string[]): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${lines.join('\n')}\n`);
}

/** Collects every batch of a loader (disposing tensors) with its indices and pixel data. */
async function drain(loader: BatchLoader): Promise<{ indices: number[][]; labels: number[][]; pixels: Float32Array[]; shapes: number[][] }> {
  const out = { indices: [] as number[][], labels: [] as number[][], pixels: [] as Float32Array[], shapes: [] as number[][] };
  for await (const b of loader) {
    out.indices.push([...b.indices]);
    out.labels.push(b.labels.toArray());
    out.pixels.push(b.images.data() as Float32Array);
    out.shapes.push(b.images.shape);
    dispose([b.images, b.labels]);
  }
  return out;
}

// ---------------------------------------------------------------- CUB-200-2011

describe('CUB-200-2011 layout', () => {
  let root: string;
  before(async () => {
    root = path.join(tmp, 'CUB_200_2011');
    // image_id → class; ids deliberately listed out of order to check sorting by id.
    const entries: [number, number][] = [
      [5, 101],
      [1, 1],
      [2, 1],
      [3, 100],
      [4, 2],
      [6, 200],
    ];
    const rel = (id: number, cls: number): string => `${String(cls).padStart(3, '0')}.Bird_${cls}/Bird_${cls}_${id}.jpg`;
    await writeText(
      path.join(root, 'images.txt'),
      entries.map(([id, cls]) => `${id} ${rel(id, cls)}`),
    );
    await writeText(
      path.join(root, 'image_class_labels.txt'),
      entries.map(([id, cls]) => `${id} ${cls}`),
    );
    await writeText(
      path.join(root, 'classes.txt'),
      [1, 2, 100, 101, 200].map((cls) => `${cls} ${String(cls).padStart(3, '0')}.Bird_${cls}`),
    );
    // The official split says otherwise; RobRank ignores it (classes ≤ 100 are train).
    await writeText(
      path.join(root, 'train_test_split.txt'),
      entries.map(([id]) => `${id} ${id % 2}`),
    );
    for (const [id, cls] of entries) await writeJpeg(path.join(root, 'images', rel(id, cls)), id);
  });

  test('class ≤ 100 is train, label = class − 1, order = image_id', async () => {
    const d = await loadCub({ root });
    assert.deepEqual(
      d.train.relativePaths.map((p) => path.basename(p)),
      ['Bird_1_1.jpg', 'Bird_1_2.jpg', 'Bird_100_3.jpg', 'Bird_2_4.jpg'],
    );
    assert.deepEqual([...d.train.labels], [0, 0, 99, 1]);
    assert.deepEqual([...d.test.labels], [100, 199]);
    assert.deepEqual([d.train.classes, d.test.classes], [3, 2]);
    assert.equal(d.test.files[0], path.join(root, 'images', '101.Bird_101', 'Bird_101_5.jpg'));
    assert.deepEqual([d.train.channels, d.train.height, d.train.width], [3, 224, 224]);
    // classes.txt names each class by its folder: label = class − 1, underscores as spaces.
    assert.deepEqual(
      [className(d.train, 0), className(d.train, 99), className(d.test, 100), className(d.test, 199)],
      ['Bird 1', 'Bird 100', 'Bird 101', 'Bird 200'],
    );
    assert.equal(cubClassName('001.Black_footed_Albatross'), 'Black footed Albatross');
  });

  test('missing train_test_split.txt or inconsistent folder numbers are errors naming the file', async () => {
    const broken = path.join(tmp, 'cub-broken');
    await writeText(path.join(broken, 'images.txt'), ['1 001.A/a.jpg']);
    await writeText(path.join(broken, 'image_class_labels.txt'), ['1 2']);
    await assert.rejects(loadCub({ root: broken }), /cub-broken\/train_test_split\.txt: missing/);
    await writeText(path.join(broken, 'train_test_split.txt'), ['1 1']);
    await assert.rejects(loadCub({ root: broken }), /image_class_labels\.txt:1: image_id 1 has class 2 but its folder '001\.A\/a\.jpg' says 1/);
    await assert.rejects(loadCub({ root: path.join(tmp, 'no-such-cub') }), /no-such-cub: cub root directory does not exist/);
  });
});

// ---------------------------------------------------------------- Cars-196

/** Minimal MAT v5 writer for the fixtures (little-endian, the layout MATLAB's save -v7 produces). */
const mat = {
  element(type: number, payload: Buffer): Buffer {
    const tag = Buffer.alloc(8);
    tag.writeUInt32LE(type, 0);
    tag.writeUInt32LE(payload.length, 4);
    return Buffer.concat([tag, payload, Buffer.alloc((8 - (payload.length % 8)) % 8)]);
  },
  small(type: number, payload: Buffer): Buffer {
    const b = Buffer.alloc(8);
    b.writeUInt32LE((payload.length << 16) | type, 0);
    payload.copy(b, 4);
    return b;
  },
  matrix(cls: number, dims: number[], name: string, body: Buffer[]): Buffer {
    const flags = Buffer.alloc(8);
    flags.writeUInt32LE(cls, 0);
    const d = Buffer.alloc(4 * dims.length);
    dims.forEach((v, i) => d.writeInt32LE(v, 4 * i));
    return mat.element(
      14,
      Buffer.concat([
        mat.element(6, flags),
        mat.element(5, d),
        name === '' ? mat.small(1, Buffer.alloc(0)) : mat.element(1, Buffer.from(name, 'latin1')),
        ...body,
      ]),
    );
  },
  char(text: string): Buffer {
    const u16 = Buffer.alloc(2 * text.length);
    for (let i = 0; i < text.length; i++) u16.writeUInt16LE(text.charCodeAt(i), 2 * i);
    return mat.matrix(4, [1, text.length], '', [mat.element(4, u16)]);
  },
  /** A double scalar stored compactly as miUINT8, as MATLAB does for small integers. */
  doubleAsUint8(v: number): Buffer {
    return mat.matrix(6, [1, 1], '', [mat.small(2, Buffer.from([v]))]);
  },
  double(v: number): Buffer {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    return mat.matrix(6, [1, 1], '', [mat.element(9, b)]);
  },
  struct(name: string, fields: string[], elements: Buffer[][]): Buffer {
    const len = 32;
    const names = Buffer.alloc(len * fields.length);
    fields.forEach((f, i) => names.write(f, i * len, 'latin1'));
    const lenBuf = Buffer.alloc(4);
    lenBuf.writeInt32LE(len);
    return mat.matrix(2, [1, elements.length], name, [mat.small(5, lenBuf), mat.element(1, names), ...elements.flat()]);
  },
  cell(name: string, cells: Buffer[]): Buffer {
    return mat.matrix(1, [1, cells.length], name, cells);
  },
  compressed(el: Buffer): Buffer {
    const z = deflateSync(el);
    const tag = Buffer.alloc(8);
    tag.writeUInt32LE(15, 0);
    tag.writeUInt32LE(z.length, 4);
    return Buffer.concat([tag, z]);
  },
  file(vars: Buffer[]): Buffer {
    const header = Buffer.alloc(128, ' ');
    header.write('MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024', 0, 'latin1');
    header.fill(0, 116, 124);
    header.writeUInt16LE(0x0100, 124);
    header.write('IM', 126, 'latin1');
    return Buffer.concat([header, ...vars]);
  },
};

describe('Cars-196 layout', () => {
  // Out of path order on purpose; classes straddle the 98/99 boundary.
  const annotations: [string, number][] = [
    ['car_ims/000004.jpg', 99],
    ['car_ims/000001.jpg', 1],
    ['car_ims/000003.jpg', 98],
    ['car_ims/000002.jpg', 196],
    ['car_ims/000005.jpg', 14],
  ];
  const expectSplits = async (root: string): Promise<void> => {
    const d = await loadCars({ root });
    assert.deepEqual(d.train.relativePaths, ['car_ims/000001.jpg', 'car_ims/000003.jpg', 'car_ims/000005.jpg']);
    assert.deepEqual([...d.train.labels], [1, 98, 14]);
    assert.deepEqual(d.test.relativePaths, ['car_ims/000002.jpg', 'car_ims/000004.jpg']);
    assert.deepEqual([...d.test.labels], [196, 99]);
  };
  const annotationsMat = (compressed: boolean): Buffer => {
    const fields = ['relative_im_path', 'bbox_x1', 'bbox_y1', 'bbox_x2', 'bbox_y2', 'class', 'test'];
    const elements = annotations.map(([p, c], i) => [
      mat.char(p),
      mat.doubleAsUint8(1),
      mat.doubleAsUint8(2),
      mat.double(300.5),
      mat.double(200),
      i % 2 ? mat.doubleAsUint8(c) : mat.double(c),
      mat.doubleAsUint8(i % 2),
    ]);
    const vars = [
      mat.struct('annotations', fields, elements),
      mat.cell('class_names', [mat.char('AM General Hummer SUV 2000'), mat.matrix(6, [0, 0], '', [])]),
    ];
    return mat.file(compressed ? vars.map((v) => mat.compressed(v)) : vars);
  };

  test('cars_annos.csv: class ≤ 98 train, 1-based labels, sorted by path', async () => {
    const root = path.join(tmp, 'cars-csv');
    await writeText(path.join(root, 'cars_annos.csv'), ['path,class', ...annotations.map(([p, c]) => `${p},${c}`)]);
    await expectSplits(root);
    // Without a MAT file nothing names the classes: the labels stand for themselves.
    assert.equal((await loadCars({ root })).train.classNames, undefined);
  });

  test('cars_annos.mat with compressed (and plain) struct arrays gives the same splits', async () => {
    for (const compressed of [true, false]) {
      const root = path.join(tmp, `cars-mat-${compressed}`);
      await mkdir(root, { recursive: true });
      await writeFile(path.join(root, 'cars_annos.mat'), annotationsMat(compressed));
      await expectSplits(root);
    }
    // `data convert-cars` writes the CSV once (atomically); the CSV then gives the same splits.
    const root = path.join(tmp, 'cars-mat-true');
    const log = console.log;
    console.log = () => {};
    try {
      assert.equal(await dataCommand.run(['convert-cars', '--root', root]), 0);
    } finally {
      console.log = log;
    }
    // class_names of the MAT file name label 1; its empty second cell names nothing.
    const named = await loadCars({ root });
    assert.equal(className(named.train, 1), 'AM General Hummer SUV 2000');
    assert.equal(className(named.test, 196), '196');
    const csv = await readFile(path.join(root, 'cars_annos.csv'), 'utf8');
    assert.equal(csv.split('\n')[1], 'car_ims/000004.jpg,99');
    await expectSplits(root);
    const vars = parseMat(annotationsMat(true), 'fixture.mat');
    const names = vars.get('class_names');
    assert.equal(names?.kind, 'cell');
    if (names?.kind === 'cell') assert.deepEqual(names.cells[0], { kind: 'char', dims: [1, 26], text: 'AM General Hummer SUV 2000' });
    const ann = vars.get('annotations');
    assert.ok(ann?.kind === 'struct' && ann.fieldNames.length === 7 && ann.elements.length === 5);
  });

  test('corrupt MAT files and bad classes are errors naming the file', async () => {
    const good = annotationsMat(true);
    assert.throws(() => parseMat(good.subarray(0, good.length - 30), '/d/cars_annos.mat'), /\/d\/cars_annos\.mat: (corrupt compressed element|data element)/);
    assert.throws(() => parseMat(Buffer.alloc(200), '/d/x.mat'), /\/d\/x\.mat: not a MATLAB 5\.0 MAT-file/);
    const root = path.join(tmp, 'cars-bad');
    await writeText(path.join(root, 'cars_annos.csv'), ['car_ims/1.jpg,197']);
    await assert.rejects(loadCars({ root }), /cars-bad\/cars_annos\.csv: class 197 of 'car_ims\/1\.jpg' is outside 1\.\.196/);
    await writeText(path.join(root, 'cars_annos.csv'), ['path,class', 'car_ims/1.jpg,x']);
    await assert.rejects(loadCars({ root }), /cars_annos\.csv:2: class 'x' is not an integer/);
    await mkdir(path.join(tmp, 'cars-empty'), { recursive: true });
    await assert.rejects(loadCars({ root: path.join(tmp, 'cars-empty') }), /neither cars_annos\.csv nor cars_annos\.mat/);
  });
});

// ---------------------------------------------------------------- SOP

describe('Stanford Online Products layout', () => {
  test('label = class_id, file order, header required, ids contiguous', async () => {
    const root = path.join(tmp, 'Stanford_Online_Products');
    await writeText(path.join(root, 'Ebay_train.txt'), [
      'image_id class_id super_class_id path',
      '1 1 1 bicycle_final/111_0.JPG',
      '2 1 1 bicycle_final/111_1.JPG',
      '3 2 1 bicycle_final/222_0.JPG',
    ]);
    await writeText(path.join(root, 'Ebay_test.txt'), [
      'image_id class_id super_class_id path',
      '4 11319 3 chair_final/9_0.JPG',
      '5 11318 3 chair_final/8_0.JPG',
    ]);
    const d = await loadSop({ root });
    assert.deepEqual([...d.train.labels], [1, 1, 2]);
    assert.deepEqual(d.train.relativePaths, ['bicycle_final/111_0.JPG', 'bicycle_final/111_1.JPG', 'bicycle_final/222_0.JPG']);
    assert.deepEqual([...d.test.labels], [11319, 11318]);
    assert.equal(d.test.files[1], path.join(root, 'chair_final/8_0.JPG'));

    await writeText(path.join(root, 'Ebay_test.txt'), ['image_id class_id super_class_id path', '4 5 3 a.JPG', '6 5 3 b.JPG']);
    await assert.rejects(loadSop({ root }), /Ebay_test\.txt:3: image_id 6 does not follow 4/);
    await writeText(path.join(root, 'Ebay_test.txt'), ['4 5 3 a.JPG']);
    await assert.rejects(loadSop({ root }), /Ebay_test\.txt:1: expected header 'image_id class_id super_class_id path'/);
  });

  test('a class is named by its super-class folder and its id', async () => {
    const root = path.join(tmp, 'sop-names');
    await writeText(path.join(root, 'Ebay_train.txt'), [
      'image_id class_id super_class_id path',
      '1 1 1 bicycle_final/111_0.JPG',
      '2 2 12 coffee_maker_final/2_0.JPG',
    ]);
    await writeText(path.join(root, 'Ebay_test.txt'), ['image_id class_id super_class_id path', '3 11319 3 chair_final/9_0.JPG']);
    const d = await loadSop({ root });
    assert.deepEqual([className(d.train, 1), className(d.train, 2), className(d.test, 11319)], ['bicycle 1', 'coffee maker 2', 'chair 11319']);
  });
});

// ---------------------------------------------------------------- image folder

describe('image folder', () => {
  test('sorted class folders, first half train, labels by sorted name', async () => {
    const root = path.join(tmp, 'folder');
    let tag = 0;
    for (const cls of ['dogs', 'cats', 'emus', 'bats']) for (const f of ['b.jpg', 'a.jpg']) await writeJpeg(path.join(root, cls, f), tag++);
    await writeFile(path.join(root, 'cats', 'notes.txt'), 'not an image');
    const d = await loadImageFolder(root);
    assert.deepEqual(d.train.relativePaths, ['bats/a.jpg', 'bats/b.jpg', 'cats/a.jpg', 'cats/b.jpg']);
    assert.deepEqual([...d.train.labels], [0, 0, 1, 1]);
    assert.deepEqual([...d.test.labels], [2, 2, 3, 3]);
    assert.equal(d.test.relativePaths[0], 'dogs/a.jpg');
    // The sub-folders name the classes.
    assert.deepEqual([className(d.train, 0), className(d.train, 1), className(d.test, 2), className(d.test, 3)], ['bats', 'cats', 'dogs', 'emus']);
  });
});

// ---------------------------------------------------------------- 224 pipeline

describe('224 pipeline (sharp)', () => {
  let gradient: string;
  before(async () => {
    // 256×256 lossless gradient: R = column, G = row. At 256×256 the resize is the identity.
    gradient = path.join(tmp, 'gradient.png');
    const px = Buffer.alloc(256 * 256 * 3);
    for (let y = 0; y < 256; y++) for (let x = 0; x < 256; x++) px.set([x, y, 77], 3 * (256 * y + x));
    await sharp(px, { raw: { width: 256, height: 256, channels: 3 } })
      .png()
      .toFile(gradient);
  });

  test('center crop, random crop offsets and flips land where they should', async () => {
    const center = await loadTransformed(gradient, CENTER_CROP);
    const plane = CROP_SIZE * CROP_SIZE;
    assert.equal(center.length, 3 * plane);
    const at = (img: Float32Array, c: number, r: number, col: number): number => Math.round(img[c * plane + r * CROP_SIZE + col]! * 255);
    assert.deepEqual([at(center, 0, 0, 0), at(center, 1, 0, 0), at(center, 2, 0, 0)], [16, 16, 77]);
    assert.deepEqual([at(center, 0, 223, 223), at(center, 1, 223, 223)], [239, 239]);
    const rgb = await decodeResized(gradient);
    const crop = cropFlipToChw(rgb, 256, { x: 5, y: 32, flip: false });
    assert.deepEqual([at(crop, 0, 0, 0), at(crop, 1, 0, 0), at(crop, 0, 0, 223)], [5, 32, 228]);
    const flipped = cropFlipToChw(rgb, 256, { x: 5, y: 32, flip: true });
    assert.deepEqual([at(flipped, 0, 0, 0), at(flipped, 0, 0, 223), at(flipped, 1, 10, 0)], [228, 5, 42]);
    assert.throws(() => cropFlipToChw(rgb, 256, { x: 33, y: 0, flip: false }), /does not fit/);
  });

  test('any input becomes 3×256×256 RGB: grayscale replicated, alpha dropped, aspect not kept', async () => {
    const gray = path.join(tmp, 'gray.png');
    await sharp(Buffer.alloc(50 * 20, 90), { raw: { width: 50, height: 20, channels: 1 } })
      .png()
      .toFile(gray);
    const rgba = path.join(tmp, 'rgba.png');
    await sharp(Buffer.alloc(30 * 60 * 4, 200), { raw: { width: 30, height: 60, channels: 4 } })
      .png()
      .toFile(rgba);
    for (const [file, value] of [
      [gray, 90],
      [rgba, 200],
    ] as const) {
      const out = await decodeResized(file);
      assert.equal(out.length, 256 * 256 * 3);
      assert.ok(
        out.every((v) => v === value),
        `${path.basename(file)} should stay ${value} everywhere`,
      );
    }
  });

  test('loader output: [n,3,224,224] float32 in [0,1]; deterministic under a seed, independent of workers', async () => {
    const root = path.join(tmp, 'folder-det');
    for (let i = 0; i < 8; i++) await writeJpeg(path.join(root, `c${i % 4}`, `${i}.jpg`), i, 60 + i, 45);
    const { train } = await loadImageFolder(root);
    const live = liveTensors();
    const a = await drain(spc2Loader(train, { seed: 5, batchPairs: 3, workers: 2 }));
    const b = await drain(spc2Loader(train, { seed: 5, batchPairs: 3, workers: 0 }));
    const c = await drain(spc2Loader(train, { seed: 6, batchPairs: 3, workers: 1 }));
    assert.equal(liveTensors(), live);
    assert.deepEqual(a.shapes, [
      [6, 3, 224, 224],
      [2, 3, 224, 224],
    ]);
    assert.deepEqual(a.indices, b.indices);
    assert.deepEqual(a.pixels, b.pixels);
    assert.notDeepEqual(a.pixels, c.pixels);
    for (const px of a.pixels) assert.ok(px.every((v) => v >= 0 && v <= 1));
    for (const [k, ys] of a.labels.entries()) for (let i = 0; i < ys.length; i += 2) assert.equal(ys[i], ys[i + 1], `batch ${k} pair ${i / 2}`);

    const t = await drain(testLoader(train, { batchSize: 3, workers: 1 }));
    assert.deepEqual(t.indices, [[0, 1, 2], [3]]);
    const direct = await loadTransformed(train.files[3]!, CENTER_CROP);
    assert.deepEqual(t.pixels[1], direct);
  });
});

// ---------------------------------------------------------------- corrupt files

describe('corrupt and missing images', () => {
  let ds: FileDataset;
  before(async () => {
    const root = path.join(tmp, 'corrupt');
    const rel: string[] = [];
    for (let i = 0; i < 6; i++) {
      rel.push(`c${i % 2}/${i}.jpg`);
      if (i !== 3) await writeJpeg(path.join(root, rel[i]!), i);
    }
    await writeFile(path.join(root, rel[3]!), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a]));
    ds = new FileImageDataset({ name: 'folder', split: 'train', root, relativePaths: rel, labels: Int32Array.from([0, 1, 0, 1, 0, 1]) });
  });

  test('by default the loader fails with an error naming the file', async () => {
    await assert.rejects(drain(testLoader(ds, { batchSize: 4, workers: 1 })), (e: Error) => {
      assert.match(e.message, /corrupt\/c1\/3\.jpg: cannot decode image/);
      return true;
    });
    const missing = new FileImageDataset({
      name: 'folder',
      split: 'test',
      root: ds.root,
      relativePaths: ['c0/0.jpg', 'c0/gone.jpg'],
      labels: Int32Array.from([0, 0]),
    });
    await assert.rejects(drain(testLoader(missing, { workers: 1 })), /c0\/gone\.jpg: cannot decode image \(Input file is missing/);
  });

  test('skipCorrupt leaves the file out (with its pair partner), counts and names it', async () => {
    const live = liveTensors();
    const t = testLoader(ds, { batchSize: 4, workers: 1, skipCorrupt: true });
    const tr = await drain(t);
    assert.deepEqual(tr.indices, [
      [0, 1, 2],
      [4, 5],
    ]);
    assert.deepEqual(
      t.skipped.map((s) => s.index),
      [3],
    );
    assert.match(t.skipped[0]!.error, /c1\/3\.jpg/);

    const s = spc2Loader(ds, { seed: 1, batchPairs: 6, workers: 2, skipCorrupt: true });
    const sr = await drain(s);
    const flat = sr.indices.flat();
    assert.ok(!flat.includes(3));
    assert.equal(flat.length % 2, 0);
    for (let k = 0; k < flat.length; k += 2) assert.equal(ds.labels[flat[k]!], ds.labels[flat[k + 1]!]);
    assert.deepEqual(
      s.skipped.map((x) => x.file),
      [path.join(ds.root, 'c1/3.jpg')],
    );
    assert.equal(liveTensors(), live);
  });
});

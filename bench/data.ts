// Data pipeline benchmark: throughput of the 224 training pipeline (decode →
// RGB → resize 256 → random crop 224 + flip → float32 CHW → batch tensor) on a
// synthetic image-folder dataset of real JPEGs, with 1 and 2 decode workers.
// Last line: {"bench":"data","images_per_s":{"workers_1":…,"workers_2":…},"training_step_images_per_s":…}.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { flagBool, flagNumber, parseOptions } from '../src/util/options.js';
import { CENTER_CROP } from '../src/data/augment.js';
import { DecodePool } from '../src/data/decode-pool.js';
import { FileImageDataset } from '../src/data/file-dataset.js';
import { spc2Loader } from '../src/data/loader.js';
import { Rng } from '../src/data/random.js';
import { dispose, rand, tidy } from '../src/tensor/index.js';
import { ResNet } from '../src/models/resnet.js';
import { Adam } from '../src/optim/index.js';

interface DataBenchArgs {
  images: number;
  classes: number;
  width: number;
  height: number;
  json: boolean;
}

function parseArgs(argv: string[]): DataBenchArgs {
  const n = (help: string) => ({ kind: 'int', value: 'N', min: 1, help }) as const;
  const p = parseOptions(argv, {
    images: n('images to write and decode'),
    classes: n('classes'),
    width: n('image width'),
    height: n('image height'),
    json: { kind: 'boolean', help: 'print only the JSON line' },
  });
  return {
    images: flagNumber(p, 'images') ?? 300,
    classes: flagNumber(p, 'classes') ?? 10,
    width: flagNumber(p, 'width') ?? 500,
    height: flagNumber(p, 'height') ?? 375,
    json: flagBool(p, 'json'),
  };
}

/** A photo-like test image: smooth colour gradients plus noise, so JPEG decoding does real work. */
function syntheticRgb(width: number, height: number, rng: Rng): Buffer {
  const px = Buffer.alloc(width * height * 3);
  const [r0, g0, b0] = [rng.nextInt(256), rng.nextInt(256), rng.nextInt(256)];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = 3 * (y * width + x);
      const noise = rng.nextInt(32);
      px[o] = (r0 + (x * 255) / width + noise) & 255;
      px[o + 1] = (g0 + (y * 255) / height + noise) & 255;
      px[o + 2] = (b0 + ((x + y) * 128) / (width + height) + noise) & 255;
    }
  }
  return px;
}

async function writeDataset(dir: string, a: DataBenchArgs): Promise<FileImageDataset> {
  const rng = new Rng(1);
  const relativePaths: string[] = [];
  const labels: number[] = [];
  for (let i = 0; i < a.images; i++) {
    const cls = i % a.classes;
    const rel = path.join(`class${String(cls).padStart(3, '0')}`, `img${String(i).padStart(5, '0')}.jpg`);
    await mkdir(path.join(dir, path.dirname(rel)), { recursive: true });
    await sharp(syntheticRgb(a.width, a.height, rng), { raw: { width: a.width, height: a.height, channels: 3 } })
      .jpeg({ quality: 90 })
      .toFile(path.join(dir, rel));
    relativePaths.push(rel);
    labels.push(cls);
  }
  return new FileImageDataset({ name: 'folder', split: 'train', root: dir, relativePaths, labels: Int32Array.from(labels) });
}

/** Images per second through one SPC-2 epoch (2 images per dataset image), workers already started. */
async function measure(ds: FileImageDataset, workers: number): Promise<number> {
  const pool = new DecodePool(workers);
  try {
    await Promise.all(Array.from({ length: Math.max(1, workers) }, (_, k) => pool.decode(ds.files[k % ds.length]!, CENTER_CROP)));
    const loader = spc2Loader(ds, { seed: 0, pool, batchPairs: 56 });
    const t0 = performance.now();
    let images = 0;
    for await (const b of loader) {
      images += b.indices.length;
      dispose([b.images, b.labels]);
    }
    return images / ((performance.now() - t0) / 1000);
  } finally {
    await pool.close();
  }
}

function trainingConsumption(): number {
  const model = new ResNet(18);
  const opt = new Adam(model.parameters(), { lr: 1e-5, weightDecay: 4e-4 });
  const x = rand([112, 3, 224, 224]);
  const step = (): void => {
    tidy(() => {
      opt.zeroGrad();
      model.train().forward(x).pow(2).mean().backward();
    });
    opt.step();
  };
  try {
    step(); // warm-up
    const t0 = performance.now();
    step();
    step();
    return (2 * 112) / ((performance.now() - t0) / 1000);
  } finally {
    x.dispose();
    opt.dispose();
    model.dispose();
  }
}

export async function runDataBench(argv: string[]): Promise<number> {
  const a = parseArgs(argv);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rankshield-data-bench-'));
  try {
    const t0 = performance.now();
    const ds = await writeDataset(dir, a);
    console.log(`data bench: ${a.images} JPEGs of ${a.width}×${a.height} in ${a.classes} classes written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    console.log('224 train pipeline: decode → RGB → resize 256×256 (bilinear) → random crop 224 + flip → float32 CHW, SPC-2 batches of 56 pairs');
    const perS: Record<string, number> = {};
    for (const workers of [1, 2]) {
      const ips = await measure(ds, workers);
      perS[`workers_${workers}`] = Math.round(ips * 10) / 10;
      console.log(`  ${workers} worker${workers === 1 ? ' ' : 's'}: ${ips.toFixed(1)} images/s`);
    }
    // What training consumes: one ResNet-18 step (forward + backward + Adam) on a 112-image batch.
    const consume = trainingConsumption();
    console.log(`  ResNet-18 training step consumes ${consume.toFixed(1)} images/s (batch 112, undefended; adversarial training consumes ~η+2 times fewer)`);
    const best = Math.max(...Object.values(perS));
    console.log(`  → the loader ${best >= consume ? 'keeps ahead of' : 'cannot keep up with'} training (${(best / consume).toFixed(1)}× its rate)`);
    console.log(JSON.stringify({ bench: 'data', images_per_s: perS, training_step_images_per_s: Math.round(consume * 10) / 10 }));
    return 0;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

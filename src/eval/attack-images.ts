// Layer: eval. Pictures of what an attack did: for each attacked image, the
// clean image, the perturbation amplified to be visible (its scale in the file
// name: pixel = 0.5 + scale · δ) and the adversarial image, as PNGs, plus
// rankings.json with each image's top-k neighbours (gallery index, label, class
// name, distance) before and after the attack. The PNG encoding of one CHW image is
// shared with the swipe page (report-html.ts) and the service's images.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { makeDirs, writeFileAtomic } from '../io/atomic.js';
import type { AttackExamples } from '../attack/index.js';
import { className } from '../data/index.js';
import { noGrad, tidy, type Tensor } from '../tensor/index.js';

/** C, H, W of one image. */
export type ImageShape = readonly [number, number, number];

/**
 * One image of an NCHW float array as a PNG (sharp pipeline, not yet encoded): the C planes at
 * `offset`, each value mapped by `map` then clipped to [0, 1] and scaled to bytes. 1 channel → grey, 3 → RGB.
 */
export function chwPng(values: Float32Array, offset: number, shape: ImageShape, map: (v: number) => number = (v) => v): Sharp {
  const [c, h, w] = shape;
  if (c !== 1 && c !== 3) throw new Error(`chwPng: images have 1 or 3 channels, got ${c}`);
  if (offset < 0 || offset + c * h * w > values.length) throw new Error(`chwPng: a ${c}×${h}×${w} image at ${offset} overruns ${values.length} values`);
  const pixels = Buffer.alloc(c * h * w);
  // NCHW planes → interleaved HWC bytes
  for (let ch = 0; ch < c; ch++)
    for (let p = 0; p < h * w; p++) pixels[p * c + ch] = Math.round(255 * Math.min(1, Math.max(0, map(values[offset + ch * h * w + p]!))));
  // b-w keeps a grey image one channel (sharp would write RGB).
  return sharp(pixels, { raw: { width: w, height: h, channels: c } })
    .toColourspace(c === 1 ? 'b-w' : 'srgb')
    .png();
}

/**
 * The factor that makes a perturbation visible: pixel = 0.5 + scale · δ brings the
 * largest |δ| to mid-grey ± 0.5; a zero perturbation stays flat grey (scale 1).
 */
export function perturbationScale(maxAbs: number): number {
  return maxAbs > 0 ? 0.5 / maxAbs : 1;
}

/** One entry of a neighbour list. */
export interface Neighbour {
  /** Gallery (test split) index. */
  index: number;
  label: number;
  /** The dataset's name of the label ("Trouser"), or the label itself where it names none. */
  className: string;
  distance: number;
}

/** What was written for one attacked image (file names relative to the directory). */
export interface AttackImageRecord {
  index: number;
  label: number;
  className: string;
  /** max |δ| of its perturbation, and the factor its perturbation PNG is amplified by. */
  maxPerturbation: number;
  scale: number;
  files: { query: string; perturbation: string; adversarial: string };
  before: Neighbour[];
  after: Neighbour[];
}

export interface AttackImagesInput {
  /** Which attack and budget, for rankings.json. */
  attack: string;
  budget: { epsilon: number; alpha: number; steps: number };
  /** [B, C, H, W] clean images in [0, 1] and what the attack returned for them. */
  clean: Tensor;
  examples: AttackExamples;
  /** Dataset index of each attacked image, and the labels of the whole gallery (for the neighbour lists). */
  indices: Int32Array;
  labels: Int32Array;
  /** The dataset's class names by label (DatasetBase.classNames); absent: the labels stand for themselves. */
  classNames?: ReadonlyMap<number, string>;
  /** Save at most this many images (default all of the batch). */
  limit?: number;
}

/** Writes the PNGs and rankings.json into `dir`; returns the files written and what each image's files hold. */
export async function saveAttackImages(dir: string, o: AttackImagesInput): Promise<{ files: string[]; images: AttackImageRecord[] }> {
  makeDirs(dir);
  const [b, c, h, w] = o.clean.shape as [number, number, number, number];
  const count = Math.min(b, o.limit ?? b);
  const delta = noGrad(() => tidy(() => o.examples.adversarial.sub(o.clean)));
  const written: string[] = [];
  try {
    const clean = Float32Array.from(o.clean.toArray());
    const adv = Float32Array.from(o.examples.adversarial.toArray());
    const d = Float32Array.from(delta.toArray());
    const size = c * h * w;
    const png = async (name: string, values: Float32Array, offset: number, map?: (v: number) => number): Promise<string> => {
      const file = path.join(dir, name);
      // Plain writes: hundreds of small pictures, each cheap to make again (rankings.json is written atomically).
      await writeFile(file, await chwPng(values, offset, [c, h, w], map).toBuffer());
      written.push(file);
      return name;
    };
    const nameOf = (label: number): string => className(o, label);
    const images: AttackImageRecord[] = [];
    for (let i = 0; i < count; i++) {
      const id = o.indices[i]!;
      let maxAbs = 0;
      for (let k = 0; k < size; k++) maxAbs = Math.max(maxAbs, Math.abs(d[i * size + k]!));
      const scale = perturbationScale(maxAbs);
      const files = {
        query: await png(`${id}-query.png`, clean, i * size),
        perturbation: await png(`${id}-perturbation-x${scale.toFixed(1)}.png`, d, i * size, (v) => 0.5 + scale * v),
        adversarial: await png(`${id}-adversarial.png`, adv, i * size),
      };
      const list = (ids: number[], dist: number[]): Neighbour[] =>
        ids.map((g, k) => ({ index: g, label: o.labels[g]!, className: nameOf(o.labels[g]!), distance: dist[k]! }));
      images.push({
        index: id,
        label: o.labels[id]!,
        className: nameOf(o.labels[id]!),
        maxPerturbation: maxAbs,
        scale,
        files,
        before: list(o.examples.topBefore[i]!, o.examples.distancesBefore[i]!),
        after: list(o.examples.topAfter[i]!, o.examples.distancesAfter[i]!),
      });
    }
    const json = path.join(dir, 'rankings.json');
    // rankings.json keeps the shape it had before the file names were recorded.
    const rankings = images.map(({ index, label, className, maxPerturbation, before, after }) => ({ index, label, className, maxPerturbation, before, after }));
    await writeFileAtomic(json, `${JSON.stringify({ attack: o.attack, budget: o.budget, images: rankings }, null, 2)}\n`);
    written.push(json);
    return { files: written, images };
  } finally {
    delta.dispose();
  }
}

// Layer: data. In-memory uint8 image datasets (MNIST, Fashion-MNIST) and the
// fast path from indices to a float32 NCHW batch: one typed-array gather with a
// /255 lookup table, then one copy into libtorch.
import { Tensor } from '../tensor/index.js';
import { countClasses, type InMemoryDataset, type Split } from './dataset.js';

/** v/255 in float32 for every byte value (identical to float32 division: double rounding is exact here). */
const UNIT_SCALE = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/** What a loader supplies; `length` and `classes` follow from the labels. */
export type InMemoryImageDatasetInit = Pick<
  InMemoryImageDataset,
  'name' | 'split' | 'source' | 'channels' | 'height' | 'width' | 'pixels' | 'labels' | 'classNames'
>;

/** A split of uint8 images held in memory (MNIST, Fashion-MNIST), turned into [0, 1] float batches on demand. */
export class InMemoryImageDataset implements InMemoryDataset {
  readonly kind = 'memory' as const;
  readonly name: string;
  readonly split: Split;
  readonly source: string;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  /** length·C·H·W bytes. */
  readonly pixels: Uint8Array;
  readonly labels: Int32Array;
  readonly length: number;
  readonly classes: number;
  readonly classNames?: ReadonlyMap<number, string>;

  constructor(init: InMemoryImageDatasetInit) {
    const imageBytes = init.channels * init.height * init.width;
    if (init.pixels.length !== init.labels.length * imageBytes) {
      throw new Error(`${init.name} ${init.split}: ${init.pixels.length} pixel bytes do not hold ${init.labels.length} images of ${imageBytes} bytes`);
    }
    this.name = init.name;
    this.split = init.split;
    this.source = init.source;
    this.channels = init.channels;
    this.height = init.height;
    this.width = init.width;
    this.pixels = init.pixels;
    this.labels = init.labels;
    this.length = init.labels.length;
    this.classes = countClasses(init.labels);
    if (init.classNames !== undefined) this.classNames = init.classNames;
  }

  get imageSize(): number {
    return this.channels * this.height * this.width;
  }

  /** The images at `indices` as float32 in [0,1], flattened NCHW (no tensor). */
  gatherFloat32(indices: ArrayLike<number>): Float32Array {
    return gatherUnitFloat32(this, indices);
  }

  /** Images at `indices` as a float32 tensor [n, C, H, W] in [0,1]. */
  batch(indices: ArrayLike<number>): Tensor {
    return Tensor.fromTypedArray(this.gatherFloat32(indices), [indices.length, this.channels, this.height, this.width], 'float32');
  }

  /** Labels at `indices` as an int64 tensor [n]. */
  labelBatch(indices: ArrayLike<number>): Tensor {
    return labelsTensor(this.labels, indices);
  }
}

/** labels[indices] as an int64 tensor [n]. */
export function labelsTensor(labels: Int32Array, indices: ArrayLike<number>): Tensor {
  const out = new BigInt64Array(indices.length);
  for (let k = 0; k < indices.length; k++) out[k] = BigInt(labels[indices[k]!]!);
  return Tensor.fromTypedArray(out, [indices.length], 'int64');
}

/** Gathers images of an in-memory dataset as float32 /255, flattened NCHW: the whole batch in one typed array. */
export function gatherUnitFloat32(d: InMemoryDataset, indices: ArrayLike<number>): Float32Array {
  const size = d.channels * d.height * d.width;
  const out = new Float32Array(indices.length * size);
  const pixels = d.pixels;
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    if (!(Number.isInteger(i) && i >= 0 && i < d.length)) throw new RangeError(`${d.name} ${d.split}: index ${i} out of range [0, ${d.length})`);
    const src = i * size;
    const dst = k * size;
    for (let p = 0; p < size; p++) out[dst + p] = UNIT_SCALE[pixels[src + p]!]!;
  }
  return out;
}

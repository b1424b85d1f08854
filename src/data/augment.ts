// Layer: data. Geometry of the 224 pipeline (docs/datasets.md §3) and its random
// choices. Pure JS so that decode workers can import it without libtorch.
import type { Rng } from './random.js';

/** Every image is first resized to exactly RESIZE_SIZE × RESIZE_SIZE (aspect ratio not kept). */
export const RESIZE_SIZE = 256;
/** Then cropped to CROP_SIZE × CROP_SIZE. */
export const CROP_SIZE = 224;

/** Where to crop the resized image and whether to mirror it. */
export interface CropFlip {
  /** Left column of the crop, 0..RESIZE_SIZE−CROP_SIZE. */
  readonly x: number;
  /** Top row of the crop. */
  readonly y: number;
  /** Horizontal flip. */
  readonly flip: boolean;
}

/** Test transform: torchvision CenterCrop offset round((256 − 224) / 2) = 16, no flip. */
export const CENTER_CROP: CropFlip = Object.freeze({
  x: Math.round((RESIZE_SIZE - CROP_SIZE) / 2),
  y: Math.round((RESIZE_SIZE - CROP_SIZE) / 2),
  flip: false,
});

/**
 * Train transform: RandomCrop (offsets uniform over all 33 positions, like
 * torchvision's randint(0, h − th + 1)) then RandomHorizontalFlip p = 0.5.
 * Draw order: y, x, flip.
 */
export function randomCropFlip(rng: Rng): CropFlip {
  const span = RESIZE_SIZE - CROP_SIZE + 1;
  const y = rng.nextInt(span);
  const x = rng.nextInt(span);
  return { x, y, flip: rng.nextBool(0.5) };
}

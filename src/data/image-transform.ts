// Layer: data. The 224 pipeline with sharp (libvips): decode → RGB → resize to
// 256×256 → crop 224 (+ optional mirror) → float32 CHW in [0,1].
//
// Differences from RobRank's PIL pipeline (documented, not bugs):
//   - libvips' bilinear ('linear' kernel) resampling is not bit-identical to
//     PIL's (different filter support/rounding when downscaling), so pixels may
//     differ by a few levels; the geometry (exact 256×256, crop offsets, flips)
//     is identical.
//   - the image is fully decoded before resampling (no JPEG shrink-on-load), as in PIL.
// Conversion to RGB: alpha dropped (PIL's convert('RGB') does not composite),
// grayscale replicated to 3 channels, CMYK converted by libvips.
// This module must stay free of libtorch: decode workers import it.
import sharp from 'sharp';
import { CROP_SIZE, RESIZE_SIZE, type CropFlip } from './augment.js';

/** Floats per transformed image (3 × 224 × 224). */
export const IMAGE_FLOATS = 3 * CROP_SIZE * CROP_SIZE;

/**
 * Decodes `file` to RGB, resized to exactly size×size; returns HWC uint8 bytes.
 * Two libvips pipelines on purpose: converting to RGB *before* resizing, as PIL
 * does. In one pipeline sharp resizes with premultiplied alpha and drops alpha
 * last, which shifts the colours of images with an alpha channel.
 */
export async function decodeResized(file: string, size = RESIZE_SIZE): Promise<Uint8Array> {
  try {
    const decoded = await sharp(file).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    const { width, height, channels } = decoded.info;
    const rgb = channels === 3 ? decoded.data : toRgb(decoded.data, channels, width * height);
    const out = await sharp(rgb, { raw: { width, height, channels: 3 } })
      .resize(size, size, { fit: 'fill', kernel: 'linear' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (out.info.width !== size || out.info.height !== size || out.info.channels !== 3) {
      throw new Error(`resized to ${out.info.width}×${out.info.height}×${out.info.channels}, expected ${size}×${size}×3`);
    }
    return new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength);
  } catch (e) {
    throw new Error(`${file}: cannot decode image (${e instanceof Error ? e.message : String(e)})`);
  }
}

/** Replicates grayscale (1 band, or 2 with alpha) or drops extra bands (≥ 4) to get RGB. */
function toRgb(src: Uint8Array, channels: number, pixels: number): Uint8Array {
  if (channels < 1 || src.length !== pixels * channels) throw new Error(`decoder returned ${src.length} bytes for ${pixels} pixels × ${channels} channels`);
  const rgb = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    const s = p * channels;
    const gray = channels < 3;
    rgb[3 * p] = src[s]!;
    rgb[3 * p + 1] = src[gray ? s : s + 1]!;
    rgb[3 * p + 2] = src[gray ? s : s + 2]!;
  }
  return rgb;
}

const UNIT_SCALE = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/**
 * Crops a size×size HWC RGB image at (crop.x, crop.y), mirrors it if asked,
 * and writes float32 CHW values /255 into `out` at `outOffset`.
 */
export function cropFlipToChw(rgb: Uint8Array, size: number, crop: CropFlip, out = new Float32Array(IMAGE_FLOATS), outOffset = 0): Float32Array {
  if (rgb.length !== size * size * 3) throw new Error(`cropFlipToChw: ${rgb.length} bytes is not a ${size}×${size} RGB image`);
  if (crop.x < 0 || crop.y < 0 || crop.x + CROP_SIZE > size || crop.y + CROP_SIZE > size) {
    throw new Error(`cropFlipToChw: crop at (${crop.x}, ${crop.y}) does not fit in ${size}×${size}`);
  }
  const plane = CROP_SIZE * CROP_SIZE;
  for (let r = 0; r < CROP_SIZE; r++) {
    const srcRow = (crop.y + r) * size;
    for (let c = 0; c < CROP_SIZE; c++) {
      const srcCol = crop.x + (crop.flip ? CROP_SIZE - 1 - c : c);
      const s = (srcRow + srcCol) * 3;
      const d = outOffset + r * CROP_SIZE + c;
      out[d] = UNIT_SCALE[rgb[s]!]!;
      out[d + plane] = UNIT_SCALE[rgb[s + 1]!]!;
      out[d + 2 * plane] = UNIT_SCALE[rgb[s + 2]!]!;
    }
  }
  return out;
}

/** The full pipeline for one file: float32 CHW [3, 224, 224] in [0,1]. */
export async function loadTransformed(file: string, crop: CropFlip): Promise<Float32Array> {
  return cropFlipToChw(await decodeResized(file), RESIZE_SIZE, crop);
}

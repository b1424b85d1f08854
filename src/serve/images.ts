// Layer: serve. Images in and out of the service. Uploads (base64 PNG or JPEG,
// optionally as a data: URL) are checked — encoding, signature, pixel count
// read from the header before any pixel is decoded — then decoded by sharp
// (libvips, off the event loop), turned upright by their EXIF orientation,
// converted to the model's channels (grey, or sRGB with a grey image repeated)
// and resized to its H×W; the result is float32 CHW in
// [0, 1]. PNGs out (gallery images, attack results) are made by
// eval/attack-images.ts, as `rankshield attack --save-images` makes them.
import sharp, { type OutputInfo } from 'sharp';
import { imageAt, type DmlDataset } from '../data/index.js';
import { chwPng, perturbationScale } from '../eval/attack-images.js';
import { badRequest, HttpError } from './errors.js';
import { LIMITS } from './limits.js';

type Shape = readonly [number, number, number];

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const JPEG_SIGNATURE = Buffer.from([0xff, 0xd8, 0xff]);
const DATA_URL = /^data:([^;,]*)((?:;[^;,]*)*),/;
const ACCEPTED_TYPES = new Set(['image/png', 'image/jpeg', 'image/jpg']);

/** The bytes of an upload: base64 (or a data: URL of PNG or JPEG), checked; `field` names it in errors. */
export function uploadBytes(field: string, value: string): Buffer {
  let body = value;
  const url = DATA_URL.exec(value);
  if (url !== null) {
    const type = url[1]!.toLowerCase();
    if (!ACCEPTED_TYPES.has(type)) throw badRequest(`${field}: only PNG and JPEG images are accepted, the data: URL says '${type || 'text/plain'}'`);
    if (!url[2]!.split(';').includes('base64')) throw badRequest(`${field}: a data: URL must be base64-encoded (data:image/png;base64,…)`);
    body = value.slice(url[0].length);
  }
  const b64 = body.replace(/\s+/g, '');
  if (b64.length === 0) throw badRequest(`${field}: the image is empty`);
  if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw badRequest(`${field}: not valid base64 (characters A–Z a–z 0–9 + / with = padding)`);
  const bytes = Buffer.from(b64, 'base64');
  const isPng = bytes.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE);
  const isJpeg = bytes.subarray(0, JPEG_SIGNATURE.length).equals(JPEG_SIGNATURE);
  if (!isPng && !isJpeg) throw badRequest(`${field}: not a PNG or JPEG file (its first bytes are neither signature)`);
  return bytes;
}

/** An upload as the model's input: float32 CHW in [0, 1] of `shape`. Every problem is a 400 naming `field`. */
export async function decodeUpload(field: string, value: string, shape: Shape): Promise<Float32Array> {
  const bytes = uploadBytes(field, value);
  const [c, h, w] = shape;
  const options = { limitInputPixels: LIMITS.imagePixels, failOn: 'error' as const };
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    // The header alone: the size is known before a pixel is decoded.
    const meta = await sharp(bytes).metadata();
    const pixels = (meta.width ?? 0) * (meta.height ?? 0);
    if (pixels > LIMITS.imagePixels)
      throw badRequest(`${field}: the image is ${meta.width}×${meta.height} = ${pixels} pixels, more than the limit of ${LIMITS.imagePixels}`);
    // Turned upright as its EXIF orientation says (phone photos), alpha dropped.
    const upright = sharp(bytes, options).rotate().removeAlpha();
    decoded = await (c === 1 ? upright.grayscale() : upright.toColourspace('srgb')).raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    if (e instanceof HttpError) throw e;
    throw badRequest(`${field}: cannot decode the image (${e instanceof Error ? e.message : String(e)})`);
  }
  let { data, info } = decoded;
  if (info.channels !== c) {
    if (!(info.channels === 1 && c === 3)) throw badRequest(`${field}: decoded to ${info.channels} channels, the model takes ${c}`);
    const rgb = Buffer.alloc(info.width * info.height * 3);
    for (let p = 0; p < info.width * info.height; p++) rgb.fill(data[p]!, 3 * p, 3 * p + 3);
    data = rgb;
    info = { ...info, channels: 3 };
  }
  // Two pipelines, as the 224 transform does (data/image-transform.ts): colour conversion before resampling.
  if (info.width !== w || info.height !== h) {
    data = await sharp(data, { raw: { width: info.width, height: info.height, channels: c as 1 | 3 } })
      .resize(w, h, { fit: 'fill', kernel: 'linear' })
      .raw()
      .toBuffer();
  }
  const out = new Float32Array(c * h * w);
  for (let p = 0; p < h * w; p++) for (let ch = 0; ch < c; ch++) out[ch * h * w + p] = data[p * c + ch]! / 255;
  return out;
}

/** Gallery image `id` as a PNG, at the size the model sees it. */
export async function galleryPng(ds: DmlDataset, id: number): Promise<Buffer> {
  return chwPng(await imageAt(ds, id), 0, [ds.channels, ds.height, ds.width]).toBuffer();
}

/** The three pictures of an attack result and the amplification of the perturbation (pixel = 0.5 + scale · δ). */
export async function attackPngs(
  clean: Float32Array,
  adversarial: Float32Array,
  linf: number,
  shape: Shape,
): Promise<{ query: Buffer; perturbation: Buffer; adversarial: Buffer; scale: number }> {
  const scale = perturbationScale(linf);
  const delta = adversarial.map((v, i) => v - clean[i]!);
  const [query, perturbation, adv] = await Promise.all([
    chwPng(clean, 0, shape).toBuffer(),
    chwPng(delta, 0, shape, (v) => 0.5 + scale * v).toBuffer(),
    chwPng(adversarial, 0, shape).toBuffer(),
  ]);
  return { query, perturbation, adversarial: adv, scale };
}

// Layer: data. SHA-256 fingerprints that identify a dataset split's content.
import { createHash } from 'node:crypto';

/**
 * Fingerprint of an in-memory split: SHA-256 of the uint8 pixel bytes (N·C·H·W,
 * in split order) followed by the uint8 labels (one byte per image).
 */
export function pixelsAndLabelsSha256(pixels: Uint8Array, labels: Uint8Array): string {
  return createHash('sha256').update(pixels).update(labels).digest('hex');
}

/** Labels as one byte each; throws if any label does not fit (only 28×28 sets use this). */
export function labelsAsBytes(labels: Int32Array, what: string): Uint8Array {
  const out = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (y < 0 || y > 255) throw new Error(`${what}: label ${y} at index ${i} does not fit in one byte`);
    out[i] = y;
  }
  return out;
}

/**
 * Fingerprint of a file-backed split (decoding every image just to hash it would
 * take minutes): SHA-256 of the lines "<path relative to root>\t<label>\n" in
 * split order. It identifies the split definition, not the image bytes.
 */
export function listingSha256(relativePaths: readonly string[], labels: Int32Array): string {
  const h = createHash('sha256');
  for (let i = 0; i < relativePaths.length; i++) h.update(`${relativePaths[i]}\t${labels[i]}\n`);
  return h.digest('hex');
}

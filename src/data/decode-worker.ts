// Layer: data. Body of a decode worker thread: receives {id, file, crop},
// runs the 224 pipeline with sharp, posts the float32 image back with its
// buffer transferred (not copied). Never loads libtorch.
import { parentPort } from 'node:worker_threads';
import sharp from 'sharp';
import type { CropFlip } from './augment.js';
import { loadTransformed } from './image-transform.js';

/** Main thread → worker. */
export interface DecodeRequest {
  readonly id: number;
  readonly file: string;
  readonly crop: CropFlip;
}

/** Worker → main thread. */
export type DecodeReply =
  | { readonly id: number; readonly ok: true; readonly image: Float32Array }
  | { readonly id: number; readonly ok: false; readonly error: string };

if (parentPort !== null) {
  const port = parentPort;
  // Parallelism comes from the workers: one libvips thread each avoids
  // oversubscribing the cores; the operation cache only costs memory here.
  sharp.concurrency(1);
  sharp.cache(false);
  port.on('message', (req: DecodeRequest) => {
    loadTransformed(req.file, req.crop).then(
      (image) => port.postMessage({ id: req.id, ok: true, image } satisfies DecodeReply, [image.buffer as ArrayBuffer]),
      (e: unknown) => port.postMessage({ id: req.id, ok: false, error: e instanceof Error ? e.message : String(e) } satisfies DecodeReply),
    );
  });
}

// Layer: serve. What the service serves: the dataset's test split (the
// retrieval gallery, optionally cut to its first N images) and the model. The
// server process opens the data; each worker process opens both.
import { FileImageDataset, InMemoryImageDataset, openDataset, type DmlDataset } from '../data/index.js';
import type { EmbeddingModel } from '../models/model.js';
import { ScriptedModel } from '../models/scripted.js';
import { loadCheckpoint } from '../run/model-factory.js';
import { parseDevice } from '../tensor/index.js';
import type { WorkerSpec } from './protocol.js';

/** The first `n` images of a split (the same images, labels and order); the split itself when it is not longer. */
export function firstImages(ds: DmlDataset, n: number): DmlDataset {
  if (!Number.isInteger(n) || n < 2) throw new Error(`the gallery needs at least 2 images, got a limit of ${n}`);
  if (n >= ds.length) return ds;
  const labels = ds.labels.slice(0, n);
  const source = `${ds.source} (first ${n} images)`;
  if (ds.kind === 'memory') {
    const size = ds.channels * ds.height * ds.width;
    return new InMemoryImageDataset({
      name: ds.name,
      split: ds.split,
      source,
      channels: ds.channels,
      height: ds.height,
      width: ds.width,
      pixels: ds.pixels.subarray(0, n * size),
      labels,
      ...(ds.classNames === undefined ? {} : { classNames: ds.classNames }),
    });
  }
  if (!(ds instanceof FileImageDataset)) throw new Error(`${ds.name}: cannot cut a file-backed split that is not a FileImageDataset`);
  return new FileImageDataset({
    name: ds.name,
    split: ds.split,
    root: ds.root,
    relativePaths: ds.relativePaths.slice(0, n),
    labels,
    source,
    ...(ds.classNames === undefined ? {} : { classNames: ds.classNames }),
  });
}

/** The served gallery: the test split of `spec.dataset`, cut to `spec.maxGallery` images. */
export async function openGallery(spec: Pick<WorkerSpec, 'dataset' | 'root' | 'maxGallery'>): Promise<DmlDataset> {
  const data = await openDataset(spec.dataset, spec.root === undefined ? {} : { root: spec.root });
  return spec.maxGallery === undefined ? data.test : firstImages(data.test, spec.maxGallery);
}

/** The model of a spec, on its device: a checkpoint's (weights verified as read) or a TorchScript file. */
export function openModel(spec: WorkerSpec, shape: [number, number, number]): EmbeddingModel {
  const model = spec.checkpoint !== undefined ? loadCheckpoint(spec.checkpoint).model : ScriptedModel.load(spec.modelFile!, shape);
  const [c, h, w] = model.inputShape;
  if (c !== shape[0] || h !== shape[1] || w !== shape[2]) {
    model.dispose();
    throw new Error(`the model takes ${c}×${h}×${w} images but ${spec.dataset}'s are ${shape.join('×')}`);
  }
  return model.to(parseDevice(spec.device));
}

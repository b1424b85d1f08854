// Layer: data. One image of a split as a model sees it at test time, for
// pictures of it (the swipe page's thumbnails, the explorer's gallery): CHW
// float32 in [0, 1]; file datasets are resized and centre-cropped as the test
// loader does.
import type { DmlDataset } from './dataset.js';
import { CENTER_CROP } from './augment.js';
import { loadTransformed } from './image-transform.js';
import { gatherUnitFloat32 } from './memory-dataset.js';

/** Image `index` of `ds` (CHW, [0, 1]); a bad index is a RangeError naming the split. */
export async function imageAt(ds: DmlDataset, index: number): Promise<Float32Array> {
  if (!(Number.isInteger(index) && index >= 0 && index < ds.length))
    throw new RangeError(`${ds.name} ${ds.split}: index ${index} out of range [0, ${ds.length})`);
  return ds.kind === 'memory' ? gatherUnitFloat32(ds, [index]) : loadTransformed(ds.files[index]!, CENTER_CROP);
}

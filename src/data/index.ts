// Layer: data. Public surface: datasets, the 224 pipeline, samplers, loaders.
export * from './dataset.js';
export { Rng, mixSeed } from './random.js';
export { parseIdx, readIdxPair, type IdxArray, type IdxImages } from './idx.js';
export { cacheDir, cachedOrBuild, readCache, writeCache, CacheMiss, type CacheOptions, type CacheOutcome, type Uint8Dataset } from './cache.js';
export { pixelsAndLabelsSha256, listingSha256 } from './fingerprint.js';
export { readFashionJson, fashionJsonFiles, type Uint8Split } from './fashion-json.js';
export {
  loadSmallDataset,
  findIdxFiles,
  mnistPackageFiles,
  type SmallDatasetName,
  type SmallDatasetOptions,
  type SmallDatasetResult,
  type IdxFiles,
} from './small-datasets.js';
export { InMemoryImageDataset, gatherUnitFloat32, labelsTensor } from './memory-dataset.js';
export { imageAt } from './image-at.js';
export { className, FASHION_CLASS_NAMES, type ClassNames } from './class-names.js';
export { FileImageDataset, defaultRoots } from './file-dataset.js';
export { loadCub } from './cub.js';
export { loadCars, readCarsCsv, readCarsMat, type CarAnnotation } from './cars.js';
export { parseMat, readMatFile, type MatValue } from './matlab.js';
export { loadSop } from './sop.js';
export { loadImageFolder, IMAGE_EXTENSIONS } from './image-folder.js';
export { CROP_SIZE, RESIZE_SIZE, CENTER_CROP, randomCropFlip, type CropFlip } from './augment.js';
export { decodeResized, cropFlipToChw, loadTransformed, IMAGE_FLOATS } from './image-transform.js';
export { DecodePool } from './decode-pool.js';
export { spc2EpochPlan, testOrderPlan, defaultBatchSizes, BATCH_SIZES, type BatchPlan } from './spc2.js';
export { imageScale, SMALL_IMAGE_MAX_SIDE, type ImageScale } from './image-size.js';
export {
  BatchLoader,
  spc2Loader,
  testLoader,
  defaultWorkers,
  type Batch,
  type SkippedFile,
  type LoaderOptions,
  type Spc2LoaderOptions,
  type TestLoaderOptions,
} from './loader.js';
export {
  openDataset,
  parseDatasetName,
  canonicalDatasetName,
  datasetStats,
  DATASETS,
  DATASET_NAMES,
  DATASET_KINDS,
  type DatasetName,
  type DatasetEntry,
  type PaperDefaults,
  type DatasetRef,
  type OpenedDataset,
  type OpenDatasetOptions,
  type DatasetStats,
} from './registry.js';

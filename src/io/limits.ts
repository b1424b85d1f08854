// Layer: io. Every bound the file parsers put on hostile input, in one place.
// A parser given a file it did not write must finish in time and memory
// proportional to a limit named here, or fail with an Error that names the
// limit ("… (limit pickle.maxDepth)"), never hang or exhaust memory.
//
// Each default is chosen to be far above what real files need (ResNet-50
// ImageNet weights are ~100 MB in ~320 tensors; MNIST-style IDX files are at
// most ~550 MB; Cars-196 annotations are a ~1 MB MAT file) and far below what
// would hurt the 2-core / ~24 GiB machines this runs on. Every parser takes a
// Partial of its limits to override per call (tests use small ones).

/** Bounds of the pickle VM (src/io/pickle.ts) and of any walk over what it returns. */
export interface PickleLimits {
  /**
   * Containers inside containers, and MARK inside MARK. CPython's default
   * recursion limit is 1000, so pickle.dumps itself fails on deeper objects:
   * no real pickle nests deeper. Also keeps recursive walks far from V8's stack limit.
   */
  readonly maxDepth: number;
  /** Distinct memo keys. torch.save memoises a few objects per tensor (ResNet-50: ~3k); 4 Mi bounds the Map. */
  readonly maxMemoEntries: number;
  /** Items on the VM stack, all MARK levels together. Python batches APPENDS/SETITEMS by 1000. */
  readonly maxStackItems: number;
  /** Items in one list, tuple or dict. Checkpoints hold tensors, not long Python lists. */
  readonly maxContainerItems: number;
  /**
   * Bytes of one integer (LONG1/LONG4) or characters of a text INT/LONG. Seeds and counters
   * need ≤ 16; big-integer decoding is superlinear, so a megabyte "integer" would hang.
   */
  readonly maxIntBytes: number;
}

export const PICKLE_LIMITS: PickleLimits = Object.freeze({
  maxDepth: 1000,
  maxMemoEntries: 1 << 22,
  maxStackItems: 1 << 22,
  maxContainerItems: 1 << 22,
  maxIntBytes: 1024,
});

/** Bounds of the zip reader (src/io/zip.ts). */
export interface ZipLimits {
  /** Central directory entries. torch.save writes one per storage plus a few; models have hundreds to thousands. */
  readonly maxEntries: number;
  /**
   * Declared uncompressed bytes of one entry (one storage, or data.pkl). 1 GiB holds any single
   * tensor of the models used here (ResNet-50's largest is 8 MB) and stays below Node's 4 GiB Buffer cap.
   */
  readonly maxEntryBytes: number;
  /**
   * Declared uncompressed bytes of all DEFLATE entries together (STORED entries are views of the file,
   * so they cost nothing). torch.save writes STORED; a repacked (deflated) ResNet-50 needs ~100 MB,
   * 10× under this, while the audit's 1.46 MB zip bomb asked for 1.5 GB.
   */
  readonly maxInflatedBytes: number;
}

export const ZIP_LIMITS: ZipLimits = Object.freeze({
  maxEntries: 1 << 20,
  maxEntryBytes: 2 ** 30,
  maxInflatedBytes: 2 ** 30,
});

/** Bounds of tensor rebuilding in torch.save files (src/io/torchFile.ts), besides its zip and pickle. */
export interface TorchFileLimits {
  /**
   * Elements of one rebuilt tensor. A stride-0 view of a 1-element storage can name any size, and
   * rebuilding materialises it: 2^28 elements (1 GiB of float32, the zip entry cap) bounds that.
   */
  readonly maxTensorElements: number;
  /** Dimensions of one tensor; libtorch's dim bitsets (dim_list_to_bitset) stop at 64. */
  readonly maxTensorDims: number;
}

export const TORCH_FILE_LIMITS: TorchFileLimits = Object.freeze({
  maxTensorElements: 2 ** 28,
  maxTensorDims: 64,
});

/** Bounds of the safetensors reader (src/io/safetensors.ts). */
export interface SafetensorsLimits {
  /** Bytes of the JSON header; 100 MB is the reference reader's MAX_HEADER_SIZE. */
  readonly maxHeaderBytes: number;
  /** Dimensions of one tensor (as TORCH_FILE_LIMITS.maxTensorDims). */
  readonly maxTensorDims: number;
}

export const SAFETENSORS_LIMITS: SafetensorsLimits = Object.freeze({
  maxHeaderBytes: 100_000_000,
  maxTensorDims: 64,
});

/** Bounds of the MAT v5 reader (src/data/matlab.ts). */
export interface MatLimits {
  /** Cells/structs inside cells/structs. Annotation files nest 3 deep; MATLAB's own recursion limit is 500. */
  readonly maxDepth: number;
  /** Dimensions of one array. MATLAB arrays are N-D, real files rarely pass 4. */
  readonly maxDims: number;
  /**
   * Elements of one array. Cars-196 holds 16k annotation structs; 2^24 keeps numbers widened to
   * float64 under 128 MiB per array and stops a field-less struct array of 2^40 elements.
   */
  readonly maxArrayElements: number;
  /** Bytes inflated from miCOMPRESSED elements, the whole file together (annotation files inflate to a few MB). */
  readonly maxInflatedBytes: number;
}

export const MAT_LIMITS: MatLimits = Object.freeze({
  maxDepth: 100,
  maxDims: 64,
  maxArrayElements: 2 ** 24,
  maxInflatedBytes: 2 ** 29,
});

/** Bounds of the IDX reader (src/data/idx.ts). */
export interface IdxLimits {
  /** Bytes gunzipped from one file: EMNIST ByClass training images, the largest IDX set, are 547 MB. */
  readonly maxInflatedBytes: number;
  /** Dimensions of one IDX array (the format allows 255; MNIST-style files use 1 or 3). */
  readonly maxDims: number;
}

export const IDX_LIMITS: IdxLimits = Object.freeze({
  maxInflatedBytes: 2 ** 30,
  maxDims: 8,
});

/**
 * `defaults` with `overrides` applied; every override must be a positive safe integer, so a typo
 * (a string, NaN, 0) cannot silently switch a check off.
 */
export function resolveLimits<T extends object>(defaults: T, overrides: Partial<T> | undefined, group: string): T {
  const out = { ...defaults };
  for (const [name, value] of Object.entries(overrides ?? {})) {
    if (value === undefined) continue;
    if (!Object.hasOwn(defaults, name)) throw new Error(`unknown limit ${group}.${name}`);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      throw new Error(`limit ${group}.${name} must be a positive integer, got ${String(value)}`);
    }
    (out as Record<string, unknown>)[name] = value;
  }
  return Object.freeze(out);
}

// fatal: malformed bytes throw instead of becoming U+FFFD (two different names must not decode equal);
// ignoreBOM: a leading BOM is kept as U+FEFF, as Python's 'utf-8' codec does, rather than dropped.
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes UTF-8 strictly; `what` names the part of the file in the error ("zip entry name 3"). */
export function decodeUtf8Strict(bytes: Uint8Array, what: string): string {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    throw new Error(`${what} is not valid UTF-8`);
  }
}

// Layer: io. Raw little-endian tensor bytes <-> tensors, shared by the file
// formats (safetensors, torch.save storages). Hosts are little-endian (x86,
// ARM), as both formats are, so bytes are copied without swapping.
import { Tensor, tidy, type DType } from '../tensor/index.js';

/** Row-major bytes of `t` (a copy; `t` is left as it was). */
export function tensorToBytes(t: Tensor): Uint8Array {
  const d = tidy(() => t.detach().contiguous().data());
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/**
 * A tensor holding a copy of `bytes`. The copy also gives the typed array an
 * aligned start: offsets inside a file need not be multiples of the item size.
 */
export function tensorFromBytes(bytes: Uint8Array, shape: readonly number[], dtype: DType): Tensor {
  // An explicit copy: Buffer.prototype.slice returns a view, whose .buffer may be a whole shared pool.
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  const buf = copy.buffer;
  const dims = [...shape];
  switch (dtype) {
    case 'float32':
      return Tensor.fromTypedArray(new Float32Array(buf), dims, dtype);
    case 'float64':
      return Tensor.fromTypedArray(new Float64Array(buf), dims, dtype);
    case 'int64':
      return Tensor.fromTypedArray(new BigInt64Array(buf), dims, dtype);
    case 'int32':
      return Tensor.fromTypedArray(new Int32Array(buf), dims, dtype);
    case 'int16':
      return Tensor.fromTypedArray(new Int16Array(buf), dims, dtype);
    case 'int8':
      return Tensor.fromTypedArray(new Int8Array(buf), dims, dtype);
    case 'float16':
    case 'bfloat16':
      return Tensor.fromTypedArray(new Uint16Array(buf), dims, dtype);
    case 'uint8':
    case 'bool':
      return Tensor.fromTypedArray(new Uint8Array(buf), dims, dtype);
  }
}

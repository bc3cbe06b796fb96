/** Conversions between tfjs tensors and plain RawTensor data (for file I/O). */
import { tf } from '../backend.js';
import type { RawTensor } from './safetensors.js';

/** Plain copies of tensors (float32 stays float32, int32 stays int32; other dtypes are refused). */
export function tensorsToRaw(tensors: Record<string, tf.Tensor>): Record<string, RawTensor> {
  const out: Record<string, RawTensor> = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype !== 'float32' && t.dtype !== 'int32') {
      throw new Error(`tensor "${name}" has dtype ${t.dtype}; only float32 and int32 can be saved`);
    }
    const data = t.dataSync();
    out[name] = {
      dtype: t.dtype,
      shape: [...t.shape],
      data: t.dtype === 'int32' ? Int32Array.from(data as Int32Array) : Float32Array.from(data as Float32Array),
    };
  }
  return out;
}

/** New tensors from raw data; the caller owns them. */
export function rawToTensors(raw: Record<string, RawTensor>): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [name, r] of Object.entries(raw)) out[name] = tf.tensor(r.data, r.shape, r.dtype);
  return out;
}

/** Disposes every tensor of a record. */
export function disposeAll(tensors: Record<string, tf.Tensor>): void {
  for (const t of Object.values(tensors)) t.dispose();
}

/** Conversions between tfjs tensors and plain RawTensor data (for file I/O). */
import { tf } from '../backend.js';
import type { RawTensor } from './safetensors.js';

function checkSavable(tensors: Record<string, tf.Tensor>): void {
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype !== 'float32' && t.dtype !== 'int32') {
      throw new Error(`tensor "${name}" has dtype ${t.dtype}; only float32 and int32 can be saved`);
    }
  }
}

function toRaw(t: tf.Tensor, data: ArrayLike<number>): RawTensor {
  return {
    dtype: t.dtype as 'float32' | 'int32',
    shape: [...t.shape],
    data: t.dtype === 'int32' ? Int32Array.from(data as Int32Array) : Float32Array.from(data as Float32Array),
  };
}

/**
 * Plain copies of tensors (float32 stays float32, int32 stays int32; other dtypes are refused).
 * Synchronous reads: on webgpu (Node) use {@link tensorsToRawAsync}.
 */
export function tensorsToRaw(tensors: Record<string, tf.Tensor>): Record<string, RawTensor> {
  checkSavable(tensors);
  const out: Record<string, RawTensor> = {};
  for (const [name, t] of Object.entries(tensors)) out[name] = toRaw(t, t.dataSync());
  return out;
}

/** {@link tensorsToRaw} with awaited reads (all in flight at once): works on every backend, webgpu included. */
export async function tensorsToRawAsync(tensors: Record<string, tf.Tensor>): Promise<Record<string, RawTensor>> {
  checkSavable(tensors);
  const entries = Object.entries(tensors);
  const values = await Promise.all(entries.map(([, t]) => t.data()));
  const out: Record<string, RawTensor> = {};
  entries.forEach(([name, t], i) => (out[name] = toRaw(t, values[i] as ArrayLike<number>)));
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

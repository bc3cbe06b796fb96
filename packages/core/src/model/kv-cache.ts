/**
 * Per-layer key/value cache for incremental decoding. The cache owns its tensors: `forward`
 * replaces them (disposing the old ones) as it appends, and `dispose()` frees them.
 */
import { tf } from '../backend.js';

/** Keys and values of every layer, each [B, nKvHeads, length, headDim]. */
export class KVCache {
  /** Rows in the batch this cache was created for. */
  readonly batchSize: number;
  private readonly keys: (tf.Tensor4D | null)[];
  private readonly values: (tf.Tensor4D | null)[];
  private len = 0;
  private disposed = false;

  constructor(nLayers: number, batchSize: number) {
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new Error(`KVCache: batchSize must be a positive integer, got ${batchSize}`);
    this.batchSize = batchSize;
    this.keys = new Array<tf.Tensor4D | null>(nLayers).fill(null);
    this.values = new Array<tf.Tensor4D | null>(nLayers).fill(null);
  }

  /** Number of cached positions (Tpast). */
  get length(): number {
    return this.len;
  }

  /** Number of layers. */
  get nLayers(): number {
    return this.keys.length;
  }

  /** Cached keys/values of `layer`, or null while empty. Owned by the cache: do not dispose. */
  get(layer: number): { k: tf.Tensor4D; v: tf.Tensor4D } | null {
    this.assertAlive();
    const k = this.keys[layer];
    const v = this.values[layer];
    return k && v ? { k, v } : null;
  }

  /**
   * Stores the full (past + new) keys/values of `layer`; the cache keeps them alive across
   * tf.tidy and disposes the tensors they replace. Internal to DecoderLM.forward.
   */
  set(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): void {
    this.assertAlive();
    const oldK = this.keys[layer];
    const oldV = this.values[layer];
    this.keys[layer] = tf.keep(k);
    this.values[layer] = tf.keep(v);
    if (oldK && oldK !== k) oldK.dispose();
    if (oldV && oldV !== v) oldV.dispose();
  }

  /** Records that `n` positions were appended to every layer. Internal to DecoderLM.forward. */
  advance(n: number): void {
    this.len += n;
  }

  /** Frees all cached tensors; the cache cannot be used afterwards. */
  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t?.dispose();
    this.keys.fill(null);
    this.values.fill(null);
    this.len = 0;
    this.disposed = true;
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error('KVCache: used after dispose()');
  }
}

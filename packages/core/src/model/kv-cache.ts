/**
 * Per-layer key/value cache for incremental decoding. The cache owns its tensors: `forward`
 * replaces them (disposing the old ones) as it appends, and `dispose()` frees them.
 *
 * One-token decoding steps (DecoderLM's fused inference path) keep each layer in a capacity
 * buffer [B, nKvHeads, capacity, headDim] that the attention kernel fills in place, row by row,
 * instead of concatenating (copying) the whole cache every step; the buffer grows geometrically.
 * `get` then returns a slice of the filled rows, made on demand and kept until the next write.
 */
import { tf } from '../backend.js';

interface Buffer {
  k: tf.Tensor4D;
  v: tf.Tensor4D;
  /** Rows filled (the layer's cached length). */
  filled: number;
}

/** Keys and values of every layer, each [B, nKvHeads, length, headDim]. */
export class KVCache {
  /** Rows in the batch this cache was created for. */
  readonly batchSize: number;
  private readonly keys: (tf.Tensor4D | null)[];
  private readonly values: (tf.Tensor4D | null)[];
  private readonly buffers: (Buffer | null)[];
  private len = 0;
  private disposed = false;

  constructor(nLayers: number, batchSize: number) {
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new Error(`KVCache: batchSize must be a positive integer, got ${batchSize}`);
    this.batchSize = batchSize;
    this.keys = new Array<tf.Tensor4D | null>(nLayers).fill(null);
    this.values = new Array<tf.Tensor4D | null>(nLayers).fill(null);
    this.buffers = new Array<Buffer | null>(nLayers).fill(null);
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
    const buf = this.buffers[layer];
    if (buf && this.keys[layer] === null) {
      const [B, G, , hd] = buf.k.shape;
      const size: [number, number, number, number] = [B, G, buf.filled, hd];
      this.keys[layer] = tf.keep(tf.slice(buf.k, [0, 0, 0, 0], size));
      this.values[layer] = tf.keep(tf.slice(buf.v, [0, 0, 0, 0], size));
    }
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
    this.dropBuffer(layer);
  }

  /**
   * Capacity buffers of `layer` with room for at least `rows` rows, holding the cached rows
   * first (grown, copied from the current tensors, or zeros of `dims` [B, nKvHeads, headDim]
   * when empty). The caller writes rows in place and then calls {@link wrote}. Internal to
   * DecoderLM.forward.
   */
  buffer(layer: number, rows: number, dims: [number, number, number]): { k: tf.Tensor4D; v: tf.Tensor4D } {
    this.assertAlive();
    const buf = this.buffers[layer];
    if (buf && buf.k.shape[2] >= rows) return buf;
    const src = buf ?? (this.keys[layer] && this.values[layer] ? { k: this.keys[layer]!, v: this.values[layer]!, filled: this.keys[layer]!.shape[2] } : null);
    const filled = src ? src.filled : 0;
    const cap = rows + Math.max(16, rows);
    const grow = (t: tf.Tensor4D | undefined): tf.Tensor4D =>
      tf.keep<tf.Tensor4D>(
        t
          ? (tf.pad(t, [[0, 0], [0, 0], [0, cap - t.shape[2]], [0, 0]]) as tf.Tensor4D)
          : (tf.zeros([dims[0], dims[1], cap, dims[2]], 'float32') as tf.Tensor4D),
      );
    const next: Buffer = { k: grow(src?.k), v: grow(src?.v), filled };
    this.dropBuffer(layer);
    this.dropExact(layer);
    this.buffers[layer] = next;
    return next;
  }

  /** Records that rows up to `filled` of the layer's buffer were written (drops stale slices). */
  wrote(layer: number, filled: number): void {
    const buf = this.buffers[layer];
    if (!buf) throw new Error('KVCache.wrote: the layer has no buffer');
    buf.filled = filled;
    this.dropExact(layer);
  }

  /** Records that `n` positions were appended to every layer. Internal to DecoderLM.forward. */
  advance(n: number): void {
    this.len += n;
  }

  /** Frees all cached tensors; the cache cannot be used afterwards. */
  dispose(): void {
    for (let i = 0; i < this.keys.length; i++) {
      this.dropExact(i);
      this.dropBuffer(i);
    }
    this.len = 0;
    this.disposed = true;
  }

  private dropExact(layer: number): void {
    this.keys[layer]?.dispose();
    this.values[layer]?.dispose();
    this.keys[layer] = null;
    this.values[layer] = null;
  }

  private dropBuffer(layer: number): void {
    const buf = this.buffers[layer];
    if (!buf) return;
    buf.k.dispose();
    buf.v.dispose();
    this.buffers[layer] = null;
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error('KVCache: used after dispose()');
  }
}

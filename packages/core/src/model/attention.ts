/**
 * Attention pieces of the decoder: the additive mask (causal + padding keys), scaled dot-product
 * attention with grouped-query heads, and rotary position embeddings (HF `rotate_half` form).
 */
import { tf } from '../backend.js';
import { recording } from './ops.js';
import { ropeInvFreq } from './config.js';
import type { RopeScaling } from '../types.js';

type T = tf.Tensor;

/** Added to the scores of masked keys; finite so a row with every key masked stays NaN-free. */
export const MASK_VALUE = -1e9;

/**
 * Additive attention bias [B|1, 1, T, S] (S = past + T): 0 where query t may see key s
 * (s ≤ past + t, and attentionMask[b, s] = 1), MASK_VALUE elsewhere.
 */
export function causalBias(B: number, T: number, past: number, attentionMask?: tf.Tensor2D): tf.Tensor4D {
  const S = past + T;
  const keyBias = () => tf.reshape(tf.mul(tf.sub(1, tf.cast(attentionMask!, 'float32')), MASK_VALUE), [B, 1, 1, S]) as tf.Tensor4D;
  // One new token sees every cached key: no causal term (the common decoding step).
  if (T === 1 && attentionMask) return keyBias();
  const buf = new Float32Array(T * S);
  for (let t = 0; t < T; t++) for (let s = past + t + 1; s < S; s++) buf[t * S + s] = MASK_VALUE;
  const causal = tf.tensor4d(buf, [1, 1, T, S]);
  if (!attentionMask) return causal;
  return tf.add(causal, keyBias()) as tf.Tensor4D;
}

/**
 * Scaled dot-product attention core with a hand-written backward pass (fewer, larger ops than
 * autodiff through scale/add/softmax/matmul): q [B, G, M, hd], k/v [B, G, S, hd],
 * bias [B|1, 1, M, S] (constant) → softmax(q·kᵀ·scale + bias)·v [B, G, M, hd].
 */
function sdpa(q: T, k: T, v: T, bias: T, scale: number): T {
  // With several query rows every product is a non-transposed batched matmul with explicit
  // transposes: on wasm those run as per-batch XNNPACK products (kernels/wasm-fixes.ts), while
  // transposed flags take a scalar loop. Decoding (a query row or two) stays on the native loop,
  // where flags are free and an explicit transpose of the whole key cache is not.
  const explicit = q.shape[2]! >= 8;
  const mm = (a: T, b: T, ta: boolean, tb: boolean) =>
    explicit ? tf.matMul(ta ? tr(a) : a, tb ? tr(b) : b) : tf.matMul(a, b, ta, tb);
  if (!recording()) return tf.matMul(tf.softmax(tf.add(tf.mul(mm(q, k, false, true), scale), bias)), v);
  const f = tf.customGrad((...args: (T | tf.GradSaveFunc)[]) => {
    const [qq, kk, vv, save] = args as [T, T, T, tf.GradSaveFunc];
    const p = tf.softmax(tf.add(tf.mul(mm(qq, kk, false, true), scale), bias));
    save([qq, kk, vv, p]);
    return {
      value: tf.matMul(p, vv),
      gradFunc: (dout: T, saved: T[]) => {
        const [qs, ks, vs, ps] = saved;
        const dp = mm(dout, vs, false, true);
        const ds = tf.mul(tf.mul(ps, tf.sub(dp, tf.sum(tf.mul(dp, ps), -1, true))), scale);
        return [tf.matMul(ds, ks), mm(ds, qs, true, false), mm(ps, dout, true, false)];
      },
    };
  });
  return f(q, k, v);
}

/** Swaps the last two axes of a 4-D tensor. */
function tr(x: T): T {
  return tf.transpose(x, [0, 1, 3, 2]);
}

/**
 * Bias for grouped queries: query heads sharing a key/value head are stacked along the query
 * axis ([B, Hkv, rep·T, hd]), so the [B|1, 1, T, S] bias is repeated rep times along that axis.
 * Compute once per forward and pass to {@link attend}.
 */
export function groupedBias(bias: T, rep: number): T {
  return rep === 1 ? bias : tf.tile(bias, [1, 1, rep, 1]);
}

/**
 * softmax(q·kᵀ/√hd + bias)·v. q [B, H, T, hd]; k, v [B, Hkv, S, hd] with H a multiple of Hkv
 * (query head h uses key/value head ⌊h / (H/Hkv)⌋, like HF `repeat_kv`); `gbias` from
 * {@link groupedBias}. Returns [B, H, T, hd].
 */
export function attend(q: T, k: T, v: T, gbias: T): T {
  const [B, H, Tq, hd] = q.shape as [number, number, number, number];
  const Hkv = k.shape[1]!;
  const rep = H / Hkv;
  const scale = 1 / Math.sqrt(hd);
  if (rep === 1) return sdpa(q, k, v, gbias, scale);
  const out = sdpa(tf.reshape(q, [B, Hkv, rep * Tq, hd]), k, v, gbias, scale);
  return tf.reshape(out, [B, H, Tq, hd]);
}

/** cos/sin tables of rotary embeddings and the rotation itself. */
export class RopeTables {
  private readonly cos: tf.Tensor2D;
  private readonly sin: tf.Tensor2D;
  /** rotate_half as a matrix: x·R = concat(−x₂, x₁). */
  private readonly rot: tf.Tensor2D;
  private readonly rotT: tf.Tensor2D;
  private readonly rotate: (x: T) => T;

  constructor(
    readonly maxSeqLen: number,
    readonly headDim: number,
    theta: number,
    scaling: RopeScaling | null = null,
  ) {
    const half = headDim / 2;
    const cos = new Float32Array(maxSeqLen * headDim);
    const sin = new Float32Array(maxSeqLen * headDim);
    const inv = ropeInvFreq(headDim, theta, scaling);
    for (let i = 0; i < half; i++) {
      // float32 rounding as in HF (inv_freq, t·inv_freq are float32 tensors) and llama2.c.
      const invFreq = inv[i];
      for (let p = 0; p < maxSeqLen; p++) {
        const ang = Math.fround(p * invFreq);
        cos[p * headDim + i] = cos[p * headDim + i + half] = Math.cos(ang);
        sin[p * headDim + i] = sin[p * headDim + i + half] = Math.sin(ang);
      }
    }
    const r = new Float32Array(headDim * headDim);
    for (let j = 0; j < half; j++) {
      r[(j + half) * headDim + j] = -1; // out[j] = −x[j + half]
      r[j * headDim + j + half] = 1; // out[j + half] = x[j]
    }
    this.cos = tf.keep(tf.tensor2d(cos, [maxSeqLen, headDim]));
    this.sin = tf.keep(tf.tensor2d(sin, [maxSeqLen, headDim]));
    this.rot = tf.keep(tf.tensor2d(r, [headDim, headDim]));
    this.rotT = tf.keep(tf.transpose(this.rot));
    const rot = this.rot;
    const rotT = this.rotT;
    this.rotate = tf.customGrad((...args: (T | tf.GradSaveFunc)[]) => ({
      value: tf.matMul(args[0] as tf.Tensor2D, rot),
      gradFunc: (dy: T) => tf.matMul(dy as tf.Tensor2D, rotT),
    }));
  }

  /** cos, sin for the given positions: [B, T, 1, hd] (or [1, T, 1, hd] for default positions). */
  at(B: number, T: number, past: number, positions?: tf.Tensor2D): { cos: T; sin: T } {
    const hd = this.headDim;
    if (!positions) {
      return {
        cos: tf.reshape(tf.slice(this.cos, [past, 0], [T, hd]), [1, T, 1, hd]),
        sin: tf.reshape(tf.slice(this.sin, [past, 0], [T, hd]), [1, T, 1, hd]),
      };
    }
    const flat = tf.reshape(positions, [B * T]);
    return {
      cos: tf.reshape(tf.gather(this.cos, flat), [B, T, 1, hd]),
      sin: tf.reshape(tf.gather(this.sin, flat), [B, T, 1, hd]),
    };
  }

  /** The full cos/sin tables [maxSeqLen, hd] (owned by this object: do not dispose). */
  tables(): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
    return { cos: this.cos, sin: this.sin };
  }

  /** x·cos + rotate_half(x)·sin for x [B, T, n, hd]. */
  apply(x: T, cos: T, sin: T): T {
    const x2 = tf.reshape(x, [-1, this.headDim]) as tf.Tensor2D;
    const rotated = tf.reshape(recording() ? this.rotate(x2) : tf.matMul(x2, this.rot), x.shape);
    return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
  }

  dispose(): void {
    this.cos.dispose();
    this.sin.dispose();
    this.rot.dispose();
    this.rotT.dispose();
  }
}

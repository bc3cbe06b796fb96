/**
 * Differentiable building blocks of the decoder, written for tfjs-backend-wasm's fast paths:
 * only plain (non-transposed, 2-D) matMul reaches XNNPACK there, so every matmul here — forward
 * and backward — is reshaped to 2-D and transposed explicitly.
 */
import { tf } from '../backend.js';

type T = tf.Tensor;

/** `x·W` for 2-D `x` [N, in] and `W` [in, out] with an explicit-transpose backward pass. */
const linear2d = tf.customGrad((x: T, w: T, save: tf.GradSaveFunc) => {
  const y = tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D);
  save([x, w]);
  return {
    value: y,
    gradFunc: (dy: T, saved: T[]) => {
      const [xs, ws] = saved as tf.Tensor2D[];
      const d = dy as tf.Tensor2D;
      return [tf.matMul(d, tf.transpose(ws)), tf.matMul(tf.transpose(xs), d)];
    },
  };
});

/** `x·W + b` for 2-D `x` with an explicit-transpose backward pass. */
const linear2dBias = tf.customGrad((x: T, w: T, b: T, save: tf.GradSaveFunc) => {
  const y = tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), b);
  save([x, w]);
  return {
    value: y,
    gradFunc: (dy: T, saved: T[]) => {
      const [xs, ws] = saved as tf.Tensor2D[];
      const d = dy as tf.Tensor2D;
      return [tf.matMul(d, tf.transpose(ws)), tf.matMul(tf.transpose(xs), d), tf.sum(d, 0)];
    },
  };
});

/**
 * Linear map over the last axis: `x` [..., in], `w` [in, out], optional `b` [out] → [..., out].
 * Differentiable in all inputs.
 */
export function linear(x: T, w: T, b?: T): T {
  const inDim = x.shape[x.shape.length - 1];
  if (w.shape[0] !== inDim) throw new Error(`linear: x has ${inDim} features but weight is [${w.shape}]`);
  const lead = x.shape.slice(0, -1);
  const x2 = x.rank === 2 ? x : tf.reshape(x, [-1, inDim]);
  const y2 = b === undefined ? linear2d(x2, w) : linear2dBias(x2, w, b);
  return x.rank === 2 ? y2 : tf.reshape(y2, [...lead, w.shape[1]]);
}

/** LayerNorm over the last axis (biased variance, like PyTorch). */
export function layerNorm(x: T, gamma: T, beta: T, eps: number): T {
  const mu = tf.mean(x, -1, true);
  const xc = tf.sub(x, mu);
  const variance = tf.mean(tf.mul(xc, xc), -1, true);
  return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(variance, eps))), gamma), beta);
}

/** RMSNorm over the last axis (HF LlamaRMSNorm: x · rsqrt(mean(x²) + eps) · w). */
export function rmsNorm(x: T, weight: T, eps: number): T {
  const ms = tf.mean(tf.mul(x, x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), weight);
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** GPT-2's tanh-approximated GELU (HF `gelu_new`); x·x·x because pow is slow on wasm. */
export function geluTanh(x: T): T {
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), SQRT_2_OVER_PI);
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

/** SiLU (swish): x·σ(x). */
export function silu(x: T): T {
  return tf.mul(x, tf.sigmoid(x));
}

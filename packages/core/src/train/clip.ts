/** Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_ semantics). */
import { tf } from '../backend.js';
import { gradEntries, type Gradients } from './grads.js';
import { registerAdamWKernel, sumOfSquares } from '../kernels/adamw.js';

registerAdamWKernel();

/** Thrown when the gradient norm is NaN or ±Inf; the step should be skipped (or the run stopped). */
export class NonFiniteGradientError extends Error {
  constructor(readonly norm: number) {
    super(`gradient global norm is ${norm}: the loss or a gradient is NaN/Inf (skip this step or lower the learning rate)`);
    this.name = 'NonFiniteGradientError';
  }
}

/**
 * Sum of many same-shape tensors in groups of at most 7: tfjs-backend-webgpu 4.22 binds every
 * addN input (and the output) as a storage buffer, and past the device's limit — WebGPU's default
 * 8, which tfjs does not raise — the dispatch fails validation and silently zeroes every result
 * submitted with it. A model has dozens of gradients.
 */
export function sumMany(xs: tf.Tensor[]): tf.Tensor {
  if (xs.length === 0) throw new Error('sumMany: no tensors');
  let level = xs;
  while (level.length > 1) {
    const next: tf.Tensor[] = [];
    for (let i = 0; i < level.length; i += 7) {
      const group = level.slice(i, i + 7);
      next.push(group.length === 1 ? group[0] : tf.addN(group));
    }
    level = next;
  }
  return level[0];
}

/** The global L2 norm of `grads` as a scalar tensor (0 for none). */
export function globalNormTensor(grads: Gradients): tf.Scalar {
  const entries = gradEntries(grads);
  if (entries.length === 0) return tf.scalar(0);
  return tf.tidy(() => tf.sqrt(sumOfSquares(entries.map(([, g]) => g), (gs) => sumMany(gs.map((g) => tf.sum(tf.square(g)))))) as tf.Scalar);
}

/** L2 norm of all gradients together (one host read). */
export function globalNorm(grads: Gradients): number {
  const n = globalNormTensor(grads);
  try {
    return n.dataSync()[0];
  } finally {
    n.dispose();
  }
}

/** {@link globalNorm} with an awaited read (webgpu in Node has no synchronous reads). */
export async function globalNormAsync(grads: Gradients): Promise<number> {
  const n = globalNormTensor(grads);
  try {
    return (await n.data())[0];
  } finally {
    n.dispose();
  }
}

/**
 * Scales all gradients by min(1, maxNorm / (norm + 1e-6)) like PyTorch's clip_grad_norm_.
 * Returns NEW tensors keyed by variable name (the caller disposes them; the input gradients are
 * left untouched and stay owned by the caller) and the norm before clipping.
 * @throws NonFiniteGradientError when the norm is NaN or infinite.
 */
export function clipByGlobalNorm(grads: Gradients, maxNorm: number): { grads: tf.NamedTensorMap; norm: number } {
  if (!(maxNorm > 0)) throw new Error(`clipByGlobalNorm: maxNorm must be > 0, got ${maxNorm}`);
  const norm = globalNorm(grads);
  if (!Number.isFinite(norm)) throw new NonFiniteGradientError(norm);
  const scale = Math.min(1, maxNorm / (norm + 1e-6));
  const out: tf.NamedTensorMap = {};
  for (const [name, g] of gradEntries(grads)) out[name] = scale === 1 ? g.clone() : tf.tidy(() => tf.mul(g, scale));
  return { grads: out, norm };
}

/** Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_ semantics). */
import { tf } from '../backend.js';
import { gradEntries, type Gradients } from './grads.js';

/** Thrown when the gradient norm is NaN or ±Inf; the step should be skipped (or the run stopped). */
export class NonFiniteGradientError extends Error {
  constructor(readonly norm: number) {
    super(`gradient global norm is ${norm}: the loss or a gradient is NaN/Inf (skip this step or lower the learning rate)`);
    this.name = 'NonFiniteGradientError';
  }
}

/** L2 norm of all gradients together (one host read). */
export function globalNorm(grads: Gradients): number {
  const entries = gradEntries(grads);
  if (entries.length === 0) return 0;
  return tf.tidy(() => tf.sqrt(tf.addN(entries.map(([, g]) => tf.sum(tf.square(g))))).dataSync()[0]);
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

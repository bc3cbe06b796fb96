/** One optimisation step: loss → gradients → (clip) → AdamW, with every intermediate disposed. */
import { tf } from '../backend.js';
import type { AdamW } from './adamw.js';
import { globalNormTensor, NonFiniteGradientError } from './clip.js';
import { disposeGradients } from './grads.js';

/** Anything with trainable variables (DecoderLM, ScalarRewardModel). */
export interface HasVariables {
  variables(): tf.Variable[];
}

/** Number of parameters of a model (all of them) or of a variable list. */
export function countParams(model: HasVariables | { numParams(): number } | tf.Variable[]): number {
  if (Array.isArray(model)) return model.reduce((a, v) => a + v.size, 0);
  if ('numParams' in model) return model.numParams();
  return model.variables().reduce((a, v) => a + v.size, 0);
}

/** Result of {@link trainStep}. */
export interface TrainStepResult {
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Learning rate used by this step. */
  lr: number;
}

/** [loss, global gradient norm] as one float32 tensor, so both come back in one host read. */
function lossAndNorm(value: tf.Scalar, grads: tf.NamedTensorMap): tf.Tensor1D {
  return tf.tidy(() => tf.stack([tf.cast(value, 'float32'), globalNormTensor(grads)]) as tf.Tensor1D);
}

/** Clips (torch clip_grad_norm_ semantics) and applies; `grads` stay owned by the caller. */
function apply(optimizer: AdamW, grads: tf.NamedTensorMap, gradNorm: number, clipNorm: number | undefined): void {
  if (!Number.isFinite(gradNorm)) throw new NonFiniteGradientError(gradNorm);
  if (clipNorm !== undefined && !(clipNorm > 0)) throw new Error(`clipByGlobalNorm: maxNorm must be > 0, got ${clipNorm}`);
  const scale = clipNorm === undefined ? 1 : Math.min(1, clipNorm / (gradNorm + 1e-6));
  optimizer.applyGradients(grads, { gradScale: scale });
}

function gradsOf(model: HasVariables, lossFn: () => tf.Scalar): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const vars = model.variables();
  if (vars.length === 0) throw new Error('trainStep: the model has no trainable variables');
  return tf.variableGrads(lossFn, vars);
}

/**
 * Computes `lossFn()` and its gradients w.r.t. `model.variables()`, optionally clips them to
 * `clipNorm`, and applies `optimizer`. Throws NonFiniteGradientError (before touching the
 * weights) when the gradient norm is NaN/Inf. Loss and norm come back in one synchronous read;
 * on webgpu (no synchronous reads in Node) use {@link trainStepAsync}.
 */
export function trainStep(
  model: HasVariables,
  optimizer: AdamW,
  lossFn: () => tf.Scalar,
  opts: { clipNorm?: number } = {},
): TrainStepResult {
  const { value, grads } = gradsOf(model, lossFn);
  const lr = optimizer.currentLr();
  try {
    const stats = lossAndNorm(value, grads);
    const [loss, gradNorm] = stats.dataSync();
    stats.dispose();
    apply(optimizer, grads, gradNorm, opts.clipNorm);
    return { loss, gradNorm, lr };
  } finally {
    value.dispose();
    disposeGradients(grads);
  }
}

/** {@link trainStep} with its one host read awaited: works on every backend, webgpu included. */
export async function trainStepAsync(
  model: HasVariables,
  optimizer: AdamW,
  lossFn: () => tf.Scalar,
  opts: { clipNorm?: number } = {},
): Promise<TrainStepResult> {
  const { value, grads } = gradsOf(model, lossFn);
  const lr = optimizer.currentLr();
  try {
    // Two reads in flight at once: one wait, and nothing extra to launch on a GPU.
    const norm = globalNormTensor(grads);
    const [[loss], [gradNorm]] = await Promise.all([value.data(), norm.data()]);
    norm.dispose();
    apply(optimizer, grads, gradNorm, opts.clipNorm);
    return { loss, gradNorm, lr };
  } finally {
    value.dispose();
    disposeGradients(grads);
  }
}

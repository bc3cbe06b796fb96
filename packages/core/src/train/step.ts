/** One optimisation step: loss → gradients → (clip) → AdamW, with every intermediate disposed. */
import { tf } from '../backend.js';
import type { AdamW } from './adamw.js';
import { clipByGlobalNorm, globalNorm, NonFiniteGradientError } from './clip.js';
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

/**
 * Computes `lossFn()` and its gradients w.r.t. `model.variables()`, optionally clips them to
 * `clipNorm`, and applies `optimizer`. Throws NonFiniteGradientError (before touching the
 * weights) when the gradient norm is NaN/Inf.
 */
export function trainStep(
  model: HasVariables,
  optimizer: AdamW,
  lossFn: () => tf.Scalar,
  opts: { clipNorm?: number } = {},
): TrainStepResult {
  const vars = model.variables();
  if (vars.length === 0) throw new Error('trainStep: the model has no trainable variables');
  const { value, grads } = tf.variableGrads(lossFn, vars);
  const lr = optimizer.currentLr();
  try {
    const loss = value.dataSync()[0];
    if (opts.clipNorm !== undefined) {
      const clipped = clipByGlobalNorm(grads, opts.clipNorm);
      try {
        optimizer.applyGradients(clipped.grads);
      } finally {
        disposeGradients(clipped.grads);
      }
      return { loss, gradNorm: clipped.norm, lr };
    }
    const gradNorm = globalNorm(grads);
    if (!Number.isFinite(gradNorm)) throw new NonFiniteGradientError(gradNorm);
    optimizer.applyGradients(grads);
    return { loss, gradNorm, lr };
  } finally {
    value.dispose();
    disposeGradients(grads);
  }
}

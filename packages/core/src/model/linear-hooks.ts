/**
 * The decoder's linear layers with two additions over ops.ts's `linear`:
 *
 * - **Adapters.** A hook registered for a weight variable adds its output to every `x·W (+ b)`
 *   that uses that variable — how LoRA (../lora/) adds `s·B·A·x` without touching the weights or
 *   the decoder's code paths (fused inference and the differentiable path alike). Hooks are keyed
 *   by the tf.Variable object, so a clone of the model (new variables) is a plain model.
 * - **Frozen weights.** When gradients are recorded and `W` is a non-trainable variable (or marked
 *   constant), the
 *   backward pass computes only dx, not the unused dW (which ops.ts's custom gradient always
 *   computes): with a frozen base under LoRA, that is most of the backward matmuls.
 */
import { tf } from '../backend.js';
import { linear as plainLinear, recording } from './ops.js';

/** Extra output of a linear layer: x [N, in] → [N, out] (same N as x). */
export type LinearHook = (x: tf.Tensor2D) => tf.Tensor;

const hooks = new WeakMap<tf.Variable, LinearHook>();
const constants = new WeakSet<tf.Tensor>();
let disabledDepth = 0;

/** Registers (or with `null` removes) the hook added to every linear layer whose weight is `w`. */
export function setLinearHook(w: tf.Variable, hook: LinearHook | null): void {
  if (hook) hooks.set(w, hook);
  else hooks.delete(w);
}

/** Whether `w` has a hook. */
export function hasLinearHook(w: tf.Variable): boolean {
  return hooks.has(w);
}

/**
 * Runs `f` with every linear hook off (synchronously: `f` must not return a promise) — e.g. a
 * LoRA model's reference forward pass with the adapters disabled.
 */
export function withoutLinearHooks<T>(f: () => T): T {
  disabledDepth++;
  try {
    const out = f();
    if (out instanceof Promise) throw new Error('withoutLinearHooks: the function must be synchronous');
    return out;
  } finally {
    disabledDepth--;
  }
}

/**
 * Marks a derived weight (e.g. a frozen model's transposed tied embedding) as a constant: like a
 * non-trainable variable, it gets no gradient.
 */
export function markConstant(t: tf.Tensor): void {
  constants.add(t);
}

function isFrozen(w: tf.Tensor): boolean {
  return (w instanceof tf.Variable && !w.trainable) || constants.has(w);
}

/** `x·W (+ b)` for 2-D x whose gradient flows to x only: W and b are constants here. */
function frozenLinear2d(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor): tf.Tensor {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xs = args[0] as tf.Tensor2D;
    const y = b === undefined ? tf.matMul(xs, w) : tf.fused.matMul({ a: xs, b: w, bias: b });
    // tidy: the [out, in] transpose is freed at once, not at the end of the whole backward pass
    // (which holds every intermediate of every layer's gradient until it returns).
    return { value: y, gradFunc: (dy: tf.Tensor) => tf.tidy(() => tf.matMul(dy as tf.Tensor2D, tf.transpose(w))) };
  });
  return f(x);
}

/**
 * Linear map over the last axis (`x` [..., in], `w` [in, out], optional `b` [out]) plus the hook
 * registered for `w`, if any. Same contract as ops.ts's `linear`.
 */
export function linear(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  const hook = disabledDepth === 0 && w instanceof tf.Variable ? hooks.get(w) : undefined;
  const frozen = recording() && isFrozen(w) && (b === undefined || isFrozen(b));
  if (!hook && !frozen) return plainLinear(x, w, b);
  const inDim = x.shape[x.shape.length - 1]!;
  if (w.shape[0] !== inDim) throw new Error(`linear: x has ${inDim} features but weight is [${w.shape}]`);
  const x2 = (x.rank === 2 ? x : tf.reshape(x, [-1, inDim])) as tf.Tensor2D;
  let y = frozen ? frozenLinear2d(x2, w as tf.Tensor2D, b) : plainLinear(x2, w, b);
  if (hook) y = tf.add(y, hook(x2));
  return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), w.shape[1]!]);
}

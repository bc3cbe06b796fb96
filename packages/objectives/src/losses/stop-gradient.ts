/** tfjs has no stop-gradient op; this identity passes values through and returns a zero gradient. */
import { tf } from '@falign/core';

const identityNoGrad = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as unknown as Parameters<typeof tf.customGrad>[0]);

/** Identity in the forward pass, zero gradient in the backward pass. */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return identityNoGrad(x) as T;
}

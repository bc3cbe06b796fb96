/** The two gradient shapes falign's training utilities accept, and conversion between them. */
import { tf } from '../backend.js';

/**
 * Gradients keyed by tf.Variable name (what `tf.variableGrads` returns), or a Map from variable
 * to gradient.
 */
export type Gradients = tf.NamedTensorMap | Map<tf.Variable, tf.Tensor>;

/** Normalises to [name, gradient] pairs (names are tf.Variable names). */
export function gradEntries(grads: Gradients): [string, tf.Tensor][] {
  if (grads instanceof Map) return [...grads].map(([v, g]) => [v.name, g]);
  return Object.entries(grads);
}

/** Disposes every tensor of a gradient collection. */
export function disposeGradients(grads: Gradients): void {
  for (const [, g] of gradEntries(grads)) g.dispose();
}

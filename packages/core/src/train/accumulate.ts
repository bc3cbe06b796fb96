/** Gradient accumulation over micro-batches (TRL's per-device batch × gradient-accumulation steps). */
import { tf } from '../backend.js';
import { gradEntries, type Gradients } from './grads.js';

/**
 * Sums micro-batch gradients and returns their (weighted) mean. With equal-size micro-batches and
 * a mean loss per micro-batch, the mean of 4 micro-batches of 2 equals the gradient of one batch
 * of 8.
 */
export class GradientAccumulator {
  private sums = new Map<string, tf.Tensor>();
  private total = 0;
  private n = 0;

  /** Micro-batches added since the last reset. */
  get count(): number {
    return this.n;
  }

  /**
   * Adds one micro-batch's gradients with a weight (default 1; e.g. its token count when the
   * micro-batch losses are per-token means of different sizes). The input stays owned by the caller.
   */
  add(grads: Gradients, weight = 1): void {
    if (!(weight > 0) || !Number.isFinite(weight)) throw new Error(`GradientAccumulator.add: weight must be > 0, got ${weight}`);
    const entries = gradEntries(grads);
    if (this.n > 0) {
      const names = entries.map(([k]) => k).sort().join('\n');
      const have = [...this.sums.keys()].sort().join('\n');
      if (names !== have) throw new Error('GradientAccumulator.add: micro-batch gradients cover different variables than the first micro-batch');
    }
    for (const [name, g] of entries) {
      const prev = this.sums.get(name);
      const next = tf.tidy(() => {
        const wg = weight === 1 ? g.clone() : tf.mul(g, weight);
        return prev ? tf.add(prev, wg) : wg;
      });
      prev?.dispose();
      this.sums.set(name, tf.keep(next));
    }
    this.total += weight;
    this.n += 1;
  }

  /** The weighted mean gradient, as new tensors keyed by variable name (the caller disposes them). */
  average(): tf.NamedTensorMap {
    if (this.n === 0) throw new Error('GradientAccumulator.average: nothing accumulated');
    const out: tf.NamedTensorMap = {};
    for (const [name, s] of this.sums) out[name] = tf.tidy(() => tf.div(s, this.total));
    return out;
  }

  /** Drops the accumulated sums. */
  reset(): void {
    for (const s of this.sums.values()) s.dispose();
    this.sums.clear();
    this.total = 0;
    this.n = 0;
  }

  /** Same as reset(). */
  dispose(): void {
    this.reset();
  }
}

/** Input checks shared by the losses: shapes, lengths and NaN/Inf, each with a message naming the field. */
import { activeDeferredReads, canReadSync, readWhenReady, tf } from '@falign/core';

/** Throws unless `t` is a rank-`rank` tensor whose first dimension is `n` (when given). */
export function assertShape(loss: string, field: string, t: tf.Tensor | undefined, rank: number, n?: number): void {
  if (!(t instanceof tf.Tensor)) throw new Error(`${loss}: ${field} must be a tensor`);
  if (t.rank !== rank) throw new Error(`${loss}: ${field} must have rank ${rank}, got shape [${t.shape}]`);
  if (n !== undefined && t.shape[0] !== n) throw new Error(`${loss}: ${field} has ${t.shape[0]} rows, expected ${n}`);
}

/**
 * Throws unless a tensor read is possible now or can be deferred: webgpu in Node has no synchronous
 * read, so there a check must run inside `withDeferredReads` (as the trainers do) or be turned off.
 */
export function assertCanRead(loss: string, what: string): void {
  if (activeDeferredReads() === null && !canReadSync()) {
    throw new Error(`${loss}: ${what} reads tensor values, and the '${tf.getBackend()}' backend cannot read synchronously here; pass validate: false, or call it inside withDeferredReads(...) and await the flush`);
  }
}

/**
 * Throws naming the first NaN/±Inf entry of a tensor (reads the values: inputs are small). Inside
 * `withDeferredReads` the check runs (and throws) when the reads are flushed.
 */
export function assertFiniteTensor(loss: string, field: string, t: tf.Tensor): void {
  assertCanRead(loss, `the check of ${field} for NaN/Inf`);
  readWhenReady(t, (data) => {
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) {
        throw new Error(`${loss}: ${field} contains ${data[i]} at flat index ${i}; refusing to train on non-finite log-probs`);
      }
    }
  });
}

/** Throws naming the first non-finite entry of a number array. */
export function assertFiniteNumbers(loss: string, field: string, xs: readonly number[]): void {
  xs.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new Error(`${loss}: ${field}[${i}] = ${x} is not a finite number`);
  });
}

/** Throws unless `x` is a finite number (optionally within [lo, hi]). */
export function assertOption(loss: string, field: string, x: number, lo = -Infinity, hi = Infinity): void {
  if (typeof x !== 'number' || !Number.isFinite(x) || x < lo || x > hi) {
    throw new Error(`${loss}: option ${field} = ${x} must be a finite number in [${lo}, ${hi}]`);
  }
}

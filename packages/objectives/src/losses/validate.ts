/** Input checks shared by the losses: shapes, lengths and NaN/Inf, each with a message naming the field. */
import { tf } from '@falign/core';

/** Throws unless `t` is a rank-`rank` tensor whose first dimension is `n` (when given). */
export function assertShape(loss: string, field: string, t: tf.Tensor | undefined, rank: number, n?: number): void {
  if (!(t instanceof tf.Tensor)) throw new Error(`${loss}: ${field} must be a tensor`);
  if (t.rank !== rank) throw new Error(`${loss}: ${field} must have rank ${rank}, got shape [${t.shape}]`);
  if (n !== undefined && t.shape[0] !== n) throw new Error(`${loss}: ${field} has ${t.shape[0]} rows, expected ${n}`);
}

/** Throws naming the first NaN/±Inf entry of a tensor (reads the values: inputs are small). */
export function assertFiniteTensor(loss: string, field: string, t: tf.Tensor): void {
  const data = t.dataSync();
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new Error(`${loss}: ${field} contains ${data[i]} at flat index ${i}; refusing to train on non-finite log-probs`);
    }
  }
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

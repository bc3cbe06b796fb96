/** Helpers that turn ragged per-token log-prob rows into padded tensors and back. */
import { readWhenReady, tf, tokenLogprobs, type DecoderLM, type ScoreBatch } from '@falign/core';

/**
 * Per-token log-probs of each row (ragged: row i has as many entries as completion i has tokens),
 * no gradient. One awaited read (works on webgpu).
 */
export async function scoreRows(model: DecoderLM, batch: ScoreBatch, temperature: number): Promise<number[][]> {
  const { logp, mask } = tokenLogprobs(model, batch, { temperature });
  try {
    const [n, t] = logp.shape;
    const data = (await logp.data()) as Float32Array;
    return Array.from({ length: n }, (_, i) => Array.from(data.subarray(i * t, i * t + batch.completionTokenIds[i].length)));
  } finally {
    tf.dispose([logp, mask]);
  }
}

/** Pads ragged rows with 0 to width `t` as a [n, t] tensor. */
export function padRows(rows: readonly number[][], t: number): tf.Tensor2D {
  const buf = new Float32Array(rows.length * t);
  rows.forEach((r, i) => buf.set(r.slice(0, t), i * t));
  return tf.tensor2d(buf, [rows.length, t]);
}

/** Row sums of ragged rows. */
export function rowSums(rows: readonly number[][]): number[] {
  return rows.map((r) => r.reduce((a, b) => a + b, 0));
}

/** Token statistics of {@link tokenStats}. */
export interface TokenStats {
  kl: number;
  entropy: number;
  tokens: number;
}

/**
 * Masked token mean of k3 = exp(ref − logp) − (ref − logp) − 1 and of the entropy (numbers, for
 * logging), passed to `use`: at once, or inside `withDeferredReads` when the reads are flushed.
 * The three sums come back as one [3] tensor, so it is one read.
 */
export function tokenStats(logp: tf.Tensor2D, ref: tf.Tensor2D, mask: tf.Tensor2D, entropy: tf.Tensor2D | undefined, use: (s: TokenStats) => void): void {
  const sums = tf.tidy(() => {
    const d = tf.clipByValue(tf.sub(ref, logp), -20, 20);
    const k3 = tf.sum(tf.mul(tf.sub(tf.sub(tf.exp(d), d), 1), mask));
    const ent = entropy ? tf.sum(tf.mul(entropy, mask)) : tf.scalar(NaN);
    return tf.stack([tf.sum(mask), k3, ent]);
  });
  readWhenReady(sums, ([tokens, k3, ent]) => {
    const denom = Math.max(tokens, 1);
    use({ kl: k3 / denom, entropy: ent / denom, tokens });
  });
  sums.dispose();
}

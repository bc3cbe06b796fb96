/**
 * The reference workload of docs/platform.md shared by bench:core and the profiler: GPT-2 style,
 * vocab 64, d 128, 4 layers, 4 heads, batch 16 × 64 training tokens, 16 × 64 sampled tokens.
 */
import { tf } from '../backend.js';
import type { DecoderLM } from '../model/decoder.js';
import { Rng } from '../rng.js';
import { CharTokenizer } from '../tokenizers/char.js';
import type { ModelConfig } from '../types.js';

/** The reference model; maxSeqLen leaves room for an 8-token prompt + 64 new tokens. */
export const REFERENCE: ModelConfig = { arch: 'gpt2', vocabSize: 64, dModel: 128, nLayers: 4, nHeads: 4, maxSeqLen: 72 };
/** Training batch rows and tokens per row; sampling batch rows. */
export const B = 16;
export const T = 64;
export const PROMPT_LEN = 8;
export const NEW_TOKENS = 64;

/** rows × cols ids uniform in [from, vocab). */
export function randomIds(rng: Rng, rows: number, cols: number, vocab: number, from = 0): number[][] {
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => from + rng.nextInt(vocab - from)));
}

/** Mean next-token cross-entropy of a [B, T+1] batch (the same loss PyTorch's twin computes). */
export function lmLoss(model: DecoderLM, batch: number[][]): tf.Scalar {
  return tf.tidy(() => {
    const n = batch.length;
    const t = batch[0].length - 1;
    const inp = tf.tensor2d(batch.map((r) => r.slice(0, t)), [n, t], 'int32');
    const tgt = tf.oneHot(tf.tensor2d(batch.map((r) => r.slice(1)), [n, t], 'int32'), model.config.vocabSize);
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(model.forward(inp)), tgt), -1))) as tf.Scalar;
  });
}

/** A character tokenizer over the reference vocabulary with no EOS (every row runs its full length). */
export function referenceTokenizer(): CharTokenizer {
  const alphabet = Array.from({ length: REFERENCE.vocabSize - 1 }, (_, i) => String.fromCharCode(0x21 + i));
  return new CharTokenizer(alphabet, { pad: '<pad>' });
}

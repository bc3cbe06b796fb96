/**
 * Differentiable log-probabilities of completions under a model. One forward pass over
 * [prompt ⊕ completion] (minus the last token) per batch, right-padded: padding sits after every
 * real token, so causal attention never lets a real position see it and no attention mask or
 * position offsets are needed. Only the rows that predict completion tokens are gathered (flat
 * row indices, batchDims 0) before the output head, so the head and log-softmax cost
 * N·T_completion rows, not the whole padded sequence.
 */
import { tf } from '../backend.js';
import type { DecoderLM } from '../model/decoder.js';
import type { ScoreBatch, TokenScores } from '../types.js';

/** Options of {@link tokenLogprobs}. */
export interface TokenLogprobOptions {
  /** Also return the entropy of each next-token distribution. */
  withEntropy?: boolean;
  /** Divide logits by this before the softmax (matches sampling at that temperature); default 1. */
  temperature?: number;
}

/** Host-side layout of a score batch: input ids, and which hidden rows predict which targets. */
interface Layout {
  N: number;
  /** Padded input length. */
  L: number;
  /** Padded completion length. */
  T: number;
  inputIds: Int32Array;
  /** For each (n, t): the flat row n·L + (P_n − 1 + t) of the hidden states that predicts y_{n,t}. */
  rows: Int32Array;
  targets: Int32Array;
  mask: Float32Array;
}

function layout(batch: ScoreBatch, vocabSize: number, maxSeqLen: number, padId: number): Layout {
  const { promptTokenIds: P, completionTokenIds: C } = batch;
  if (!Array.isArray(P) || !Array.isArray(C) || P.length !== C.length) {
    throw new Error(`tokenLogprobs: promptTokenIds and completionTokenIds must be arrays of the same length (got ${P?.length} and ${C?.length})`);
  }
  const N = P.length;
  if (N === 0) throw new Error('tokenLogprobs: empty batch');
  let L = 1;
  let T = 1;
  for (let n = 0; n < N; n++) {
    if (P[n].length === 0) throw new Error(`tokenLogprobs: row ${n} has an empty prompt; the first completion token needs a context token (e.g. BOS)`);
    for (const id of [...P[n], ...C[n]]) {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new Error(`tokenLogprobs: row ${n} has token id ${id} outside [0, ${vocabSize})`);
    }
    const len = P[n].length + C[n].length - 1;
    if (len > maxSeqLen) throw new Error(`tokenLogprobs: row ${n} needs ${len} positions, more than the model's maxSeqLen ${maxSeqLen}`);
    L = Math.max(L, len);
    T = Math.max(T, C[n].length);
  }
  const inputIds = new Int32Array(N * L).fill(padId);
  const rows = new Int32Array(N * T);
  const targets = new Int32Array(N * T);
  const mask = new Float32Array(N * T);
  for (let n = 0; n < N; n++) {
    const seq = [...P[n], ...C[n]];
    for (let i = 0; i < seq.length - 1; i++) inputIds[n * L + i] = seq[i];
    for (let t = 0; t < T; t++) {
      const k = n * T + t;
      if (t < C[n].length) {
        rows[k] = n * L + P[n].length - 1 + t;
        targets[k] = C[n][t];
        mask[k] = 1;
      } else {
        rows[k] = n * L; // any valid row; masked out
      }
    }
  }
  return { N, L, T, inputIds, rows, targets, mask };
}

/**
 * log π(y_t | x, y_<t) for every completion token, [N, T_max] with zeros at padding, plus the
 * mask (and the entropy of each next-token distribution when asked). Differentiable with
 * respect to the model's variables: call it inside `tf.variableGrads`. The caller disposes the
 * returned tensors (or runs this inside tf.tidy).
 */
export function tokenLogprobs(model: DecoderLM, batch: ScoreBatch, opts: TokenLogprobOptions = {}): TokenScores {
  const temperature = opts.temperature ?? 1;
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new Error(`tokenLogprobs: temperature must be a finite number > 0, got ${temperature}`);
  const V = model.config.vocabSize;
  const lay = layout(batch, V, model.config.maxSeqLen, 0);
  const { N, L, T } = lay;
  const result = tf.tidy(() => {
    const ids = tf.tensor2d(lay.inputIds, [N, L], 'int32');
    const hidden = tf.reshape(model.hidden(ids), [N * L, model.config.dModel]);
    const picked = tf.gather(hidden, tf.tensor1d(lay.rows, 'int32'));
    let logits = model.head(picked);
    if (temperature !== 1) logits = tf.div(logits, temperature);
    const logSm = tf.logSoftmax(logits);
    const mask = tf.tensor2d(lay.mask, [N, T]);
    const oneHot = tf.oneHot(tf.tensor1d(lay.targets, 'int32'), V);
    const logp = tf.mul(tf.reshape(tf.sum(tf.mul(logSm, oneHot), 1), [N, T]), mask) as tf.Tensor2D;
    const out: Record<string, tf.Tensor2D> = { logp, mask };
    if (opts.withEntropy) {
      const ent = tf.neg(tf.sum(tf.mul(tf.exp(logSm), logSm), 1));
      out.entropy = tf.mul(tf.reshape(ent, [N, T]), mask) as tf.Tensor2D;
    }
    return out;
  });
  return result as unknown as TokenScores;
}

/** Options of {@link sequenceLogprobs}. */
export interface SequenceLogprobOptions {
  /** Mean over completion tokens instead of the sum (an empty completion gives 0). */
  lengthNormalize?: boolean;
  temperature?: number;
}

/** log π(y | x) per row: the masked sum (or mean) of {@link tokenLogprobs}; differentiable. */
export function sequenceLogprobs(model: DecoderLM, batch: ScoreBatch, opts: SequenceLogprobOptions = {}): tf.Tensor1D {
  return tf.tidy(() => {
    const { logp, mask } = tokenLogprobs(model, batch, { temperature: opts.temperature });
    const sum = tf.sum(logp, 1);
    if (!opts.lengthNormalize) return sum as tf.Tensor1D;
    return tf.div(sum, tf.maximum(tf.sum(mask, 1), 1)) as tf.Tensor1D;
  });
}

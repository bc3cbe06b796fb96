/**
 * DPO and its pairwise variants over sequence-level log-probs.
 *   margin = (ℓθ(y_w) − ℓref(y_w)) − (ℓθ(y_l) − ℓref(y_l))
 *   sigmoid: −(1−ε)·log σ(β·margin) − ε·log σ(−β·margin)   (ε = label smoothing, cDPO)
 *   ipo:     (margin − 1/(2β))²
 *   hinge:   max(0, 1 − β·margin)
 * The sigmoid loss is written with softplus, so it is exactly ln 2 when policy = reference.
 */
import { tf } from '@falign/core';
import { stopGradient } from './stop-gradient.js';
import { assertFiniteTensor, assertOption, assertShape } from './validate.js';

/** Paired chosen/rejected sequence log-probs, all [N]. */
export interface DpoBatch {
  chosenLogp: tf.Tensor1D;
  chosenRefLogp: tf.Tensor1D;
  rejectedLogp: tf.Tensor1D;
  rejectedRefLogp: tf.Tensor1D;
}

/** Options of DPO. */
export interface DpoOptions {
  /** β (TRL default 0.1). */
  beta: number;
  /** Label smoothing ε ∈ [0, 0.5) for the sigmoid loss (cDPO); default 0. */
  labelSmoothing?: number;
  /** 'sigmoid' (default), 'ipo' or 'hinge'. */
  lossType?: 'sigmoid' | 'ipo' | 'hinge';
  validate?: boolean;
}

/** Implicit-reward margin per pair, [N]: (ℓθ − ℓref)(chosen) − (ℓθ − ℓref)(rejected). */
export function dpoMargins(batch: DpoBatch): tf.Tensor1D {
  return tf.tidy(() =>
    tf.sub(
      tf.sub(batch.chosenLogp, stopGradient(batch.chosenRefLogp)),
      tf.sub(batch.rejectedLogp, stopGradient(batch.rejectedRefLogp)),
    ),
  ) as tf.Tensor1D;
}

/** The DPO loss (mean over pairs) as a scalar tensor. */
export function dpoLoss(batch: DpoBatch, options: DpoOptions): tf.Scalar {
  const name = 'dpoLoss';
  const ls = options.labelSmoothing ?? 0;
  assertOption(name, 'beta', options.beta, 0);
  if (!(options.beta > 0)) throw new Error(`${name}: option beta must be > 0, got ${options.beta}`);
  assertOption(name, 'labelSmoothing', ls, 0, 0.5);
  assertShape(name, 'chosenLogp', batch.chosenLogp, 1);
  const n = batch.chosenLogp.shape[0];
  if (n === 0) throw new Error(`${name}: empty batch`);
  for (const k of ['chosenRefLogp', 'rejectedLogp', 'rejectedRefLogp'] as const) assertShape(name, k, batch[k], 1, n);
  if (options.validate ?? true) {
    for (const k of ['chosenLogp', 'chosenRefLogp', 'rejectedLogp', 'rejectedRefLogp'] as const) assertFiniteTensor(name, k, batch[k]);
  }
  const type = options.lossType ?? 'sigmoid';
  return tf.tidy(() => {
    const m = dpoMargins(batch);
    const bm = tf.mul(m, options.beta);
    let perPair: tf.Tensor;
    switch (type) {
      case 'sigmoid':
        perPair = tf.add(tf.mul(tf.softplus(tf.neg(bm)), 1 - ls), tf.mul(tf.softplus(bm), ls));
        break;
      case 'ipo':
        perPair = tf.square(tf.sub(m, 1 / (2 * options.beta)));
        break;
      case 'hinge':
        perPair = tf.relu(tf.sub(1, bm));
        break;
      default:
        throw new Error(`${name}: unknown lossType '${String(type)}' (expected sigmoid, ipo or hinge)`);
    }
    return tf.mean(perPair) as tf.Scalar;
  });
}

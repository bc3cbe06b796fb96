/**
 * FDO (method.md, predecessor paper): offline divergence estimation between an aligned set D+ and
 * an unaligned set D−, with the implicit reward r = β(ℓθ − ℓref) as the critic argument:
 *   L_FDO = E_{D+}[−g(r)] + E_{D−}[f*(g(r))]        (−L_FDO ≤ D_f(D+‖D−))
 * and KLDO, the Donsker–Varadhan form of KL: −E_{D+}[r] + log E_{D−}[exp r].
 */
import { canReadSync, readWhenReady, tf } from '@falign/core';
import { stopGradient } from './stop-gradient.js';
import { resolveDivergence } from '../divergences/registry.js';
import type { DivergenceDefinition } from '../divergences/types.js';
import { assertFiniteTensor, assertOption, assertShape } from './validate.js';

/** Aligned (pos) and unaligned (neg) sequence log-probs; the two sets need not be paired or equal-sized. */
export interface FdoBatch {
  /** [n+] ℓθ on aligned completions (differentiable). */
  posLogp: tf.Tensor1D;
  /** [n+] ℓref on aligned completions. */
  posRefLogp: tf.Tensor1D;
  /** [n−] ℓθ on unaligned completions (differentiable). */
  negLogp: tf.Tensor1D;
  /** [n−] ℓref on unaligned completions. */
  negRefLogp: tf.Tensor1D;
}

/** Options of FDO. */
export interface FdoOptions {
  divergence: string | DivergenceDefinition;
  /** β of the implicit reward r = β(ℓθ − ℓref). */
  beta: number;
  /** Safety clamp on r (default 20), as in f-GRPO. */
  statisticClamp?: number;
  /** Check inputs for NaN/Inf (default true). */
  validate?: boolean;
}

function checkBatch(name: string, batch: FdoBatch, validate: boolean): void {
  assertShape(name, 'posLogp', batch.posLogp, 1);
  assertShape(name, 'posRefLogp', batch.posRefLogp, 1, batch.posLogp.shape[0]);
  assertShape(name, 'negLogp', batch.negLogp, 1);
  assertShape(name, 'negRefLogp', batch.negRefLogp, 1, batch.negLogp.shape[0]);
  if (batch.posLogp.shape[0] + batch.negLogp.shape[0] === 0) throw new Error(`${name}: both the aligned and the unaligned set are empty`);
  if (validate) {
    for (const k of ['posLogp', 'posRefLogp', 'negLogp', 'negRefLogp'] as const) assertFiniteTensor(name, k, batch[k]);
  }
}

/** Mean of a 1-D tensor, or 0 for an empty one (an empty side contributes nothing). */
function meanOrZero(x: tf.Tensor): tf.Scalar {
  return x.shape[0] === 0 ? tf.scalar(0) : tf.mean(x);
}

/**
 * The FDO loss −E+[g(r)] + E−[f*(g(r))] as a scalar tensor. An empty side contributes 0.
 * With `jensen_shannon` this is a logistic (BCO-like) loss, with `total_variation` a sigmoid (KTO-like) one.
 */
export function fdoLoss(batch: FdoBatch, options: FdoOptions): tf.Scalar {
  const div = resolveDivergence(options.divergence);
  const clamp = options.statisticClamp ?? 20;
  assertOption('fdoLoss', 'beta', options.beta);
  assertOption('fdoLoss', 'statisticClamp', clamp, 0);
  checkBatch('fdoLoss', batch, options.validate ?? true);
  return tf.tidy(() => {
    const reward = (lp: tf.Tensor, ref: tf.Tensor) => tf.clipByValue(tf.mul(tf.sub(lp, stopGradient(ref)), options.beta), -clamp, clamp);
    const pos = meanOrZero(div.tensor.posSide(reward(batch.posLogp, batch.posRefLogp)));
    const neg = meanOrZero(div.tensor.negSide(reward(batch.negLogp, batch.negRefLogp)));
    return tf.add(pos, neg) as tf.Scalar;
  });
}

/**
 * State of KLDO's moving-average denominator; keep one per run and pass it to every call.
 * `logMovingAverage` is log of the moving average of mean(exp r) over D−, null before the first batch.
 */
export interface KldoState {
  logMovingAverage: number | null;
}

/** Creates an empty {@link KldoState}. */
export function createKldoState(): KldoState {
  return { logMovingAverage: null };
}

/** Options of KLDO. */
export interface KldoOptions {
  beta: number;
  /**
   * Replace the batch mean of exp(r) in the backward pass of the log-mean-exp term by a moving
   * average (MINE-style bias correction). The forward value stays the batch log-mean-exp.
   */
  movingAverage?: { state: KldoState; rate?: number };
  validate?: boolean;
}

/**
 * KLDO: −E+[r] + log E−[exp r] (Donsker–Varadhan), the second term a batch log-mean-exp.
 * With `movingAverage`, its gradient is E−[exp(r)∇r] / m where m is updated before use as
 * m ← (1−rate)·m + rate·mean(exp r) (rate 0.1 by default; the first batch initialises m).
 */
export function kldoLoss(batch: FdoBatch, options: KldoOptions): tf.Scalar {
  assertOption('kldoLoss', 'beta', options.beta);
  checkBatch('kldoLoss', batch, options.validate ?? true);
  if (batch.negLogp.shape[0] === 0 || batch.posLogp.shape[0] === 0) {
    throw new Error('kldoLoss: needs at least one aligned and one unaligned completion');
  }
  const ma = options.movingAverage;
  const rate = ma?.rate ?? 0.1;
  if (ma) assertOption('kldoLoss', 'movingAverage.rate', rate, 0, 1);
  return tf.tidy(() => {
    const r = (lp: tf.Tensor, ref: tf.Tensor) => tf.mul(tf.sub(lp, stopGradient(ref)), options.beta);
    const posTerm = tf.neg(tf.mean(r(batch.posLogp, batch.posRefLogp)));
    const rNeg = r(batch.negLogp, batch.negRefLogp);
    const n = rNeg.shape[0] as number;
    let lme: tf.Scalar;
    if (!ma) {
      lme = tf.sub(tf.logSumExp(rNeg), Math.log(n)) as tf.Scalar;
    } else {
      const logMeanExp = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
        const value = tf.sub(tf.logSumExp(x), Math.log(n)) as tf.Scalar;
        const prev = ma.state.logMovingAverage;
        if (canReadSync()) {
          save([x]);
          const batchLme = value.dataSync()[0];
          // log((1−rate)·m + rate·b) computed in log space.
          const next =
            prev === null
              ? batchLme
              : Math.max(prev, batchLme) +
                Math.log((1 - rate) * Math.exp(prev - Math.max(prev, batchLme)) + rate * Math.exp(batchLme - Math.max(prev, batchLme)));
          ma.state.logMovingAverage = next;
          return {
            value,
            gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, tf.div(tf.exp(tf.sub(saved[0], next)), n)),
          };
        }
        // No synchronous read (webgpu in Node, inside tf.variableGrads): the same update on the
        // device in float32, the state read back when the reads are flushed.
        const next =
          prev === null
            ? tf.clone(value)
            : tf.tidy(() => {
                const p = tf.scalar(prev);
                const m = tf.maximum(p, value);
                return tf.add(m, tf.log(tf.add(tf.mul(tf.exp(tf.sub(p, m)), 1 - rate), tf.mul(tf.exp(tf.sub(value, m)), rate))));
              });
        readWhenReady(next, (v) => (ma.state.logMovingAverage = v[0]));
        save([x, next]);
        return {
          value,
          gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, tf.div(tf.exp(tf.sub(saved[0], saved[1])), n)),
        };
      }) as unknown as Parameters<typeof tf.customGrad>[0]);
      lme = logMeanExp(rNeg) as tf.Scalar;
    }
    return tf.add(posTerm, lme) as tf.Scalar;
  });
}

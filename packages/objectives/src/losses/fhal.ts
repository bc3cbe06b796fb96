/**
 * f-HAL (method.md): λ·L_FDO(offline batch) + (1−λ)·L_fGRPO(on-policy batch), one divergence and
 * one link for both halves. λ = 0 is pure f-GRPO, λ = 1 pure FDO (the unused half is skipped, so
 * its batch may be omitted).
 */
import { tf } from '@falign/core';
import { fdoLoss, type FdoBatch } from './fdo.js';
import { fgrpoLoss, type FgrpoBatch, type FgrpoOptions } from './fgrpo.js';
import { assertOption } from './validate.js';

/** Options of f-HAL: f-GRPO's options plus the mixing weight λ ∈ [0, 1]. */
export interface FhalOptions extends FgrpoOptions {
  /** Weight of the offline FDO term (paper: 0.5 balances safety and utility). */
  lambda: number;
}

/** The f-HAL loss as a scalar tensor. */
export function fhalLoss(onPolicy: FgrpoBatch | null, offline: FdoBatch | null, options: FhalOptions): tf.Scalar {
  const { lambda } = options;
  assertOption('fhalLoss', 'lambda', lambda, 0, 1);
  if (lambda < 1 && !onPolicy) throw new Error('fhalLoss: lambda < 1 needs an on-policy batch');
  if (lambda > 0 && !offline) throw new Error('fhalLoss: lambda > 0 needs an offline batch');
  return tf.tidy(() => {
    const parts: tf.Scalar[] = [];
    if (lambda > 0) {
      const fdo = fdoLoss(offline as FdoBatch, {
        divergence: options.divergence,
        beta: options.beta,
        statisticClamp: options.statisticClamp,
        validate: options.validate,
      });
      parts.push(lambda === 1 ? fdo : (tf.mul(fdo, lambda) as tf.Scalar));
    }
    if (lambda < 1) {
      const fgrpo = fgrpoLoss(onPolicy as FgrpoBatch, options);
      parts.push(lambda === 0 ? fgrpo : (tf.mul(fgrpo, 1 - lambda) as tf.Scalar));
    }
    return parts.length === 1 ? parts[0] : (tf.add(parts[0], parts[1]) as tf.Scalar);
  });
}

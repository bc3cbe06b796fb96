/**
 * The GRPO family (TRL GRPOTrainer semantics, anchors A.1): token-level clipped surrogate
 *   ρ = exp(clamp(logπθ − logπold, ±20)),  −min(ρA, clip(ρ, 1−ε_low, 1+ε_high)·A)
 * plus β_kl times the k3 estimate exp(ref − logp) − (ref − logp) − 1 per token, aggregated as
 * `grpo` (token mean per sequence, then mean), `bnpo` (sum / active tokens of the batch),
 * `dr_grpo` (sum / (N · maxCompletionLength)) or `dapo` (sum / active tokens of the whole
 * accumulated batch, `numItemsInBatch`).
 */
import { readWhenReady, tf } from '@falign/core';
import { stopGradient } from './stop-gradient.js';
import { DEFAULT_ADVANTAGE_EPS, resolveAdvantages, type AdvantageMode } from './advantages.js';
import { assertCanRead, assertFiniteTensor, assertOption, assertShape } from './validate.js';

/** How per-token losses are reduced to a scalar. */
export type GrpoLossType = 'grpo' | 'bnpo' | 'dr_grpo' | 'dapo';

/** Token-level inputs, all [N, T], padded positions masked out. */
export interface GrpoBatch {
  /** log πθ per token (differentiable). */
  tokenLogp: tf.Tensor2D;
  /** log πold per token; omit when fully on-policy (μ = 1): then ρ ≡ 1 with the correct gradient. */
  oldTokenLogp?: tf.Tensor2D;
  /** log πref per token; needed when betaKl ≠ 0 (and for the `kl` metric). */
  refTokenLogp?: tf.Tensor2D;
  /** 1 for completion tokens, 0 for padding. */
  mask: tf.Tensor2D;
  /** [N] rewards (null = not applicable); ignored when `advantages` is given. */
  rewards?: readonly (number | null)[];
  /** [N] precomputed advantages. */
  advantages?: readonly number[];
  /** Completions per prompt (G). */
  groupSize: number;
}

/** Options of the GRPO family (defaults follow TRL). */
export interface GrpoOptions {
  /** Lower clip ε (default 0.2). */
  epsLow?: number;
  /** Upper clip ε (default = epsLow; DAPO recommends 0.28). */
  epsHigh?: number;
  /** Coefficient of the k3 KL to the reference (default 0, TRL's current default). */
  betaKl?: number;
  /** Aggregation (default 'dapo', TRL's current default). */
  lossType?: GrpoLossType;
  /** Advantage scaling (default 'group'). */
  scaleRewards?: AdvantageMode;
  /** ε of the std denominator (default 1e-4). */
  eps?: number;
  /** Normaliser of `dr_grpo` (default: T, the padded width). */
  maxCompletionLength?: number;
  /** Active tokens of the whole accumulated batch, for `dapo` (default: this batch's). */
  numItemsInBatch?: number;
  validate?: boolean;
}

/**
 * {@link grpoTerms} output: the scalar (caller owns it) and logging numbers. Inside
 * `withDeferredReads` (webgpu-safe training) `clip`, `kl` and `activeTokens` are filled in when
 * the reads are flushed; until then they hold zeros (and kl null).
 */
export interface GrpoTerms {
  loss: tf.Scalar;
  advantages: number[];
  /** Masked token shares (TRL `clip_ratio/*`): ρ < 1−ε_low with A < 0, ρ > 1+ε_high with A > 0, either. */
  clip: { low: number; high: number; region: number };
  /** Masked token mean of the k3 KL to the reference; null without refTokenLogp. */
  kl: number | null;
  /** Active (unmasked) tokens in this batch. */
  activeTokens: number;
  fracRewardZeroStd: number;
}

const NAME = 'grpoLoss';
const LOG_RATIO_CLAMP = 20;

/** GRPO loss plus clip fractions, KL and advantages. Throws on bad shapes/options and NaN/Inf inputs. */
export function grpoTerms(batch: GrpoBatch, options: GrpoOptions = {}): GrpoTerms {
  const epsLow = options.epsLow ?? 0.2;
  const epsHigh = options.epsHigh ?? epsLow;
  const betaKl = options.betaKl ?? 0;
  const lossType = options.lossType ?? 'dapo';
  assertOption(NAME, 'epsLow', epsLow, 0, 1);
  assertOption(NAME, 'epsHigh', epsHigh, 0);
  assertOption(NAME, 'betaKl', betaKl, 0);
  if (!['grpo', 'bnpo', 'dr_grpo', 'dapo'].includes(lossType)) {
    throw new Error(`${NAME}: unknown lossType '${lossType}' (expected grpo, bnpo, dr_grpo or dapo)`);
  }
  assertShape(NAME, 'tokenLogp', batch.tokenLogp, 2);
  const [n, t] = batch.tokenLogp.shape;
  const sameShape = (field: string, x: tf.Tensor) => {
    assertShape(NAME, field, x, 2, n);
    if (x.shape[1] !== t) throw new Error(`${NAME}: ${field} has shape [${x.shape}], expected [${n},${t}]`);
  };
  sameShape('mask', batch.mask);
  if (batch.oldTokenLogp) sameShape('oldTokenLogp', batch.oldTokenLogp);
  if (batch.refTokenLogp) sameShape('refTokenLogp', batch.refTokenLogp);
  if (betaKl !== 0 && !batch.refTokenLogp) throw new Error(`${NAME}: betaKl = ${betaKl} needs refTokenLogp`);
  const { groupSize } = batch;
  if (!Number.isInteger(groupSize) || groupSize < 1 || n % groupSize !== 0) {
    throw new Error(`${NAME}: ${n} sequences do not split into whole groups of groupSize = ${groupSize}`);
  }
  const maxLen = options.maxCompletionLength ?? t;
  assertOption(NAME, 'maxCompletionLength', maxLen, 1);
  if (options.numItemsInBatch !== undefined) assertOption(NAME, 'numItemsInBatch', options.numItemsInBatch, 1);
  const out: GrpoTerms = { loss: null as unknown as tf.Scalar, advantages: [], clip: { low: 0, high: 0, region: 0 }, kl: null, activeTokens: 0, fracRewardZeroStd: 0 };
  assertCanRead(NAME, 'the mask check');
  // The mask's values: a 0/1 check and the active-token count (numbers for logging and for the
  // errors; the loss itself uses the same count as a tensor, so it needs no synchronous read).
  readWhenReady(batch.mask, (maskData) => {
    let active = 0;
    for (let i = 0; i < maskData.length; i++) {
      if (maskData[i] !== 0 && maskData[i] !== 1) throw new Error(`${NAME}: mask must hold only 0 and 1, found ${maskData[i]} at flat index ${i}`);
      active += maskData[i];
    }
    out.activeTokens = active;
    if (lossType === 'dapo' && options.numItemsInBatch === undefined) assertOption(NAME, 'numItemsInBatch', active, 1);
  });
  if (options.validate ?? true) {
    assertFiniteTensor(NAME, 'tokenLogp', batch.tokenLogp);
    if (batch.oldTokenLogp) assertFiniteTensor(NAME, 'oldTokenLogp', batch.oldTokenLogp);
    if (batch.refTokenLogp) assertFiniteTensor(NAME, 'refTokenLogp', batch.refTokenLogp);
  }

  const { advantages, zeroStd } = resolveAdvantages(
    NAME,
    batch,
    n,
    groupSize,
    options.scaleRewards ?? 'group',
    options.eps ?? DEFAULT_ADVANTAGE_EPS,
  );

  const loss = tf.tidy(() => {
    const mask = batch.mask;
    const activeTokens = tf.sum(mask);
    const adv = tf.tensor2d(advantages, [n, 1], 'float32');
    const old = batch.oldTokenLogp ? stopGradient(batch.oldTokenLogp) : stopGradient(batch.tokenLogp);
    const logRatio = tf.clipByValue(tf.sub(batch.tokenLogp, old), -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP);
    const ratio = tf.exp(logRatio);
    const unclipped = tf.mul(ratio, adv);
    const clipped = tf.mul(tf.clipByValue(ratio, 1 - epsLow, 1 + epsHigh), adv);
    let perToken: tf.Tensor = tf.neg(tf.minimum(unclipped, clipped));
    // Logged numbers, read in one go: [k3 sum, low count, high count].
    const logged: tf.Tensor[] = [];
    if (batch.refTokenLogp) {
      const d = tf.clipByValue(tf.sub(stopGradient(batch.refTokenLogp), batch.tokenLogp), -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP);
      const k3 = tf.sub(tf.sub(tf.exp(d), d), 1);
      logged.push(tf.sum(tf.mul(k3, mask)));
      if (betaKl !== 0) perToken = tf.add(perToken, tf.mul(k3, betaKl));
    }
    // Clip fractions (numbers for logging).
    const low = tf.mul(tf.cast(tf.logicalAnd(tf.less(ratio, 1 - epsLow), tf.less(adv, 0)), 'float32'), mask);
    const high = tf.mul(tf.cast(tf.logicalAnd(tf.greater(ratio, 1 + epsHigh), tf.greater(adv, 0)), 'float32'), mask);
    logged.push(tf.sum(low), tf.sum(high));
    readWhenReady(tf.stack(logged), (v) => {
      const [klSum, lowN, highN] = batch.refTokenLogp ? v : [NaN, v[0], v[1]];
      const active = Math.max(out.activeTokens, 1);
      if (batch.refTokenLogp) out.kl = out.activeTokens > 0 ? klSum / out.activeTokens : 0;
      out.clip = { low: lowN / active, high: highN / active, region: (lowN + highN) / active };
    });

    const masked = tf.mul(perToken, mask);
    switch (lossType) {
      case 'grpo':
        return tf.mean(tf.div(tf.sum(masked, 1), tf.maximum(tf.sum(mask, 1), 1))) as tf.Scalar;
      case 'bnpo':
        return tf.div(tf.sum(masked), tf.maximum(activeTokens, 1)) as tf.Scalar;
      case 'dr_grpo':
        return tf.div(tf.sum(masked), n * maxLen) as tf.Scalar;
      default:
        return tf.div(tf.sum(masked), options.numItemsInBatch ?? activeTokens) as tf.Scalar;
    }
  });
  out.loss = loss;
  out.advantages = advantages;
  out.fracRewardZeroStd = zeroStd;
  return out;
}

/** The GRPO-family loss as a scalar tensor (see {@link grpoTerms} for clip fractions and KL). */
export function grpoLoss(batch: GrpoBatch, options: GrpoOptions = {}): tf.Scalar {
  return grpoTerms(batch, options).loss;
}

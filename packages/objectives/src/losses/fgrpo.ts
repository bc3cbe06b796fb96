/**
 * f-GRPO (method.md): on-policy, reward-driven divergence loss over sequence-level log-probs.
 *
 *   s_i = β(ℓθ − ℓref) + γ(ℓθ − ℓold)
 *   L_x = (1/G) Σ_i |a_i| · (1[a_i>0]·(−g(s_i)) + 1[a_i<0]·f*(g(s_i)))      L = mean_x L_x
 *
 * Two entry points: {@link fgrpoLoss} returns only the scalar (what an optimiser needs, e.g. inside
 * `tf.variableGrads`), {@link fgrpoTerms} returns the scalar plus per-sample terms, the statistic,
 * the advantages and summary numbers for logging.
 */
import { tf } from '@falign/core';
import { stopGradient } from './stop-gradient.js';
import { resolveDivergence } from '../divergences/registry.js';
import type { DivergenceDefinition } from '../divergences/types.js';
import { DEFAULT_ADVANTAGE_EPS, resolveAdvantages, type AdvantageMode } from './advantages.js';
import { assertFiniteTensor, assertOption, assertShape } from './validate.js';

/** Sequence-level inputs of f-GRPO; N = prompts × groupSize, each prompt's group contiguous. */
export interface FgrpoBatch {
  /** [N] ℓθ(y|x), differentiable. */
  logp: tf.Tensor1D;
  /** [N] ℓref(y|x) under the frozen reference (treated as a constant). */
  refLogp: tf.Tensor1D;
  /** [N] ℓold(y|x) under the sampling policy (treated as a constant). */
  oldLogp: tf.Tensor1D;
  /** [N] rewards; `null` = not applicable (advantage 0). Ignored when `advantages` is given. */
  rewards?: readonly (number | null)[];
  /** [N] precomputed advantages (e.g. by a trainer that logs them); overrides `rewards`. */
  advantages?: readonly number[];
  /** Completions per prompt (G). */
  groupSize: number;
}

/**
 * Experimental (method.md "choice, experimental"): truncated importance weights in place of |a_i|.
 * On each side S of a group the weights are w_i = min(c, |S|·softmax_{j∈S}(±R_j − ℓold_j)) / G,
 * `+R` on the aligned side and `−R` on the unaligned side, c = `truncate`.
 */
export interface ImportanceWeighting {
  kind: 'importance';
  /** Cap c on the self-normalised weight |S|·softmax (default 2). */
  truncate?: number;
}

/** Options of f-GRPO. */
export interface FgrpoOptions {
  /** Divergence name (see `listDivergences()`) or a definition. */
  divergence: string | DivergenceDefinition;
  /** β: weight of the log-ratio to the reference (paper: 0.1). */
  beta: number;
  /** γ: weight of the log-ratio to the sampling policy; default 1 (authors' trainer), 0 = paper formula. */
  gamma?: number;
  /** Advantage scaling when computed from rewards; default 'group'. */
  advantage?: AdvantageMode;
  /** ε of the std denominator; default 1e-4 (TRL; verl uses 1e-6). */
  eps?: number;
  /** Use the mean per-token log-ratio instead of the sequence sum; needs `lengths`. */
  lengthNormalize?: boolean;
  /** [N] completion lengths in tokens (for `lengthNormalize`). */
  lengths?: readonly number[];
  /** Per-sample weights: 'advantage' (|a_i|, default) or experimental truncated importance weights. */
  weighting?: 'advantage' | ImportanceWeighting;
  /**
   * Safety clamp on the statistic s (default 20, like verl's log-ratio clamp): beyond ±clamp the
   * term is constant, so an exploding sample cannot overflow exp() on the negative side.
   */
  statisticClamp?: number;
  /** Check inputs for NaN/Inf (reads tensor values; default true). */
  validate?: boolean;
}

/** Everything {@link fgrpoTerms} returns. The caller owns (and disposes) the tensors. */
export interface FgrpoTerms {
  /** The f-GRPO loss (mean over prompts of L_x). */
  loss: tf.Scalar;
  /** [N] weighted side terms w_i·side(s_i) with w_i = |a_i| (or the IS weight); loss = Σ perSample / (P·G). */
  perSample: tf.Tensor1D;
  /** [N] the statistic s_i (after the safety clamp). */
  statistic: tf.Tensor1D;
  /** [N] advantages used. */
  advantages: number[];
  stats: {
    prompts: number;
    /** Samples on the aligned (a > 0) and unaligned (a < 0) sides. */
    positive: number;
    negative: number;
    /** Share of groups whose rewards have zero std (no signal); NaN when advantages were given directly. */
    fracRewardZeroStd: number;
  };
}

const NAME = 'fgrpoLoss';

/** Per-sample weights (as numbers) and side masks for one batch. */
function sampleWeights(
  advantages: readonly number[],
  groupSize: number,
  weighting: FgrpoOptions['weighting'],
  rewards: readonly (number | null)[] | undefined,
  oldLogp: tf.Tensor1D,
): number[] {
  if (weighting === undefined || weighting === 'advantage') return advantages.map(Math.abs);
  if (weighting.kind !== 'importance') throw new Error(`${NAME}: unknown weighting ${JSON.stringify(weighting)}`);
  if (!rewards) throw new Error(`${NAME}: importance weighting needs rewards`);
  const c = weighting.truncate ?? 2;
  const old = oldLogp.dataSync();
  assertOption(NAME, 'weighting.truncate', c, 0);
  const w = new Array<number>(advantages.length).fill(0);
  for (let g = 0; g < advantages.length; g += groupSize) {
    for (const sign of [1, -1]) {
      const idx: number[] = [];
      for (let i = g; i < g + groupSize; i++) if (Math.sign(advantages[i]) === sign) idx.push(i);
      if (idx.length === 0) continue;
      const logits = idx.map((i) => sign * (rewards[i] as number) - old[i]);
      const m = Math.max(...logits);
      const e = logits.map((l) => Math.exp(l - m));
      const z = e.reduce((a, b) => a + b, 0);
      idx.forEach((i, k) => (w[i] = Math.min(c, (idx.length * e[k]) / z)));
    }
  }
  return w;
}

/**
 * f-GRPO loss plus everything worth logging. Tensors in the result belong to the caller.
 * Throws on shape mismatches, NaN/Inf inputs and bad options, naming the field.
 */
export function fgrpoTerms(batch: FgrpoBatch, options: FgrpoOptions): FgrpoTerms {
  const div = resolveDivergence(options.divergence);
  const { groupSize } = batch;
  const gamma = options.gamma ?? 1;
  const eps = options.eps ?? DEFAULT_ADVANTAGE_EPS;
  const clamp = options.statisticClamp ?? 20;
  assertOption(NAME, 'beta', options.beta);
  assertOption(NAME, 'gamma', gamma);
  assertOption(NAME, 'statisticClamp', clamp, 0);
  assertShape(NAME, 'logp', batch.logp, 1);
  const n = batch.logp.shape[0];
  assertShape(NAME, 'refLogp', batch.refLogp, 1, n);
  assertShape(NAME, 'oldLogp', batch.oldLogp, 1, n);
  if (!Number.isInteger(groupSize) || groupSize < 1 || n % groupSize !== 0) {
    throw new Error(`${NAME}: ${n} samples do not split into whole groups of groupSize = ${groupSize}`);
  }
  if (options.validate ?? true) {
    assertFiniteTensor(NAME, 'logp', batch.logp);
    assertFiniteTensor(NAME, 'refLogp', batch.refLogp);
    assertFiniteTensor(NAME, 'oldLogp', batch.oldLogp);
  }

  const { advantages, zeroStd } = resolveAdvantages(NAME, batch, n, groupSize, options.advantage ?? 'group', eps);
  let lengths: number[] | undefined;
  if (options.lengthNormalize) {
    if (!options.lengths || options.lengths.length !== n) throw new Error(`${NAME}: lengthNormalize needs lengths with ${n} entries`);
    options.lengths.forEach((l, i) => {
      if (!Number.isInteger(l) || l < 1) throw new Error(`${NAME}: lengths[${i}] = ${l} must be a positive integer`);
    });
    lengths = [...options.lengths];
  }
  const weights = sampleWeights(advantages, groupSize, options.weighting, batch.rewards, batch.oldLogp);
  const prompts = n / groupSize;

  const [loss, perSample, statistic] = tf.tidy(() => {
    const refDelta = tf.sub(batch.logp, stopGradient(batch.refLogp));
    const oldDelta = tf.sub(batch.logp, stopGradient(batch.oldLogp));
    let s: tf.Tensor = tf.add(tf.mul(refDelta, options.beta), tf.mul(oldDelta, gamma));
    if (lengths) s = tf.div(s, tf.tensor1d(lengths, 'float32'));
    s = tf.clipByValue(s, -clamp, clamp);
    const pos = tf.tensor1d(advantages.map((a, i) => (a > 0 ? weights[i] : 0)), 'float32');
    const neg = tf.tensor1d(advantages.map((a, i) => (a < 0 ? weights[i] : 0)), 'float32');
    const terms = tf.add(tf.mul(pos, div.tensor.posSide(s)), tf.mul(neg, div.tensor.negSide(s))) as tf.Tensor1D;
    const l = tf.div(tf.sum(terms), prompts * groupSize) as tf.Scalar;
    return [l, terms, s as tf.Tensor1D] as const;
  });
  return {
    loss,
    perSample,
    statistic,
    advantages,
    stats: {
      prompts,
      positive: advantages.filter((a) => a > 0).length,
      negative: advantages.filter((a) => a < 0).length,
      fracRewardZeroStd: zeroStd,
    },
  };
}

/** The f-GRPO loss as a scalar tensor (see {@link fgrpoTerms} for the per-sample terms and advantages). */
export function fgrpoLoss(batch: FgrpoBatch, options: FgrpoOptions): tf.Scalar {
  const t = fgrpoTerms(batch, options);
  t.perSample.dispose();
  t.statistic.dispose();
  return t.loss;
}

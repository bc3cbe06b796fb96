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
import { canReadSync, tf } from '@falign/core';
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

/** Checks the weighting option; returns the importance cap c, or null for |a_i| weights. */
function importanceCap(weighting: FgrpoOptions['weighting'], rewards: readonly (number | null)[] | undefined): number | null {
  if (weighting === undefined || weighting === 'advantage') return null;
  if (weighting.kind !== 'importance') throw new Error(`${NAME}: unknown weighting ${JSON.stringify(weighting)}`);
  if (!rewards) throw new Error(`${NAME}: importance weighting needs rewards`);
  const c = weighting.truncate ?? 2;
  assertOption(NAME, 'weighting.truncate', c, 0);
  return c;
}

/** Truncated importance weights from host values of ℓold (float64 arithmetic). */
function importanceWeights(advantages: readonly number[], groupSize: number, c: number, rewards: readonly (number | null)[], old: ArrayLike<number>): number[] {
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
 * The same weights computed on the device (float32), for backends that cannot read ℓold
 * synchronously (webgpu in Node) while the loss is built inside `tf.variableGrads`. Side sets are
 * an [N, N] membership mask (same group, same sign of a); a sample with a = 0 is its own set and
 * gets weight 0 at the end. No gradient flows into ℓold.
 * @internal exported for the test that compares it with the host computation
 */
export function importanceWeightsTensor(advantages: readonly number[], groupSize: number, c: number, rewards: readonly (number | null)[], oldLogp: tf.Tensor1D): tf.Tensor1D {
  const n = advantages.length;
  const sign = advantages.map(Math.sign);
  const member = new Float32Array(n * n);
  const count = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const g = Math.floor(i / groupSize) * groupSize;
    for (let j = g; j < g + groupSize; j++) {
      if (sign[i] === 0 ? j === i : sign[j] === sign[i]) {
        member[i * n + j] = 1;
        count[i]++;
      }
    }
  }
  return tf.tidy(() => {
    const l = tf.sub(tf.tensor1d(sign.map((s, i) => (s === 0 ? 0 : s * (rewards[i] as number))), 'float32'), stopGradient(oldLogp));
    const inSet = tf.cast(tf.tensor2d(member, [n, n]), 'bool');
    // Row i holds the logits of i's set, −1e30 elsewhere (exp → 0, never −Inf − −Inf = NaN).
    const rows = tf.where(inSet, tf.broadcastTo(tf.reshape(l, [1, n]), [n, n]), tf.fill([n, n], -1e30));
    const m = tf.max(rows, 1);
    const z = tf.sum(tf.exp(tf.sub(rows, tf.reshape(m, [n, 1]))), 1);
    const w = tf.minimum(tf.div(tf.mul(tf.tensor1d(count), tf.exp(tf.sub(l, m))), z), c);
    return tf.where(tf.tensor1d(sign.map((s) => s !== 0), 'bool'), w, tf.zerosLike(w)) as tf.Tensor1D;
  });
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
  const cap = importanceCap(options.weighting, batch.rewards);
  // |a_i| or importance weights on the host; where ℓold cannot be read synchronously (webgpu in
  // Node, inside tf.variableGrads) the importance weights are computed on the device instead.
  const onDevice = cap !== null && !canReadSync();
  const weights =
    cap === null
      ? advantages.map(Math.abs)
      : onDevice
        ? null
        : importanceWeights(advantages, groupSize, cap, batch.rewards!, batch.oldLogp.dataSync());
  const prompts = n / groupSize;

  const [loss, perSample, statistic] = tf.tidy(() => {
    const refDelta = tf.sub(batch.logp, stopGradient(batch.refLogp));
    const oldDelta = tf.sub(batch.logp, stopGradient(batch.oldLogp));
    let s: tf.Tensor = tf.add(tf.mul(refDelta, options.beta), tf.mul(oldDelta, gamma));
    if (lengths) s = tf.div(s, tf.tensor1d(lengths, 'float32'));
    s = tf.clipByValue(s, -clamp, clamp);
    let pos: tf.Tensor;
    let neg: tf.Tensor;
    if (weights) {
      pos = tf.tensor1d(advantages.map((a, i) => (a > 0 ? weights[i] : 0)), 'float32');
      neg = tf.tensor1d(advantages.map((a, i) => (a < 0 ? weights[i] : 0)), 'float32');
    } else {
      const w = importanceWeightsTensor(advantages, groupSize, cap!, batch.rewards!, batch.oldLogp);
      pos = tf.mul(w, tf.tensor1d(advantages.map((a) => (a > 0 ? 1 : 0)), 'float32'));
      neg = tf.mul(w, tf.tensor1d(advantages.map((a) => (a < 0 ? 1 : 0)), 'float32'));
    }
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

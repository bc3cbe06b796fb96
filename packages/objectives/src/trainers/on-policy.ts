/**
 * On-policy training (f-GRPO or GRPO): per optimizer step, sample G completions for each of
 * `promptsPerStep` prompts (a fresh batch every `numIterations` steps, reused in between with
 * π_old cached), score them with the reward functions, compute group advantages, and take one
 * AdamW step on the loss (with gradient accumulation over whole groups).
 */
import { afterReads, generate, tf, tokenLogprobs, type DecoderLM, type ScoreBatch } from '@falign/core';
import { resolveDivergence } from '../divergences/registry.js';
import { DEFAULT_ADVANTAGE_EPS, fracRewardZeroStd, groupAdvantages, type AdvantageMode } from '../losses/advantages.js';
import { fgrpoTerms, type ImportanceWeighting } from '../losses/fgrpo.js';
import { grpoTerms, type GrpoOptions } from '../losses/grpo.js';
import { BaseTrainer, checkPositiveInt, type MicroBatch } from './base.js';
import { DataCursor } from './data.js';
import { summarize, zeroSignalWarnings } from './metrics.js';
import { scoreRewards, validateRewardSpecs } from './rewards.js';
import { padRows, rowSums, scoreRows, tokenStats } from './scoring.js';
import type { OptimConfig, PolicyLike, PromptItem, RewardSpec, RunConfig, StepMetrics } from './types.js';

/** Configuration of {@link OnPolicyTrainer}. */
export interface OnPolicyConfig extends OptimConfig, RunConfig {
  algorithm: 'fgrpo' | 'grpo';
  /** G: completions per prompt (≥ 2). */
  numGenerations: number;
  /** Prompts per optimizer step (a multiple of gradAccumSteps). */
  promptsPerStep: number;
  /** μ: optimizer steps per generated batch (default 1). */
  numIterations?: number;
  maxNewTokens: number;
  /** Sampling temperature (default 1); log-probs are scored at the same temperature, as TRL does. */
  temperature?: number;
  topP?: number;
  topK?: number;
  stopStrings?: string[];
  /** Rows decoded at once by the sampler (default 64). */
  samplingBatchSize?: number;
  /** f-GRPO: divergence name (default 'pearson'), β (default 0.1), γ (default 1). */
  divergence?: string;
  beta?: number;
  gamma?: number;
  /** Advantage scaling (default 'group') and ε (default 1e-4); GRPO reads `grpo.scaleRewards` first. */
  advantage?: AdvantageMode;
  eps?: number;
  /** f-GRPO: mean per-token log-ratio instead of the sequence sum. */
  lengthNormalize?: boolean;
  /** f-GRPO: experimental importance weights. */
  weighting?: 'advantage' | ImportanceWeighting;
  /** GRPO options (epsLow, epsHigh, betaKl, lossType, scaleRewards). */
  grpo?: Omit<GrpoOptions, 'numItemsInBatch' | 'maxCompletionLength' | 'validate'>;
}

/** Everything needed to construct an {@link OnPolicyTrainer}. */
export interface OnPolicyTrainerInit {
  policy: PolicyLike;
  prompts: readonly PromptItem[];
  rewards: readonly RewardSpec[];
  config: OnPolicyConfig;
  /** A frozen reference to use instead of a clone of the initial policy. */
  reference?: DecoderLM;
}

/** A generated batch, kept (JSON-serialisable) while it is reused for μ steps. */
export interface Rollout {
  items: PromptItem[];
  promptTokenIds: number[][];
  completionTokenIds: number[][];
  texts: string[];
  finishReasons: ('stop' | 'length')[];
  rewards: (number | null)[];
  perFunction: Record<string, (number | null)[]>;
  advantages: number[];
  refTokenLogp: number[][];
  /** π_old per token, only when μ > 1 (with μ = 1, π_old = π_θ detached). */
  oldTokenLogp: number[][] | null;
  /** Optimizer steps already taken on this batch. */
  used: number;
}

/** Token statistics summed over the micro-batches of one step (filled while the losses run). */
export interface TokenSums {
  kl: number;
  entropy: number;
  tokens: number;
  low: number;
  high: number;
  region: number;
  clipTokens: number;
}

/** f-GRPO / GRPO trainer. */
export class OnPolicyTrainer extends BaseTrainer {
  readonly config: OnPolicyConfig;
  protected readonly prompts: readonly PromptItem[];
  protected readonly rewardSpecs: readonly RewardSpec[];
  protected readonly cursor: DataCursor;
  protected rollout: Rollout | null = null;

  constructor(init: OnPolicyTrainerInit, kind = 'OnPolicyTrainer') {
    const c = init.config;
    super(kind, init.policy, c, c, init.reference);
    if (c.algorithm !== 'fgrpo' && c.algorithm !== 'grpo') throw new Error(`${kind}: algorithm must be 'fgrpo' or 'grpo', got '${String(c.algorithm)}'`);
    checkPositiveInt(kind, 'numGenerations', c.numGenerations);
    if (c.numGenerations < 2) throw new Error(`${kind}: numGenerations must be ≥ 2 (a group of one has no baseline), got ${c.numGenerations}`);
    checkPositiveInt(kind, 'promptsPerStep', c.promptsPerStep);
    checkPositiveInt(kind, 'numIterations', c.numIterations ?? 1);
    checkPositiveInt(kind, 'maxNewTokens', c.maxNewTokens);
    const accum = c.gradAccumSteps ?? 1;
    if (c.promptsPerStep % accum !== 0) throw new Error(`${kind}: promptsPerStep (${c.promptsPerStep}) must be a multiple of gradAccumSteps (${accum}) so micro-batches hold whole groups`);
    if (c.algorithm === 'fgrpo') resolveDivergence(c.divergence ?? 'pearson');
    if (!Array.isArray(init.prompts) || init.prompts.length === 0) throw new Error(`${kind}: prompts must be a non-empty array of { prompt, meta? }`);
    init.prompts.forEach((p, i) => {
      if (typeof p?.prompt !== 'string') throw new Error(`${kind}: prompts[${i}].prompt must be a string`);
    });
    validateRewardSpecs(init.rewards);
    this.config = c;
    this.prompts = init.prompts;
    this.rewardSpecs = init.rewards;
    this.cursor = new DataCursor(init.prompts.length, c.seed ?? 0);
  }

  private get scoringTemperature(): number {
    const t = this.config.temperature ?? 1;
    return t > 0 ? t : 1;
  }

  /** Samples, scores and caches a new batch. */
  protected async newRollout(times: Record<string, number>): Promise<Rollout> {
    const c = this.config;
    const G = c.numGenerations;
    const items = this.cursor.take(c.promptsPerStep).map((i) => this.prompts[i]);
    let t = performance.now();
    const completions = await generate(this.policy.model, this.policy.tokenizer, items.map((p) => p.prompt), {
      maxNewTokens: c.maxNewTokens,
      temperature: c.temperature ?? 1,
      topP: c.topP,
      topK: c.topK,
      stopStrings: c.stopStrings,
      numSamples: G,
      seed: this.rng.nextUint32(),
      batchSize: c.samplingBatchSize,
    });
    times['time/sampling'] = (performance.now() - t) / 1000;

    t = performance.now();
    const samples = completions.map((comp) => ({ prompt: items[comp.promptIndex].prompt, completion: comp.text, meta: items[comp.promptIndex].meta }));
    const { combined, perFunction } = await scoreRewards(this.rewardSpecs, samples);
    times['time/rewards'] = (performance.now() - t) / 1000;

    t = performance.now();
    const batch: ScoreBatch = { promptTokenIds: completions.map((x) => x.promptTokenIds), completionTokenIds: completions.map((x) => x.tokenIds) };
    const refTokenLogp = await scoreRows(this.reference, batch, this.scoringTemperature);
    const oldTokenLogp = (c.numIterations ?? 1) > 1 ? await scoreRows(this.policy.model, batch, this.scoringTemperature) : null;
    times['time/scoring'] = (performance.now() - t) / 1000;

    const mode = c.algorithm === 'grpo' ? (c.grpo?.scaleRewards ?? c.advantage ?? 'group') : (c.advantage ?? 'group');
    return {
      items,
      promptTokenIds: batch.promptTokenIds,
      completionTokenIds: batch.completionTokenIds,
      texts: completions.map((x) => x.text),
      finishReasons: completions.map((x) => x.finishReason),
      rewards: combined,
      perFunction,
      advantages: groupAdvantages(combined, G, mode, c.eps ?? c.grpo?.eps ?? DEFAULT_ADVANTAGE_EPS),
      refTokenLogp,
      oldTokenLogp,
      used: 0,
    };
  }

  /**
   * Micro-batch losses of the on-policy half. The token statistics in `sums` are filled while
   * {@link BaseTrainer.update} runs the losses (after its reads are flushed). `extra` lets f-HAL add its offline term to each
   * micro-batch; `scale` multiplies the on-policy loss (1 − λ for f-HAL).
   */
  protected onPolicyMicroBatches(r: Rollout, scale = 1, extra?: () => tf.Scalar): { micro: MicroBatch[]; sums: TokenSums } {
    const c = this.config;
    const G = c.numGenerations;
    const accum = c.gradAccumSteps ?? 1;
    const promptsPer = c.promptsPerStep / accum;
    const totalActive = r.completionTokenIds.reduce((a, ids) => a + ids.length, 0);
    const sums: TokenSums = { kl: 0, entropy: 0, tokens: 0, low: 0, high: 0, region: 0, clipTokens: 0 };
    const out: MicroBatch[] = [];
    for (let m = 0; m < accum; m++) {
      const lo = m * promptsPer * G;
      const hi = lo + promptsPer * G;
      const batch: ScoreBatch = { promptTokenIds: r.promptTokenIds.slice(lo, hi), completionTokenIds: r.completionTokenIds.slice(lo, hi) };
      const ref = r.refTokenLogp.slice(lo, hi);
      const old = r.oldTokenLogp?.slice(lo, hi) ?? null;
      const adv = r.advantages.slice(lo, hi);
      const rewards = r.rewards.slice(lo, hi);
      const lengths = batch.completionTokenIds.map((ids) => Math.max(ids.length, 1));
      const loss = () => {
        const s = tokenLogprobs(this.policy.model, batch, { withEntropy: true, temperature: this.scoringTemperature });
        const T = s.logp.shape[1];
        const refT = padRows(ref, T);
        // Logged numbers arrive when the step's reads are flushed (see BaseTrainer.update).
        tokenStats(s.logp, refT, s.mask, s.entropy, (st) => {
          sums.kl += st.kl * st.tokens;
          sums.entropy += st.entropy * st.tokens;
          sums.tokens += st.tokens;
        });
        let l: tf.Scalar;
        if (c.algorithm === 'fgrpo') {
          const seq = tf.sum(s.logp, 1) as tf.Tensor1D;
          const terms = fgrpoTerms(
            {
              logp: seq,
              refLogp: tf.tensor1d(rowSums(ref)),
              oldLogp: old ? tf.tensor1d(rowSums(old)) : seq,
              advantages: adv,
              rewards,
              groupSize: G,
            },
            {
              divergence: c.divergence ?? 'pearson',
              beta: c.beta ?? 0.1,
              gamma: c.gamma ?? 1,
              lengthNormalize: c.lengthNormalize,
              lengths,
              weighting: c.weighting,
            },
          );
          l = terms.loss;
        } else {
          const terms = grpoTerms(
            { tokenLogp: s.logp, oldTokenLogp: old ? padRows(old, T) : undefined, refTokenLogp: refT, mask: s.mask, advantages: adv, groupSize: G },
            { ...c.grpo, maxCompletionLength: c.maxNewTokens, numItemsInBatch: Math.max(totalActive, 1) / accum },
          );
          // grpoTerms fills clip and activeTokens when its reads resolve; add them after that.
          afterReads(() => {
            sums.low += terms.clip.low * terms.activeTokens;
            sums.high += terms.clip.high * terms.activeTokens;
            sums.region += terms.clip.region * terms.activeTokens;
            sums.clipTokens += terms.activeTokens;
          });
          l = terms.loss;
        }
        if (scale !== 1) l = tf.mul(l, scale);
        return extra ? (tf.add(l, extra()) as tf.Scalar) : l;
      };
      // Micro-batches are equal-sized, so the plain mean of their losses is the full-batch loss
      // (for 'dapo' because each divides by total active tokens / accum, TRL's num_items_in_batch).
      out.push({ loss, weight: 1 });
    }
    return { micro: out, sums };
  }

  /** Metrics of a rollout plus the token statistics gathered while computing its loss. */
  protected rolloutMetrics(r: Rollout, sums: TokenSums): StepMetrics {
    const c = this.config;
    const rew = summarize(r.rewards);
    const adv = summarize(r.advantages);
    const lens = summarize(r.completionTokenIds.map((x) => x.length));
    const clipped = r.finishReasons.filter((f) => f === 'length').length / r.finishReasons.length;
    const zeroStd = fracRewardZeroStd(r.rewards, c.numGenerations);
    const m: StepMetrics = {
      reward: rew.mean,
      reward_std: rew.std,
    };
    for (const [name, vals] of Object.entries(r.perFunction)) {
      const s = summarize(vals);
      m[`rewards/${name}/mean`] = s.mean;
      m[`rewards/${name}/std`] = s.std;
    }
    Object.assign(m, {
      frac_reward_zero_std: zeroStd,
      'advantages/mean': adv.mean,
      'advantages/std': adv.std,
      'advantages/min': adv.min,
      'advantages/max': adv.max,
      'completions/mean_length': lens.mean,
      'completions/min_length': lens.min,
      'completions/max_length': lens.max,
      'completions/clipped_ratio': clipped,
      kl: sums.tokens > 0 ? sums.kl / sums.tokens : 0,
      entropy: sums.tokens > 0 ? sums.entropy / sums.tokens : 0,
      num_tokens: r.completionTokenIds.reduce((a, x) => a + x.length, 0),
      iteration: r.used,
    });
    if (c.algorithm === 'grpo' && sums.clipTokens > 0) {
      m['clip_ratio/low_mean'] = sums.low / sums.clipTokens;
      m['clip_ratio/high_mean'] = sums.high / sums.clipTokens;
      m['clip_ratio/region_mean'] = sums.region / sums.clipTokens;
    }
    const warnings = zeroSignalWarnings(zeroStd, clipped);
    if (warnings.length > 0) m.warnings = warnings;
    return m;
  }

  /** Returns the batch for this step, generating a new one every μ steps. */
  protected async currentRollout(times: Record<string, number>): Promise<Rollout> {
    const mu = this.config.numIterations ?? 1;
    if (!this.rollout || this.rollout.used >= mu) this.rollout = await this.newRollout(times);
    return this.rollout;
  }

  protected async runStep(): Promise<StepMetrics> {
    const times: Record<string, number> = { 'time/sampling': 0, 'time/rewards': 0, 'time/scoring': 0 };
    const r = await this.currentRollout(times);
    const { micro, sums } = this.onPolicyMicroBatches(r);
    const t = performance.now();
    const u = await this.update(micro);
    times['time/update'] = (performance.now() - t) / 1000;
    const m = this.rolloutMetrics(r, sums);
    r.used++;
    return {
      loss: u.loss,
      ...(this.config.algorithm === 'fgrpo' ? { divergence_estimate: -u.loss } : {}),
      ...m,
      grad_norm: u.gradNorm,
      // 1 when max-norm clipping scaled this step's gradient down (its effective step was shortened).
      grad_clipped: u.clipped ? 1 : 0,
      lr: u.lr,
      ...times,
    };
  }

  protected saveState(): unknown {
    return { cursor: this.cursor.position, rollout: this.rollout };
  }

  protected loadState(state: unknown): void {
    const s = state as { cursor: number; rollout: Rollout | null };
    if (!s || !Number.isInteger(s.cursor)) throw new Error(`${this.kind}: checkpoint state has no data cursor`);
    this.cursor.position = s.cursor;
    this.rollout = s.rollout;
  }
}

/**
 * f-HAL: each optimizer step combines one on-policy batch (f-GRPO) and one offline batch (FDO)
 * with the same divergence and link: λ·L_FDO + (1 − λ)·L_fGRPO.
 */
import { tf, type DecoderLM } from '@falign/core';
import { OfflineData, type OfflineExample } from './offline-data.js';
import { OfflineTrainer } from './offline.js';
import { OnPolicyTrainer, type OnPolicyConfig } from './on-policy.js';
import { DataCursor } from './data.js';
import type { PolicyLike, PromptItem, RewardSpec, StepMetrics } from './types.js';

/** Configuration of {@link HybridTrainer}: the on-policy settings (algorithm fixed to f-GRPO) plus λ and the offline batch size. */
export interface HybridConfig extends Omit<OnPolicyConfig, 'algorithm'> {
  /** Weight of the offline FDO term, in [0, 1] (paper: 0.5). */
  lambda: number;
  /** Offline examples per step. */
  offlineBatchSize: number;
  appendEos?: boolean;
}

/** Everything needed to construct a {@link HybridTrainer}. */
export interface HybridTrainerInit {
  policy: PolicyLike;
  prompts: readonly PromptItem[];
  rewards: readonly RewardSpec[];
  offline: readonly OfflineExample[];
  config: HybridConfig;
  reference?: DecoderLM;
}

/** f-HAL trainer. */
export class HybridTrainer extends OnPolicyTrainer {
  readonly lambda: number;
  protected readonly offline: OfflineData;
  protected readonly offlineCursor: DataCursor;
  private readonly offlineBatchSize: number;

  constructor(init: HybridTrainerInit) {
    const c = init.config;
    super({ policy: init.policy, prompts: init.prompts, rewards: init.rewards, config: { ...c, algorithm: 'fgrpo' }, reference: init.reference }, 'HybridTrainer');
    if (!(c.lambda >= 0 && c.lambda <= 1)) throw new Error(`HybridTrainer: lambda must be in [0, 1], got ${c.lambda}`);
    if (!Number.isInteger(c.offlineBatchSize) || c.offlineBatchSize < 1) throw new Error(`HybridTrainer: offlineBatchSize must be a positive integer, got ${c.offlineBatchSize}`);
    this.lambda = c.lambda;
    this.offlineBatchSize = c.offlineBatchSize;
    this.offline = new OfflineData(init.offline, init.policy.tokenizer, { appendEos: c.appendEos, where: 'HybridTrainer' });
    this.offlineCursor = new DataCursor(this.offline.size, (c.seed ?? 0) + 1);
  }

  protected override async runStep(): Promise<StepMetrics> {
    const times: Record<string, number> = { 'time/sampling': 0, 'time/rewards': 0, 'time/scoring': 0 };
    const needOnPolicy = this.lambda < 1;
    const r = needOnPolicy ? await this.currentRollout(times) : null;
    const sums = OfflineTrainer.emptySums();
    const λ = this.lambda;
    const offLoss =
      λ > 0
        ? await OfflineTrainer.offlineLoss(this.policy.model, this.reference, this.offline, this.offlineCursor.take(this.offlineBatchSize), {
            algorithm: 'fdo',
            divergence: this.config.divergence ?? 'pearson',
            beta: this.config.beta ?? 0.1,
          }, sums)
        : null;
    const t = performance.now();
    let u;
    let onMetrics: StepMetrics = {};
    if (r) {
      const weighted = offLoss ? () => tf.mul(offLoss(), λ) as tf.Scalar : undefined;
      const { micro, sums: tok } = this.onPolicyMicroBatches(r, 1 - λ, weighted);
      u = await this.update(micro);
      onMetrics = this.rolloutMetrics(r, tok);
      r.used++;
    } else {
      u = await this.update([{ loss: offLoss!, weight: 1 }]);
    }
    times['time/update'] = (performance.now() - t) / 1000;
    return {
      loss: u.loss,
      divergence_estimate: -u.loss,
      ...onMetrics,
      ...OfflineTrainer.offlineMetrics(sums, 'offline/'),
      grad_norm: u.gradNorm,
      // 1 when max-norm clipping scaled this step's gradient down (its effective step was shortened).
      grad_clipped: u.clipped ? 1 : 0,
      lr: u.lr,
      ...times,
    };
  }

  protected override saveState(): unknown {
    return { ...(super.saveState() as object), offlineCursor: this.offlineCursor.position };
  }

  protected override loadState(state: unknown): void {
    super.loadState(state);
    const s = state as { offlineCursor: number };
    if (!Number.isInteger(s.offlineCursor)) throw new Error('HybridTrainer: checkpoint state has no offline cursor');
    this.offlineCursor.position = s.offlineCursor;
  }
}

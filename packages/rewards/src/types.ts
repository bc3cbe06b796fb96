/** One item a reward function scores. `meta` carries dataset columns (gold answer, prompt label…). */
export interface RewardSample {
  prompt: string;
  completion: string;
  meta?: Record<string, unknown>;
}

/**
 * A reward function: scores a batch, returning one number per sample or `null` when the function
 * does not apply to that sample (left out of baselines, advantage 0). Learned reward models
 * implement the same type. `name` labels it in metrics logs.
 */
export interface RewardFn {
  (batch: readonly RewardSample[]): Promise<(number | null)[]>;
  rewardName?: string;
}

import type { RewardFn, RewardSample } from '../types.js';

/** Wraps a per-sample scorer as a batch {@link RewardFn} carrying `rewardName`. */
export function namedReward(
  name: string,
  score: (sample: RewardSample, index: number) => number | null,
): RewardFn {
  const fn: RewardFn = async (batch) => batch.map((s, i) => score(s, i));
  fn.rewardName = name;
  return fn;
}

/** Checks a sample's completion is a string; model outputs arrive from untyped JSON. */
export function completionOf(sample: RewardSample, index: number, rewardName: string): string {
  if (typeof sample?.completion !== 'string') {
    throw new Error(`${rewardName}: sample ${index} has no string "completion"`);
  }
  return sample.completion;
}

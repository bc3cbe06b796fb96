export { namedReward } from './named.js';
export { refusalReward, promptHarmfulness } from './refusal-reward.js';
export type { RefusalRewardOptions, RefusalRewardValues } from './refusal-reward.js';
export {
  boxedContents,
  boxedFormatReward,
  gsm8kFormatReward,
  regexFormatReward,
  thinkFormatReward,
  GSM8K_ANSWER_LINE,
  THINK_FORMAT,
} from './format.js';
export { lengthPenalty, softOverlongPunishment, softOverlongPenalty } from './length.js';
export type { LengthPenaltyOptions } from './length.js';
export { repetitionPenalty, ngramRepetitionPenalty } from './repetition.js';
export { composeRewards, composeRewardsDetailed, RewardFunctionError } from './compose.js';
export type { ComposeOptions, ComposedRewardFn, DetailedRewards, RewardComponent } from './compose.js';

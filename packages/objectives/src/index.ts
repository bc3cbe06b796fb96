/**
 * @falign/objectives — f-divergence alignment objectives on tfjs: the divergence registry,
 * pure losses (f-GRPO, FDO/KLDO, f-HAL, GRPO family, DPO) and the trainers that run them.
 */
export type { DivergenceDefinition, DivergenceTensorFns, Interval } from './divergences/types.js';
export {
  BUILTIN_DIVERGENCES,
  PAPER_DIVERGENCES,
  kl,
  reverseKl,
  pearson,
  hellinger,
  jensenShannon,
  totalVariation,
  neyman,
  gan,
} from './divergences/builtins.js';
export {
  registerDivergence,
  unregisterDivergence,
  getDivergence,
  listDivergences,
  resolveDivergence,
} from './divergences/registry.js';
export { checkDivergence, type DivergenceCheckResult } from './divergences/check.js';

export {
  groupAdvantages,
  fracRewardZeroStd,
  meanStd,
  DEFAULT_ADVANTAGE_EPS,
  type AdvantageMode,
} from './losses/advantages.js';
export {
  fgrpoLoss,
  fgrpoTerms,
  type FgrpoBatch,
  type FgrpoOptions,
  type FgrpoTerms,
  type ImportanceWeighting,
} from './losses/fgrpo.js';
export {
  fdoLoss,
  kldoLoss,
  createKldoState,
  type FdoBatch,
  type FdoOptions,
  type KldoOptions,
  type KldoState,
} from './losses/fdo.js';
export { fhalLoss, type FhalOptions } from './losses/fhal.js';
export { dpoLoss, dpoMargins, type DpoBatch, type DpoOptions } from './losses/dpo.js';
export {
  grpoLoss,
  grpoTerms,
  type GrpoBatch,
  type GrpoOptions,
  type GrpoTerms,
  type GrpoLossType,
} from './losses/grpo.js';

export type {
  PolicyLike,
  PromptItem,
  RewardSample,
  RewardFunction,
  RewardSpec,
  OptimConfig,
  RunConfig,
  StepMetrics,
} from './trainers/types.js';
export { BaseTrainer, type TrainOptions, type MicroBatch } from './trainers/base.js';
export {
  OnPolicyTrainer,
  type OnPolicyConfig,
  type OnPolicyTrainerInit,
  type Rollout,
  type TokenSums,
} from './trainers/on-policy.js';
export { OfflineTrainer, type OfflineConfig, type OfflineTrainerInit } from './trainers/offline.js';
export { HybridTrainer, type HybridConfig, type HybridTrainerInit } from './trainers/hybrid.js';
export { OfflineData, type OfflineExample, type PairExample, type UnpairedExample } from './trainers/offline-data.js';
export { DataCursor } from './trainers/data.js';
export { scoreRewards, validateRewardSpecs, type ScoredRewards } from './trainers/rewards.js';
export { MetricsLogger, summarize, zeroSignalWarnings } from './trainers/metrics.js';
export { saveTrainerCheckpoint, loadTrainerCheckpoint, type TrainerStateJson } from './trainers/checkpoint.js';

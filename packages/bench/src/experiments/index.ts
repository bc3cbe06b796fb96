/**
 * The experiments of `falign reproduce` / `falign run` / `falign train`: seeded task generators
 * (math chains by tier, with an optional careless teacher; safety prompts, responses and
 * preference pairs), SFT and reward-model training, pipelines, the experiment grid, its paired
 * statistics (summary.json) and its report.
 */
export {
  MATH_TIERS,
  MATH_GENERATOR_VERSION,
  generateMathProblem,
  generateMathSet,
  generateMathData,
  questionSplit,
  type MathSplit,
  formatSolution,
  carelessSteps,
  carries,
  tierSteps,
  type MathTier,
  type MathProblem,
  type MathStep,
  type MathData,
} from './generators/math.js';
export {
  SAFETY_GENERATOR_VERSION,
  REFUSALS,
  COURTESY_TAILS,
  loadSafetyPrompts,
  splitSafetyPrompts,
  buildPreferencePairs,
  buildSafetyDemonstrations,
  complianceResponse,
  refusalResponse,
  type SafetyPrompt,
  type SafetyLabel,
  type PreferencePair,
  type Demonstration,
} from './generators/safety.js';
export { taskTokenizer, TASK_ALPHABET } from './tokenizer.js';
export {
  DIVERGENCE_NAMES,
  pipelineSchema,
  experimentSchema,
  stageSchema,
  type PipelineConfig,
  type ExperimentConfig,
  type StageConfig,
  type ModelSpecConfig,
  type SftConfig,
  type RewardModelConfig,
} from './config/schema.js';
export { ConfigError, loadPipelineConfig, loadExperimentConfig, expandExperiment, methodId, type GridRun } from './config/load.js';
export { trainSft, type SftExample } from './sft.js';
export { trainRewardModel, assessRewardModel, probeRewardModelBiases, RewardModelScorer, type BiasProbe, type RewardModelQuality } from './reward-model.js';
export { evaluateMath, type MathEvalResult, type MathTierScore } from './eval/math-eval.js';
export { evaluateSafety, summarizeSafety, normalizeRmScore, type SafetyScores, type RmCalibration, type ResponseScorer } from './eval/safety-eval.js';
export { mathIsCorrect, mathTaskReward, extractExactAnswer, randomReward } from './eval/verifier.js';
export { pairedDifference, tQuantile975, formatDifference, type PairedDifference, type Verdict } from './stats.js';
export { summarizeExperiment, type ExperimentSummary, type SummaryRow, type SummaryMetric, type SummaryDifference } from './summary.js';
export { runUnits, prepareUnits, reportWork, setWorkSink } from './work.js';
export { runPipeline, prepareTask, runMethod, storedTask } from './flow.js';
export type { RunResult, PipelineOptions } from './steps/run-dir.js';
export { ArtefactStore, produce, type StoredStage, type CacheEntry } from './store.js';
export type { SharedArtefacts } from './steps/run-dir.js';
export { runConfigFile, type RunConfigOptions, type RunConfigSummary } from './run-config.js';
export { reproduce, type ReproduceOptions, type ReproduceSummary } from './reproduce.js';
export { mathClaims, safetyClaims, relativeOverallBySeed, type Claim } from './aggregate.js';

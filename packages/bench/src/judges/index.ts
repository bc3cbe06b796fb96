/** Model-based safety judges (Llama Guard 3, WildGuard, HarmBench classifier) over OpenAI-compatible endpoints. */
export {
  JUDGE_FORMATS,
  JUDGE_FORMAT_SPECS,
  LLAMA_GUARD_3_CATEGORIES,
  formatFromModelName,
  type JudgeFormat,
  type JudgeFormatSpec,
  type JudgeInput,
  type JudgeVerdict,
} from './formats.js';
export { JudgeCache, judgeCacheDir, judgeKey, type JudgeCacheStats } from './cache.js';
export {
  createModelJudge,
  parseJudgeSpec,
  type JudgeIdentity,
  type JudgeResult,
  type ModelJudge,
  type ModelJudgeOptions,
  type ModelJudgeSpec,
} from './model-judge.js';
export { judgeSamples, writeSamplesAtomic, judgeInputOf, withJudgeMetrics, isJudgeableTask, type JudgedSamples } from './apply.js';

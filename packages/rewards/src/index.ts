export type { RewardFn, RewardSample } from "./types.js";
// Refusal judges and reward helpers (format, length, repetition, safety, composition).
export * from './refusal/index.js';
export * from './rewards/index.js';

// Math-answer verifier (math/, gsm8k/, pool/)
export {
  verify,
  parseAnswer,
  parseGold,
  extractMathAnswer,
  type VerifyOptions,
  type VerifyResult,
  type VerifyErrorKind,
  type ParsedAnswer,
} from './math/verify.js';
export { mathCandidates, findBoxes, lastBoxed, DEFAULT_PRIORITIES, type MathExtractor, type ExtractOptions, type Candidate } from './math/extract.js';
export { normalizeAnswer } from './math/normalize.js';
export { parseLatex, ParseError, type ParseLimits } from './math/parser.js';
export { answersMatch, scalarsEqual, relationToSet, type CompareOptions } from './math/compare.js';
export { show as showMathNode, type MathNode, type RelOp } from './math/ast.js';
export { Rational, TooLargeError } from './math/rational.js';
export { mathAccuracyReward, type MathRewardOptions } from './math/reward.js';
export {
  extractGsm8k,
  extractGsm8kGold,
  cleanGsm8kNumber,
  gsm8kEqual,
  gsm8kRule,
  scoreGsm8k,
  scoreGsm8kRule,
  gsm8kReferenceGold,
  lmEvalGsm8kClean,
  lmEvalGsm8kFilter,
  GSM8K_RULES,
  LM_EVAL_STRICT,
  LM_EVAL_FLEXIBLE,
  LM_EVAL_INVALID,
  type Gsm8kExtraction,
  type Gsm8kRule,
  type Gsm8kRuleResult,
  type Gsm8kOptions,
} from './gsm8k/extract.js';
export { undoubleBackslashes } from './math/extract.js';
export { VerifierPool, verifyAsync, closeSharedPool, type VerifierPoolOptions, type VerifyItem } from './pool/verifier-pool.js';

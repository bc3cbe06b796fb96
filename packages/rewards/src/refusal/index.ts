export {
  ADVBENCH_REFUSAL_PHRASES,
  GCG_REFUSAL_PHRASES,
  XSTEST_REFUSAL_PREFIXES,
  REFUSAL_PRESETS,
  REFUSAL_PRESET_NAMES,
} from './presets.js';
export type { RefusalListPreset, RefusalMatchMode, RefusalPresetName } from './presets.js';
export { createRefusalJudge } from './judge.js';
export type { RefusalExplanation, RefusalJudge, RefusalJudgeOptions } from './judge.js';
export { DEFAULT_REFUSAL_PATTERNS } from './patterns.js';
export type { NamedPattern } from './patterns.js';
export { canonicalize, normalizeQuotes, openingOf } from './normalize.js';
export { refusalAgreement, parseRefusalLabels } from './agreement.js';
export type { RefusalAgreement, RefusalLabel } from './agreement.js';
export { labelHalf, parseXstestCompletions } from './labelled-set.js';
export type { LabelHalf, SourcedRefusalLabel } from './labelled-set.js';

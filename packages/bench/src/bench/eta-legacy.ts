/**
 * The sample-count work units of experiments/work.ts before calibration (commit 0163755: one
 * trained sample = 2, one generated sample = 3, whatever the model), frozen here so that
 * eta-error.ts can replay a run under them and show what the compute-scaled units changed.
 */
import type { PipelineConfig, StageConfig } from '../experiments/config/schema.js';

/** Units of one trained sample (SFT, reward model, offline pairs). */
export const LEGACY_TRAINED_SAMPLE_UNITS = 2;
/** Units of one generated sample (on-policy groups, evaluations). */
export const LEGACY_GENERATED_SAMPLE_UNITS = 3;

/** Units of one optimiser step of a stage. */
export function legacyStageStepUnits(stage: StageConfig): number {
  switch (stage.algorithm) {
    case 'grpo':
    case 'fgrpo':
      return stage.promptsPerStep * stage.groupSize * LEGACY_GENERATED_SAMPLE_UNITS;
    case 'fhal':
      return stage.promptsPerStep * stage.groupSize * LEGACY_GENERATED_SAMPLE_UNITS + 2 * stage.offlineBatchSize * LEGACY_TRAINED_SAMPLE_UNITS;
    case 'fdo':
    case 'dpo':
      return 2 * stage.batchSize * LEGACY_TRAINED_SAMPLE_UNITS;
    case 'sft':
      return stage.batchSize * LEGACY_TRAINED_SAMPLE_UNITS;
  }
}

/** Units of a full held-out evaluation with `samples` samples per prompt (math) besides the greedy one. */
export function legacyEvalUnits(cfg: PipelineConfig, samples: number): number {
  return (cfg.task === 'math' ? 4 * cfg.data.testPerTier * (1 + samples) : 2 * cfg.data.testPerLabel) * LEGACY_GENERATED_SAMPLE_UNITS;
}

/** Units of one pipeline run (training steps, curve points, final evaluation). */
export function legacyRunUnits(cfg: PipelineConfig): number {
  const steps = cfg.stages.reduce((a, s) => a + s.steps, 0);
  const curve = cfg.eval.every > 0 ? Math.max(0, Math.ceil(steps / cfg.eval.every) - 1) : 0;
  const per = cfg.task === 'math' ? cfg.data.testPerTier : cfg.data.testPerLabel;
  const curveUnits = (cfg.task === 'math' ? 4 : 2) * Math.min(per, cfg.eval.curvePrompts) * LEGACY_GENERATED_SAMPLE_UNITS;
  return cfg.stages.reduce((a, s) => a + s.steps * legacyStageStepUnits(s), 0) + curve * curveUnits + legacyEvalUnits(cfg, cfg.eval.samples);
}

/** Units of a task's shared preparation (SFT base when `base`, reward model, base evaluation). */
export function legacyPrepareUnits(cfg: PipelineConfig, base: boolean): number {
  let u = base && cfg.sft ? cfg.sft.steps * cfg.sft.batchSize * LEGACY_TRAINED_SAMPLE_UNITS : 0;
  if (cfg.task === 'safety') u += cfg.rewardModel.steps * cfg.rewardModel.batchSize * 2 * LEGACY_TRAINED_SAMPLE_UNITS;
  return u + legacyEvalUnits(cfg, cfg.task === 'math' ? cfg.eval.baseSamples || cfg.eval.samples : 0);
}

/**
 * Work units of the experiment jobs, for an overall progress bar whose rate and ETA mean
 * something: a training sample through a forward and backward pass counts
 * {@link TRAINED_SAMPLE_UNITS}, a generated sample (sampled token by token, then scored or
 * trained on) {@link GENERATED_SAMPLE_UNITS}; the ratio is the measured one (wasm, 113k-parameter
 * decoder: ≈9.5 ms per SFT sample, ≈14 ms per GRPO sample). Jobs report
 * the units they finish as they go (SFT and RM steps, RL steps, evaluations), so the bar moves
 * from the first second, preparation included.
 */
import type { PipelineConfig, StageConfig } from './config/schema.js';

/** Units of one trained sample (SFT, reward model, offline pairs). */
export const TRAINED_SAMPLE_UNITS = 2;
/** Units of one generated sample (on-policy groups, evaluations). */
export const GENERATED_SAMPLE_UNITS = 3;

/** Units of one optimiser step of a stage. */
export function stageStepUnits(stage: StageConfig): number {
  switch (stage.algorithm) {
    case 'grpo':
    case 'fgrpo':
      return stage.promptsPerStep * stage.groupSize * GENERATED_SAMPLE_UNITS;
    case 'fhal':
      return stage.promptsPerStep * stage.groupSize * GENERATED_SAMPLE_UNITS + 2 * stage.offlineBatchSize * TRAINED_SAMPLE_UNITS;
    case 'fdo':
    case 'dpo':
      return 2 * stage.batchSize * TRAINED_SAMPLE_UNITS;
    case 'sft':
      return stage.batchSize * TRAINED_SAMPLE_UNITS;
  }
}

/** Held-out prompts of one full evaluation of a pipeline's task. */
function evalPrompts(cfg: PipelineConfig): number {
  return cfg.task === 'math' ? 4 * cfg.data.testPerTier * (1 + cfg.eval.samples) : 2 * cfg.data.testPerLabel;
}

/** Units of a full held-out evaluation. */
export function evalUnits(cfg: PipelineConfig): number {
  return evalPrompts(cfg) * GENERATED_SAMPLE_UNITS;
}

/** Units of the base policy's evaluation (math: with `eval.baseSamples` samples per prompt). */
export function baseEvalUnits(cfg: PipelineConfig): number {
  if (cfg.task !== 'math') return evalUnits(cfg);
  return 4 * cfg.data.testPerTier * (1 + (cfg.eval.baseSamples || cfg.eval.samples)) * GENERATED_SAMPLE_UNITS;
}

/** Units of one in-training curve evaluation (a prefix of each tier or label). */
export function curveUnits(cfg: PipelineConfig): number {
  const groups = cfg.task === 'math' ? 4 : 2;
  const per = cfg.task === 'math' ? cfg.data.testPerTier : cfg.data.testPerLabel;
  return groups * Math.min(per, cfg.eval.curvePrompts) * GENERATED_SAMPLE_UNITS;
}

/** Units of the shared preparation of a pipeline's task (SFT base, reward model, base evaluation). */
export function prepareUnits(cfg: PipelineConfig, parts: { base: boolean; rm: boolean; baseEval: boolean } = { base: true, rm: true, baseEval: true }): number {
  let u = 0;
  if (parts.base && cfg.sft) u += cfg.sft.steps * cfg.sft.batchSize * TRAINED_SAMPLE_UNITS;
  if (parts.rm && cfg.task === 'safety') u += cfg.rewardModel.steps * cfg.rewardModel.batchSize * 2 * TRAINED_SAMPLE_UNITS;
  if (parts.baseEval) u += baseEvalUnits(cfg);
  return u;
}

/** Units of one pipeline run (training steps, curve points, final evaluation). */
export function runUnits(cfg: PipelineConfig): number {
  let steps = 0;
  let u = 0;
  for (const s of cfg.stages) {
    u += s.steps * stageStepUnits(s);
    steps += s.steps;
  }
  const curvePoints = cfg.eval.every > 0 ? Math.max(0, Math.ceil(steps / cfg.eval.every) - 1) : 0;
  return u + curvePoints * curveUnits(cfg) + evalUnits(cfg);
}

let sink: ((units: number) => void) | null = null;

/**
 * Where {@link reportWork} goes in this process: the job runner sets it (a worker forwards the
 * units to the parent over IPC; the in-process runner adds them to the bar). null = nowhere.
 */
export function setWorkSink(fn: ((units: number) => void) | null): void {
  sink = fn;
}

/** Reports `units` of finished work to the current sink (no-op without one). */
export function reportWork(units: number): void {
  if (sink && units > 0) sink(units);
}

/**
 * Stage "data": the task's generated data (held-out sets, demonstrations, RL prompts, preference
 * pairs) from its data config. Not stored: it is deterministic and takes milliseconds, so every
 * process rebuilds it from the config; its key (data config + generator version) is part of the
 * keys of the stored artefacts built from it.
 */
import type { PipelineConfig } from '../config/schema.js';
import { MATH_GENERATOR_VERSION } from '../generators/math.js';
import { SAFETY_GENERATOR_VERSION } from '../generators/safety.js';
import { EXPERIMENT_CODE_VERSION } from '../store.js';
import { buildMathTask, mathSftExamples, type MathTask } from '../tasks/math-task.js';
import { buildSafetyTask, type SafetyTask } from '../tasks/safety-task.js';
import type { SftExample } from '../sft.js';

/** The generated data of a pipeline's task. */
export type TaskData = { task: 'math'; math: MathTask } | { task: 'safety'; safety: SafetyTask };

/** Versions that determine a task's data and the code built on it (part of every stored key). */
export function taskVersions(task: 'math' | 'safety'): { code: number; generator: number } {
  return { code: EXPERIMENT_CODE_VERSION, generator: task === 'math' ? MATH_GENERATOR_VERSION : SAFETY_GENERATOR_VERSION };
}

/** Stage "data": builds the task data of `cfg`. */
export function taskData(cfg: PipelineConfig): TaskData {
  return cfg.task === 'math' ? { task: 'math', math: buildMathTask(cfg.data) } : { task: 'safety', safety: buildSafetyTask(cfg.data) };
}

/** The task object of `data` (math or safety), for code that takes either. */
export function taskOf(data: TaskData): MathTask | SafetyTask {
  return data.task === 'math' ? data.math : data.safety;
}

/** The SFT demonstrations of a from-scratch base (math: written by the configured careless teacher). */
export function sftExamples(cfg: PipelineConfig, data: TaskData): SftExample[] {
  if (data.task === 'math') return mathSftExamples(data.math, cfg.task === 'math' ? cfg.data.sftCarryDropRate : 0, cfg.data.seed);
  return data.safety.demos.map((d) => ({ prompt: d.prompt, response: d.response }));
}

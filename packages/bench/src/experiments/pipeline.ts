/**
 * One pipeline (one method, one seed): the stored SFT base → training stages → evaluation on the
 * task's held-out sets, written into a run directory. The stages are in steps/rl-run.ts and
 * steps/evaluate.ts, the sequence in flow.ts; these names stay for existing importers.
 */
export { runPipeline } from './flow.js';
export { gitCommit, pipelineHash, finishedResult, type CurvePoint, type FinalEval, type RunResult, type PipelineOptions } from './steps/run-dir.js';
export { curveMetricsFromRecords } from './steps/evaluate.js';

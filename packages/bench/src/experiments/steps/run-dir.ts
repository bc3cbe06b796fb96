/**
 * The run directory of one method × seed, the artefact of rl-run and evaluate (user-visible, so
 * not in the store; `result.json`, written last, marks it finished and records the hash of the
 * config it was made with, so a finished run is not run again):
 *
 * ```
 * <runDir>/config.json        validated config, versions, git commit, backend, seed
 * <runDir>/metrics.jsonl      one line per training step (the trainer's)
 * <runDir>/eval/curve.jsonl   held-out scores during training (every `eval.every` steps)
 * <runDir>/eval/<task>/samples.jsonl, results.json   final held-out evaluation
 * <runDir>/adapter/           LoRA runs: the trained adapter in PEFT layout
 * <runDir>/result.json        summary; written last, so its presence means "finished"
 * ```
 *
 * An unfinished single-stage run with periodic checkpoints continues from its last one (resume.ts).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FALIGN_VERSION, mergeLora, saveLoraAdapter } from '@falign/core';
import type { PipelineConfig } from '../config/schema.js';
import { MATH_GENERATOR_VERSION } from '../generators/math.js';
import { SAFETY_GENERATOR_VERSION } from '../generators/safety.js';
import { baseSpec, savePolicy } from '../pretrained-base.js';
import { clearCurvePoints, findResumePoint, pruneCheckpoints, removeTempCheckpoints, type ResumePoint } from '../resume.js';
import { EXPERIMENT_CODE_VERSION, contentHash, type CacheEntry } from '../store.js';
import { gitCommit } from '../../harness/provenance.js';
import type { BaseEval } from './evaluate.js';
import type { RunPolicy, Trained } from './rl-run.js';

/** Held-out scores at one point of training. */
export interface CurvePoint {
  /** Optimizer step within the pipeline (0 = the base policy). */
  step: number;
  metrics: Record<string, number>;
}

/** Final scores of a run. */
export type FinalEval = BaseEval;

/** The summary of a finished run (result.json). */
export interface RunResult {
  name: string;
  task: 'math' | 'safety';
  seed: number;
  labels: { experiment?: string; methodId?: string; methodName?: string };
  configHash: string;
  backend: string;
  wallSeconds: number;
  finishedAt: string;
  stages: { algorithm: string; steps: number; seconds: number }[];
  final: FinalEval;
  curve: CurvePoint[];
}

/** Where and how a run writes (options of `runPipeline`). */
export interface PipelineOptions {
  runDir: string;
  cacheRoot: string;
  labels?: RunResult['labels'];
  log?: (msg: string) => void;
  /** Save the trained policy to `<runDir>/checkpoints/final` (default false). */
  saveFinalCheckpoint?: boolean;
  /** Run even when a finished result with the same config exists. */
  force?: boolean;
  /**
   * Save a trainer checkpoint every N steps; a killed single-stage run then resumes from its last
   * one (see resume.ts) instead of step 1. Default: no periodic checkpoints.
   */
  checkpointEvery?: number;
}

/** The shared artefacts a run starts from (the output of the task's preparation). */
export interface SharedArtefacts {
  base: CacheEntry;
  rm: CacheEntry | null;
  baseEval: CacheEntry;
}

/** Hash of what determines a run's results (config and versions): the run's key. */
export function pipelineHash(cfg: PipelineConfig): string {
  return contentHash({ cfg, code: EXPERIMENT_CODE_VERSION, generators: [MATH_GENERATOR_VERSION, SAFETY_GENERATOR_VERSION] });
}

/** The finished result in `runDir` when its config hash matches, else null. */
export function finishedResult(runDir: string, cfg: PipelineConfig): RunResult | null {
  const file = join(runDir, 'result.json');
  if (!existsSync(file)) return null;
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as RunResult;
    return r.configHash === pipelineHash(cfg) ? r : null;
  } catch {
    return null;
  }
}

export function writeJson(file: string, value: unknown): void {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

export function writeJsonl(file: string, rows: readonly unknown[]): void {
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
}

/** An unfinished run directory, ready to train into. */
export interface StartedRun {
  dir: string;
  t0: number;
  backend: string;
  /** The checkpoint a killed earlier attempt left, when it is resumed. */
  resume: ResumePoint | null;
}

/**
 * Prepares `opts.runDir` for a run: an unfinished or differently-configured earlier attempt is
 * replaced, unless it is the same single-stage config with periodic checkpoints (then it continues
 * from its last checkpoint); writes config.json.
 */
export function startRun(cfg: PipelineConfig, opts: PipelineOptions, backend: string, log: (msg: string) => void): StartedRun {
  const t0 = Date.now();
  const resume = opts.checkpointEvery && cfg.stages.length === 1 ? findResumePoint(opts.runDir, pipelineHash(cfg)) : null;
  removeTempCheckpoints(opts.runDir);
  const keep = resume ? ['metrics.jsonl', 'checkpoints'] : [];
  for (const stale of ['metrics.jsonl', 'eval', 'result.json', 'checkpoints', 'adapter']) if (!keep.includes(stale)) rmSync(join(opts.runDir, stale), { recursive: true, force: true });
  if (!resume) clearCurvePoints(opts.runDir);
  else log(`resuming from ${resume.dir} (step ${resume.step}; at most ${opts.checkpointEvery} step(s) of work lost)`);
  mkdirSync(join(opts.runDir, 'eval'), { recursive: true });
  writeJson(join(opts.runDir, 'config.json'), {
    config: cfg,
    configHash: pipelineHash(cfg),
    labels: opts.labels ?? {},
    seed: cfg.seed,
    backend,
    versions: { falign: FALIGN_VERSION, experimentCode: EXPERIMENT_CODE_VERSION, mathGenerator: MATH_GENERATOR_VERSION, safetyGenerator: SAFETY_GENERATOR_VERSION },
    gitCommit: gitCommit(),
    startedAt: new Date(t0).toISOString(),
  });
  return { dir: opts.runDir, t0, backend, resume };
}


/** What the final evaluation returns: the run's scores and its complete curve. */
export interface EvaluatedRun {
  final: FinalEval;
  curve: CurvePoint[];
}

/**
 * Finishes a run directory: the LoRA adapter, the trained policy (when asked for), then
 * result.json, which marks the run finished; the periodic checkpoints are pruned.
 */
export async function finishRun(
  cfg: PipelineConfig,
  policy: RunPolicy,
  shared: SharedArtefacts,
  run: StartedRun,
  trained: Trained,
  evaluated: EvaluatedRun,
  opts: PipelineOptions,
): Promise<RunResult> {
  const { model, tokenizer, adapter } = policy;
  if (adapter) await saveLoraAdapter(join(run.dir, 'adapter'), adapter, { baseModel: baseSpec(shared.base) });
  if (opts.saveFinalCheckpoint) {
    // A LoRA run's policy is saved merged (base + s·B·A); the adapter alone is in <runDir>/adapter.
    const merged = adapter ? mergeLora(adapter) : model;
    try {
      await savePolicy(join(run.dir, 'checkpoints', 'final'), { model: merged, tokenizer, baseSpec: baseSpec(shared.base), meta: { kind: 'falign-run', name: cfg.name, task: cfg.task, ...(adapter ? { lora: 'merged' } : {}) } });
    } finally {
      if (merged !== model) merged.dispose();
    }
  }
  const result: RunResult = {
    name: cfg.name,
    task: cfg.task,
    seed: cfg.seed,
    labels: opts.labels ?? {},
    configHash: pipelineHash(cfg),
    backend: run.backend,
    wallSeconds: (Date.now() - run.t0) / 1000,
    finishedAt: new Date().toISOString(),
    stages: trained.stages,
    final: evaluated.final,
    curve: evaluated.curve,
  };
  writeJson(join(run.dir, 'result.json'), result);
  // Finished: the periodic checkpoints and the partial curve have served their purpose.
  if (opts.checkpointEvery) {
    pruneCheckpoints(run.dir, -1);
    clearCurvePoints(run.dir);
  }
  return result;
}

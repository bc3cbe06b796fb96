/**
 * The experiments as their data flows. Each stage is a module under steps/ that takes its inputs
 * and returns its artefact; the stored ones (SFT base, reward model, base evaluation) live in one
 * content-addressed store (store.ts), keyed by their code version, the config they read and their
 * inputs' keys, so each is built once and reused by every run, worker and later invocation.
 *
 * ```
 * per task      config ─> data ─┬─> sft-base ───────────────┬─> base-eval (evaluate the base)
 *                               └─> reward-model (safety) ──┘
 * per run       sft-base + reward-model + base-eval ─> rl-run (stages, curve) ─> evaluate ─> run dir
 * per report    every run ─> aggregate (one section per experiment) ─> report
 * ```
 *
 * `prepareTask` and `runMethod` are the two units of work the reproduction schedules on its
 * worker pool (jobs.ts); `reproduce.ts` runs them for every experiment, method and seed, then
 * aggregates and reports.
 */
import { backendName, initBackend, type BackendName } from '@falign/core';
import type { PipelineConfig } from './config/schema.js';
import { taskData } from './steps/data.js';
import { sftBase, baseKey } from './steps/sft-base.js';
import { rewardModel, rewardModelKey } from './steps/reward-model.js';
import { baseEvaluation, baseEvalKey, evaluateRun, policyEvaluator } from './steps/evaluate.js';
import { openPolicy, trainStages } from './steps/rl-run.js';
import { finishRun, finishedResult, startRun, type PipelineOptions, type RunResult, type SharedArtefacts } from './steps/run-dir.js';
import { ArtefactStore, cacheEntry, produce, type Log } from './store.js';

/** Starts the config's backend ('auto' lets core choose) and returns its name. */
export async function startBackend(backend: PipelineConfig['backend']): Promise<string> {
  return initBackend(backend === 'auto' ? undefined : (backend as BackendName));
}

/** The name of the active backend (after {@link startBackend}). */
export function activeBackend(): string {
  return backendName() ?? 'unknown';
}

/** Per task: data → SFT base → reward model (safety) → base evaluation. Built only when not stored. */
export async function prepareTask(cfg: PipelineConfig, store: ArtefactStore, log: Log): Promise<SharedArtefacts> {
  const backend = await startBackend(cfg.backend);
  const data = taskData(cfg);
  const base = await produce(store, sftBase, { cfg, data, backend }, log);
  const rm = cfg.task === 'safety' && data.task === 'safety' ? await produce(store, rewardModel, { cfg, safety: data.safety, backend }, log) : null;
  const baseEval = await produce(store, baseEvaluation, { cfg, data, base, rm }, log);
  return { base, rm, baseEval };
}

/**
 * The task's shared artefacts when the store already holds all of them, found without starting a
 * backend (so the configured backend must be named, not 'auto'); null otherwise.
 */
export function storedTask(cfg: PipelineConfig, store: ArtefactStore): SharedArtefacts | null {
  if (cfg.backend === 'auto') return null;
  // The same keys as prepareTask's stages (whose key functions need no task data).
  const base = cacheEntry(store.root, sftBase.name, baseKey(cfg, cfg.backend));
  const rm = cfg.task === 'safety' ? cacheEntry(store.root, rewardModel.name, rewardModelKey(cfg.data, cfg.rewardModel, cfg.backend)) : null;
  if (!base.ready || (rm && !rm.ready)) return null;
  const baseEval = cacheEntry(store.root, baseEvaluation.name, baseEvalKey(cfg, base, rm));
  return baseEval.ready ? { base, rm, baseEval } : null;
}

/** Per run: the shared artefacts → rl-run (training stages with curve evaluations) → final evaluation. */
export async function runMethod(cfg: PipelineConfig, shared: SharedArtefacts, opts: PipelineOptions): Promise<RunResult> {
  const log = opts.log ?? (() => {});
  if (!opts.force) {
    const done = finishedResult(opts.runDir, cfg);
    if (done) {
      log('finished earlier with the same config; skipped');
      return done;
    }
  }
  const backend = await startBackend(cfg.backend);
  const run = startRun(cfg, opts, backend, log);
  const data = taskData(cfg);
  const policy = await openPolicy(cfg, shared);
  try {
    const evaluate = policyEvaluator(cfg, data, policy, policy.rm);
    const trained = await trainStages(cfg, data, policy, shared.baseEval, run, evaluate, { checkpointEvery: opts.checkpointEvery, log });
    const evaluated = await evaluateRun(cfg, shared, run, trained, evaluate);
    const result = await finishRun(cfg, policy, shared, run, trained, evaluated, opts);
    log(`done in ${result.wallSeconds.toFixed(0)}s`);
    return result;
  } finally {
    policy.dispose();
  }
}

/** One pipeline end to end (`falign run` / `falign train`): its task's shared artefacts, then the run. */
export async function runPipeline(cfg: PipelineConfig, opts: PipelineOptions): Promise<RunResult> {
  const log = opts.log ?? (() => {});
  // A finished run needs neither a backend nor its shared artefacts.
  const done = opts.force ? null : finishedResult(opts.runDir, cfg);
  if (done) {
    log('finished earlier with the same config; skipped');
    return done;
  }
  const shared = await prepareTask(cfg, new ArtefactStore(opts.cacheRoot), log);
  return runMethod(cfg, shared, { ...opts, force: true });
}

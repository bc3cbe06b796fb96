/**
 * `falign run CONFIG.json` / `falign train --config FILE`: one declared pipeline (base model →
 * training stages → held-out evaluation) from a validated config file, into a run directory,
 * optionally followed by its report (`<runDir>/report/`).
 */
import { join, resolve } from 'node:path';
import type { ExperimentConfig, PipelineConfig } from './config/schema.js';
import { loadPipelineConfig } from './config/load.js';
import { ArtefactStore, experimentCacheRoot, readCacheInfo } from './store.js';
import { prepareTask, runPipeline } from './flow.js';
import type { RunResult } from './steps/run-dir.js';
import type { BaseEval } from './steps/evaluate.js';
import type { BaseInfo } from './steps/sft-base.js';
import type { RewardModelInfo } from './steps/reward-model.js';
import { mathSection, safetySection, writeExperimentReport } from './report.js';
import { jobLogger } from './jobs.js';
import { machineDescription, formatDuration } from './reproduce.js';

/** Options of {@link runConfigFile}. */
export interface RunConfigOptions {
  /** Run directory; default `runs/<config name>`. */
  out?: string;
  cacheRoot?: string;
  /** Write `<runDir>/report/` (default true). */
  report?: boolean;
  saveCheckpoint?: boolean;
  force?: boolean;
  /** Allow only single-stage configs (`falign train`). */
  singleStage?: boolean;
  /** Periodic trainer checkpoints every N steps; a killed single-stage run resumes from the last. */
  checkpointEvery?: number;
}

/** What the command returns (and prints with --json). */
export interface RunConfigSummary {
  runDir: string;
  result: RunResult;
  reportFiles: string[];
}

/** The experiment view of a single pipeline, so the report code can render it. */
export function pipelineAsExperiment(cfg: PipelineConfig): ExperimentConfig {
  const last = cfg.stages[cfg.stages.length - 1];
  const common = {
    name: cfg.name,
    backend: cfg.backend,
    seeds: [cfg.seed],
    model: cfg.model,
    sft: cfg.sft,
    training: { ...last } as Record<string, unknown>,
    methods: [{ name: cfg.name, id: 'run', stage: { ...last } as Record<string, unknown> }],
    eval: cfg.eval,
  };
  return cfg.task === 'math' ? { ...common, task: 'math', data: cfg.data } : { ...common, task: 'safety', data: cfg.data, rewardModel: cfg.rewardModel };
}

/** Runs the pipeline of `file`. */
export async function runConfigFile(file: string, opts: RunConfigOptions = {}): Promise<RunConfigSummary> {
  const cfg = loadPipelineConfig(file);
  if (opts.singleStage && cfg.stages.length !== 1) {
    throw new Error(`${file}: stages: 'falign train' runs exactly one stage, the config has ${cfg.stages.length} (use 'falign run')`);
  }
  const runDir = resolve(opts.out ?? join('runs', cfg.name));
  const cacheRoot = opts.cacheRoot ?? experimentCacheRoot();
  const log = jobLogger(`[${cfg.name}]`);
  const t0 = Date.now();
  const result = await runPipeline(cfg, { runDir, cacheRoot, log, saveFinalCheckpoint: opts.saveCheckpoint, force: opts.force, checkpointEvery: opts.checkpointEvery, labels: { methodId: 'run', methodName: cfg.name } });
  let reportFiles: string[] = [];
  if (opts.report ?? true) {
    const shared = await prepareTask(cfg, new ArtefactStore(cacheRoot), log);
    const exp = pipelineAsExperiment(cfg);
    const outcome = {
      exp,
      methods: [{ id: 'run', name: cfg.name, stage: cfg.stages[cfg.stages.length - 1], runs: [result] }],
      runDirs: new Map([[`run/${cfg.seed}`, cfg.stages.length === 1 ? runDir : join(runDir, `stage-${cfg.stages.length}`)]]),
      base: readCacheInfo<BaseEval>(shared.baseEval),
      baseInfo: readCacheInfo<BaseInfo>(shared.base),
      rmInfo: shared.rm ? readCacheInfo<RewardModelInfo>(shared.rm) : null,
      expected: 1,
    };
    const section = cfg.task === 'math' ? await mathSection(outcome) : await safetySection(outcome);
    const written = await writeExperimentReport(
      join(runDir, 'report'),
      {
        title: `falign run: ${cfg.name}`,
        meta: [`Config: ${file}`, `Stages: ${cfg.stages.map((s) => `${s.algorithm} × ${s.steps}`).join(' → ')}`, `Seed: ${cfg.seed}; backend ${result.backend}`, `Wall time: ${formatDuration((Date.now() - t0) / 1000)}`, `Machine: ${machineDescription()}`],
      },
      // A single run has nothing to compare: keep its tables and curves, not the grid's verdicts.
      [{ ...section, claims: [] }],
    );
    reportFiles = written.files.map((f) => join('report', f));
  }
  return { runDir, result, reportFiles };
}

/**
 * The two kinds of experiment job and how one is executed (in this process or in a worker):
 * `prepare` builds a task's shared artefacts (SFT base, reward model, base evaluation);
 * `run` trains and evaluates one pipeline into its run directory.
 */
import type { PipelineConfig } from './config/schema.js';
import { prepareShared } from './prepare.js';
import { runPipeline, type RunResult } from './pipeline.js';

/** Builds the shared artefacts of a task. */
export interface PrepareJob {
  kind: 'prepare';
  pipeline: PipelineConfig;
  cacheRoot: string;
}

/** Trains and evaluates one pipeline. */
export interface RunJob {
  kind: 'run';
  pipeline: PipelineConfig;
  cacheRoot: string;
  runDir: string;
  /** Labels recorded in result.json. */
  labels: { experiment?: string; methodId?: string; methodName?: string };
}

export type Job = PrepareJob | RunJob;

/** What a job returns. */
export type JobResult = { kind: 'prepare'; base: string; rm: string | null; baseEval: string } | { kind: 'run'; result: RunResult };

/** Logs to stderr with a prefix naming the process, so interleaved worker output stays readable. */
export function jobLogger(prefix: string): (msg: string) => void {
  return (msg) => {
    if (process.env.FALIGN_QUIET === '1') return;
    process.stderr.write(`${prefix} ${msg}\n`);
  };
}

/** Executes a job in this process. */
export async function executeJob(job: Job): Promise<JobResult> {
  if (job.kind === 'prepare') {
    const r = await prepareShared(job.pipeline, job.cacheRoot, jobLogger(`[prepare ${job.pipeline.task}]`));
    return { kind: 'prepare', base: r.base.dir, rm: r.rm?.dir ?? null, baseEval: r.baseEval.dir };
  }
  const result = await runPipeline(job.pipeline, { runDir: job.runDir, cacheRoot: job.cacheRoot, labels: job.labels, log: jobLogger(`[${job.pipeline.name}]`) });
  return { kind: 'run', result };
}

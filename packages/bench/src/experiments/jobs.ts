/**
 * The two kinds of experiment job and how one is executed (in this process or in a worker):
 * `prepare` builds a task's shared artefacts (SFT base, reward model, base evaluation);
 * `run` trains and evaluates one pipeline into its run directory.
 */
import type { PipelineConfig } from './config/schema.js';
import { prepareShared } from './prepare.js';
import { runPipeline, type RunResult } from './pipeline.js';
import { setWorkSink } from './work.js';

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
  /** Trainer checkpoint interval; a killed run resumes from its last checkpoint. */
  checkpointEvery?: number;
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

/**
 * Executes a job in this process. `progress` receives the work units the job finishes as it goes
 * (see work.ts); a worker forwards them to the parent.
 */
export async function executeJob(job: Job, progress?: (units: number) => void): Promise<JobResult> {
  setWorkSink(progress ?? null);
  try {
    return await runJob(job);
  } finally {
    setWorkSink(null);
  }
}

async function runJob(job: Job): Promise<JobResult> {
  if (job.kind === 'prepare') {
    const r = await prepareShared(job.pipeline, job.cacheRoot, jobLogger(`[prepare ${job.pipeline.task}]`));
    return { kind: 'prepare', base: r.base.dir, rm: r.rm?.dir ?? null, baseEval: r.baseEval.dir };
  }
  const result = await runPipeline(job.pipeline, { runDir: job.runDir, cacheRoot: job.cacheRoot, labels: job.labels, checkpointEvery: job.checkpointEvery, log: jobLogger(`[${job.pipeline.name}]`) });
  return { kind: 'run', result };
}

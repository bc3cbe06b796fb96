/**
 * The two units of work of the reproduction (flow.ts) as jobs a worker process can execute:
 * `prepare` builds a task's shared artefacts (SFT base, reward model, base evaluation);
 * `run` trains and evaluates one pipeline into its run directory.
 */
import type { PipelineConfig } from './config/schema.js';
import { prepareTask, runMethod, runPipeline } from './flow.js';
import type { RunResult, SharedArtefacts } from './steps/run-dir.js';
import { ArtefactStore, entryAt } from './store.js';
import { setWorkSink } from './work.js';

/** Builds the shared artefacts of a task. */
export interface PrepareJob {
  kind: 'prepare';
  pipeline: PipelineConfig;
  cacheRoot: string;
}

/** The shared artefacts' folders, as a prepare job returns them across processes. */
export interface SharedDirs {
  base: string;
  rm: string | null;
  baseEval: string;
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
  /** The task's shared artefacts (a prepare job's result); prepared from the store when absent. */
  shared?: SharedDirs;
}

export type Job = PrepareJob | RunJob;

/** What a job returns. */
export type JobResult = ({ kind: 'prepare' } & SharedDirs) | { kind: 'run'; result: RunResult };

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

/** The folders of shared artefacts (what crosses the process boundary). */
export function sharedDirs(s: SharedArtefacts): SharedDirs {
  return { base: s.base.dir, rm: s.rm?.dir ?? null, baseEval: s.baseEval.dir };
}

async function runJob(job: Job): Promise<JobResult> {
  if (job.kind === 'prepare') return { kind: 'prepare', ...sharedDirs(await prepareTask(job.pipeline, new ArtefactStore(job.cacheRoot), jobLogger(`[prepare ${job.pipeline.task}]`))) };
  const opts = { runDir: job.runDir, cacheRoot: job.cacheRoot, labels: job.labels, checkpointEvery: job.checkpointEvery, log: jobLogger(`[${job.pipeline.name}]`) };
  const s = job.shared;
  const result = s ? await runMethod(job.pipeline, { base: entryAt(s.base), rm: s.rm ? entryAt(s.rm) : null, baseEval: entryAt(s.baseEval) }, opts) : await runPipeline(job.pipeline, opts);
  return { kind: 'run', result };
}

/**
 * Runs experiment jobs on several cores. tfjs-wasm is single-threaded in Node, so independent
 * jobs (shared-artefact preparation, then method × seed runs) go to child processes, each with
 * its own backend, at most `workers` at a time. With one worker, jobs run in this process (no
 * fork: used by tests and by `falign run`).
 *
 * A child receives one job over IPC, answers with its result (or error) and exits. Its stdout
 * is forwarded to this process's stderr, so the parent's stdout stays parseable.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pLimit from 'p-limit';
import { executeJob, type Job, type JobResult } from './jobs.js';

/** Message a worker sends back. */
export type WorkerReply = { ok: true; result: JobResult } | { ok: false; error: string; stack?: string };

/** Path of the compiled (or, under tests, TypeScript) worker entry next to this module. */
function workerEntry(): { file: string; execArgv: string[] } {
  const js = fileURLToPath(new URL('./worker-entry.js', import.meta.url));
  if (existsSync(js)) return { file: js, execArgv: [] };
  const ts = fileURLToPath(new URL('./worker-entry.ts', import.meta.url));
  return { file: ts, execArgv: ['--conditions', 'development', '--import', 'tsx'] };
}

/** A progress message of a worker: work units finished since the last one. */
export interface WorkerProgress {
  progress: number;
}

/**
 * Runs one job in a fresh child process; `progress` receives its finished work units, `onStart`
 * the child (a test kills it to check that the job resumes).
 */
export function runJobInChild(job: Job, progress?: (units: number) => void, onStart?: (child: ChildProcess) => void): Promise<JobResult> {
  const { file, execArgv } = workerEntry();
  return new Promise((resolvePromise, reject) => {
    // The pool already keeps the cores busy with one job per worker: a worker's products stay on
    // one thread (core's two-thread split would only compete with the other workers for cores).
    const env = { ...process.env, FALIGN_THREADS: process.env.FALIGN_THREADS ?? '1' };
    const child = fork(file, [], { execArgv, stdio: ['ignore', 'pipe', 'inherit', 'ipc'], env });
    onStart?.(child);
    child.stdout?.pipe(process.stderr, { end: false });
    let reply: WorkerReply | null = null;
    child.on('message', (m) => {
      if (m && typeof m === 'object' && 'progress' in m) progress?.((m as WorkerProgress).progress);
      else reply = m as WorkerReply;
    });
    child.on('error', (e) => reject(new Error(`worker for ${describeJob(job)} could not start: ${e.message}`)));
    child.on('exit', (code, signal) => {
      const r = reply as WorkerReply | null;
      if (r?.ok) resolvePromise(r.result);
      else if (r && !r.ok) reject(new Error(`${describeJob(job)}: ${r.error}`));
      else reject(new Error(`worker for ${describeJob(job)} exited (${signal ?? `code ${code}`}) without a result`));
    });
    child.send(job);
  });
}

/** Short label of a job for logs and errors. */
export function describeJob(job: Job): string {
  return job.kind === 'prepare' ? `prepare ${job.pipeline.task}` : `run ${job.pipeline.name}`;
}

/** A job pool with dependencies: a job starts once its dependencies are done and a slot is free. */
export class JobPool {
  private readonly limit: ReturnType<typeof pLimit>;

  constructor(readonly workers: number) {
    if (!Number.isInteger(workers) || workers < 1) throw new Error(`workers must be a positive integer, got ${workers}`);
    this.limit = pLimit(workers);
  }

  /** Schedules `job` after `deps`; in-process when the pool has one worker. `progress` gets its work units. */
  submit(job: Job, deps: readonly Promise<unknown>[] = [], progress?: (units: number) => void): Promise<JobResult> {
    return Promise.all(deps).then(() => this.limit(() => (this.workers === 1 ? executeJob(job, progress) : runJobInChild(job, progress))));
  }
}

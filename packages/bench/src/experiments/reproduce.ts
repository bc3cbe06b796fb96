/**
 * `falign reproduce`: the paper's two experiments at laptop scale. Loads the experiment configs,
 * builds each task's shared artefacts (SFT base, reward model, base evaluation), runs every
 * method × seed in a pool of worker processes (finished runs are skipped, so a re-run resumes),
 * then writes the report.
 *
 * ```
 * <out>/runs/<experiment>/<method>/seed-<s>/...   one run directory per pipeline
 * <out>/README.md, report.md, index.html, tables/, plots/, claims.json, summary.json, reproduce.json
 * <out>/provenance.json   the only machine-specific file: commit, date, wall time, machine
 * ```
 *
 * Everything except provenance.json depends only on the configs, the code and the backend, so a
 * re-run on the same commit rewrites the tables, plots and claims byte for byte.
 */
import { mkdirSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import type { ExperimentConfig } from './config/schema.js';
import { expandExperiment, loadExperimentConfig, type GridRun } from './config/load.js';
import { ArtefactStore, contentHash, entryAt, experimentCacheRoot } from './store.js';
import { storedTask } from './flow.js';
import { JobPool } from './pool.js';
import { sharedDirs, type JobResult, type SharedDirs } from './jobs.js';
import { finishedResult, type RunResult } from './steps/run-dir.js';
import { aggregateExperiment } from './steps/aggregate.js';
import { formatDuration, machineDescription, writeReproduceReport } from './steps/report.js';
import type { ReportSection } from './report.js';
import { startProgress, type Progress } from '../util/progress.js';
import { prepareUnits, runUnits } from './work.js';

export { formatDuration, machineDescription };

/** Options of {@link reproduce}. */
export interface ReproduceOptions {
  /** Experiment config files, in report order. */
  configs: string[];
  /** Output folder (report and runs). */
  outDir: string;
  /** Worker processes (1 = in this process). */
  workers: number;
  cacheRoot?: string;
  /** Label of the run size shown in the report ("quick", "full", "custom"). */
  mode: string;
  log?: (msg: string) => void;
  /** Silence the progress bar. */
  quiet?: boolean;
  /** Trainer checkpoint interval of every run (a killed run resumes from its last one); default 10, 0 = none. */
  checkpointEvery?: number;
}

/** A config path for the report: relative to the working directory, never absolute. */
export function displayPath(file: string, cwd = process.cwd()): string {
  const rel = relative(cwd, resolve(file));
  return rel === '' || isAbsolute(rel) || rel.startsWith('..') ? basename(file) : rel.split('\\').join('/');
}

/** Summary of a reproduce call. */
export interface ReproduceSummary {
  outDir: string;
  wallSeconds: number;
  runs: { expected: number; finished: number; skipped: number; failed: { name: string; error: string }[] };
  files: string[];
  claims: Record<string, { claim: string; held: boolean | null }[]>;
}

/** The default config files of a mode: `<configDir>/{math,safety}-<mode>.json`. */
export function defaultConfigs(configDir: string, mode: 'quick' | 'full'): string[] {
  return ['math', 'safety'].map((t) => join(configDir, `${t}-${mode}.json`));
}

/** Directory of a grid run under the output folder. */
export function gridRunDir(outDir: string, exp: ExperimentConfig, run: GridRun): string {
  return join(outDir, 'runs', exp.name, run.methodId, `seed-${run.seed}`);
}

/**
 * Runs the experiments and writes the report: per task its shared artefacts (flow.ts
 * `prepareTask`, one pool job per distinct task), per method × seed its run (`runMethod`, a pool
 * job that starts once its task is prepared), then per experiment the aggregate section and the
 * report.
 */
export async function reproduce(opts: ReproduceOptions): Promise<ReproduceSummary> {
  const t0 = Date.now();
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const outDir = resolve(opts.outDir);
  const store = new ArtefactStore(opts.cacheRoot ?? experimentCacheRoot());
  const cacheRoot = store.root;
  const exps = opts.configs.map((f) => loadExperimentConfig(f));
  const names = new Set<string>();
  for (const e of exps) {
    if (names.has(e.name)) throw new Error(`two experiment configs are named "${e.name}"`);
    names.add(e.name);
  }
  mkdirSync(outDir, { recursive: true });
  // Folders half-written by a killed earlier invocation.
  const stale = store.removeStaleTemps();
  if (stale.length > 0) log(`removed ${stale.length} unfinished cache folder(s) left by a killed run`);
  const pool = new JobPool(opts.workers);
  const grids = exps.map((e) => expandExperiment(e));
  const expected = grids.reduce((a, g) => a + g.length, 0);
  let skipped = 0;
  let finished = 0;
  const failed: { name: string; error: string }[] = [];
  // One bar for everything, preparation included, in work units (work.ts): its rate and ETA
  // come from the work done, not from the count of finished runs.
  const pending = grids.map((grid, i) => grid.map((run) => finishedResult(gridRunDir(outDir, exps[i], run), run.pipeline)));
  const work = new WorkTracker(startProgress({ label: 'reproduce', total: 1, unit: 'work units', silent: opts.quiet }), () => `${finished}/${expected} runs`);

  // Per task: the shared artefacts (data → SFT base → reward model → base evaluation), from the
  // store or built by one job; experiments with the same task data, model and SFT share that job.
  const byShared = new Map<string, Promise<SharedDirs>>();
  const prepared: Promise<SharedDirs>[] = exps.map((_, i) => {
    const pipeline = grids[i][0].pipeline;
    const stored = storedTask(pipeline, store);
    if (stored) return Promise.resolve(sharedDirs(stored));
    const { name: _n, seed: _s, stages: _st, ...shared } = pipeline;
    const key = contentHash(shared);
    if (!byShared.has(key)) {
      const job = work.job(prepareUnits(pipeline));
      byShared.set(key, pool.submit({ kind: 'prepare', pipeline, cacheRoot }, [], job.report).finally(job.done).then(prepareResult));
    }
    return byShared.get(key)!;
  });
  // Per method × seed: rl-run → evaluate, once the task's artefacts exist; finished runs are reused.
  grids.forEach((grid, i) => grid.forEach((run, k) => void (pending[i][k] ? 0 : work.plan(runUnits(run.pipeline)))));
  const results: Promise<RunResult | null>[][] = grids.map((grid, i) =>
    grid.map((run, k) => {
      const done = pending[i][k];
      if (done) {
        skipped++;
        finished++;
        return Promise.resolve(done);
      }
      const job = work.job(runUnits(run.pipeline), true);
      const labels = { experiment: exps[i].name, methodId: run.methodId, methodName: run.methodName };
      const runDir = gridRunDir(outDir, exps[i], run);
      return prepared[i]
        .then((shared) => pool.submit({ kind: 'run', pipeline: run.pipeline, cacheRoot, runDir, labels, shared, checkpointEvery: opts.checkpointEvery ?? 10 }, [], job.report))
        .finally(job.done)
        .then(
          (r: JobResult) => {
            finished++;
            work.note(run.pipeline.name);
            return r.kind === 'run' ? r.result : null;
          },
          (err: Error) => {
            failed.push({ name: run.pipeline.name, error: err.message });
            work.note(`${run.pipeline.name} FAILED`);
            log(`run ${run.pipeline.name} failed: ${err.message}`);
            return null;
          },
        );
    }),
  );
  const prepResults = await Promise.allSettled(prepared);
  const settled = await Promise.all(results.map((rs) => Promise.all(rs)));
  work.stop();

  // Per experiment: its runs aggregated into a report section.
  const sections: ReportSection[] = [];
  const backends = new Set<string>();
  for (const [i, exp] of exps.entries()) {
    const prep = prepResults[i];
    if (prep.status === 'rejected') {
      failed.push({ name: `prepare ${exp.name}`, error: (prep.reason as Error).message });
      log(`preparing ${exp.name} failed: ${(prep.reason as Error).message}`);
      continue;
    }
    const p = prep.value;
    const runResults = settled[i].filter((r): r is RunResult => r !== null);
    for (const r of runResults) backends.add(r.backend);
    const shared = { base: entryAt(p.base), rm: p.rm ? entryAt(p.rm) : null, baseEval: entryAt(p.baseEval) };
    sections.push(await aggregateExperiment({ exp, grid: grids[i], results: runResults, shared, runDir: (g) => gridRunDir(outDir, exp, g) }));
  }
  // The report.
  const wallSeconds = (Date.now() - t0) / 1000;
  const configs = opts.configs.map((c) => displayPath(c));
  const runs = { expected, finished, skipped, failed };
  const written = await writeReproduceReport({ outDir, mode: opts.mode, configs, exps, sections, backends, runs, wallSeconds, workers: opts.workers });
  return { outDir, wallSeconds, runs, files: written.files, claims: written.claims };
}

/** The shared artefacts' folders of a prepare job's result. */
function prepareResult(r: JobResult): SharedDirs {
  if (r.kind !== 'prepare') throw new Error(`a prepare job returned a ${r.kind} result`);
  return { base: r.base, rm: r.rm, baseEval: r.baseEval };
}

/**
 * The overall bar's bookkeeping: planned units per job; a job that finishes having reported fewer
 * units than planned (a cached artefact, a resumed run) shrinks the total instead of inflating
 * the rate, so the rate stays honest.
 */
class WorkTracker {
  private total = 0;
  private done = 0;

  constructor(
    private readonly bar: Progress,
    private readonly info: () => string,
  ) {}

  /** Adds planned units that a later {@link job} call (with `planned` already counted) will report. */
  plan(units: number): void {
    this.total += units;
    this.bar.setTotal(Math.max(1, this.total));
  }

  /** A job of `units` planned units (`alreadyPlanned`: counted by {@link plan}). */
  job(units: number, alreadyPlanned = false): { report: (u: number) => void; done: () => void } {
    if (!alreadyPlanned) this.plan(units);
    let reported = 0;
    return {
      report: (u) => {
        const take = Math.min(u, units - reported);
        if (take <= 0) return;
        reported += take;
        this.done += take;
        this.bar.update(this.done, this.info());
      },
      done: () => {
        if (reported < units) {
          this.total -= units - reported;
          this.bar.setTotal(Math.max(1, this.total));
          this.bar.update(this.done, this.info());
        }
      },
    };
  }

  note(info: string): void {
    this.bar.update(this.done, `${this.info()} ${info}`);
  }

  stop(): void {
    this.bar.stop();
  }
}

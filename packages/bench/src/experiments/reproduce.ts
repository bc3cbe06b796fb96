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
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, platform, release } from 'node:os';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import type { ExperimentConfig, StageConfig } from './config/schema.js';
import { expandExperiment, loadExperimentConfig, methodStage, type GridRun } from './config/load.js';
import { contentHash, readCacheInfo, experimentCacheRoot, removeStaleTemps } from './cache.js';
import { JobPool } from './pool.js';
import type { JobResult } from './jobs.js';
import { finishedResult, gitCommit, type RunResult } from './pipeline.js';
import { groupByMethod } from './aggregate.js';
import { mathSection, safetySection, writeExperimentReport, type ExperimentOutcome, type ReportSection } from './report.js';
import type { ExperimentSummary } from './summary.js';
import { cachedShared, type BaseEval, type BaseInfo, type RewardModelInfo } from './prepare.js';
import { startProgress, type Progress } from '../util/progress.js';
import { prepareUnits, runUnits } from './work.js';

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

/** Machine facts for the report header. */
export function machineDescription(): string {
  const c = cpus();
  return `${c.length} core${c.length === 1 ? '' : 's'} (${c[0]?.model?.trim() ?? 'unknown CPU'}), ${platform()} ${release()}, Node ${process.version}`;
}

/** Runs the experiments and writes the report. */
export async function reproduce(opts: ReproduceOptions): Promise<ReproduceSummary> {
  const t0 = Date.now();
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const outDir = resolve(opts.outDir);
  const cacheRoot = opts.cacheRoot ?? experimentCacheRoot();
  const exps = opts.configs.map((f) => loadExperimentConfig(f));
  const names = new Set<string>();
  for (const e of exps) {
    if (names.has(e.name)) throw new Error(`two experiment configs are named "${e.name}"`);
    names.add(e.name);
  }
  mkdirSync(outDir, { recursive: true });
  // Folders half-written by a killed earlier invocation.
  const stale = removeStaleTemps(cacheRoot, true);
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

  // Shared artefacts first (one job per experiment; they run in parallel when workers allow).
  // Experiments with the same task data, model and SFT share one preparation job.
  const byShared = new Map<string, Promise<JobResult>>();
  const prepared = exps.map((e, i) => {
    const pipeline = grids[i][0].pipeline;
    const cached = cachedShared(pipeline, cacheRoot);
    if (cached) return Promise.resolve<JobResult>({ kind: 'prepare', base: cached.base.dir, rm: cached.rm?.dir ?? null, baseEval: cached.baseEval.dir });
    const { name: _n, seed: _s, stages: _st, ...shared } = pipeline;
    const key = contentHash(shared);
    if (!byShared.has(key)) {
      const job = work.job(prepareUnits(pipeline));
      byShared.set(key, pool.submit({ kind: 'prepare', pipeline, cacheRoot }, [], job.report).finally(job.done));
    }
    return byShared.get(key)!;
  });
  grids.forEach((grid, i) => grid.forEach((run, k) => void (pending[i][k] ? 0 : work.plan(runUnits(run.pipeline)))));
  const results: Promise<RunResult | null>[][] = grids.map((grid, i) =>
    grid.map((run, k) => {
      const runDir = gridRunDir(outDir, exps[i], run);
      const done = pending[i][k];
      if (done) {
        skipped++;
        finished++;
        return Promise.resolve(done);
      }
      const job = work.job(runUnits(run.pipeline), true);
      return pool
        .submit(
          {
            kind: 'run',
            pipeline: run.pipeline,
            cacheRoot,
            runDir,
            labels: { experiment: exps[i].name, methodId: run.methodId, methodName: run.methodName },
            checkpointEvery: opts.checkpointEvery ?? 10,
          },
          [prepared[i]],
          job.report,
        )
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

  const sections: ReportSection[] = [];
  const backends = new Set<string>();
  for (const [i, exp] of exps.entries()) {
    const prep = prepResults[i];
    if (prep.status === 'rejected') {
      failed.push({ name: `prepare ${exp.name}`, error: (prep.reason as Error).message });
      log(`preparing ${exp.name} failed: ${(prep.reason as Error).message}`);
      continue;
    }
    const p = prep.value as Extract<JobResult, { kind: 'prepare' }>;
    const runResults = settled[i].filter((r): r is RunResult => r !== null);
    for (const r of runResults) backends.add(r.backend);
    const stages: StageConfig[] = exp.methods.map((_, k) => methodStage(exp, k, exp.name));
    const ids = [...new Set(grids[i].map((g) => g.methodId))];
    const outcome: ExperimentOutcome = {
      exp,
      methods: groupByMethod(exp, stages, ids, runResults),
      runDirs: new Map(grids[i].map((g) => [`${g.methodId}/${g.seed}`, gridRunDir(outDir, exp, g)])),
      base: readCacheInfo<BaseEval>(cacheEntryAt(p.baseEval)),
      baseInfo: readCacheInfo<BaseInfo>(cacheEntryAt(p.base)),
      rmInfo: p.rm ? readCacheInfo<RewardModelInfo>(cacheEntryAt(p.rm)) : null,
      expected: grids[i].length,
    };
    sections.push(exp.task === 'math' ? await mathSection(outcome) : await safetySection(outcome));
  }
  const wallSeconds = (Date.now() - t0) / 1000;
  const commit = gitCommit();
  const configs = opts.configs.map((c) => displayPath(c));
  const header = {
    title: `falign reproduce (${opts.mode}): f-GRPO and f-HAL at laptop scale`,
    meta: [
      `Backend: ${[...backends].sort().join(', ') || exps.map((e) => e.backend).join(', ')}`,
      `Configs: ${configs.join(', ')}; seeds ${[...new Set(exps.flatMap((e) => e.seeds))].join(', ')}`,
      'Provenance (machine-specific: commit, date, wall time, machine, peak memory): [provenance.json](provenance.json) — the only file a re-run on the same commit changes',
    ],
    intro: [
      'These are laptop-scale stand-ins for the paper\'s experiments: tiny character-level decoders trained from scratch on generated tasks, not Qwen2.5-Math on LIMR. Results are reported as they came out; every method had the same budget, hyper-parameters and seeds, settings were chosen on a validation split (never the test split), and nothing was tuned toward the paper\'s conclusions. Verdicts compare methods per seed (paired differences with a 95 % t-interval: better / worse / not resolved); a difference whose interval includes 0 is not resolved at this number of seeds.',
      ...(failed.length > 0 ? [`**Failures:** ${failed.map((f) => `${f.name}: ${f.error}`).join('; ')}`] : []),
    ],
  };
  let files: string[] = [];
  if (sections.length > 0) files = (await writeExperimentReport(outDir, header, sections)).files;
  const summaries: ExperimentSummary[] = sections.flatMap((s) => (s.summary ? [s.summary] : []));
  writeFileSync(join(outDir, 'summary.json'), `${JSON.stringify({ format: 'falign-reproduce-summary-v1', mode: opts.mode, experiments: summaries }, null, 2)}\n`);
  const summary: ReproduceSummary = {
    outDir,
    wallSeconds,
    runs: { expected, finished, skipped, failed },
    files: [...files, 'summary.json', 'reproduce.json', 'provenance.json'],
    claims: Object.fromEntries(sections.map((s) => [s.title, s.claims.map((c) => ({ claim: c.claim, held: c.held }))])),
  };
  // Deterministic: no paths of this machine, no times.
  writeFileSync(
    join(outDir, 'reproduce.json'),
    `${JSON.stringify({ mode: opts.mode, configs, runs: { expected, finished, failed }, files: summary.files, claims: summary.claims }, null, 2)}\n`,
  );
  writeFileSync(
    join(outDir, 'provenance.json'),
    `${JSON.stringify(
      {
        note: 'Machine-specific facts of the invocation that wrote this folder; every other file here is reproducible from the commit.',
        commit,
        date: new Date().toISOString(),
        wallSeconds: Math.round(wallSeconds),
        wallTime: formatDuration(wallSeconds),
        runsReused: skipped,
        machine: machineDescription(),
        workers: opts.workers,
        peakRssMiBParentProcess: Math.round(process.resourceUsage().maxRSS / 1024),
      },
      null,
      2,
    )}\n`,
  );
  return summary;
}

/** A cache entry handle for a directory returned by a prepare job. */
function cacheEntryAt(dir: string) {
  if (!existsSync(join(dir, 'done.json'))) throw new Error(`${dir}: cache entry is not complete`);
  return { dir, key: dir.split('/').pop() ?? '', ready: true };
}

/** `12m03s` style duration. */
export function formatDuration(sec: number): string {
  if (sec < 60) return `${sec.toFixed(0)}s`;
  return `${Math.floor(sec / 60)}m${String(Math.round(sec % 60)).padStart(2, '0')}s`;
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

/**
 * The overall progress bar's ETA against the time that actually remained, at 10/25/50/75 % of
 * the work (issue 11: within ±30 % after the first 10 %).
 *
 *   node --conditions=development --import tsx packages/bench/src/bench/eta-error.ts LOGFILE [--label reproduce]
 *
 * reads the plain progress lines of a `falign reproduce … 2> LOGFILE` run (stderr not a terminal;
 * util/progress.ts; lines of older versions, without the `elapsed` stamp, are timed from their rate).
 *
 *   node --conditions=development --import tsx packages/bench/src/bench/eta-error.ts --replay REPORT_DIR \
 *     [--cache .cache/falign] [--workers N] [--cached-base TASK]...
 *
 * replays a past run instead: its jobs' measured durations (run result.json, preparation from the
 * cache's info; eta-data.ts) are scheduled on N workers (default: provenance.json's) as the job
 * pool would, each job doing its units at an even pace, and the ETA is computed for three unit
 * systems: the current work units (experiments/work.ts), the previous sample-count units, and
 * "ideal" units equal to the measured seconds (what is left is due to the changing number of busy
 * workers alone). `--cached-base math` leaves that task's SFT base out (it was in the cache).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { prepareUnits, runUnits } from '../experiments/work.js';
import { legacyPrepareUnits, legacyRunUnits } from './eta-legacy.js';
import { etaErrors, formatEtaTable, parseProgressLog, replayEta, simulatePool, type ReplayJob } from './eta.js';
import { measuredPrepare, readCache, readReport } from './eta-data.js';

function fromLog(file: string, label: string): void {
  const { samples, wallSeconds } = parseProgressLog(readFileSync(file, 'utf8'), label);
  if (samples.length === 0) throw new Error(`${file}: no "${label}: … ETA …" progress lines (was stderr a terminal?)`);
  if (wallSeconds === null) throw new Error(`${file}: no final "${label}: … done in …" line: the run did not finish, so the remaining time is unknown`);
  process.stdout.write(`${file}: ${samples.length} progress lines, finished in ${wallSeconds}s\n${formatEtaTable(etaErrors(samples, wallSeconds))}\n`);
}

function replay(reportDir: string, cacheRoot: string, workersArg: number | null, cachedBase: Set<string>): void {
  const { experiments, workers: provWorkers } = readReport(resolve(reportDir), process.cwd());
  const workers = workersArg ?? provWorkers;
  const cache = readCache(resolve(cacheRoot));
  type Job = ReplayJob & { units: { current: number; legacy: number } };
  // reproduce.ts submits every preparation job before any run (runs queue once their preparation
  // is done), so the preparations come first in submission order.
  const prepJobs: Job[] = [];
  const runJobs: Job[] = [];
  const notes: string[] = [];
  for (const { exp, grid, runs } of experiments) {
    const cfg = grid[0].pipeline;
    const prep = measuredPrepare(cfg, cache);
    const base = !cachedBase.has(cfg.task);
    let seconds = 0;
    if (base) {
      if (prep.sft) seconds += prep.sft.seconds;
      else notes.push(`${exp.name}: SFT base duration not in the cache; counted as 0 s`);
    }
    if (cfg.task === 'safety') {
      if (prep.rm) seconds += prep.rm.seconds;
      else notes.push(`${exp.name}: reward-model duration not in the cache; counted as 0 s`);
    }
    if (prep.baseEval) seconds += prep.baseEval.seconds;
    else notes.push(`${exp.name}: base-evaluation duration unknown; counted as 0 s`);
    const prepId = `prepare ${exp.name}`;
    prepJobs.push({ id: prepId, seconds, units: { current: prepareUnits(cfg, { base, rm: true, baseEval: true }), legacy: legacyPrepareUnits(cfg, base) } });
    runs.forEach((run, k) => {
      if (!run) {
        notes.push(`${exp.name}: run ${grid[k].methodId} seed ${grid[k].seed} not found; left out`);
        return;
      }
      runJobs.push({ id: `${exp.name}/${grid[k].methodId}/${grid[k].seed}`, seconds: run.wallSeconds, deps: [prepId], units: { current: runUnits(grid[k].pipeline), legacy: legacyRunUnits(grid[k].pipeline) } });
    });
  }
  const jobs = [...prepJobs, ...runJobs];
  const schedule = simulatePool(jobs, workers);
  const span = Math.max(...schedule.map((s) => s.end));
  process.stdout.write(`replay of ${reportDir}: ${jobs.length} jobs on ${workers} worker(s), simulated wall time ${Math.round(span)}s${cachedBase.size ? ` (SFT base cached: ${[...cachedBase].join(', ')})` : ''}\n`);
  for (const n of notes) process.stdout.write(`  note: ${n}\n`);
  const at = (pick: (j: (typeof jobs)[number]) => number) => schedule.map((s, i) => ({ ...s, units: pick(jobs[i]) }));
  for (const [name, pick] of [
    ['current work units (experiments/work.ts)', (j: (typeof jobs)[number]) => j.units.current],
    ['previous sample-count units', (j: (typeof jobs)[number]) => j.units.legacy],
    ['ideal units (= measured seconds)', (j: (typeof jobs)[number]) => j.seconds],
  ] as const) {
    process.stdout.write(`\n${name}:\n${formatEtaTable(replayEta(at(pick)))}\n`);
  }
}

function main(argv: string[]): void {
  let label = 'reproduce';
  let cacheRoot = '.cache/falign';
  let workers: number | null = null;
  let replayDir: string | null = null;
  const cachedBase = new Set<string>();
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--label') label = value();
    else if (a === '--cache') cacheRoot = value();
    else if (a === '--workers') {
      workers = Number(value());
      if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers: expected a positive integer, got ${argv[i]}`);
    } else if (a === '--replay') replayDir = value();
    else if (a === '--cached-base') cachedBase.add(value());
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: eta-error.ts LOGFILE [--label NAME]\n       eta-error.ts --replay REPORT_DIR [--cache DIR] [--workers N] [--cached-base TASK]...\n');
      return;
    } else files.push(a);
  }
  if (replayDir) return replay(replayDir, cacheRoot, workers, cachedBase);
  if (files.length === 0) throw new Error('give a log file (or --replay REPORT_DIR); --help for usage');
  for (const f of files) fromLog(f, label);
}

try {
  main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`eta-error: ${(e as Error).message}\n`);
  process.exit(1);
}

/**
 * Calibration of the work units (experiments/work.ts) against measured timings: per job kind,
 * the measured seconds, the predicted units and the implied milliseconds per unit. Units that are
 * proportional to compute give the same ms/unit for every kind (the "rel" column near 1.00); the
 * spread of that column bounds the ETA error that mixing job kinds can cause.
 *
 *   node --conditions=development --import tsx packages/bench/src/bench/eta-calibrate.ts \
 *     [--cache .cache/falign] [REPORT_DIR ...]        (default: reports/full reports/quick)
 *
 * Sources: see eta-data.ts. Timings taken on a shared machine are noisy (the same run's seeds
 * vary up to 2×), so the table shows per-kind means over seeds.
 */
import { resolve } from 'node:path';
import { baseEvalUnits, curvePoints, curveUnits, evalUnits, rmStepUnits, runUnits, sftStepUnits, stageStepUnits } from '../experiments/work.js';
import { measuredPrepare, readCache, readReport } from './eta-data.js';

interface Row {
  kind: string;
  n: number;
  seconds: number;
  units: number;
}

function main(argv: string[]): void {
  let cacheRoot = '.cache/falign';
  const reports: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--cache') cacheRoot = argv[++i];
    else if (argv[i] === '--help' || argv[i] === '-h') {
      process.stdout.write('usage: eta-calibrate.ts [--cache DIR] [REPORT_DIR ...]\n');
      return;
    } else reports.push(argv[i]);
  }
  if (reports.length === 0) reports.push('reports/full', 'reports/quick');
  const repoRoot = process.cwd();
  const cache = readCache(resolve(cacheRoot));
  const rows = new Map<string, Row>();
  const add = (kind: string, seconds: number, units: number) => {
    const r = rows.get(kind) ?? { kind, n: 0, seconds: 0, units: 0 };
    r.n++;
    r.seconds += seconds;
    r.units += units;
    rows.set(kind, r);
  };
  const seenPrep = new Set<string>();
  for (const dir of reports) {
    const { experiments } = readReport(resolve(dir), repoRoot);
    for (const { exp, grid, runs } of experiments) {
      const cfg = grid[0].pipeline;
      const prep = measuredPrepare(cfg, cache);
      const size = 'spec' in cfg.model ? cfg.model.spec : `d${cfg.model.dModel}×${cfg.model.nLayers}`;
      if (prep.sft && !seenPrep.has(prep.sft.hash)) {
        seenPrep.add(prep.sft.hash);
        add(`prepare SFT base (${cfg.task} ${size}, ${prep.sft.steps} steps)`, prep.sft.seconds, prep.sft.steps * sftStepUnits(cfg));
      }
      if (prep.rm && !seenPrep.has(prep.rm.hash) && cfg.task === 'safety') {
        seenPrep.add(prep.rm.hash);
        add(`prepare reward model (${prep.rm.steps} steps)`, prep.rm.seconds, prep.rm.steps * rmStepUnits(cfg));
      }
      if (prep.baseEval && !seenPrep.has(prep.baseEval.hash)) {
        seenPrep.add(prep.baseEval.hash);
        add(`prepare base eval (${cfg.task})`, prep.baseEval.seconds, baseEvalUnits(cfg));
      }
      for (const [k, run] of runs.entries()) {
        if (!run) continue;
        const p = run.pipeline;
        const stepUnits = p.stages.reduce((a, s) => a + s.steps * stageStepUnits(s, p), 0);
        add(`run ${exp.name}/${grid[k].methodId}`, run.wallSeconds, runUnits(p));
        if (run.stepSeconds !== null) {
          add(`  steps ${exp.task}/${p.stages.map((s) => s.algorithm).join('+')}`, run.stepSeconds, stepUnits);
          // Everything but the optimiser steps: curve points, final evaluation, start-up.
          add(`  evals ${exp.task}`, Math.max(0, run.wallSeconds - run.stepSeconds), curvePoints(p) * curveUnits(p) + evalUnits(p));
        }
      }
    }
  }
  const list = [...rows.values()];
  const msPerUnit = (r: Row) => (1000 * r.seconds) / r.units;
  const main = list.filter((r) => !r.kind.startsWith('  '));
  const sorted = main.map(msPerUnit).sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const w = Math.max(...list.map((r) => r.kind.length));
  process.stdout.write(`${'job kind'.padEnd(w)}  ${'n'.padStart(3)}  ${'mean s'.padStart(8)}  ${'mean units'.padStart(11)}  ${'ms/unit'.padStart(8)}  rel\n`);
  for (const r of list) {
    process.stdout.write(
      `${r.kind.padEnd(w)}  ${String(r.n).padStart(3)}  ${(r.seconds / r.n).toFixed(1).padStart(8)}  ${(r.units / r.n).toFixed(0).padStart(11)}  ${msPerUnit(r).toFixed(3).padStart(8)}  ${(msPerUnit(r) / median).toFixed(2)}\n`,
    );
  }
  process.stdout.write(`\nmedian over job kinds (indented rows excluded): ${median.toFixed(3)} ms/unit; rel = ms/unit ÷ median\n`);
}

main(process.argv.slice(2));

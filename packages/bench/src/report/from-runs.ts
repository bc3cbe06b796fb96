/**
 * Builds a {@link ReportSpec} from run directories, as `falign report` does: eval results become
 * a models × benchmarks table and a bar chart; training metrics.jsonl files become one line chart
 * per metric (seeds of one configuration merged into mean ± stderr).
 */
import { basename, resolve } from 'node:path';
import { barChartSvg, lineChartSvg } from './plots.js';
import type { TableRenderOptions } from './render-table.js';
import { evalRunsToTable, findEvalResults, readEvalRun, type EvalRun } from './eval-runs.js';
import { isTrainingRun, metricNames, readTrainingRun, trainingCurves, type TrainingRun } from './training.js';
import { cellOf } from './table.js';
import type { ReportChart, ReportSpec, ReportTable } from './write.js';

/** Options of {@link buildRunsReport}. */
export interface RunsReportOptions {
  title?: string;
  /** Row used as 0 in Relative Overall. */
  base?: string;
  /** Row per run (default) or per model spec. */
  labelBy?: 'run' | 'model';
  metrics?: string[];
  allMetrics?: boolean;
  /** Display scale of table and bar values (100 for percentages); default 1. */
  scale?: number;
  digits?: number;
  /** Merge `-seedN` runs into mean ± stderr curves; default true. */
  groupSeeds?: boolean;
  /** Training metrics to plot; default all (at most `maxCharts`). */
  trainingMetrics?: string[];
  /** Most training charts; default 12. */
  maxCharts?: number;
}

/** Reads the runs and assembles tables and charts. */
export async function buildRunsReport(dirs: readonly string[], opts: RunsReportOptions = {}): Promise<ReportSpec> {
  if (dirs.length === 0) throw new Error('report: no run directories given');
  const evalRuns: EvalRun[] = [];
  const trainRuns: TrainingRun[] = [];
  for (const dir of dirs) {
    const results = findEvalResults(dir);
    const training = isTrainingRun(dir);
    if (results.length === 0 && !training) throw new Error(`${dir}: neither results.json (or eval/<task>/results.json) nor metrics.jsonl found`);
    for (const f of results) evalRuns.push(readEvalRun(f));
    if (training) trainRuns.push(await readTrainingRun(dir, basename(resolve(dir))));
  }
  const tables: ReportTable[] = [];
  const charts: ReportChart[] = [];
  const notes: string[] = [];
  if (evalRuns.length > 0) {
    const table = evalRunsToTable(evalRuns, { rowBy: opts.labelBy, metrics: opts.metrics, allMetrics: opts.allMetrics });
    if (opts.base !== undefined && !table.rows.some((r) => r.name === opts.base)) {
      throw new Error(`--base ${opts.base}: no such row (rows: ${table.rows.map((r) => r.name).join(', ')})`);
    }
    const options: TableRenderOptions = { base: opts.base, scale: opts.scale, digits: opts.digits };
    tables.push({ name: 'results', title: 'Results', table, options });
    const scale = opts.scale ?? 1;
    const bars = table.columns.flatMap((c) =>
      table.rows.flatMap((r) => {
        const cell = cellOf(r, c.key);
        return cell ? [{ group: c.label ?? c.key, series: r.name, mean: cell.mean * scale, ...(cell.stderr !== undefined ? { stderr: cell.stderr * scale } : {}) }] : [];
      }),
    );
    charts.push({ name: 'results', title: 'Results (mean ± stderr)', svg: await barChartSvg(bars, { yLabel: scale === 100 ? 'score (%)' : scale === 1 ? 'score (fraction, 0–1)' : `score (× ${scale})` }) });
    notes.push('Cells are mean ± standard error (sample std with n−1, divided by √n, over the evaluated documents); the best value of each column is bold; Avg. rank ranks rows per column (1 = best, ties share the mean rank).');
  }
  if (trainRuns.length > 0) {
    const all = opts.trainingMetrics ?? metricNames(trainRuns);
    const chosen = all.slice(0, opts.maxCharts ?? 12);
    for (const m of chosen) {
      const series = trainingCurves(trainRuns, m, { groupSeeds: opts.groupSeeds });
      if (series.length === 0) continue;
      charts.push({ name: `train-${m}`, title: `Training: ${m} per optimizer step`, svg: await lineChartSvg(series, { yLabel: `${m} (as logged)`, xLabel: 'optimizer step' }) });
    }
    if (all.length > chosen.length) notes.push(`Training metrics not plotted (limit ${chosen.length}): ${all.slice(chosen.length).join(', ')}.`);
    if ((opts.groupSeeds ?? true) && trainRuns.some((r) => r.group !== r.name)) {
      notes.push('Training curves of runs that differ only by seed are merged: line = mean over seeds, band = ± standard error over seeds.');
    }
  }
  return {
    title: opts.title ?? 'falign report',
    meta: [`Runs: ${dirs.map((d) => basename(resolve(d))).join(', ')}`, `Generated ${new Date().toISOString()}`],
    tables,
    charts,
    notes,
  };
}

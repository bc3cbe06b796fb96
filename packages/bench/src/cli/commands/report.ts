/**
 * `falign report RUN_DIRS... --out DIR`: tables (Markdown, LaTeX, CSV), SVG plots and one HTML
 * page from eval and training run directories. Table rows (`--label-by`): `model` makes one row
 * per model, so one model evaluated on several tasks in several directories is one row; `run`
 * makes one row per run directory. The default, `auto`, is `model` unless two runs of models
 * with the same display name cover the same task (base and tuned checkpoints both called
 * `final`, one model in-process and behind `falign serve`): then rows are run directories, and a
 * note on stderr says so.
 */
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { findEvalResults, modelDisplayName, readEvalRun } from '../../report/eval-runs.js';
import { buildRunsReport } from '../../report/from-runs.js';
import { renderMarkdownTable } from '../../report/render-table.js';
import { writeReport } from '../../report/write.js';
import { intArg, numberArg, markRequiredInHelp } from '../options.js';


const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** What `--label-by` accepts; `auto` resolves through {@link resolveLabelBy}. */
export type LabelBy = 'auto' | 'model' | 'run';

/**
 * `auto` → `model`, unless rows by model would merge two runs of one task (same model display
 * name), which `model` rejects: then `run`, with the colliding model and task as the reason.
 */
export function resolveLabelBy(dirs: readonly string[], labelBy: LabelBy): { labelBy: 'model' | 'run'; reason?: string } {
  if (labelBy !== 'auto') return { labelBy };
  const seen = new Set<string>();
  for (const dir of dirs) {
    for (const file of findEvalResults(dir)) {
      let run;
      try {
        run = readEvalRun(file);
      } catch {
        continue; // buildRunsReport reports it with the file name
      }
      const key = `${modelDisplayName(run.model)}\u0000${run.task}`;
      if (seen.has(key)) return { labelBy: 'run', reason: `two runs of model '${modelDisplayName(run.model)}' on task '${run.task}'` };
      seen.add(key);
    }
  }
  return { labelBy: 'model' };
}

export function register(program: Command): void {
  markRequiredInHelp(program.command('report'))
    .description('tables (md/tex/csv), SVG plots and a self-contained index.html from eval and training run directories')
    .argument('<run-dirs...>', 'eval output dirs (results.json), run dirs (eval/<task>/results.json) and/or training dirs (metrics.jsonl)')
    .requiredOption('--out <dir>', 'output directory')
    .option('--base <row>', 'row that is 0 in "Relative Overall" (adds that column)')
    .option('--title <text>', 'report title', 'falign report')
    .addOption(
      new Option('--label-by <what>', 'table rows: one per model (its tasks share a row), one per run directory, or auto = model unless two runs of one model cover the same task')
        .choices(['auto', 'model', 'run'])
        .default('auto'),
    )
    .option('--metric <name>', 'metric to tabulate (repeatable); default: each task\'s primary metric', collect)
    .option('--all-metrics', 'tabulate every metric of every task')
    .option('--scale <k>', 'multiply table values for display (100 = percentages)', numberArg('--scale', () => true, 'a number'), 1)
    .option('--digits <n>', 'decimals in tables', intArg('--digits', 0), 2)
    .option('--no-group-seeds', 'plot every training run separately instead of mean ± stderr over seeds')
    .option('--json', 'print one JSON object {out, files} instead of the table')
    .action(async (dirs: string[], o: {
      out: string; base?: string; title: string; labelBy: LabelBy; metric?: string[]; allMetrics?: boolean;
      scale: number; digits: number; groupSeeds: boolean; json?: boolean;
    }) => {
      const label = resolveLabelBy(dirs, o.labelBy);
      if (label.reason) process.stderr.write(`report: rows are run directories (${label.reason}), as rows by model would hold both\n`);
      const spec = await buildRunsReport(dirs, {
        title: o.title,
        base: o.base,
        labelBy: label.labelBy,
        metrics: o.metric,
        allMetrics: o.allMetrics,
        scale: o.scale,
        digits: o.digits,
        groupSeeds: o.groupSeeds,
      });
      const written = await writeReport(o.out, spec);
      const out = resolve(o.out);
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ out, files: written.files })}\n`);
        return;
      }
      for (const t of spec.tables) process.stdout.write(`${t.title}\n\n${renderMarkdownTable(t.table, t.options)}\n`);
      process.stdout.write(`wrote ${written.files.length} files to ${out} (open ${resolve(out, 'index.html')})\n`);
    });
}

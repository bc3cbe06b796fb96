import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { buildRunsReport } from '../../report/from-runs.js';
import { renderMarkdownTable } from '../../report/render-table.js';
import { writeReport } from '../../report/write.js';

function num(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number`);
    return n;
  };
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** `falign report`: tables (Markdown, LaTeX, CSV), plots (SVG) and one HTML page from run dirs. */
export function register(program: Command): void {
  program
    .command('report')
    .description('Tables (md/tex/csv), SVG plots and a self-contained index.html from eval and training run directories')
    .argument('<run-dirs...>', 'eval output dirs (results.json), run dirs (eval/<task>/results.json) and/or training dirs (metrics.jsonl)')
    .requiredOption('--out <dir>', 'output directory')
    .option('--base <row>', 'row that is 0 in "Relative Overall" (adds that column)')
    .option('--title <text>', 'report title', 'falign report')
    .addOption(new Option('--label-by <what>', 'table rows: one per run directory or per model spec').choices(['run', 'model']).default('run'))
    .option('--metric <name>', 'metric to tabulate (repeatable); default: each task\'s primary metric', collect)
    .option('--all-metrics', 'tabulate every metric of every task')
    .option('--scale <k>', 'multiply table values for display (100 = percentages)', num('--scale'), 1)
    .option('--digits <n>', 'decimals in tables', num('--digits'), 2)
    .option('--no-group-seeds', 'plot every training run separately instead of mean ± stderr over seeds')
    .option('--json', 'print one JSON object {out, files} instead of the table')
    .action(async (dirs: string[], o: {
      out: string; base?: string; title: string; labelBy: 'run' | 'model'; metric?: string[]; allMetrics?: boolean;
      scale: number; digits: number; groupSeeds: boolean; json?: boolean;
    }) => {
      const spec = await buildRunsReport(dirs, {
        title: o.title,
        base: o.base,
        labelBy: o.labelBy,
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

/**
 * `falign reproduce [--quick|--full] [--out DIR]`: the paper's two experiments at laptop scale
 * (math RLVR: GRPO vs f-GRPO with six divergences; safety: f-GRPO / f-HAL / FDO / DPO against a
 * learned reward model), then the report (Markdown, HTML, CSV, SVG) in DIR (default reports/<mode>/).
 * Finished runs are reused, so an interrupted call resumes.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { defaultConfigs, formatDuration, reproduce } from '../../experiments/reproduce.js';
import { intArg } from '../options.js';

/** packages/bench/configs, from src/cli/commands or dist/cli/commands alike. */
export function bundledConfigDir(): string {
  return fileURLToPath(new URL('../../../configs', import.meta.url));
}

export function register(program: Command): void {
  program
    .command('reproduce')
    .description("run both experiments (math RLVR, safety with a learned reward model) and write the report")
    .option('--quick', 'small budget: fits about 15 minutes on 2 cores (default)')
    .option('--full', 'more seeds and steps')
    .option('--config <files...>', 'experiment config files instead of the bundled ones')
    .option('--out <dir>', 'report and run directories (default reports/<mode>)')
    .option('--workers <n>', 'parallel worker processes (default: min(2, cores))', intArg('--workers', 1))
    .option('--cache <dir>', 'cache of SFT bases and reward models (default .cache/falign, or FALIGN_CACHE_DIR/experiments)')
    .option('--json', 'print one JSON summary object')
    .action(async (o: { quick?: boolean; full?: boolean; config?: string[]; out?: string; workers?: number; cache?: string; json?: boolean }) => {
      if (o.quick && o.full) throw new Error('--quick and --full exclude each other');
      const mode = o.full ? 'full' : 'quick';
      const configs = o.config ?? defaultConfigs(bundledConfigDir(), mode);
      for (const c of configs) if (!existsSync(c)) throw new Error(`${c}: no such config file`);
      const workers = o.workers ?? Math.max(1, Math.min(2, availableParallelism()));
      const label = o.config ? 'custom' : mode;
      const s = await reproduce({ configs, outDir: o.out ?? join('reports', label), workers, cacheRoot: o.cache, mode: label });
      if (o.json) {
        process.stdout.write(`${JSON.stringify(s)}\n`);
      } else {
        process.stdout.write(`reproduce (${label}) finished in ${formatDuration(s.wallSeconds)}: ${s.runs.finished} of ${s.runs.expected} runs (${s.runs.skipped} reused), ${s.runs.failed.length} failed\n`);
        for (const [section, claims] of Object.entries(s.claims)) {
          process.stdout.write(`${section}\n`);
          for (const c of claims) process.stdout.write(`  [${c.held === null ? 'undecided' : c.held ? 'held' : 'did not hold'}] ${c.claim}\n`);
        }
        process.stdout.write(`report: ${s.outDir}/README.md (and index.html)\n`);
      }
      if (s.runs.failed.length > 0) throw new Error(`${s.runs.failed.length} run(s) failed: ${s.runs.failed.map((f) => f.name).join(', ')}`);
    });
}

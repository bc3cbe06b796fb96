/**
 * `falign run CONFIG.json`: one declared pipeline (base model → training stages → evaluation →
 * report) from a validated config file. Errors name the field (`stages[1].divergence: …`).
 *
 *   falign run packages/bench/configs/example-run.json --out runs/example
 */
import type { Command } from 'commander';
import { runConfigFile } from '../../experiments/run-config.js';

export function register(program: Command): void {
  program
    .command('run')
    .description('run one pipeline config (base → training stages → held-out evaluation → report)')
    .argument('<config>', 'pipeline config file (JSON; see packages/bench/configs/example-run.json)')
    .option('--out <dir>', 'run directory (default runs/<config name>)')
    .option('--cache <dir>', 'cache of SFT bases and reward models (default .cache/falign, or FALIGN_CACHE_DIR/experiments)')
    .option('--no-report', 'skip <out>/report/')
    .option('--save-checkpoint', 'save the trained policy to <out>/checkpoints/final')
    .option('--force', 'run again even when <out> holds a finished run of the same config')
    .option('--json', 'print one JSON object (run directory, final scores, report files)')
    .action(async (config: string, o: { out?: string; cache?: string; report: boolean; saveCheckpoint?: boolean; force?: boolean; json?: boolean }) => {
      const s = await runConfigFile(config, { out: o.out, cacheRoot: o.cache, report: o.report, saveCheckpoint: o.saveCheckpoint, force: o.force });
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ runDir: s.runDir, result: s.result, reportFiles: s.reportFiles })}\n`);
        return;
      }
      process.stdout.write(`run ${s.result.name} finished in ${s.result.wallSeconds.toFixed(0)}s → ${s.runDir}\n`);
      process.stdout.write(`${summaryLine(s.result.final)}\n`);
      if (s.reportFiles.length > 0) process.stdout.write(`report: ${s.runDir}/report/README.md\n`);
    });
}

/** One human-readable line of final scores. */
export function summaryLine(final: import('../../experiments/steps/run-dir.js').FinalEval): string {
  if (final.task === 'math') {
    return `held-out pass@1 (greedy): ${Object.entries(final.tiers)
      .map(([t, s]) => `${t} ${(100 * s.greedy).toFixed(1)}%`)
      .join(', ')}`;
  }
  const s = final.scores;
  return `refusal on harmful ${(100 * s.refusalHarmful).toFixed(1)}%, over-refusal on benign ${(100 * s.overRefusalBenign).toFixed(1)}%, true score ${(100 * s.trueScore).toFixed(1)}%, hacking gap ${(100 * s.hackingGap).toFixed(1)} pts`;
}

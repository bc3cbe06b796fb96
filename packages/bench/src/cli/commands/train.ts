/**
 * `falign train --config FILE`: one training stage from a pipeline config (a thin wrapper of
 * `falign run` that requires exactly one stage, saves the trained policy and skips the report).
 */
import type { Command } from 'commander';
import { runConfigFile } from '../../experiments/run-config.js';
import { summaryLine } from './run.js';
import { markRequiredInHelp } from '../options.js';

export function register(program: Command): void {
  const cmd = program
    .command('train')
    .description('train one stage from a pipeline config and save the policy (falign:DIR checkpoint)')
    .requiredOption('--config <file>', 'pipeline config with exactly one stage')
    .option('--out <dir>', 'run directory (default runs/<config name>)')
    .option('--cache <dir>', 'cache of SFT bases and reward models')
    .option('--force', 'train again even when <out> holds a finished run of the same config')
    .option('--json', 'print one JSON object')
    .action(async (o: { config: string; out?: string; cache?: string; force?: boolean; json?: boolean }) => {
      const s = await runConfigFile(o.config, { out: o.out, cacheRoot: o.cache, report: false, saveCheckpoint: true, force: o.force, singleStage: true });
      const checkpoint = `${s.runDir}/checkpoints/final`;
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ runDir: s.runDir, checkpoint, result: s.result })}\n`);
        return;
      }
      process.stdout.write(`trained ${s.result.name} in ${s.result.wallSeconds.toFixed(0)}s; policy: falign:${checkpoint}\n${summaryLine(s.result.final)}\n`);
    });
  markRequiredInHelp(cmd);
}

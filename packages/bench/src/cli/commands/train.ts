/**
 * `falign train --config FILE`: one training stage from a pipeline config (a thin wrapper of
 * `falign run` that requires exactly one stage, saves the trained policy and skips the report).
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { runConfigFile } from '../../experiments/run-config.js';
import { summaryLine } from './run.js';
import { intArg, markRequiredInHelp } from '../options.js';

export function register(program: Command): void {
  const cmd = program
    .command('train')
    .description('train one stage from a pipeline config and save the policy (falign:DIR, or hf:DIR for an hf: model)')
    .requiredOption('--config <file>', 'pipeline config with exactly one stage')
    .option('--out <dir>', 'run directory (default runs/<config name>)')
    .option('--cache <dir>', 'cache of SFT bases and reward models')
    .option('--force', 'train again even when <out> holds a finished run of the same config')
    .option('--checkpoint-every <n>', 'save a trainer checkpoint every n steps; re-running after a crash or kill resumes from the last one (losing at most n steps)', intArg('--checkpoint-every', 1))
    .option('--json', 'print one JSON object')
    .action(async (o: { config: string; out?: string; cache?: string; force?: boolean; json?: boolean; checkpointEvery?: number }) => {
      const s = await runConfigFile(o.config, { out: o.out, cacheRoot: o.cache, report: false, saveCheckpoint: true, force: o.force, singleStage: true, checkpointEvery: o.checkpointEvery });
      const checkpoint = `${s.runDir}/checkpoints/final`;
      // A run on a pretrained hf: base saves in Hugging Face layout (config.json + model.safetensors).
      const policy = `${existsSync(`${checkpoint}/generation_config.json`) ? 'hf' : 'falign'}:${checkpoint}`;
      // LoRA runs also leave the adapter alone, in PEFT layout (the checkpoint is the merged policy).
      const adapter = existsSync(`${s.runDir}/adapter/adapter_config.json`) ? `${s.runDir}/adapter` : undefined;
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ runDir: s.runDir, checkpoint, policy, ...(adapter ? { adapter } : {}), result: s.result })}\n`);
        return;
      }
      const lora = adapter ? `; LoRA adapter (PEFT): ${adapter}` : '';
      process.stdout.write(`trained ${s.result.name} in ${s.result.wallSeconds.toFixed(0)}s; policy: ${policy}${lora}\n${summaryLine(s.result.final)}\n`);
    });
  markRequiredInHelp(cmd);
}

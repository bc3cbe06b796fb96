#!/usr/bin/env node
/**
 * The `falign` command line. Each subcommand lives in its own module under commands/ and exports
 * `register(program)`; this file only wires them together so that several people can add
 * commands without touching one another's code.
 */
import { Command } from 'commander';
import { commandModules } from './commands/index.js';
import { installProcessErrorHandlers } from '../util/errors.js';

export async function main(argv: string[] = process.argv): Promise<void> {
  // The error policy (util/errors.ts): whatever escapes a command still ends as one line, exit 1.
  if (argv === process.argv) installProcessErrorHandlers();
  const program = new Command();
  program
    .name('falign')
    .description('Divergence-based alignment (f-GRPO, f-HAL, FDO) and its benchmark harness')
    .showHelpAfterError()
    .exitOverride();
  for (const mod of commandModules) mod.register(program);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message?: string };
    if (e.code && e.code.startsWith('commander.')) {
      process.exitCode = e.exitCode ?? 1;
      return;
    }
    process.stderr.write(`falign: ${e.message ?? String(err)}\n`);
    if (process.env.FALIGN_DEBUG) process.stderr.write(`${(err as Error).stack ?? ''}\n`);
    process.exitCode = 1;
  }
}




import type { Command } from 'commander';

// Placeholder until the 'report' command lands; replaced by its owner.
export function register(program: Command): void {
  program.command('report').description('(not built yet)').action(() => {
    throw new Error("'falign report' is not built yet");
  });
}
